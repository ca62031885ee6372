"""Liveness never needs the database; readiness does."""

import asyncpg
import httpx
from pydantic import SecretStr

from fastapi_app.main import create_app
from fastapi_app.middleware.liveness import LIVENESS_BODY
from fastapi_app.routes.health import health
from fastapi_app.settings import Settings
from fastapi_app.store import PostgresItemStore
from postgres_server import free_port
from support.app import serve


async def test_health_and_ready_are_ok_with_the_database_up(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ok"}


async def test_the_liveness_shortcut_answers_what_the_documented_route_answers(
    client: httpx.AsyncClient,
) -> None:
    shortcut = await client.get("/health")
    through_the_router = await client.head("/health")

    assert shortcut.content == LIVENESS_BODY == (await health()).model_dump_json().encode()
    assert shortcut.headers["content-type"] == "application/json"
    assert through_the_router.status_code == 200


async def test_health_answers_while_ready_reports_an_unreachable_database() -> None:
    nobody_listens = f"postgresql://app:secret@127.0.0.1:{free_port()}/app"
    settings = Settings(database_url=SecretStr(nobody_listens), pod_name="probe-test")

    async for client in serve(create_app(settings)):
        health = await client.get("/health")
        ready = await client.get("/ready")

    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "database_unavailable"


async def test_ready_stays_ok_while_requests_hold_every_pooled_connection(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0}))

    async for client in serve(app):
        store: PostgresItemStore = app.state.store

        async def ready_while_held(
            busy: asyncpg.Connection, client: httpx.AsyncClient = client
        ) -> httpx.Response:
            await busy.fetchval("SELECT 1")
            return await client.get("/ready")

        ready = await store.pool.run(ready_while_held)

    assert ready.status_code == 200, ready.text
