"""Benchmark: the service under a 0.5-CPU cgroup quota (the pod's limit) against a local PostgreSQL.

Run as root from app/:  ../.venv/bin/python bench/run.py [--parts targets,reference,sweep] [--pairs 8]
    [--rounds 4] [--round-seconds 3] [--sweep-seconds 5]
Prints Markdown tables. targets: requests/s and p50/p99 latency per case, and the two middleware targets;
reference: GET item against the raw-asyncpg reference handler (bench/targets.py); each target judged on
a 95 % confidence interval over fresh server pairs running alternately (bench/compare.py). sweep: GET
item, a list page of 100 and POST at 1, 16, 64 and 256 connections, for the service and the reference,
with errors, CPU per request and new PostgreSQL sessions per second.
"""

import argparse
import asyncio
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware

from fastapi_app.main import create_app
from fastapi_app.routes import items
from fastapi_app.routes.items import get_item
from fastapi_app.settings import Settings

APP_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(APP_DIR), str(APP_DIR / "tests")]

from bench.compare import Interval, a_runs_first, throughput_ratio, verdict  # noqa: E402 - after the path

from postgres_server import PostgresServer, free_port  # noqa: E402
from service_process import wait_until_healthy  # noqa: E402

CPU_PERIOD_US = 100_000
CPU_QUOTA_US = 50_000  # 0.5 CPU, the Deployment's limit
HEALTH_TARGET = 0.60  # GET /health must reach 60 % of the bare ASGI ceiling
MIDDLEWARE_BUDGET = 0.10  # metrics may cost at most 10 % of GET item throughput
PARTS = ("targets", "reference", "sweep")
REFERENCE = "bench.targets:raw_asyncpg_reference"
# wrk's script for POST /api/v1/items.
POST_SCRIPT = Path(__file__).parent / "post_item.lua"


@dataclass(frozen=True)
class Result:
    case: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_seconds: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / max(self.requests, 1) * 1e6


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
    # The reference runs on plain uvicorn; everything else on the service's bounded protocol.
    protocol = "httptools" if target == REFERENCE else "fastapi_app.server:BoundedHttpToolsProtocol"
    command = [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", protocol, "--no-access-log", "--no-server-header",
        "--log-level", "warning",
    ]  # fmt: skip
    if target.startswith(("bench.targets:service", REFERENCE)):
        command.append("--factory")
    process = subprocess.Popen(
        command,
        cwd=APP_DIR,
        # The service of the tree the benchmark is in, whatever the environment has installed.
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(APP_DIR), str(APP_DIR / "src")])},
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


_run_tags = itertools.count()


def wrk(
    case: str,
    target: Server,
    path: str,
    args: argparse.Namespace,
    *,
    duration: int,
    script: Path | None = None,
    connections: int | None = None,
) -> Result:
    connections = connections or args.connections
    # A request slower than wrk's timeout would be dropped from the latencies, not counted as an error.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency"]
    command.append(f"{target.url}{path}")
    if script is not None:
        command[1:1] = ["-s", str(script)]
        command += ["--", f"{os.getpid()}-{next(_run_tags)}"]
    cpu_before = target.cpu_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(case, output, target.cpu_seconds() - cpu_before)


def parse_wrk(case: str, output: str, cpu_seconds: float) -> Result:
    """wrk's report as a Result; socket errors (connect, read, write, timeout) count as errors too."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if rate is None or total is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return Result(
        case,
        float(rate.group(1)),
        _ms(*p50.groups()),
        _ms(*p99.groups()),
        errors,
        int(total.group(1)),
        cpu_seconds,
    )


def warm_up(
    target: Server,
    path: str,
    args: argparse.Namespace,
    script: Path | None = None,
    *,
    connections: int | None = None,
) -> None:
    """Fills the pool and makes the code paths hot before anything is measured."""
    wrk("warm-up", target, path, args, duration=2, script=script, connections=connections)


def combined(case: str, runs: list[Result]) -> Result:
    """Equal-length runs as one: mean throughput, median latencies, summed errors, requests and CPU."""
    return Result(
        case,
        statistics.fmean(run.requests_per_second for run in runs),
        statistics.median(run.p50_ms for run in runs),
        statistics.median(run.p99_ms for run in runs),
        sum(run.errors for run in runs),
        sum(run.requests for run in runs),
        sum(run.cpu_seconds for run in runs),
    )


@dataclass(frozen=True)
class Comparison:
    a: Result
    b: Result
    a_over_b: Interval


def compare(
    quota: CpuQuota, env: dict[str, str], a: tuple[str, str], b: tuple[str, str], *, path: str,
    args: argparse.Namespace,
) -> Comparison:  # fmt: skip
    """Cases A and B, (name, uvicorn target), serving the same request: fresh pairs of server processes,
    short runs alternating within each pair (bench/compare.py says why)."""
    runs: dict[str, list[Result]] = {a[0]: [], b[0]: []}
    pair_means: dict[str, list[float]] = {a[0]: [], b[0]: []}
    for pair in range(args.pairs):
        first, second = (a, b) if a_runs_first(pair) else (b, a)
        with server(quota, first[1], env) as first_server, server(quota, second[1], env) as second_server:
            targets = {first[0]: first_server, second[0]: second_server}
            for target in targets.values():
                warm_up(target, path, args)
            in_pair: dict[str, list[Result]] = {a[0]: [], b[0]: []}
            for index in range(args.rounds):
                for case in (a[0], b[0]) if a_runs_first(pair + index) else (b[0], a[0]):
                    in_pair[case].append(wrk(case, targets[case], path, args, duration=args.round_seconds))
        for case, results in in_pair.items():
            runs[case] += results
            pair_means[case].append(statistics.fmean(result.requests_per_second for result in results))
        latest = ", ".join(f"{case} {means[-1]:,.0f}/s" for case, means in pair_means.items())
        print(f"  pair {pair + 1}/{args.pairs}: {latest}", file=sys.stderr)
    ratio = throughput_ratio(pair_means[a[0]], pair_means[b[0]])
    return Comparison(combined(a[0], runs[a[0]]), combined(b[0], runs[b[0]]), ratio)


def metrics_middleware_cpu_us(iterations: int = 5000, repeats: int = 5) -> float:
    """CPU the metrics middleware adds to one GET item request, measured in-process without any I/O.

    An ASGI stub stands in for the routed application: it marks the request as routed the way the
    router does (the service's real router and GET item route) and answers 200.
    """
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(database_url=None, sqlite_path=Path(directory) / "unused.db"))
    metrics = next(
        entry
        for entry in app.user_middleware
        if isinstance(entry.cls, type) and issubclass(entry.cls, PrometheusMiddleware)
    )

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        scope["router"], scope["endpoint"], scope["route"] = app.router, get_item, get_item_route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    get_item_route = next(route for route in items.router.routes if getattr(route, "name", "") == "get_item")

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


def table(results: list[Result]) -> str:
    lines = [
        "| case | requests/s | p50 ms | p99 ms | non-2xx + socket errors | server CPU per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.case} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
        f"| {r.cpu_us_per_request:,.0f} µs |"
        for r in results
    ]
    return "\n".join(lines)


def percent(interval: Interval) -> str:
    return f"{interval.estimate:.1%} (95 % confidence interval {interval.low:.1%} to {interval.high:.1%})"


SWEEP_CONNECTIONS = (1, 16, 64, 256)
REFERENCE_TARGET = 0.35  # GET item must reach 35 % of the raw-asyncpg reference's throughput
REFERENCE_CONNECTIONS = (16, 64)
# A list page and a POST may each cost at most this many times the reference's CPU per GET item.
CPU_BUDGET_OVER_REFERENCE_ITEM = 4.5
SEED_ITEMS = 1000
LIST_PATH = "/api/v1/items?limit=100"
ITEM_ENDPOINT = "GET /api/v1/items/{id}"
LIST_ENDPOINT = "GET /api/v1/items?limit=100"
POST_ENDPOINT = "POST /api/v1/items"


class SessionCounter:
    """PostgreSQL's count of sessions ever opened to the database, read over one connection of its own
    (opened before and kept, so that reading it opens none)."""

    def __init__(self, database_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._connection = self._loop.run_until_complete(asyncpg.connect(database_url))

    def sessions(self) -> int:
        query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        count: int = self._loop.run_until_complete(self._connection.fetchval(query))
        return count

    def close(self) -> None:
        self._loop.run_until_complete(self._connection.close())
        self._loop.close()


@dataclass(frozen=True)
class SweepPoint:
    target: str
    endpoint: str
    connections: int
    result: Result
    sessions_per_second: float


def sweep(
    quota: CpuQuota, env: dict[str, str], counter: SessionCounter, item_path: str, args: argparse.Namespace
) -> list[SweepPoint]:
    """GET item, a list page of 100 and POST at each concurrency, for the service and the reference."""
    endpoints = (
        (ITEM_ENDPOINT, item_path, None),
        (LIST_ENDPOINT, LIST_PATH, None),
        (POST_ENDPOINT, "/api/v1/items", POST_SCRIPT),
    )
    points = []
    for name, target in (("service", "bench.targets:service_with_metrics"), ("reference", REFERENCE)):
        with server(quota, target, env) as running:
            for endpoint, path, script in endpoints:
                warm_up(running, path, args, script, connections=16)
                for connections in SWEEP_CONNECTIONS:
                    before = counter.sessions()
                    result = wrk(endpoint, running, path, args, duration=args.sweep_seconds, script=script,
                                 connections=connections)  # fmt: skip
                    opened = counter.sessions() - before
                    points.append(
                        SweepPoint(name, endpoint, connections, result, opened / args.sweep_seconds)
                    )
                    print(
                        f"  {name} {endpoint} -c{connections}: {result.requests_per_second:,.0f}/s",
                        file=sys.stderr,
                    )
    return points


def sweep_table(points: list[SweepPoint]) -> str:
    reference = {(p.endpoint, p.connections): p.result for p in points if p.target == "reference"}
    lines = [
        "| endpoint | connections | requests/s | p50 ms | p99 ms | non-2xx + socket errors | CPU per request "
        "| new sessions/s | reference CPU per request | reference / service CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for point in points:
        if point.target != "service":
            continue
        r, ref = point.result, reference[(point.endpoint, point.connections)]
        lines.append(
            f"| {point.endpoint} | {point.connections} | {r.requests_per_second:,.0f} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.errors} | {r.cpu_us_per_request:,.0f} µs "
            f"| {point.sessions_per_second:.1f} | {ref.cpu_us_per_request:,.0f} µs "
            f"| {share_of_reference(r, ref):.1%} |"
        )
    return "\n".join(lines)


def sweep_verdicts(points: list[SweepPoint]) -> list[str]:
    """The sweep's targets, each from figures of the same run."""
    service = {(p.endpoint, p.connections): p for p in points if p.target == "service"}
    reference = {(p.endpoint, p.connections): p.result for p in points if p.target == "reference"}
    lines = []
    for endpoint in (LIST_ENDPOINT, POST_ENDPOINT):
        worst = max(
            service[(endpoint, c)].result.cpu_us_per_request
            / reference[(ITEM_ENDPOINT, c)].cpu_us_per_request
            for c in SWEEP_CONNECTIONS
        )
        met = "met" if worst <= CPU_BUDGET_OVER_REFERENCE_ITEM else "MISSED"
        lines.append(
            f"- {endpoint}: at most {worst:.2f}x the reference's CPU per GET item over the sweep; target <= "
            f"{CPU_BUDGET_OVER_REFERENCE_ITEM}x: {met}"
        )
    errors = sum(p.result.errors for p in service.values())
    sessions = max(p.sessions_per_second for p in service.values())
    lines.append(
        f"- service: {errors} non-2xx + socket errors, at most {sessions:.1f} new PostgreSQL sessions/s "
        f"over every point; target 0 and 0: {'met' if errors == 0 and sessions == 0 else 'MISSED'}"
    )
    for c in REFERENCE_CONNECTIONS:
        item, ref = service[(ITEM_ENDPOINT, c)].result, reference[(ITEM_ENDPOINT, c)]
        lines.append(
            f"- GET item at {c} connections: {item.requests_per_second / ref.requests_per_second:.1%} of the "
            f"reference's throughput, p99 {item.p99_ms / ref.p99_ms:.2f}x its p99 (single unpaired runs: "
            "the reference part judges these)"
        )
    return lines


def share_of_reference(service: Result, reference: Result) -> float:
    """How the service's CPU per request compares with the reference's: 25 % means four times the CPU."""
    return reference.cpu_us_per_request / service.cpu_us_per_request


def seed_items(database_url: str, count: int) -> None:
    async def insert() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "INSERT INTO items (name, price) SELECT 'seed-' || n, 1 FROM generate_series(1, $1) AS n",
                count,
            )
        finally:
            await connection.close()

    asyncio.run(insert())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=8, help="fresh server pairs per comparison")
    parser.add_argument("--rounds", type=int, default=4, help="alternating runs per server in each pair")
    parser.add_argument("--round-seconds", type=int, default=3, help="seconds per alternating run")
    parser.add_argument("--duration", type=int, default=10, help="seconds of the POST run")
    parser.add_argument("--connections", type=int, default=8, help="concurrent wrk connections")
    parser.add_argument("--sweep-seconds", type=int, default=5, help="seconds per point of the sweep")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, any of {', '.join(PARTS)} (default: all)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        raise SystemExit(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    quota = CpuQuota(f"fastapi-bench-{os.getpid()}")
    try:
        with PostgresServer() as database:
            env = {"DATABASE_URL": database.url, "POD_NAME": "bench", "LOG_LEVEL": "INFO"}
            subprocess.run(
                [sys.executable, "-m", "alembic", "upgrade", "head"],
                cwd=APP_DIR, env={**os.environ, **env}, check=True, capture_output=True,
            )  # fmt: skip
            seed_items(database.url, SEED_ITEMS)
            item_path = f"/api/v1/items/{SEED_ITEMS // 2}"
            if "targets" in parts:
                targets(quota, env, item_path, args)
            if "reference" in parts:
                for connections in REFERENCE_CONNECTIONS:
                    against_reference(
                        quota,
                        env,
                        item_path,
                        argparse.Namespace(**{**vars(args), "connections": connections}),
                    )
            if "sweep" in parts:
                counter = SessionCounter(database.url)
                try:
                    points = sweep(quota, env, counter, item_path, args)
                finally:
                    counter.close()
                print(sweep_table(points))
                print("\n".join(sweep_verdicts(points)))
                print(
                    f"\n- concurrency sweep: one fresh server per target, a 2 s warm-up per endpoint at 16 "
                    f"connections, then {args.sweep_seconds} s per point; wrk -t1, --timeout 30s; "
                    f"{SEED_ITEMS:,} items; new sessions/s from pg_stat_database.sessions"
                )
    finally:
        quota.remove()


def against_reference(quota: CpuQuota, env: dict[str, str], item_path: str, args: argparse.Namespace) -> None:
    """GET item against the reference in paired rounds, at args.connections."""
    reference = compare(
        quota, env, (ITEM_ENDPOINT, "bench.targets:service_with_metrics"),
        ("raw-asyncpg reference", REFERENCE), path=item_path, args=args,
    )  # fmt: skip
    print(table([reference.a, reference.b]))
    share = reference.a_over_b
    print(
        f"\n- GET item = {percent(share)} of the raw-asyncpg reference's throughput; "
        f"target >= {REFERENCE_TARGET:.0%}: {verdict(share, at_least=REFERENCE_TARGET)}. "
        f"By CPU per request: {share_of_reference(reference.a, reference.b):.1%}; "
        f"p99: {reference.a.p99_ms / reference.b.p99_ms:.2f}x the reference's"
    )
    print(f"- {conditions(args)}\n")


def targets(quota: CpuQuota, env: dict[str, str], item_path: str, args: argparse.Namespace) -> None:
    """The middleware targets: /health against the bare ASGI ceiling, the cost of the metrics middleware."""
    with server(quota, "bench.targets:service_with_metrics", env) as service:
        warm_up(service, "/api/v1/items", args, POST_SCRIPT)
        post = wrk("POST /api/v1/items", service, "/api/v1/items", args,
                   duration=args.duration, script=POST_SCRIPT)  # fmt: skip
    # Both servers of a pair share the quota, but only the one under load uses it.
    health = compare(
        quota, env, ("GET /health", "bench.targets:service_with_metrics"),
        ("bare ASGI app (ceiling)", "bench.targets:bare_app"), path="/health", args=args,
    )  # fmt: skip
    item = compare(
        quota, env, ("GET /api/v1/items/{id}", "bench.targets:service_with_metrics"),
        ("GET item, metrics off", "bench.targets:service_without_metrics"), path=item_path, args=args,
    )  # fmt: skip
    print(table([health.b, health.a, post, item.a, item.b]))
    print()
    health_share, metrics_cost = health.a_over_b, item.a_over_b.complement()
    print(
        f"- GET /health = {percent(health_share)} of the bare ceiling; target >= {HEALTH_TARGET:.0%}: "
        f"{verdict(health_share, at_least=HEALTH_TARGET)}"
    )
    print(
        f"- metrics middleware: {percent(metrics_cost)} of GET item throughput; target <= "
        f"{MIDDLEWARE_BUDGET:.0%}: {verdict(metrics_cost, at_most=MIDDLEWARE_BUDGET)}. By server CPU per "
        f"request: {1 - item.b.cpu_us_per_request / item.a.cpu_us_per_request:.1%}"
    )
    isolated = metrics_middleware_cpu_us()
    print(
        f"- metrics middleware measured alone, in-process: {isolated:.0f} µs CPU per request = "
        f"{isolated / item.b.cpu_us_per_request:.1%} of GET item's CPU with metrics off"
    )
    print(f"- {conditions(args)}; POST: one {args.duration} s run\n")


def conditions(args: argparse.Namespace) -> str:
    return (
        f"0.5 CPU (cgroup quota {CPU_QUOTA_US}/{CPU_PERIOD_US} us), wrk -t1 -c{args.connections}; each "
        f"comparison: {args.pairs} fresh server pairs x {args.rounds} alternating {args.round_seconds} s "
        f"runs per server (requests/s: mean; p50, p99: median of runs; interval: bootstrap over pairs); "
        f"PostgreSQL 15 local, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
