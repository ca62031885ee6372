"""One JSON line per request with a request id; the database password never reaches a log line."""

import json
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fastapi_app.logs import configure_logging


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Captured stdout; each test calls start_json_logs() itself, as capture only reaches the test body."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    yield capsys
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


# Characters that URLs quote and JSON escapes, so every spelling of the secret differs.
SECRET = 's3cr3t/pa$$:"word"'  # noqa: S105 - a made-up password the logs must hide


def start_json_logs() -> None:
    configure_logging("INFO", secrets=[SECRET])


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


async def test_each_request_is_one_json_line(
    json_logs: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    start_json_logs()
    response = await client.get("/api/v1/items/77")

    access = [line for line in lines(json_logs) if line["logger"] == "fastapi_app.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/items/{item_id}"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == response.headers["x-request-id"]
    assert len(line["request_id"]) == 32


async def test_a_callers_request_id_is_kept_and_returned(
    json_logs: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    start_json_logs()
    response = await client.get("/api/v1/items", headers={"X-Request-ID": "trace-42.a:b"})

    assert response.headers["x-request-id"] == "trace-42.a:b"
    access = [line for line in lines(json_logs) if line["logger"] == "fastapi_app.access"]
    assert access[0]["request_id"] == "trace-42.a:b"


async def test_the_liveness_shortcut_returns_a_request_id_too(client: httpx.AsyncClient) -> None:
    kept = await client.get("/health", headers={"X-Request-ID": "probe-7"})
    made = await client.get("/health")

    assert kept.headers["x-request-id"] == "probe-7"
    assert len(made.headers["x-request-id"]) == 32


async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items", headers={"X-Request-ID": "bad id\twith spaces"})

    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


async def test_probes_are_answered_without_log_lines(
    json_logs: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    start_json_logs()
    await client.get("/health")
    await client.get("/ready")

    assert [line for line in lines(json_logs) if line["logger"] == "fastapi_app.access"] == []


def explode() -> None:
    raise RuntimeError(f"could not connect as app:{SECRET}")


def test_secrets_are_redacted_from_every_line(json_logs: pytest.CaptureFixture[str]) -> None:
    start_json_logs()
    quoted = urllib.parse.quote(SECRET, safe="")
    logging.getLogger("anywhere").warning("connect to postgresql://app:%s@db/app failed", SECRET)
    logging.getLogger("anywhere").warning("quoted: postgresql://app:%s@db/app", quoted)
    logging.getLogger("anywhere").warning("extra field", extra={"route": f"/{SECRET}/{quoted}"})
    try:
        explode()
    except RuntimeError:
        logging.getLogger("anywhere").exception("with a traceback")

    output = json_logs.readouterr().out
    parsed = [json.loads(line) for line in output.splitlines()]
    assert parsed[0]["message"] == "connect to postgresql://app:***@db/app failed"
    assert parsed[1]["message"] == "quoted: postgresql://app:***@db/app"
    assert parsed[2]["route"] == "/***/***"
    assert "RuntimeError: could not connect as app:***" in parsed[3]["exception"]
    for spelling in (SECRET, quoted, json.dumps(SECRET)[1:-1], "s3cr3t"):
        assert spelling not in output


async def test_the_access_line_is_the_line_logging_would_write_and_is_redacted(
    json_logs: pytest.CaptureFixture[str], client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging("INFO", secrets=["trace-secret-0123456789"])
    access_logger = logging.getLogger("fastapi_app.access")
    with monkeypatch.context() as patched:
        # With the JSON handler alone, the line must not go through logging at all.
        patched.setattr(
            access_logger, "info", lambda *_, **__: pytest.fail("access line went through logging")
        )
        await client.get("/api/v1/items/77", headers={"X-Request-ID": "trace-secret-0123456789"})
    direct = [line for line in lines(json_logs) if line["logger"] == "fastapi_app.access"]
    # A second handler sends the access line through logging and the JSON formatter instead.
    logging.getLogger().addHandler(logging.NullHandler())
    await client.get("/api/v1/items/77", headers={"X-Request-ID": "trace-secret-0123456789"})
    through_logging = [line for line in lines(json_logs) if line["logger"] == "fastapi_app.access"]

    assert len(direct) == len(through_logging) == 1
    assert list(direct[0]) == list(through_logging[0])
    timing = {"time", "duration_ms"}
    assert {k: v for k, v in direct[0].items() if k not in timing} == {
        k: v for k, v in through_logging[0].items() if k not in timing
    }
    assert direct[0]["request_id"] == "***"
