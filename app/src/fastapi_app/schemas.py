"""The API's request and response bodies."""

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from fastapi_app.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, PRICE_DIGITS, PRICE_PLACES

# No control characters (C0, DEL, C1; NUL included): they break logs, terminals and PostgreSQL text.
# Pydantic enforces these patterns, and they are published in the schema, so clients can check first.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
# A description may span lines: tab, newline and carriage return are its only allowed controls.
DESCRIPTION_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# Money travels as a decimal string: a JSON number is a binary float and cannot hold 0.57 exactly.
PRICE_PATTERN = rf"^[0-9]{{1,{PRICE_DIGITS - PRICE_PLACES}}}(\.[0-9]{{1,{PRICE_PLACES}}})?$"
_PRICE_FORMAT = re.compile(PRICE_PATTERN)
_CENT = Decimal(1).scaleb(-PRICE_PLACES)


# What a name may not consist of alone: whitespace (\s is Unicode-aware) and the invisible characters
# that are not whitespace: zero-width space, non-joiner and joiner, word joiner, byte order mark, and the
# Mongolian vowel separator (whitespace until Unicode 6.3).
_BLANK = re.compile(r"[\s\u180e\u200b-\u200d\u2060\ufeff]*")
# Names are unique: "é" typed as one code point or as "e" + combining accent must be the same name.
NAME_FORM: Final = "NFC"


def _normalized_name(value: str) -> str:
    if _BLANK.fullmatch(value):
        raise ValueError("must contain a visible character, not only whitespace or zero-width characters")
    value = unicodedata.normalize(NAME_FORM, value)
    # Composition can lengthen a few rare strings; the column holds NAME_MAX_LENGTH characters.
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"must have at most {NAME_MAX_LENGTH} characters in Unicode {NAME_FORM}")
    return value


def _parse_price(value: Any) -> Decimal:
    if not isinstance(value, str) or not _PRICE_FORMAT.fullmatch(value):
        raise ValueError('must be a string like "9.99": digits, at most two decimal places, not negative')
    # "1.5" and "1.50" are the same price; answer as the database stores it.
    return Decimal(value).quantize(_CENT)


Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN, examples=["Widget"]),
    AfterValidator(_normalized_name),
]
Description = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_LENGTH, pattern=DESCRIPTION_PATTERN, examples=["A very useful widget"]),
]
_PRICE_SCHEMA = {"type": "string", "pattern": PRICE_PATTERN, "examples": ["9.99"]}
Price = Annotated[Decimal, PlainValidator(_parse_price), WithJsonSchema(_PRICE_SCHEMA)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    price: Price


class ItemUpdate(BaseModel):
    """Fields left out keep their value; description may be set to null, name and price may not."""

    model_config = ConfigDict(extra="forbid")

    # SkipJsonSchema keeps null out of the published schema: null is rejected, only omission is allowed.
    name: Name | SkipJsonSchema[None] = None
    description: Description | None = None
    price: Price | SkipJsonSchema[None] = None

    @field_validator("name", "price", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value


_StoredPrice = Annotated[Decimal, WithJsonSchema(_PRICE_SCHEMA)]


class ItemRead(BaseModel):
    id: int
    name: str
    description: str | None
    price: _StoredPrice
    created_at: datetime
    updated_at: datetime


class StoredItem(TypedDict):
    """An item as the stores hand it out: ItemRead's fields in a dict, each of its type as the database
    decodes it. The routes write its JSON themselves; tests/test_read_json.py holds it to ItemRead's."""

    id: int
    name: str
    description: str | None
    price: _StoredPrice
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ItemPage(BaseModel):
    items: list[ItemRead]
    total: int = Field(description="Number of items in the whole collection.")
    limit: int
    offset: int


class ErrorDetail(BaseModel):
    location: list[str | int] = Field(description='Where the problem is, e.g. ["body", "name"].')
    message: str
    type: str


class Error(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The body of every non-2xx response."""

    error: Error
