"""What the benchmark serves: the bare ASGI ceiling, the service with and without metrics, and the
raw-asyncpg reference handler.

Each factory sets up logging exactly like `python -m fastapi_app`, so only the measured difference differs.
"""

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware

from fastapi_app.logs import configure_logging, logged_secrets
from fastapi_app.main import create_app
from fastapi_app.middleware.liveness import LIVENESS_BODY, LIVENESS_HEADERS
from fastapi_app.settings import DB_POOL_SIZE, Settings


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The least an ASGI application can do per request: the server's own ceiling."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": LIVENESS_HEADERS,
        }
    )
    await send({"type": "http.response.body", "body": LIVENESS_BODY})


def _service() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level, secrets=logged_secrets(settings))
    return create_app(settings)


def service_with_metrics() -> FastAPI:
    return _service()


def service_without_metrics() -> FastAPI:
    app = _service()
    app.user_middleware = [
        entry
        for entry in app.user_middleware
        if not (isinstance(entry.cls, type) and issubclass(entry.cls, PrometheusMiddleware))
    ]
    return app


# Constant SQL, the columns spelled out as the service's statements spell them.
_ITEM_SQL = "SELECT id, name, description, price, created_at, updated_at FROM items WHERE id = $1"
_PAGE_SQL = (
    "SELECT id, name, description, price, created_at, updated_at, count(*) OVER () AS total "
    "FROM items ORDER BY id LIMIT $1 OFFSET $2"
)
_INSERT_SQL = (
    "INSERT INTO items (name, description, price) VALUES ($1, $2, $3) "
    "RETURNING id, name, description, price, created_at, updated_at"
)
_JSON = [(b"content-type", b"application/json")]
_ITEM_FIELDS = ("id", "name", "description", "price", "created_at", "updated_at")


def _item(row: asyncpg.Record) -> dict[str, Any]:
    return dict(zip(_ITEM_FIELDS, row, strict=False))


class RawAsyncpgReference:
    """The same queries as the service's GET item, list page and POST, answered by the least code that
    can: a raw ASGI callable, asyncpg on a pool of the service's size (its statement cache prepares each
    statement once per connection) and orjson; no framework, validation, metrics or log. bench/run.py
    serves it with plain uvicorn (its own httptools protocol, access log off)."""

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self.pool is not None  # noqa: S101 - the lifespan opened it
        path: str = scope["path"]
        if path == "/health":
            await bare_app(scope, receive, send)
            return
        # Read before waiting for a connection: a client gone meanwhile would leave no body to read.
        body = await _body(receive) if scope["method"] == "POST" else b""
        async with self.pool.acquire() as connection:
            if body:
                fields = orjson.loads(body)
                price = Decimal(fields["price"])
                row = await connection.fetchrow(_INSERT_SQL, fields["name"], fields.get("description"), price)
                await _answer(send, 201, _item(row))
            elif path == "/api/v1/items":
                query = parse_qs(scope["query_string"].decode())
                limit, offset = int(query.get("limit", ["50"])[0]), int(query.get("offset", ["0"])[0])
                rows = await connection.fetch(_PAGE_SQL, limit, offset)
                total = rows[0]["total"] if rows else 0
                page = {
                    "items": [_item(row) for row in rows],
                    "total": total,
                    "limit": limit,
                    "offset": offset,
                }
                await _answer(send, 200, page)
            else:
                row = await connection.fetchrow(_ITEM_SQL, int(path.rsplit("/", 1)[1]))
                await _answer(send, 200, _item(row))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(
                    Settings().database_url.get_secret_value(),  # type: ignore[union-attr]
                    min_size=DB_POOL_SIZE,
                    max_size=DB_POOL_SIZE,
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, content: Any) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": orjson.dumps(content, default=str)})


def raw_asyncpg_reference() -> RawAsyncpgReference:
    return RawAsyncpgReference()
