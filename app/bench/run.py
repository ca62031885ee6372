"""Benchmark: the service under a 0.5-CPU cgroup quota (the pod's limit) against a local PostgreSQL.

Run as root from app/:  ../.venv/bin/python bench/run.py [--duration 10] [--connections 8] [--rounds 5]
Prints one Markdown table: requests/s and p50/p99 latency per case, and the two targets.
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware

from fastapi_app.main import create_app
from fastapi_app.routes.items import get_item
from fastapi_app.settings import Settings

APP_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(APP_DIR / "tests"))

from postgres_server import PostgresServer, free_port  # noqa: E402 - after the path is set
from service_process import wait_until_healthy  # noqa: E402

CPU_PERIOD_US = 100_000
CPU_QUOTA_US = 50_000  # 0.5 CPU, the Deployment's limit
HEALTH_TARGET = 0.60  # GET /health must reach 60 % of the bare ASGI ceiling
MIDDLEWARE_BUDGET = 0.10  # metrics may cost at most 10 % of GET item throughput


@dataclass(frozen=True)
class Result:
    case: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float


class CpuQuota:
    """A cgroup whose processes share half a CPU; v1 (cpu controller) or v2 (cpu.max)."""

    def __init__(self, name: str) -> None:
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "cpu.cfs_quota_us").exists() and os.access(v1, os.W_OK):
            self.path = v1 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(CPU_QUOTA_US))
        elif (v2 / "cgroup.controllers").exists() and os.access(v2, os.W_OK):
            if "cpu" not in (v2 / "cgroup.subtree_control").read_text().split():
                (v2 / "cgroup.subtree_control").write_text("+cpu")
            self.path = v2 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{CPU_QUOTA_US} {CPU_PERIOD_US}")
        else:
            raise SystemExit(
                "no writable cgroup CPU controller (v1 /sys/fs/cgroup/cpu or v2 /sys/fs/cgroup): run as root "
                "on a host or a privileged container"
            )

    def join(self) -> None:
        """Called in the child before exec: the server starts inside the quota."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        self.path.rmdir()


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(quota: CpuQuota, target: str, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-server-header",
        "--log-level", "warning",
    ]  # fmt: skip
    if target.startswith("bench.targets:service"):
        command.append("--factory")
    process = subprocess.Popen(
        command,
        cwd=APP_DIR,
        env={**os.environ, **env, "PYTHONPATH": str(APP_DIR)},
        stdout=subprocess.DEVNULL,
        preexec_fn=quota.join,  # noqa: PLW1509 - the child only writes its pid to the cgroup
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process, lambda: f"(server output discarded; run `{' '.join(command)}`)")
        yield Server(base_url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    case: str, target: Server, path: str, args: argparse.Namespace, *, duration: int, script: Path | None
) -> Result:
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{duration}s", "--latency", f"{target.url}{path}"]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    cpu_before = target.cpu_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_used = target.cpu_seconds() - cpu_before
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if rate is None or total is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return Result(
        case,
        float(rate.group(1)),
        _ms(*p50.groups()),
        _ms(*p99.groups()),
        int(errors.group(1)) if errors else 0,
        cpu_used / max(int(total.group(1)), 1) * 1e6,
    )


def measure(
    target: Server, path: str, case: str, args: argparse.Namespace, script: Path | None = None
) -> Result:
    wrk(case, target, path, args, duration=2, script=script)  # warm-up: pool filled, code paths hot
    result = wrk(case, target, path, args, duration=args.duration, script=script)
    print(f"  {result}", file=sys.stderr)
    return result


def metrics_middleware_cpu_us(iterations: int = 5000, repeats: int = 5) -> float:
    """CPU the metrics middleware adds to one GET item request, measured in-process without any I/O.

    An ASGI stub stands in for the routed application: it marks the request as routed the way the
    router does (so the middleware searches the service's real routes) and answers 200.
    """
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(database_url=None, sqlite_path=Path(directory) / "unused.db"))
    metrics = next(
        entry
        for entry in app.user_middleware
        if isinstance(entry.cls, type) and issubclass(entry.cls, PrometheusMiddleware)
    )

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        scope["router"], scope["endpoint"] = app.router, get_item
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(_: Message) -> None:
        return None

    def request_scope() -> Scope:
        return {
            "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/api/v1/items/1", "raw_path": b"/api/v1/items/1", "query_string": b"",
            "root_path": "", "headers": [(b"host", b"127.0.0.1")], "server": ("127.0.0.1", 8000),
        }  # fmt: skip

    async def cpu_per_call(handler: ASGIApp) -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            for _ in range(iterations):
                await handler(request_scope(), receive, send)
            best = min(best, (time.process_time() - started) / iterations)
        return best

    with_metrics = metrics.cls(routed, *metrics.args, **metrics.kwargs)
    return (asyncio.run(cpu_per_call(with_metrics)) - asyncio.run(cpu_per_call(routed))) * 1e6


def median(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda run: run.requests_per_second)[len(runs) // 2]


def seed_item(target: Server) -> int:
    response = httpx.post(f"{target.url}/api/v1/items", json={"name": "bench-seed", "price": "1.00"})
    response.raise_for_status()
    item_id: int = response.json()["id"]
    return item_id


def table(results: list[Result]) -> str:
    lines = [
        "| case | requests/s | p50 ms | p99 ms | non-2xx | server CPU per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.case} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
        f"| {r.cpu_us_per_request:,.0f} µs |"
        for r in results
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured case")
    parser.add_argument("--connections", type=int, default=8, help="concurrent wrk connections")
    parser.add_argument("--rounds", type=int, default=5, help="alternating GET item runs, metrics on/off")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    post_script = Path(__file__).parent / "post_item.lua"

    quota = CpuQuota(f"fastapi-bench-{os.getpid()}")
    results: list[Result] = []
    try:
        with PostgresServer() as database:
            env = {"DATABASE_URL": database.url, "POD_NAME": "bench", "LOG_LEVEL": "INFO"}
            subprocess.run(
                [sys.executable, "-m", "alembic", "upgrade", "head"],
                cwd=APP_DIR, env={**os.environ, **env}, check=True, capture_output=True,
            )  # fmt: skip
            with server(quota, "bench.targets:bare_app", env) as bare:
                results.append(measure(bare, "/health", "bare ASGI app (ceiling)", args))
            with server(quota, "bench.targets:service_with_metrics", env) as service:
                item_path = f"/api/v1/items/{seed_item(service)}"
                results.append(measure(service, "/health", "GET /health", args))
                results.append(measure(service, "/api/v1/items", "POST /api/v1/items", args, post_script))
            # The A/B pair starts fresh and equal: neither has served other traffic (heap, caches, GC).
            # Both share the quota but only the one under load uses it; alternating them and keeping
            # medians evens out what else the machine does meanwhile.
            with (
                server(quota, "bench.targets:service_with_metrics", env) as with_metrics,
                server(quota, "bench.targets:service_without_metrics", env) as without_metrics,
            ):
                runs_on: list[Result] = []
                runs_off: list[Result] = []
                for _ in range(args.rounds):
                    runs_on.append(measure(with_metrics, item_path, "GET /api/v1/items/{id}", args))
                    runs_off.append(measure(without_metrics, item_path, "GET item, metrics off", args))
                results += [median(runs_on), median(runs_off)]
    finally:
        quota.remove()

    by_case = {result.case: result for result in results}
    health_share = (
        by_case["GET /health"].requests_per_second / by_case["bare ASGI app (ceiling)"].requests_per_second
    )
    item_on, item_off = by_case["GET /api/v1/items/{id}"], by_case["GET item, metrics off"]
    metrics_cost = 1 - item_on.requests_per_second / item_off.requests_per_second
    # Under a fixed CPU quota, throughput is quota / CPU per request: the same cost, with less noise.
    # Each round pairs two back-to-back runs, so the median of the per-round costs discards most noise.
    round_costs = sorted(
        1 - off.cpu_us_per_request / on.cpu_us_per_request for on, off in zip(runs_on, runs_off, strict=True)
    )
    metrics_cpu_cost = round_costs[len(round_costs) // 2]
    print(table(results))
    print()
    verdict = {True: "met", False: "MISSED"}
    print(
        f"- GET /health = {health_share:.0%} of the bare ceiling "
        f"(target >= {HEALTH_TARGET:.0%}: {verdict[health_share >= HEALTH_TARGET]})"
    )
    print(
        f"- metrics middleware: {metrics_cost:.1%} of GET item throughput (medians); "
        f"{metrics_cpu_cost:.1%} of server CPU per request (median of rounds, range "
        f"{round_costs[0]:.1%} to {round_costs[-1]:.1%}); target <= {MIDDLEWARE_BUDGET:.0%}: "
        f"{verdict[metrics_cost <= MIDDLEWARE_BUDGET]} by throughput, "
        f"{verdict[metrics_cpu_cost <= MIDDLEWARE_BUDGET]} by CPU"
    )
    isolated = metrics_middleware_cpu_us()
    print(
        f"- metrics middleware measured alone, in-process: {isolated:.0f} µs CPU per request = "
        f"{isolated / item_off.cpu_us_per_request:.1%} of GET item's CPU with metrics off"
    )
    print(
        f"- 0.5 CPU (cgroup quota {CPU_QUOTA_US}/{CPU_PERIOD_US} us), wrk -t1 -c{args.connections} "
        f"-d{args.duration}s (GET item: median of {args.rounds} alternating runs), PostgreSQL 15 local, "
        f"{os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
