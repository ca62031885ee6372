"""The DATABASE_URL rules the service shares with the stack's config check (database_url_rules.json): the same
table of URLs, app/tests/database_url_cases.json, is run here and by tests/stack/config.test.ts."""

import json
from pathlib import Path

import pytest

from fastapi_app.db import async_url

CASES = json.loads((Path(__file__).parent / "database_url_cases.json").read_text())


@pytest.mark.parametrize("url", CASES["accepted"])
def test_the_service_starts_with_every_url_the_stack_accepts(url: str) -> None:
    assert async_url(url).drivername == "postgresql+asyncpg"


@pytest.mark.parametrize("url", CASES["refused"])
def test_the_service_refuses_every_url_the_stack_refuses(url: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        async_url(url)
