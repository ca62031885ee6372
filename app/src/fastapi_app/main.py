"""The application factory: routes, error handlers, middleware and the database's lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_app.auth import BearerTokenMiddleware, TokenSet, declare_bearer_auth
from fastapi_app.db import Database
from fastapi_app.errors import install_error_handlers
from fastapi_app.metrics import UNCOUNTED_PATHS, install_metrics
from fastapi_app.metrics_port import MetricsPortMiddleware
from fastapi_app.middleware import BodyLimitMiddleware, LivenessMiddleware, RequestLogMiddleware
from fastapi_app.routes import health, items
from fastapi_app.settings import Settings

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await database.start()
        yield
        await database.stop()

    app = FastAPI(
        title="fastapi-app",
        version=VERSION,
        description="Items API on PostgreSQL with health, readiness and Prometheus metrics.",
        lifespan=lifespan,
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        # Prometheus is this service's telemetry; FastAPI's OpenTelemetry hooks would only cost per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.database = database
    install_error_handlers(app)
    app.include_router(items.router)
    app.include_router(health.router)
    # Added innermost first. Outermost, the metrics port answers its own requests; then liveness answers
    # before anything else runs; next, the request log wraps all the rest, so it times and tags every
    # other response.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outside the body limit, so a request without a valid token is refused before its body is read.
    api_tokens = TokenSet(settings.api_token_list())
    reads_need_token = settings.api_reads_need_token and bool(api_tokens)
    app.add_middleware(
        BearerTokenMiddleware,
        api_tokens=api_tokens,
        reads_need_token=reads_need_token,
        metrics_tokens=TokenSet(settings.metrics_token_list()),
    )
    if api_tokens:
        declare_bearer_auth(app, reads_need_token=reads_need_token)
    install_metrics(app, settings.pod_name)
    app.add_middleware(RequestLogMiddleware, quiet_paths=frozenset(UNCOUNTED_PATHS))
    app.add_middleware(LivenessMiddleware)
    app.add_middleware(MetricsPortMiddleware, port=settings.metrics_port)
    return app
