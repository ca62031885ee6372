"""DATABASE_URL handling, pool bounds, and the SQLite development default."""

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from fastapi_app.db import async_url, database_password
from fastapi_app.main import create_app
from fastapi_app.settings import MIGRATION_CONNECTIONS, Settings
from fastapi_app.store import PostgresItemStore
from support.app import serve

HPA_MAX_PODS = 10
SURGE_PODS = 1
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgres://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        (
            "postgresql://u:p@db/app?sslmode=verify-full&sslrootcert=/ca.pem",
            "postgresql+asyncpg://u:p@db/app",
        ),
    ],
)
def test_plain_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert async_url(given).render_as_string(hide_password=False) == expected


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="must start with postgresql://"):
        async_url("mysql://u:p@db/app")


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("postgresql://u:p@db/app?connect_timeout=5", "connect_timeout"),
        ("postgresql://u:p@db/app?sslmode=require&target_session_attrs=any", "target_session_attrs"),
        ("postgresql://u:p@db/app?ssl=true", "ssl"),
    ],
)
def test_unsupported_url_parameters_are_refused_at_start_up(given: str, named: str) -> None:
    with pytest.raises(ValueError, match=f"unsupported query parameter\\(s\\) {named}:") as refused:
        create_app(Settings(database_url=SecretStr(given)))

    assert ":p@" not in str(refused.value)


def test_default_pools_keep_a_surging_full_deployment_well_inside_the_connection_limit() -> None:
    settings = Settings(database_url=SecretStr("postgresql://u:p@db/app"))
    store = PostgresItemStore(settings)
    request_pool: Any = store.pool
    probe_pool: Any = store.probe_pool
    # Every connection a pool can open is one of its admission slots.
    per_pod = request_pool.admission.slots + probe_pool.admission.slots

    assert (request_pool._size, probe_pool._size, probe_pool.admission.slots) == (settings.db_pool_size, 1, 1)
    # No overflow: a steady pool, with one admission slot per connection.
    assert request_pool.admission.slots == request_pool._size
    pods = HPA_MAX_PODS + SURGE_PODS
    assert pods * per_pod + MIGRATION_CONNECTIONS <= 0.8 * POSTGRES_DEFAULT_MAX_CONNECTIONS


def test_the_password_is_known_for_redaction_and_hidden_in_settings() -> None:
    settings = Settings(database_url=SecretStr("postgresql://app:hunter2@db/app"))

    assert database_password(settings) == "hunter2"
    assert "hunter2" not in repr(settings)
    assert database_password(Settings(database_url=None)) == ""


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("METRICS_PORT", "9100")
    monkeypatch.setenv("POD_NAME", "pod-from-env")
    monkeypatch.setenv("DB_POOL_SIZE", "3")

    settings = Settings()

    assert (settings.port, settings.metrics_port, settings.pod_name, settings.db_pool_size) == (
        8080,
        9100,
        "pod-from-env",
        3,
    )


async def test_without_database_url_the_service_runs_on_sqlite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=None, sqlite_path=tmp_path / "dev.db", pod_name="laptop")

    with caplog.at_level(logging.WARNING, logger="fastapi_app.db"):
        async for client in serve(create_app(settings)):
            created = await client.post("/api/v1/items", json={"name": "local", "price": "2.5"})
            fetched = await client.get(created.headers["location"])
            listed = await client.get("/api/v1/items")
            past_the_end = await client.get("/api/v1/items", params={"offset": 1})
            ready = await client.get("/ready")

    assert created.status_code == 201
    assert fetched.json()["price"] == "2.50"
    assert fetched.json()["created_at"].endswith("Z")
    assert listed.json()["total"] == 1
    assert (past_the_end.json()["total"], past_the_end.json()["items"]) == (1, [])
    assert ready.status_code == 200
    assert "development SQLite database" in caplog.text
    assert (tmp_path / "dev.db").exists()


async def test_interactive_docs_are_served_only_when_enabled(tmp_path: Path) -> None:
    for enabled, expected in ((False, 404), (True, 200)):
        settings = Settings(database_url=None, sqlite_path=tmp_path / "docs.db", api_docs=enabled)
        async for client in serve(create_app(settings)):
            assert (await client.get("/docs")).status_code == expected
            assert (await client.get("/openapi.json")).status_code == 200
