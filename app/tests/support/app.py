"""An application instance bound to a database, served in-process to an HTTP client."""

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from fastapi_app.settings import Settings

TEST_POD = "test-pod-0"


def settings_for(database_url: str, **overrides: object) -> Settings:
    return Settings.model_validate(
        {"database_url": SecretStr(database_url), "pod_name": TEST_POD, **overrides}
    )


async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
