"""The reads write their JSON with orjson: byte for byte what pydantic writes for the declared model."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastapi_app.models import ID_MAX, NAME_MAX_LENGTH, PRICE_DIGITS, PRICE_PLACES
from fastapi_app.routes.items import json_response
from fastapi_app.schemas import ItemPage, ItemRead, StoredItem
from fastapi_app.store import ITEM_FIELDS, Item, postgres, sqlite

# What PostgreSQL can hand back: no surrogates (not UTF-8) and no NUL (not in text).
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=NAME_MAX_LENGTH)
# Hypothesis takes naive bounds and gives each datetime the zone.
_TIMESTAMPS = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001
    max_value=datetime(9999, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_PRICES = st.decimals(
    min_value=0, max_value=Decimal(10) ** (PRICE_DIGITS - PRICE_PLACES) - 1, places=PRICE_PLACES
)
_STORED_ITEMS = st.fixed_dictionaries(
    {
        "id": st.integers(1, ID_MAX),
        "name": _TEXT.filter(bool),
        "description": st.none() | _TEXT,
        "price": _PRICES,
        "created_at": _TIMESTAMPS,
        "updated_at": _TIMESTAMPS,
    }
)


def items_from_rows(rows: list[dict[str, Any]]) -> list[Item]:
    """Each row as both stores turn a row of the database's decoded columns into an item."""
    return [
        to_item(tuple(row[field] for field in ITEM_FIELDS))
        for row in rows
        for to_item in (postgres.row_to_item, sqlite.row_to_item)
    ]


def test_a_stored_item_has_exactly_the_fields_of_item_read() -> None:
    hints = get_type_hints(StoredItem)
    assert list(hints) == list(ItemRead.model_fields) == list(ITEM_FIELDS)


@given(_STORED_ITEMS)
def test_an_item_is_written_as_pydantic_writes_item_read(fields: dict[str, Any]) -> None:
    for item in items_from_rows([fields]):
        assert json_response(item).body == ItemRead.model_validate(fields).model_dump_json().encode()


@given(st.lists(_STORED_ITEMS, max_size=5), st.integers(0, ID_MAX))
def test_a_page_is_written_as_pydantic_writes_item_page(rows: list[dict[str, Any]], total: int) -> None:
    page = {"items": items_from_rows(rows), "total": total, "limit": 5, "offset": 0}
    assert json_response(page).body == ItemPage.model_validate(page).model_dump_json().encode()
    assert json_response(page).headers["content-type"] == "application/json"


def test_only_decimals_are_written_as_strings() -> None:
    # Anything else orjson cannot write is a bug to surface, not a string to send.
    with pytest.raises(TypeError):
        json_response({"tags": {"a"}})
