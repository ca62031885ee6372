"""Bearer tokens against a real PostgreSQL: writes, optionally reads, and /metrics refuse a missing or wrong
token in the service's error shape and accept every configured token; no token ever reaches a log line."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from fastapi_app.main import create_app
from fastapi_app.settings import Settings
from service_process import ServiceProcess
from support.app import serve

ITEMS = "/api/v1/items"
# Made-up tokens the service must accept, and keep out of its logs.
TOKEN_A = "tok-A.0123456789abcdef-rotation/old"  # noqa: S105
TOKEN_B = "tok-B.fedcba9876543210-rotation/new"  # noqa: S105
METRICS_TOKEN = "metrics~0123456789abcdef+scrape"  # noqa: S105
# The same length as TOKEN_A, differing in its last character only.
NEAR_MISS = TOKEN_A[:-1] + ("x" if TOKEN_A[-1] != "x" else "y")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: httpx.Response, *, invalid_token: bool) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "unauthorized"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is invalid_token


def protected(settings: Settings, **overrides: Any) -> Settings:
    values = {
        **settings.model_dump(),
        "api_tokens": SecretStr(f"{TOKEN_A},{TOKEN_B}"),
        "metrics_tokens": SecretStr(METRICS_TOKEN),
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(create_app(protected(settings))):
        yield client


async def make_item(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post(ITEMS, json={"name": name, "price": "1.00"}, headers=bearer(TOKEN_A))
    assert response.status_code == 201, response.text
    item_id: int = response.json()["id"]
    return item_id


WRONG_CREDENTIALS: list[tuple[str, dict[str, str], bool]] = [
    ("no header", {}, False),
    ("another scheme", {"Authorization": f"Basic {TOKEN_A}"}, False),
    ("an empty bearer", {"Authorization": "Bearer "}, False),
    ("two tokens", {"Authorization": f"Bearer {TOKEN_A} {TOKEN_B}"}, False),
    ("a wrong token", bearer("not-a-token-of-this-service"), True),
    ("one character off", bearer(NEAR_MISS), True),
    ("a prefix of a token", bearer(TOKEN_A[:-1]), True),
    ("the metrics token", bearer(METRICS_TOKEN), True),
]


@pytest.mark.parametrize(
    ("case", "headers", "invalid_token"), WRONG_CREDENTIALS, ids=[c[0] for c in WRONG_CREDENTIALS]
)
async def test_every_write_refuses_a_missing_or_wrong_token(
    guarded: httpx.AsyncClient, case: str, headers: dict[str, str], invalid_token: bool
) -> None:
    item_id = await make_item(guarded, f"kept-{case}")
    writes = [
        guarded.post(ITEMS, json={"name": f"new-{case}", "price": "2.00"}, headers=headers),
        guarded.patch(f"{ITEMS}/{item_id}", json={"price": "3.00"}, headers=headers),
        guarded.put(f"{ITEMS}/{item_id}", json={"name": "x", "price": "3.00"}, headers=headers),
        guarded.delete(f"{ITEMS}/{item_id}", headers=headers),
    ]
    for write in writes:
        assert_unauthorized(await write, invalid_token=invalid_token)
    unchanged = await guarded.get(f"{ITEMS}/{item_id}")
    assert unchanged.status_code == 200
    assert unchanged.json()["price"] == "1.00"
    listing = (await guarded.get(ITEMS)).json()
    assert [item["name"] for item in listing["items"]] == [f"kept-{case}"]


async def test_each_configured_token_is_accepted(guarded: httpx.AsyncClient) -> None:
    for token in (TOKEN_A, TOKEN_B):
        created = await guarded.post(
            ITEMS, json={"name": f"by-{token[:5]}", "price": "2.00"}, headers=bearer(token)
        )
        assert created.status_code == 201, created.text
        item_id = created.json()["id"]
        patched = await guarded.patch(f"{ITEMS}/{item_id}", json={"price": "3.00"}, headers=bearer(token))
        assert patched.status_code == 200, patched.text
        deleted = await guarded.delete(f"{ITEMS}/{item_id}", headers=bearer(token))
        assert deleted.status_code == 204
    lower_case_scheme = await guarded.post(
        ITEMS, json={"name": "scheme", "price": "1.00"}, headers={"Authorization": f"bearer {TOKEN_B}"}
    )
    assert lower_case_scheme.status_code == 201


async def test_reads_stay_public_by_default(guarded: httpx.AsyncClient) -> None:
    item_id = await make_item(guarded, "public")
    assert (await guarded.get(ITEMS)).status_code == 200
    assert (await guarded.get(f"{ITEMS}/{item_id}")).status_code == 200
    assert (await guarded.get("/ready")).status_code == 200
    assert (await guarded.get("/health")).status_code == 200


async def test_reads_need_a_token_when_configured(settings: Settings) -> None:
    async for client in serve(create_app(protected(settings, api_reads_need_token=True))):
        assert_unauthorized(await client.get(ITEMS), invalid_token=False)
        assert_unauthorized(await client.get(f"{ITEMS}/1", headers=bearer(NEAR_MISS)), invalid_token=True)
        assert (await client.get(ITEMS, headers=bearer(TOKEN_B))).status_code == 200
        assert (await client.get("/ready")).status_code == 200


async def test_metrics_need_their_own_token(guarded: httpx.AsyncClient) -> None:
    assert_unauthorized(await guarded.get("/metrics"), invalid_token=False)
    assert_unauthorized(await guarded.get("/metrics", headers=bearer(TOKEN_A)), invalid_token=True)
    scraped = await guarded.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert scraped.status_code == 200
    assert "starlette_requests_total" in scraped.text


async def test_without_tokens_nothing_changes(client: httpx.AsyncClient) -> None:
    created = await client.post(ITEMS, json={"name": "open", "price": "1.00"})
    assert created.status_code == 201
    assert (await client.get("/metrics")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "securitySchemes" not in schema.get("components", {})


async def test_openapi_declares_the_scheme_on_exactly_the_operations_that_need_it(
    guarded: httpx.AsyncClient,
) -> None:
    schema = (await guarded.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "One of the service's API tokens (API_TOKENS).",
    }
    secured = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"bearerAuth": []}] and "401" in operation["responses"]
    }
    assert secured == {
        ("POST", ITEMS),
        ("PATCH", f"{ITEMS}/{{item_id}}"),
        ("DELETE", f"{ITEMS}/{{item_id}}"),
    }


@pytest.mark.parametrize(
    "value",
    ["short", f"{TOKEN_A},", f"{TOKEN_A},has space inside it ok", "ünïcödé-0123456789abcdef"],
    ids=["too short", "empty entry", "a space", "non-ASCII"],
)
def test_a_malformed_token_stops_start_up_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # From the environment, as the pods get it: the raw string is the input pydantic would quote.
    monkeypatch.setenv("API_TOKENS", value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "API_TOKENS: token" in message
    for part in value.split(","):
        if part:
            assert part not in message


def test_no_token_reaches_the_log_of_a_real_server(migrated_url: str) -> None:
    environment = {
        "API_TOKENS": f"{TOKEN_A},{TOKEN_B}",
        "METRICS_TOKENS": METRICS_TOKEN,
        "LOG_LEVEL": "DEBUG",
    }
    with (
        ServiceProcess(migrated_url, **environment) as service,
        httpx.Client(base_url=service.base_url) as http,
    ):
        created = http.post(ITEMS, json={"name": "logged-write", "price": "1.00"}, headers=bearer(TOKEN_A))
        assert created.status_code == 201, created.text
        assert (
            http.post(ITEMS, json={"name": "refused", "price": "1.00"}, headers=bearer(NEAR_MISS)).status_code
            == 401
        )
        assert http.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 200
        assert http.delete(f"{ITEMS}/{created.json()['id']}", headers=bearer(TOKEN_B)).status_code == 204
        service.terminate()
        assert service.wait(timeout=30) == 0
        output = service.output()
    assert '"status":401' in output.replace(" ", "")
    for secret in (TOKEN_A, TOKEN_B, METRICS_TOKEN, NEAR_MISS):
        assert secret not in output
