"""Both stores answer the same operations identically: PostgreSQL (asyncpg) and the SQLite quick start."""

import re
from pathlib import Path
from typing import Any

import httpx

from fastapi_app.main import create_app
from fastapi_app.settings import Settings
from support.app import serve

ITEMS = "/api/v1/items"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def _comparable(response: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, Location and body, each timestamp replaced by its shape: the two clocks differ."""

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shape(item) for item in value]
        if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
            return "<UTC timestamp>"
        return value

    body = response.json() if response.content else None
    return response.status_code, response.headers.get("location"), shape(body)


async def _operations(client: httpx.AsyncClient) -> list[tuple[int, str | None, Any]]:
    requests = [
        client.post(ITEMS, json={"name": "Alpha", "price": "1.5"}),
        client.post(ITEMS, json={"name": "Beta", "description": "Second\nline", "price": "0"}),
        client.post(ITEMS, json={"name": "Gamma", "price": "9999999999.99"}),
        client.post(ITEMS, json={"name": "Beta", "price": "2"}),
        client.get(f"{ITEMS}/2"),
        client.get(ITEMS, params={"limit": 2}),
        client.get(ITEMS, params={"offset": 1}),
        client.get(ITEMS, params={"offset": 10}),
        client.patch(f"{ITEMS}/2", json={"name": "Beta 2", "price": "3.10"}),
        client.patch(f"{ITEMS}/2", json={"description": None}),
        client.patch(f"{ITEMS}/2", json={}),
        client.patch(f"{ITEMS}/3", json={"name": "Alpha"}),
        client.patch(f"{ITEMS}/99", json={"price": "1"}),
        client.delete(f"{ITEMS}/1"),
        client.get(f"{ITEMS}/1"),
        client.delete(f"{ITEMS}/1"),
        client.get(ITEMS),
        client.get("/ready"),
    ]
    return [_comparable(await request) for request in requests]


async def test_postgresql_and_sqlite_answer_the_same_operations_identically(
    settings: Settings, tmp_path: Path
) -> None:
    async for client in serve(create_app(settings)):
        on_postgresql = await _operations(client)
    sqlite = Settings(database_url=None, sqlite_path=tmp_path / "same.db", pod_name=settings.pod_name)
    async for client in serve(create_app(sqlite)):
        on_sqlite = await _operations(client)

    assert on_sqlite == on_postgresql
    # Not trivially equal: the sequence reached every outcome.
    assert {status for status, _, _ in on_postgresql} == {200, 201, 204, 404, 409}
