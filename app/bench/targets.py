"""What the benchmark serves: the bare ASGI ceiling and the service with and without metrics.

Each factory sets up logging exactly like `python -m fastapi_app`, so only the measured difference differs.
"""

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware

from fastapi_app.db import database_password
from fastapi_app.logs import configure_logging
from fastapi_app.main import create_app
from fastapi_app.middleware import LIVENESS_BODY, LIVENESS_HEADERS
from fastapi_app.settings import Settings


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
    configure_logging(settings.log_level, secrets=[database_password(settings)])
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
