"""Errors raised while opening a database connection are outages too: the JSON 503, never a 500.

asyncpg raises its own exceptions from connect(), which SQLAlchemy passes through unwrapped: the server
refusing more sessions (53300), a server shutting down (57P03) or a connection that vanished.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from fastapi_app.errors import database_unavailable
from fastapi_app.main import create_app
from postgres_server import PostgresServer
from support.app import serve, settings_for

ITEMS = "/api/v1/items"
ROLE_CONNECTION_LIMIT = 2
CONCURRENT_REQUESTS = 8


@pytest.fixture
async def limited_url(own_server: PostgresServer) -> AsyncIterator[str]:
    """A role PostgreSQL lets open only ROLE_CONNECTION_LIMIT sessions at a time."""
    role, password = f"limited_{secrets.token_hex(4)}", secrets.token_hex(16)
    admin = await asyncpg.connect(own_server.url)
    try:
        await admin.execute(
            f"CREATE ROLE {role} LOGIN PASSWORD '{password}' CONNECTION LIMIT {ROLE_CONNECTION_LIMIT}"
        )
        await admin.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON items TO {role}")
        yield (
            make_url(own_server.url)
            .set(username=role, password=password)
            .render_as_string(hide_password=False)
        )
    finally:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
        await admin.execute(f"REVOKE ALL ON items FROM {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"


async def test_a_role_out_of_connections_gives_503_not_500(limited_url: str) -> None:
    # More pooled connections than the role may open, all wanted at once: the surplus connects fail.
    settings = settings_for(limited_url, db_pool_size=CONCURRENT_REQUESTS, db_max_overflow=0)
    async for client in serve(create_app(settings)):
        responses = await asyncio.gather(*(client.get(f"{ITEMS}/1") for _ in range(CONCURRENT_REQUESTS)))

    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) == {404, 503}, statuses
    for response in responses:
        if response.status_code == 503:
            assert_unavailable(response)


async def test_ready_is_503_while_the_role_has_no_connection_left(limited_url: str) -> None:
    holders = [await asyncpg.connect(limited_url) for _ in range(ROLE_CONNECTION_LIMIT)]
    try:
        async for client in serve(create_app(settings_for(limited_url))):
            ready = await client.get("/ready")
            item = await client.get(f"{ITEMS}/1")
    finally:
        for holder in holders:
            await holder.close()

    assert_unavailable(ready)
    assert_unavailable(item)


async def test_a_server_shutting_down_gives_503_not_500(own_server: PostgresServer) -> None:
    # A smart shutdown waits for open sessions to end and meanwhile refuses new ones with 57P03.
    session = await asyncpg.connect(own_server.url)
    own_server.stop(mode="smart", wait=False)
    try:
        async for client in serve(create_app(settings_for(own_server.url))):
            ready = await client.get("/ready")
            item = await client.get(f"{ITEMS}/1")
            created = await client.post(ITEMS, json={"name": "too late", "price": "1"})
    finally:
        await session.close()
        own_server.wait_stopped()
        own_server.start()

    for response in (ready, item, created):
        assert_unavailable(response)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.TooManyConnectionsError("too many connections for role"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_driver_errors_from_connecting_count_as_unavailable(error: Exception) -> None:
    assert database_unavailable(error)


async def test_reads_replace_pooled_connections_the_server_has_closed(own_server: PostgresServer) -> None:
    # The server ends every idle session of the pool (as a restart or an idle timeout would); the reads
    # that come next must not fail for it while the server is up.
    settings = settings_for(own_server.url, db_pool_size=3)
    admin = await asyncpg.connect(own_server.url)
    try:
        async for client in serve(create_app(settings)):
            created = await client.post(ITEMS, json={"name": f"kept {secrets.token_hex(4)}", "price": "1"})
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'fastapi-app'"
            )
            # Long enough for the client to read the server's goodbye on each closed connection.
            await asyncio.sleep(0.2)
            reads = await asyncio.gather(
                *(client.get(created.headers["location"]) for _ in range(settings.db_pool_size)),
                client.get(ITEMS),
            )
    finally:
        await admin.close()

    assert ended == settings.db_pool_size
    assert [response.status_code for response in reads] == [200] * (settings.db_pool_size + 1)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_client_side_driver_errors_of_a_broken_connection_count_as_unavailable(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InvalidPasswordError("password authentication failed"),
        asyncpg.UndefinedTableError("no"),
        asyncpg.ClientConfigurationError("sslmode is not valid"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_driver_errors_that_a_retry_cannot_fix_are_not_unavailable(error: Exception) -> None:
    assert not database_unavailable(error)
