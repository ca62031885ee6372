"""The API's request and response bodies."""

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from fastapi_app.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, PRICE_DIGITS, PRICE_PLACES

# Control characters (NUL included) and lone surrogates cannot be stored or displayed safely.
_FORBIDDEN_IN_NAME = {"Cc", "Cs"}
_FORBIDDEN_IN_DESCRIPTION = {"Cs"}
_ALLOWED_CONTROL_IN_DESCRIPTION = {"\n", "\r", "\t"}


def _check_name(value: str) -> str:
    if any(unicodedata.category(char) in _FORBIDDEN_IN_NAME for char in value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _check_description(value: str | None) -> str | None:
    if value is None:
        return value
    for char in value:
        category = unicodedata.category(char)
        if category in _FORBIDDEN_IN_DESCRIPTION or (
            category == "Cc" and char not in _ALLOWED_CONTROL_IN_DESCRIPTION
        ):
            raise ValueError("must not contain control characters other than newline and tab")
    return value


Name = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["Widget"]), AfterValidator(_check_name)
]
Description = Annotated[
    str | None,
    Field(max_length=DESCRIPTION_MAX_LENGTH, examples=["A very useful widget"]),
    AfterValidator(_check_description),
]
_CENT = Decimal(1).scaleb(-PRICE_PLACES)


def _to_cents(value: Decimal) -> Decimal:
    # Answer "1.50" whether the client sent 1.5 or "1.50", exactly as the database will store it;
    # adding zero turns -0 into 0.
    return value.quantize(_CENT) + 0


Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, allow_inf_nan=False, examples=["9.99"]),
    AfterValidator(_to_cents),
]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = None
    price: Price


class ItemUpdate(BaseModel):
    """Fields left out keep their value; description may be set to null, name and price may not."""

    model_config = ConfigDict(extra="forbid")

    # SkipJsonSchema keeps null out of the published schema: null is rejected, only omission is allowed.
    name: Name | SkipJsonSchema[None] = None
    description: Description = None
    price: Price | SkipJsonSchema[None] = None

    @field_validator("name", "price", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp this service writes is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    price: Annotated[Decimal, Field(examples=["9.99"])]
    created_at: Annotated[datetime, AfterValidator(_as_utc)]
    updated_at: Annotated[datetime, AfterValidator(_as_utc)]


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
