"""Where a request's CPU goes: the service in-process against a throwaway PostgreSQL, under cProfile.

Run from app/:  ../.venv/bin/python bench/cpu_profile.py [--requests 5000]
Prints, for GET item, a list page of 100 and POST, the share of in-process CPU per part of the stack
(own time of the functions in each package). uvicorn's protocol is not in it: it runs outside the app.
"""

import argparse
import asyncio
import cProfile
import itertools
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Scope

from fastapi_app.main import create_app
from fastapi_app.settings import Settings

APP_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(APP_DIR), str(APP_DIR / "tests")]

from bench.run import seed_items  # noqa: E402 - after the path

from alembic_runner import alembic  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

SUCCESS = (200, 201)
TOP_FUNCTIONS = 15
# Longest prefix first: the part of the stack a function's file belongs to.
PARTS = (
    ("fastapi_app/middleware/request_log", "service: request id and access log"),
    ("fastapi_app/logs", "service: request id and access log"),
    ("fastapi_app/middleware/route_metrics", "service: metrics"),
    ("prometheus_client", "service: metrics"),
    ("fastapi_app/middleware", "service: other middleware"),
    ("fastapi_app/admission", "service: store (admission, pool, rows)"),
    ("fastapi_app/store", "service: store (admission, pool, rows)"),
    ("fastapi_app", "service: routes, schemas, errors"),
    ("orjson", "service: routes, schemas, errors"),
    ("asyncpg", "asyncpg"),
    ("fastapi/", "FastAPI (routing, parameters, dependencies)"),
    ("pydantic", "pydantic (request validation)"),
    ("starlette", "Starlette"),
    ("asyncio", "asyncio event loop"),
    ("uvloop", "asyncio event loop"),
    ("anyio", "anyio"),
)


def part_of(filename: str) -> str:
    for prefix, part in PARTS:
        if prefix in filename:
            return part
    return "other (Python runtime, stdlib)"


def request_scope(method: str, path: str, query: bytes = b"") -> Scope:
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    return {
        "type": "http", "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": query, "root_path": "", "headers": headers,
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 40000),
    }  # fmt: skip


async def call(app: ASGIApp, scope: Scope, body: bytes = b"") -> int:
    """One request straight through the ASGI application, without a client or a server around it."""
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def profile(database_url: str, count: int) -> None:
    settings = Settings(database_url=SecretStr(database_url), pod_name="profile")
    app = create_app(settings)
    names = itertools.count()
    tag = time.time_ns()
    cases: dict[str, Callable[[], tuple[Scope, bytes]]] = {
        "GET /api/v1/items/{id}": lambda: (request_scope("GET", "/api/v1/items/500"), b""),
        "GET /api/v1/items?limit=100": lambda: (request_scope("GET", "/api/v1/items", b"limit=100"), b""),
        "POST /api/v1/items": lambda: (
            request_scope("POST", "/api/v1/items"),
            b'{"name": "profile-%d-%d", "price": "9.99"}' % (tag, next(names)),
        ),
    }

    async def drive(request: Callable[[], tuple[Scope, bytes]], requests: int) -> None:
        for _ in range(requests):
            status = await call(app, *request())
            assert status in SUCCESS, status  # noqa: S101

    async def run() -> None:
        async with app.router.lifespan_context(app):
            for case, request in cases.items():
                await drive(request, 200)
                # CPU time, not wall time: waiting for PostgreSQL is not the service's cost.
                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
                await drive(request, count)
                profiler.disable()
                report(case, pstats.Stats(profiler), count)

    asyncio.run(run())


def report(case: str, stats: pstats.Stats, count: int) -> None:
    shares: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        shares[part_of(filename)] += own
    total = sum(shares.values())
    print(f"\n{case}: {total / count * 1e6:,.0f} µs of CPU in-process per request (cProfile inflates it)\n")
    print("| part | share |\n|---|---:|")
    for part, seconds in sorted(shares.items(), key=lambda item: -item[1]):
        print(f"| {part} | {seconds / total:.0%} |")
    print("\n| function (own time) | share |\n|---|---:|")
    functions = sorted(stats.stats.items(), key=lambda item: -item[1][2])  # type: ignore[attr-defined]
    for (filename, line, name), (_, _, own, _, _) in functions[:TOP_FUNCTIONS]:
        where = "/".join(Path(filename).parts[-2:]) if filename != "~" else "built-in"
        print(f"| `{name}` ({where}:{line}) | {own / total:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000, help="requests profiled per case")
    args = parser.parse_args()
    with PostgresServer() as database:
        migrated = alembic(database.url, "upgrade", "head")
        if migrated.returncode != 0:
            raise SystemExit(migrated.stderr)
        seed_items(database.url, 1000)
        profile(database.url, args.requests)


if __name__ == "__main__":
    main()
