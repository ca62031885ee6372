"""The monitored system on loopback, as real processes: service replicas, a round-robin proxy standing in
for the Service's load balancer, and Prometheus running the repository's configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "app"
MONITORING_DIR = REPO / "monitoring"
VENV_BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx", path=f"/usr/sbin:{os.environ.get('PATH', '')}") or "/usr/sbin/nginx"
# scripts/test-monitoring puts the Prometheus that scripts/setup builds first on PATH.
PROMETHEUS = shutil.which("prometheus") or "prometheus"

STARTUP_TIMEOUT = 30.0
# What the stack hands a deployed service and Prometheus alike: /metrics answers only with this token.
METRICS_TOKEN = "e2e-metrics-token-0123456789abcdef"  # noqa: S105 - made up for these processes

# The service's test helpers: free ports, alembic as the migration Job runs it, waiting for /health.
sys.path.insert(0, str(APP_DIR / "tests"))
from alembic_runner import alembic  # noqa: E402 - after the path is set
from service_process import wait_until_healthy  # noqa: E402

from postgres_server import free_port  # noqa: E402

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Returns probe()'s first result other than None and False.

    Fails after `timeout` seconds with `what` and the probe's last error.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (OSError, ValueError) as error:
            last_error = error
        else:
            if result is not None and result is not False:
                return result
        time.sleep(interval)
    raise TimeoutError(f"{what} within {timeout:.0f}s (last error: {last_error})")


def http_status(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class ManagedProcess:
    """A child process whose output goes to a log file that is shown when something fails."""

    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=log_dir, start_new_session=True
        )

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._log.close()


def run_migrations(database_url: str, log_dir: Path) -> None:
    result = alembic(database_url, "upgrade", "head")
    (log_dir / "migrations.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed:\n{result.stdout}{result.stderr}")


def start_service(pod: str, database_url: str, log_dir: Path) -> tuple[ManagedProcess, int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_PORT": str(free_port()),
        "POD_NAME": pod,
        "METRICS_TOKENS": METRICS_TOKEN,
    }
    service = ManagedProcess(pod, [str(VENV_BIN / "python"), "-m", "fastapi_app"], log_dir, env)
    wait_until_healthy(f"http://127.0.0.1:{port}", service.process, service.log_tail, STARTUP_TIMEOUT)
    return service, port


def start_proxy(upstream_ports: list[int], work_dir: Path) -> tuple[ManagedProcess, int]:
    """nginx balancing round-robin over the service processes, as the Service's load balancer does."""
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{upstream};" for upstream in upstream_ports)
    config = work_dir / "nginx.conf"
    config.write_text(
        f"""daemon off;
worker_processes 1;
pid {work_dir}/nginx.pid;
error_log {work_dir}/nginx-error.log warn;
events {{
    worker_connections 256;
}}
http {{
    access_log off;
    client_body_temp_path {work_dir}/client_body;
    proxy_temp_path {work_dir}/proxy;
    fastcgi_temp_path {work_dir}/fastcgi;
    uwsgi_temp_path {work_dir}/uwsgi;
    scgi_temp_path {work_dir}/scgi;
    upstream fastapi {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fastapi;
        }}
    }}
}}
"""
    )
    proxy = ManagedProcess("nginx", [NGINX, "-p", str(work_dir), "-c", str(config)], work_dir)

    def answering() -> bool:
        proxy.assert_running()
        return http_status(f"http://127.0.0.1:{port}/health")[0] == 200

    wait_until(answering, STARTUP_TIMEOUT, "nginx did not proxy /health")
    return proxy, port


def prometheus_config(scrape_interval: str) -> str:
    """The repository's prometheus.yml with only the scrape interval (and the timeout it bounds) shortened."""
    config = (MONITORING_DIR / "prometheus.yml").read_text()
    shortened = config.replace("scrape_interval: 15s", f"scrape_interval: {scrape_interval}").replace(
        "scrape_timeout: 10s", f"scrape_timeout: {scrape_interval}"
    )
    if shortened.count(f": {scrape_interval}") != 2:
        raise ValueError(
            "monitoring/prometheus.yml no longer has `scrape_interval: 15s` and `scrape_timeout: 10s`"
        )
    return shortened


def start_prometheus(
    target: str, labels: dict[str, str], scrape_interval: str, work_dir: Path
) -> tuple[ManagedProcess, PrometheusApi]:
    """Prometheus with the repository's config; its relative rules/, targets/ and secrets/ paths resolve in
    work_dir, where targets/proxy.json names `target` and secrets/metrics-token holds the metrics token."""
    (work_dir / "secrets").mkdir(mode=0o700)
    (work_dir / "secrets" / "metrics-token").write_text(METRICS_TOKEN)
    (work_dir / "targets").mkdir()
    (work_dir / "targets" / "proxy.json").write_text(json.dumps([{"targets": [target], "labels": labels}]))
    return run_prometheus(scrape_interval, work_dir)


def run_prometheus(scrape_interval: str, work_dir: Path) -> tuple[ManagedProcess, PrometheusApi]:
    """Prometheus with the repository's config in work_dir, beside the repository's rules; what its
    targets/ and secrets/ hold is up to the caller."""
    (work_dir / "prometheus.yml").write_text(prometheus_config(scrape_interval))
    (work_dir / "rules").symlink_to(MONITORING_DIR / "rules")
    port = free_port()
    prometheus = ManagedProcess(
        "prometheus",
        [
            PROMETHEUS,
            f"--config.file={work_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={work_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        work_dir,
    )
    api = PrometheusApi(f"http://127.0.0.1:{port}")

    def ready() -> bool:
        prometheus.assert_running()
        return http_status(f"{api.base_url}/-/ready")[0] == 200

    wait_until(ready, STARTUP_TIMEOUT, "prometheus was not ready")
    return prometheus, api


class PrometheusApi:
    """The parts of Prometheus's HTTP API that Grafana's panels use."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        status, body = http_status(url)
        payload = json.loads(body)
        if status != 200 or payload.get("status") != "success":
            raise AssertionError(f"{path} {params} answered {status}: {payload.get('error', payload)}")
        return payload["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", {"query": expr})
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: str) -> list[dict[str, Any]]:
        data = self._get(
            "/api/v1/query_range", {"query": expr, "start": str(start), "end": str(end), "step": step}
        )
        result: list[dict[str, Any]] = data["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        values: list[str] = self._get(f"/api/v1/label/{label}/values", {"match[]": match})
        return values

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self._get("/api/v1/rules", {})["groups"]
        return groups

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self._get("/api/v1/targets", {"state": "active"})["activeTargets"]
        return targets

    def dropped_targets(self) -> list[dict[str, Any]]:
        """What discovery found and relabelling dropped, with the labels discovery gave it."""
        targets: list[dict[str, Any]] = self._get("/api/v1/targets", {"state": "dropped"})["droppedTargets"]
        return targets
