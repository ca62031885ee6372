"""The items API against a real PostgreSQL: every operation, every error, pagination bounds."""

import itertools
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fastapi_app.errors import database_unavailable
from fastapi_app.main import create_app
from fastapi_app.routes.items import LIST_LIMIT_MAX, LIST_OFFSET_MAX
from fastapi_app.settings import Settings
from fastapi_app.store import PostgresItemStore
from support.app import serve, settings_for
from support.row_lock import row_locked

ITEMS = "/api/v1/items"


async def create(client: httpx.AsyncClient, name: str = "Widget", **fields: Any) -> dict[str, Any]:
    response = await client.post(ITEMS, json={"name": name, "price": "9.99", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body


async def test_create_returns_the_item_and_its_location(client: httpx.AsyncClient) -> None:
    response = await client.post(ITEMS, json={"name": "Widget", "description": "Useful", "price": "1.5"})

    assert response.status_code == 201
    item = response.json()
    assert response.headers["location"] == f"{ITEMS}/{item['id']}"
    assert item["name"] == "Widget"
    assert item["description"] == "Useful"
    assert item["price"] == "1.50"
    assert item["created_at"].endswith("Z")
    assert item["created_at"] == item["updated_at"]


async def test_get_returns_what_create_stored(client: httpx.AsyncClient) -> None:
    created = await create(client, description=None)

    response = await client.get(f"{ITEMS}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


async def test_missing_item_is_404_for_every_operation(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{ITEMS}/12345"), 404, "not_found")
    assert_error(await client.patch(f"{ITEMS}/12345", json={"price": "1"}), 404, "not_found")
    assert_error(await client.delete(f"{ITEMS}/12345"), 404, "not_found")


async def test_duplicate_name_is_409_on_create_and_on_rename(client: httpx.AsyncClient) -> None:
    await create(client, "First")
    second = await create(client, "Second")

    assert_error(await client.post(ITEMS, json={"name": "First", "price": "1"}), 409, "name_taken")
    assert_error(await client.patch(f"{ITEMS}/{second['id']}", json={"name": "First"}), 409, "name_taken")
    assert (await client.get(f"{ITEMS}/{second['id']}")).json()["name"] == "Second"


async def test_patch_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    created = await create(client, description="Old")

    response = await client.patch(f"{ITEMS}/{created['id']}", json={"price": "0"})

    assert response.status_code == 200
    item = response.json()
    assert item["price"] == "0.00"
    assert item["name"] == created["name"]
    assert item["description"] == "Old"
    assert item["updated_at"] > created["updated_at"]
    assert item["created_at"] == created["created_at"]


async def test_patch_can_clear_the_description_but_not_name_or_price(client: httpx.AsyncClient) -> None:
    created = await create(client, description="Old")
    url = f"{ITEMS}/{created['id']}"

    assert (await client.patch(url, json={"description": None})).json()["description"] is None
    assert_error(await client.patch(url, json={"name": None}), 422, "invalid_request")
    assert_error(await client.patch(url, json={"price": None}), 422, "invalid_request")


async def test_empty_patch_leaves_the_item_unchanged(client: httpx.AsyncClient) -> None:
    created = await create(client)

    response = await client.patch(f"{ITEMS}/{created['id']}", json={})

    assert response.json() == created


async def test_delete_is_204_and_the_item_is_gone(client: httpx.AsyncClient) -> None:
    created = await create(client)

    response = await client.delete(f"{ITEMS}/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert_error(await client.get(f"{ITEMS}/{created['id']}"), 404, "not_found")


async def test_list_pages_in_creation_order_with_the_total(client: httpx.AsyncClient) -> None:
    names = [f"item-{number}" for number in range(5)]
    for name in names:
        await create(client, name)

    first = (await client.get(ITEMS, params={"limit": 2})).json()
    rest = (await client.get(ITEMS, params={"limit": 2, "offset": 2})).json()
    beyond = (await client.get(ITEMS, params={"offset": 10})).json()

    assert [item["name"] for item in first["items"]] == names[:2]
    assert [item["name"] for item in rest["items"]] == names[2:4]
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    assert beyond == {"items": [], "total": 5, "limit": 50, "offset": 10}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": LIST_LIMIT_MAX + 1},
        {"offset": -1},
        {"offset": LIST_OFFSET_MAX + 1},
        {"limit": "ten"},
    ],
)
async def test_list_rejects_out_of_bounds_paging(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    body = assert_error(await client.get(ITEMS, params=params), 422, "invalid_request")
    assert body["error"]["details"][0]["location"][0] == "query"


@pytest.mark.parametrize("params", [{"limit": "+5"}, {"limit": "5.0"}, {"offset": " 1"}, {"offset": "01"}])
async def test_list_paging_must_be_plain_decimal(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_error(await client.get(ITEMS, params=params), 422, "invalid_request")


async def test_list_accepts_the_maximum_limit(client: httpx.AsyncClient) -> None:
    response = await client.get(ITEMS, params={"limit": LIST_LIMIT_MAX, "offset": LIST_OFFSET_MAX})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "item_id",
    ["0", "-1", "abc", str(2**63), "1.5", "1.0", "+1", "%201", "1%20", "01", "1e0", "\u0661", "1_0"],
)
async def test_impossible_ids_are_422(client: httpx.AsyncClient, item_id: str) -> None:
    assert_error(await client.get(f"{ITEMS}/{item_id}"), 422, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {"price": "1"},
        {"name": "", "price": "1"},
        {"name": " ", "price": "1"},
        {"name": "\u00a0\u3000", "price": "1"},
        {"name": "\u200b", "price": "1"},
        {"name": "\ufeff \u200d\u2060", "price": "1"},
        {"name": "\u200c\u180e", "price": "1"},
        {"name": "x" * 201, "price": "1"},
        {"name": "tab\there", "price": "1"},
        {"name": "c1\u0085control", "price": "1"},
        {"name": "nul\u0000byte", "price": "1"},
        {"name": "line\nbreak", "price": "1"},
        {"name": "escape\u001b", "price": "1"},
        {"name": "ok", "description": "nul\u0000byte", "price": "1"},
        {"name": "ok", "description": "x" * 2001, "price": "1"},
        {"name": "ok"},
        {"name": "ok", "price": "-0.01"},
        {"name": "ok", "price": "1.001"},
        {"name": "ok", "price": "NaN"},
        {"name": "ok", "price": "Infinity"},
        {"name": "ok", "price": "1e400"},
        {"name": "ok", "price": "10000000000.00"},
        {"name": "ok", "price": True},
        {"name": "ok", "price": 1},
        {"name": "ok", "price": 0.57},
        {"name": "ok", "price": ""},
        {"name": "ok", "price": " 1"},
        {"name": "ok", "price": "+1"},
        {"name": "ok", "price": "1."},
        {"name": "ok", "price": "1", "id": 7},
        {"name": 5, "price": "1"},
    ],
)
async def test_invalid_bodies_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert_error(await client.post(ITEMS, json=body), 422, "invalid_request")


async def test_names_are_stored_in_nfc_so_both_spellings_are_one_name(client: httpx.AsyncClient) -> None:
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    item = await create(client, name=decomposed)

    assert item["name"] == composed
    assert (await client.get(f"{ITEMS}/{item['id']}")).json()["name"] == composed
    assert_error(await client.post(ITEMS, json={"name": composed, "price": "1"}), 409, "name_taken")
    renamed = await client.patch(f"{ITEMS}/{item['id']}", json={"name": "Ame\u0301lie"})
    assert renamed.json()["name"] == "Am\u00e9lie"


async def test_a_name_with_visible_characters_keeps_its_surrounding_space(client: httpx.AsyncClient) -> None:
    assert (await create(client, name=" \u200bx ")).get("name") == " \u200bx "


async def test_description_may_hold_newlines_and_tabs(client: httpx.AsyncClient) -> None:
    item = await create(client, description="line one\n\tline two")
    assert item["description"] == "line one\n\tline two"


async def test_largest_valid_values_are_stored(client: httpx.AsyncClient) -> None:
    item = await create(client, "n" * 200, description="d" * 2000, price="9999999999.99")
    assert item["price"] == "9999999999.99"
    assert Decimal(item["price"]) == Decimal("9999999999.99")


@pytest.mark.parametrize(
    "content",
    [
        b"\x00",
        b'{"name": "a", "price": "1"',
        b"[]",
        b"null",
        b'{"name": "\xff", "price": "1"}',
        b'{"name": "lone \\ud800 surrogate", "price": "1"}',
        b'{"name": "ok", "description": "lone \\udfff", "price": "1"}',
    ],
)
async def test_malformed_or_unstorable_json_is_422(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(ITEMS, content=content, headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")


async def test_oversized_body_is_422_before_it_is_read(client: httpx.AsyncClient) -> None:
    body = b'{"name": "big", "price": "1", "description": "' + b"x" * 70_000 + b'"}'

    response = await client.post(ITEMS, content=body, headers={"content-type": "application/json"})

    assert_error(response, 422, "body_too_large")


async def test_oversized_body_without_length_is_422(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 10_000

    response = await client.post(ITEMS, content=chunks(), headers={"content-type": "application/json"})

    assert_error(response, 422, "body_too_large")


async def test_small_body_without_length_is_accepted(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        yield b'{"name": "streamed",'
        yield b' "price": "2"}'

    response = await client.post(ITEMS, content=chunks(), headers={"content-type": "application/json"})

    assert response.status_code == 201
    assert response.json()["name"] == "streamed"


async def test_unknown_path_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/nowhere"), 404, "http_error")
    assert_error(await client.put(f"{ITEMS}/1", json={}), 405, "http_error")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", f"{ITEMS}/1", "DELETE, GET, PATCH"),
        ("DELETE", ITEMS, "GET, POST"),
        ("POST", "/ready", "GET"),
        ("POST", "/health", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_lists_every_allowed_one(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)

    assert_error(response, 405, "http_error")
    assert response.headers["allow"] == allow


async def test_an_unexpected_error_is_500_in_the_error_shape(settings: Settings) -> None:
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/broken", headers={"X-Request-ID": "trace-500"})

    body = assert_error(response, 500, "internal_error")
    assert "a bug" not in body["error"]["message"]
    assert response.headers["x-request-id"] == "trace-500"


async def test_a_bug_in_a_query_is_500_not_database_unavailable(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    async for client in serve(create_app(settings_for(empty_database))):
        response = await client.get(ITEMS, headers={"X-Request-ID": "trace-bug"})

    assert_error(response, 500, "internal_error")
    assert response.headers.get_list("x-request-id") == ["trace-bug"]
    assert "unexpected database error during GET /api/v1/items" in caplog.text
    assert 'relation "items" does not exist' in caplog.text


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (IntegrityError("INSERT", {}, _DriverError("23505")), False),
        (ProgrammingError("SELECT", {}, _DriverError("42P01")), False),
        (DataError("SELECT", {}, _DriverError("22003")), False),
        (DBAPIError("SELECT", {}, _DriverError("22003")), False),
        (DBAPIError("SELECT", {}, _DriverError("57014")), True),
        (DBAPIError("SELECT", {}, _DriverError("53300")), True),
        (DBAPIError("SELECT", {}, _DriverError("40P01")), True),
        (InterfaceError("SELECT", {}, _DriverError(None)), True),
        (PoolTimeoutError(), True),
        (ConnectionRefusedError(), True),
        (RuntimeError(), False),
    ],
)
def test_only_transient_database_errors_count_as_unavailable(error: Exception, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable


async def test_a_statement_timeout_is_503(migrated_url: str, settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"db_statement_timeout": 0.3}))
    async for client in serve(app):
        item = await create(client, "locked")
        async with row_locked(migrated_url, item["id"]):
            response = await client.patch(f"{ITEMS}/{item['id']}", json={"price": "2"})

    assert_error(response, 503, "database_unavailable")


async def test_a_page_and_its_total_come_from_one_snapshot(
    migrated_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings)
    writer = await asyncpg.connect(migrated_url)
    committed = itertools.count()
    run_statement = PostgresItemStore._fetch

    async def commit(name: str) -> None:
        await writer.execute("INSERT INTO items (name, price) VALUES ($1, 1)", f"{name} {next(committed)}")

    # Every statement the list runs gets a row committed just before it and one just after it.
    async def rows_between_commits(
        store: PostgresItemStore, connection: asyncpg.Connection, sql: str, *arguments: Any
    ) -> list[asyncpg.Record]:
        await commit("just before")
        rows = await run_statement(store, connection, sql, *arguments)
        await commit("just after")
        return rows

    try:
        async for client in serve(app):
            await create(client, "before")
            monkeypatch.setattr(PostgresItemStore, "_fetch", rows_between_commits)
            page = (await client.get(ITEMS)).json()
            past_the_end = (await client.get(ITEMS, params={"offset": 10})).json()
            monkeypatch.undo()
            after = (await client.get(ITEMS)).json()
    finally:
        await writer.close()

    # The row committed before the page is in both the page and the total; the one after in neither.
    assert (page["total"], [item["name"] for item in page["items"]]) == (2, ["before", "just before 0"])
    # A page past the end is counted by a statement of its own, afterwards: the total includes the rows
    # committed after the page and just before the count.
    assert (past_the_end["total"], past_the_end["items"]) == (6, [])
    assert (after["total"], len(after["items"])) == (7, 7)
