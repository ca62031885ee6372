"""A database outage: /ready and data requests fail fast with 503, and the service recovers by itself."""

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from fastapi_app.main import create_app
from postgres_server import PostgresServer
from support.app import serve, settings_for

TIMEOUT_SECONDS = 1.0


@pytest.fixture
async def client(own_server: PostgresServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        own_server.url,
        db_connect_timeout=TIMEOUT_SECONDS,
        db_pool_timeout=TIMEOUT_SECONDS,
        readiness_timeout=TIMEOUT_SECONDS,
    )
    async for client in serve(create_app(settings)):
        yield client


async def test_outage_gives_503_fast_and_recovery_needs_no_restart(
    own_server: PostgresServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = (await client.post("/api/v1/items", json={"name": "survivor", "price": "1"})).json()
    item_url = f"/api/v1/items/{created['id']}"
    assert (await client.get(item_url)).status_code == 200

    own_server.stop()
    try:
        for request in (
            client.get("/ready"),
            client.get(item_url),
            client.get("/api/v1/items"),
            client.post("/api/v1/items", json={"name": "lost", "price": "1"}),
        ):
            started = time.monotonic()
            response = await request
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
            assert elapsed < TIMEOUT_SECONDS + 1
        assert (await client.get("/health")).status_code == 200
    finally:
        own_server.start()

    # Like the kubelet, poll readiness: the first check may meet a connection from before the outage,
    # which fails once and makes the pool replace every old connection.
    ready_again = False
    for _ in range(20):
        if (await client.get("/ready")).status_code == 200:
            ready_again = True
            break
        await asyncio.sleep(0.25)
    assert ready_again
    assert (await client.get(item_url)).json()["name"] == "survivor"
    assert "database unavailable during GET /api/v1/items/{item_id}" in caplog.text
    assert own_server.password not in caplog.text


async def test_a_database_that_never_answers_gives_503_within_the_connect_timeout() -> None:
    with socket.socket() as silent:
        # Listening but never accepting: the TCP handshake completes, PostgreSQL's greeting never comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        settings = settings_for(
            f"postgresql://app:secret@127.0.0.1:{port}/app", db_connect_timeout=TIMEOUT_SECONDS
        )
        async for client in serve(create_app(settings)):
            started = time.monotonic()
            response = await client.get("/api/v1/items/1")
            elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert TIMEOUT_SECONDS <= elapsed < TIMEOUT_SECONDS + 1
