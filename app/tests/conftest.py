"""Fixtures: a real PostgreSQL (DATABASE_URL if given, else a throwaway local server), migrated once,
and an HTTP client for an application instance bound to it."""

import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from fastapi_app.main import create_app
from fastapi_app.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))

from alembic_runner import alembic
from postgres_server import PostgresServer
from support.app import serve, settings_for


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    with PostgresServer() as server:
        yield server.url


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    """A migrated PostgreSQL of the test module's own, which its tests may stop, start or exhaust."""
    with PostgresServer() as server:
        result = alembic(server.url, "upgrade", "head")
        assert result.returncode == 0, result.stderr
        yield server


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    result = alembic(database_url, "upgrade", "head")
    assert result.returncode == 0, result.stdout + result.stderr
    return database_url


@pytest.fixture
async def empty_database(database_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"migrations_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def settings(migrated_url: str) -> Settings:
    """Settings for a test that starts with an empty items table."""
    connection = await asyncpg.connect(migrated_url)
    try:
        await connection.execute("TRUNCATE items RESTART IDENTITY")
    finally:
        await connection.close()
    return settings_for(migrated_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(create_app(settings)):
        yield client
