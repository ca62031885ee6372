"""Pods mode end to end, in a network namespace the test creates for itself: the real control plane of the
controlplane suite with the stack's rendered scraper identity and Deployment, one real service process per
kwok pod listening on that pod's IP, and Prometheus running the repository's configuration with the files
that `npm run monitoring:targets` writes from the test cluster's endpoint, CA and scraper token.

At 2 and then at 10 pods, every request sent to a pod must be counted exactly once, under that pod's name,
by scrapes through the real API server's proxy. The API server refuses to proxy to loopback addresses, so
the pods' IPs are added to the loopback interface of the test's own network namespace, where every process
of the test runs; no other address is used.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from local_stack import (
    REPO,
    STARTUP_TIMEOUT,
    VENV_BIN,
    ManagedProcess,
    PrometheusApi,
    http_status,
    run_migrations,
    run_prometheus,
    wait_until,
)
from postgres_server import PostgresServer

sys.path.insert(0, str(REPO / "tests" / "controlplane"))
from control_plane import ControlPlane, Json, is_ready
from service_process import wait_until_healthy
from stack_objects import APP, DEPLOYMENT, NAMESPACE, SYNTH_DIR, as_json, scraper_token, server_side_apply

API_ANNOTATION = "fastapi-app/kubernetes-api"
ENVIRONMENT_ANNOTATION = "fastapi-app/environment"
DASHBOARD = REPO / "monitoring" / "grafana" / "dashboards" / "fastapi-service.json"
# What the pods' service processes listen on: each pod has an address of its own, so every pod uses the
# Deployment's ports as a container would.
SERVICE_PORT = 8000
METRICS_PORT = 9000
# The kinds the test needs from the rendered objects; the rest (Service, HPA, Job, NetworkPolicies) play no
# part.
APPLIED_KINDS = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "Secret", "Deployment")
SCRAPE_INTERVAL = "1s"
POD_COUNTS = (2, 10)
SETTLE_TIMEOUT = 120.0
COUNTED_TIMEOUT = 60.0
ITEMS = "/api/v1/items"
COUNTED = f'starlette_requests_total{{job="fastapi", via="kubernetes-api", path=~"{ITEMS}.*"}}'

IP = shutil.which("ip", path=f"/usr/sbin:/sbin:{os.environ.get('PATH', '')}") or "/usr/sbin/ip"
NPM = shutil.which("npm") or "npm"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def own_network_namespace() -> Iterator[None]:
    """Moves this thread, and so every process it starts, into a new network namespace with only a loopback
    interface; moves it back on the way out. Needs CAP_SYS_ADMIN (root, or a container granted it)."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)} (needs CAP_SYS_ADMIN)")
        try:
            subprocess.run([IP, "link", "set", "lo", "up"], check=True)
            yield
        finally:
            if _libc.setns(original, _CLONE_NEWNET) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"setns back to the original network namespace: {os.strerror(error)}")
    finally:
        os.close(original)


def add_loopback_address(address: str) -> None:
    subprocess.run([IP, "address", "add", f"{address}/32", "dev", "lo"], check=True)


def rendered_objects(control_plane: ControlPlane) -> list[Json]:
    """The objects `npm run synth` rendered, as JSON, of the kinds the test applies."""
    objects = []
    for manifest in sorted((SYNTH_DIR / "k8s").glob("*.yaml")):
        document = as_json(control_plane, manifest)
        if document["kind"] in APPLIED_KINDS:
            objects.append(document)
    return objects


def pointed_at(deployment: Json, api_address: str) -> Json:
    """The Deployment with its pods' API server annotation naming the test's API server."""
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert API_ANNOTATION in annotations, f"the rendered pod template has no {API_ANNOTATION} annotation"
    annotations[API_ANNOTATION] = api_address
    return deployment


@dataclass
class PodsMode:
    control_plane: ControlPlane
    prometheus: PrometheusApi
    database_url: str
    work_dir: Path
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)

    def ready_pods(self, count: int) -> dict[str, str]:
        """Scales the Deployment to `count` and returns its ready pods' names and IPs."""
        self.control_plane.kubectl("scale", "deployment", "-n", NAMESPACE, DEPLOYMENT, f"--replicas={count}")

        def settled() -> dict[str, str] | None:
            self.control_plane.assert_running()
            pods = self.control_plane.get("pods", "-n", NAMESPACE, "-l", APP)["items"]
            ready = {pod["metadata"]["name"]: pod["status"].get("podIP", "") for pod in pods if is_ready(pod)}
            return ready if len(ready) == len(pods) == count and all(ready.values()) else None

        return wait_until(settled, SETTLE_TIMEOUT, f"{count} ready pods of {DEPLOYMENT}", interval=0.5)

    def serve(self, pods: dict[str, str]) -> None:
        """A service process for every pod that has none yet, on the pod's IP, started together."""
        started = {}
        for pod, address in pods.items():
            if pod in self.services:
                continue
            add_loopback_address(address)
            env = {
                **os.environ,
                "DATABASE_URL": self.database_url,
                "HOST": address,
                "PORT": str(SERVICE_PORT),
                "METRICS_PORT": str(METRICS_PORT),
                "POD_NAME": pod,
                # Ten pods share one small test database.
                "DB_POOL_SIZE": "2",
            }
            process = ManagedProcess(pod, [str(VENV_BIN / "python"), "-m", "fastapi_app"], self.work_dir, env)
            self.services[pod] = started[pod] = process
        for pod, process in started.items():
            wait_until_healthy(
                f"http://{pods[pod]}:{SERVICE_PORT}", process.process, process.log_tail, STARTUP_TIMEOUT
            )

    def send(self, pods: dict[str, str], round_number: int) -> None:
        """A different number of requests to each pod, straight to its address, so its count is its own."""
        for position, (pod, address) in enumerate(sorted(pods.items())):
            for _ in range(position % 4 + 1):
                status, _ = http_status(f"http://{address}:{SERVICE_PORT}{ITEMS}")
                assert status == 200, f"GET {ITEMS} on {pod}: {status}"
                self.sent[pod] += 1
            missing, _ = http_status(f"http://{address}:{SERVICE_PORT}{ITEMS}/{10**9 + round_number}")
            assert missing == 404
            self.sent[pod] += 1

    def counted(self) -> dict[str, int]:
        # Each process started from zero, so its counters' highest values are everything it counted.
        result = self.prometheus.query(f"sum by (pod) (max_over_time({COUNTED}[10m]))")
        return {series["metric"]["pod"]: round(float(series["value"][1])) for series in result}

    def dashboard_pods_reporting(self) -> int:
        """The dashboard's "Pods reporting" for the environment the pods job gives the pods."""
        template = self.control_plane.get("deployment", "-n", NAMESPACE, DEPLOYMENT)["spec"]["template"]
        environment = template["metadata"].get("annotations", {}).get(ENVIRONMENT_ANNOTATION, NAMESPACE)
        panels = json.loads(DASHBOARD.read_text())["panels"]
        (expr,) = [panel["targets"][0]["expr"] for panel in panels if panel["title"] == "Pods reporting"]
        result = self.prometheus.query(expr.replace("$environment", environment))
        return round(float(result[0]["value"][1])) if result else 0

    def scraped_pods(self) -> dict[str, float]:
        """Each target of the pods job whose last scrape succeeded, with that scrape's duration."""
        up = self.prometheus.query('up{job="fastapi", via="kubernetes-api"} == 1')
        durations = self.prometheus.query('scrape_duration_seconds{job="fastapi", via="kubernetes-api"}')
        healthy = {series["metric"]["instance"] for series in up}
        return {
            series["metric"]["instance"]: float(series["value"][1])
            for series in durations
            if series["metric"]["instance"] in healthy
        }


@pytest.fixture(scope="module")
def pods_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodsMode]:
    work_dir = tmp_path_factory.mktemp("pods-mode")
    processes: list[ManagedProcess] = []
    with (
        own_network_namespace(),
        ControlPlane.running(work_dir / "controlplane") as control_plane,
        PostgresServer() as database,
    ):
        run: PodsMode | None = None
        try:
            control_plane.add_node("node-a", "ap-southeast-1a")
            control_plane.add_node("node-b", "ap-southeast-1b")
            api_address = f"127.0.0.1:{control_plane.api_port}"
            for rendered in rendered_objects(control_plane):
                manifest = pointed_at(rendered, api_address) if rendered["kind"] == "Deployment" else rendered
                server_side_apply(control_plane, manifest)
            outputs = work_dir / "stack-outputs.json"
            outputs.write_text(
                json.dumps(
                    {
                        "kubernetesApiEndpoint": f"https://{api_address}",
                        "kubernetesCaCertificate": (control_plane.pki.directory / "ca.crt").read_text(),
                        "metricsScraperToken": scraper_token(control_plane, SETTLE_TIMEOUT),
                        "clusterName": "fastapi-app-e2e",
                        "namespace": NAMESPACE,
                    }
                )
            )
            subprocess.run(
                [
                    NPM, "run", "--silent", "monitoring:targets", "--",
                    "--outputs", str(outputs), "--stack", "e2e",
                    "--out", str(work_dir / "targets" / "eks.json"),
                    "--token-out", str(work_dir / "secrets" / "metrics-token"),
                    "--kubernetes-out", str(work_dir / "secrets" / "kubernetes"),
                ],
                cwd=REPO, check=True, timeout=60,
            )  # fmt: skip
            run_migrations(database.url, work_dir)
            prometheus, api = run_prometheus(SCRAPE_INTERVAL, work_dir)
            processes.append(prometheus)
            run = PodsMode(control_plane, api, database.url, work_dir)
            yield run
        except Exception:
            for process in [*processes, *(run.services.values() if run else [])]:
                print(f"--- {process.name} log ---\n{process.log_tail()}", file=sys.stderr)
            raise
        finally:
            for process in [*(run.services.values() if run else []), *processes]:
                process.stop()


@pytest.mark.parametrize("pod_count", POD_COUNTS)
def test_every_request_is_counted_once_per_pod_through_the_api_server(
    pods_mode: PodsMode, pod_count: int
) -> None:
    started = time.monotonic()
    pods = pods_mode.ready_pods(pod_count)
    pods_mode.serve(pods)
    wait_until(
        lambda: set(pods_mode.scraped_pods()) == set(pods) or None,
        SETTLE_TIMEOUT,
        f"Prometheus scraping all {pod_count} pods through the API server",
        interval=0.5,
    )
    for round_number in range(3):
        pods_mode.send(pods, round_number)
    expected = {pod: pods_mode.sent[pod] for pod in pods}

    def all_counted() -> dict[str, int] | None:
        counted = pods_mode.counted()
        return counted if counted == expected else None

    try:
        counted = wait_until(all_counted, COUNTED_TIMEOUT, "every request counted once per pod", interval=0.5)
    except TimeoutError as timeout:
        raise AssertionError(f"sent {expected}, Prometheus counted {pods_mode.counted()}") from timeout
    milliseconds = [seconds * 1000 for seconds in pods_mode.scraped_pods().values()]
    print(
        f"{pod_count} pods: sent {sum(expected.values())} requests, counted {counted} "
        f"in {time.monotonic() - started:.1f} s; scrape through the API server's proxy: "
        f"median {statistics.median(milliseconds):.1f} ms, max {max(milliseconds):.1f} ms"
    )
    assert set(counted) == set(pods), "a pod counted that is not one of the Deployment's"
    assert pods_mode.dashboard_pods_reporting() == pod_count


def test_a_pod_without_the_api_annotation_is_never_scraped(pods_mode: PodsMode) -> None:
    """Its own address must never receive the scraper's token: discovery finds it, relabelling drops it."""
    template = pods_mode.control_plane.get("deployment", "-n", NAMESPACE, DEPLOYMENT)["spec"]["template"]
    name = "fastapi-unannotated"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }
    pods_mode.control_plane.kubectl("create", "-f", "-", stdin=json.dumps(pod))
    try:
        wait_until(
            lambda: is_ready(pods_mode.control_plane.get("pod", "-n", NAMESPACE, name)),
            SETTLE_TIMEOUT,
            f"{name} ready",
        )

        def dropped() -> bool:
            return any(
                target["discoveredLabels"].get("__meta_kubernetes_pod_name") == name
                and target["discoveredLabels"].get("__meta_kubernetes_pod_container_port_name") == "metrics"
                for target in pods_mode.prometheus.dropped_targets()
            )

        wait_until(dropped, SETTLE_TIMEOUT, f"Prometheus discovering and dropping {name}'s metrics port")
        active = {target["labels"].get("instance") for target in pods_mode.prometheus.active_targets()}
        assert name not in active
    finally:
        pods_mode.control_plane.kubectl("delete", "pod", "-n", NAMESPACE, name, "--wait=false")
