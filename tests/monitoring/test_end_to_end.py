"""End to end: two service replicas behind a round-robin proxy (the load balancer's stand-in), scraped by
Prometheus with the repository's configuration, queried the way the Grafana dashboard queries it.

Traffic of a known size, with 4xx answers and 503s during a database outage, must come back from
Prometheus: `up` is 1, every dashboard query returns data, the items routes' request total is within
10 % of what was sent, both pods are seen, and the alert rules evaluate without error.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local_stack import (
    METRICS_TOKEN,
    MONITORING_DIR,
    REPO,
    ManagedProcess,
    PrometheusApi,
    http_status,
    run_migrations,
    start_prometheus,
    start_proxy,
    start_service,
    wait_until,
)
from postgres_server import PostgresServer

PODS = ("fastapi-e2e-0", "fastapi-e2e-1")
ENVIRONMENT = "e2e"
SCRAPE_INTERVAL = "1s"
ITEMS_ROUTES = 'path=~"/api/v1/items.*"'
# What Grafana substitutes into the dashboard's queries; the test fails on any variable not listed here.
GRAFANA_VARIABLES = {
    "$environment": ENVIRONMENT,
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
}
DASHBOARD = MONITORING_DIR / "grafana" / "dashboards" / "fastapi-service.json"
# Traffic comes in rounds, and each round waits until Prometheus has scraped all of it from both pods:
# rates count only increases between two scrapes of the same pod, so every series must be seen growing.
ROUNDS = 3
CREATES_PER_ROUND = 3
LISTS_PER_ROUND = 8
READS_PER_ITEM = 2
MISSING_READS_PER_ROUND = 3
INVALID_CREATES_PER_ROUND = 2
OUTAGE_ROUNDS = 3
OUTAGE_LISTS_PER_ROUND = 4
SCRAPED_TIMEOUT = 30


@dataclass
class Run:
    """What the test sent and where to ask Prometheus about it."""

    prometheus: PrometheusApi
    started: float
    work_dir: Path
    base_url: str
    sent: Counter[int] = field(default_factory=Counter)

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())


def send(run: Run, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    status, payload = http_status(f"{run.base_url}{path}", method, body)
    run.sent[status] += 1
    return status, payload


def items_total_by_pod(prometheus: PrometheusApi) -> dict[str, float]:
    # Each process started from zero, so its counters' highest values are everything it counted.
    result = prometheus.query(
        f'sum by (pod) (max_over_time(starlette_requests_total{{job="fastapi", {ITEMS_ROUTES}}}[5m]))'
    )
    return {series["metric"]["pod"]: float(series["value"][1]) for series in result}


def send_round(run: Run, round_number: int) -> None:
    ids = []
    for number in range(CREATES_PER_ROUND):
        body = {"name": f"e2e item {round_number}-{number}", "price": "9.99"}
        status, payload = send(run, "POST", "/api/v1/items", body)
        assert status == 201, payload
        ids.append(json.loads(payload)["id"])
    for _ in range(LISTS_PER_ROUND):
        assert send(run, "GET", "/api/v1/items")[0] == 200
    for item_id in ids * READS_PER_ITEM:
        assert send(run, "GET", f"/api/v1/items/{item_id}")[0] == 200
    for _ in range(MISSING_READS_PER_ROUND):
        assert send(run, "GET", "/api/v1/items/999999999")[0] == 404
    for _ in range(INVALID_CREATES_PER_ROUND):
        assert send(run, "POST", "/api/v1/items", {"name": "", "price": "-1"})[0] == 422


def wait_until_scraped(run: Run) -> None:
    wait_until(
        lambda: sum(items_total_by_pod(run.prometheus).values()) >= run.total_sent,
        SCRAPED_TIMEOUT,
        f"Prometheus did not count the {run.total_sent} requests sent",
    )


def send_traffic(run: Run, database: PostgresServer) -> None:
    for round_number in range(ROUNDS):
        send_round(run, round_number)
        wait_until_scraped(run)
    database.stop()
    try:
        for _ in range(OUTAGE_ROUNDS):
            for _ in range(OUTAGE_LISTS_PER_ROUND):
                assert send(run, "GET", "/api/v1/items")[0] == 503
            wait_until_scraped(run)
    finally:
        database.start()
    wait_until(lambda: send(run, "GET", "/api/v1/items")[0] == 200, 20, "the service did not recover")
    wait_until_scraped(run)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    processes: list[ManagedProcess] = []
    with tempfile.TemporaryDirectory(prefix="monitoring-e2e-") as temporary, PostgresServer() as database:
        work_dir = Path(temporary)
        try:
            run_migrations(database.url, work_dir)
            ports = []
            for pod in PODS:
                service, port = start_service(pod, database.url, work_dir)
                processes.append(service)
                ports.append(port)
            proxy, proxy_port = start_proxy(ports, work_dir)
            processes.append(proxy)
            prometheus, api = start_prometheus(
                f"127.0.0.1:{proxy_port}",
                {"environment": ENVIRONMENT, "stack": "fastapi-app/e2e"},
                SCRAPE_INTERVAL,
                work_dir,
            )
            processes.append(prometheus)
            run = Run(
                prometheus=api,
                started=time.time(),
                work_dir=work_dir,
                base_url=f"http://127.0.0.1:{proxy_port}",
            )
            send_traffic(run, database)
            yield run
        except Exception:
            for process in processes:
                print(f"--- {process.name} log ---\n{process.log_tail()}", file=sys.stderr)
            raise
        finally:
            for process in reversed(processes):
                process.stop()


def test_prometheus_scrapes_the_load_balancer(run: Run) -> None:
    up = run.prometheus.query(f'up{{job="fastapi", environment="{ENVIRONMENT}"}}')
    assert [series["value"][1] for series in up] == ["1"]


def test_metrics_answer_only_with_the_token_prometheus_sends(run: Run) -> None:
    """Through the load balancer, /metrics without the token is refused; Prometheus's scrapes succeed."""
    status, _ = http_status(f"{run.base_url}/metrics")
    assert status == 401


def test_items_route_total_matches_the_requests_sent(run: Run) -> None:
    by_pod = items_total_by_pod(run.prometheus)
    reported = sum(by_pod.values())
    print(f"requests sent: {run.total_sent} by status {dict(sorted(run.sent.items()))}")
    print(f"Prometheus total: {reported:.0f}; by pod: {by_pod}")
    assert set(by_pod) == set(PODS), (
        "both replicas behind the proxy must be counted, each under its own pod label"
    )
    assert abs(reported - run.total_sent) <= 0.1 * run.total_sent


def test_status_codes_reach_prometheus(run: Run) -> None:
    result = run.prometheus.query(
        f'sum by (status_code) (max_over_time(starlette_requests_total{{job="fastapi", {ITEMS_ROUTES}}}[5m]))'
    )
    reported = {int(series["metric"]["status_code"]): round(float(series["value"][1])) for series in result}
    print(f"by status: sent {dict(sorted(run.sent.items()))}, Prometheus {dict(sorted(reported.items()))}")
    assert set(reported) == set(run.sent) >= {404, 422, 503}
    for status, sent in run.sent.items():
        assert abs(reported[status] - sent) <= 0.1 * sent, (
            f"status {status}: sent {sent}, Prometheus {reported[status]}"
        )


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def substitute_variables(expr: str) -> str:
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    unresolved = re.findall(r"\$\w+", expr)
    assert not unresolved, f"the test does not know the dashboard variables {unresolved}"
    return expr


DASHBOARD_QUERIES = dashboard_queries()


@pytest.mark.parametrize(("panel", "expr"), DASHBOARD_QUERIES, ids=[name for name, _ in DASHBOARD_QUERIES])
def test_dashboard_query_returns_data(run: Run, panel: str, expr: str) -> None:
    query = substitute_variables(expr)

    def finite_values() -> list[float] | None:
        series = run.prometheus.query_range(query, run.started - 5, time.time(), "1s")
        values = [float(value) for one in series for _, value in one["values"] if math.isfinite(float(value))]
        return values or None

    values = wait_until(finite_values, 20, f"{panel}: {query} returned no data")
    assert values, panel


def test_dashboard_sees_both_pods(run: Run) -> None:
    queries = dict(dashboard_queries())
    pods_reporting = substitute_variables(queries["Pods reporting / A"])

    def both_pods_counted() -> bool:
        result = run.prometheus.query(pods_reporting)
        return bool(result) and float(result[0]["value"][1]) == len(PODS)

    wait_until(both_pods_counted, 20, f"{pods_reporting} did not count {len(PODS)} pods")
    memory = run.prometheus.query(substitute_variables(queries["Memory / A"]))
    assert {series["metric"]["pod"] for series in memory} == set(PODS)


def test_dashboard_error_rate_shows_the_outage(run: Run) -> None:
    queries = dict(dashboard_queries())
    ratios = {}
    for name in ("Error rate / A", "Error rate / B"):
        result = run.prometheus.query(substitute_variables(queries[name]))
        ratios[name] = float(result[0]["value"][1])
    print(f"error ratios: {ratios}")
    assert ratios["Error rate / A"] > 0.05, "the 503s of the outage are more than 5 % of the traffic"
    assert ratios["Error rate / B"] > 0, "the 404s and 422s"


def test_environment_variable_lists_the_scraped_environment(run: Run) -> None:
    assert ENVIRONMENT in run.prometheus.label_values("environment", 'up{job="fastapi"}')


def test_alert_rules_evaluate_and_the_outage_trips_the_error_ratio_alert(run: Run) -> None:
    def error_ratio_pending() -> list[dict[str, Any]] | None:
        rules = [rule for group in run.prometheus.rule_groups() for rule in group["rules"]]
        by_name = {rule["name"]: rule for rule in rules}
        return rules if by_name["FastAPIHighErrorRatio"]["state"] in ("pending", "firing") else None

    rules = wait_until(error_ratio_pending, 40, "FastAPIHighErrorRatio did not become pending", interval=1)
    assert {rule["name"] for rule in rules} == {
        "FastAPIDown",
        "FastAPIMetricsAbsent",
        "FastAPIHighErrorRatio",
        "FastAPIHighLatencyP95",
    }
    for rule in rules:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
    states = {rule["name"]: rule["state"] for rule in rules}
    print(f"alert states: {states}")


def test_prometheus_picks_up_the_targets_command_output_without_a_restart(run: Run) -> None:
    """`npm run monitoring:targets` writes a file Prometheus accepts, and Prometheus reloads it on its own.
    The saved outputs name 127.0.0.1, so the new target's scrapes stay on loopback."""
    saved_outputs = run.work_dir / "stack-outputs.json"
    saved_outputs.write_text(
        json.dumps(
            {
                "url": "http://127.0.0.1",
                "loadBalancerHostname": "127.0.0.1",
                "clusterName": "fastapi-app-cluster",
                "namespace": "fastapi-app",
                "metricsTokens": METRICS_TOKEN,
            }
        )
    )
    command = [
        "npm",
        "run",
        "--silent",
        "monitoring:targets",
        "--",
        "--outputs",
        str(saved_outputs),
        "--stack",
        "dev",
        "--token-out",
        str(run.work_dir / "secrets" / "metrics-token"),
    ]
    subprocess.run(
        [*command, "--out", str(run.work_dir / "targets" / "eks.json")], cwd=REPO, check=True, timeout=60
    )
    assert (run.work_dir / "secrets" / "metrics-token").read_text() == METRICS_TOKEN

    def eks_target() -> dict[str, str] | None:
        return next(
            (
                target["labels"]
                for target in run.prometheus.active_targets()
                if target["labels"].get("instance") == "127.0.0.1:80"
            ),
            None,
        )

    labels = wait_until(eks_target, 40, "Prometheus did not load targets/eks.json", interval=1)
    assert labels == {
        "instance": "127.0.0.1:80",
        "job": "fastapi",
        "environment": "dev",
        "stack": "fastapi-app/dev",
        "cluster": "fastapi-app-cluster",
        "namespace": "fastapi-app",
    }
