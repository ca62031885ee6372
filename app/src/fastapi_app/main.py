"""The application factory: the store, routes, error handlers and middleware."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_app.errors import install_error_handlers
from fastapi_app.metrics import install_metrics
from fastapi_app.middleware import install_middleware
from fastapi_app.routes import health, items
from fastapi_app.settings import Settings
from fastapi_app.store import open_store

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = open_store(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.start()
        yield
        await store.stop()

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
    # Read by routes/deps.py only.
    app.state.settings = settings
    app.state.store = store
    install_error_handlers(app, pod=settings.pod_name)
    app.include_router(items.router)
    app.include_router(health.router)
    install_metrics(app, settings.pod_name)
    install_middleware(app, settings)
    return app
