"""/api/v1/items: create, read, list, partially update and delete items."""

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BeforeValidator, TypeAdapter
from sqlalchemy import Insert, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_app.db import Database, ReadStatement
from fastapi_app.errors import ApiError, responses
from fastapi_app.models import ID_MAX, items
from fastapi_app.schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate, StoredItem

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 100
# Deep offsets make PostgreSQL scan and discard every skipped row; past this, page by filtering instead.
LIST_OFFSET_MAX = 100_000

router = APIRouter(prefix="/api/v1/items", tags=["items"])


# Read statements are built and compiled once: reads are the hot path.
_ITEM = ReadStatement(select(items).where(items.c.id == bindparam("id")))
_PAGE = ReadStatement(
    select(items, func.count().over().label("total"))
    .order_by(items.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_TOTAL = ReadStatement(select(func.count()).select_from(items))
_STORED_ITEM = TypeAdapter(StoredItem)
# A page's rows validated in one call rather than one call per row.
_STORED_ITEMS = TypeAdapter(list[StoredItem])
# str() for orjson, which takes no subclass of str (SQLAlchemy's column names) as a key.
_ITEM_FIELDS = tuple(str(column.name) for column in items.c)
# A page's row carries the collection's total after the item's columns.
_PAGE_TOTAL = len(_ITEM_FIELDS)


def _fields(row: Sequence[Any]) -> dict[str, Any]:
    """A row as a dict to validate: pydantic reads a dict's fields without calling back into Python, a
    Row's attributes one Python lookup at a time (a page of 100 validated 4x slower)."""
    return dict(zip(_ITEM_FIELDS, row, strict=False))


def _decimal_as_string(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def json_response(content: object) -> Response:
    """The response the route's model declares, written by orjson: the same bytes pydantic would write for
    it (tests/test_read_json.py compares them), in a third of the CPU for a page of 100."""
    body = orjson.dumps(content, default=_decimal_as_string, option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


_PLAIN_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def _plain_decimal(value: Any) -> Any:
    # Pydantic's lax mode would also take "1.0", "+1" and " 1" for an integer: one spelling per number.
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError(
            "must be a plain decimal integer: digits only, no sign, point, spaces or leading zeros"
        )
    return value


# The validator goes after Path/Query: before them, or in a nested Annotated, FastAPI would publish the
# bounds as unknown keywords ("ge") instead of minimum and maximum.
PlainDecimal = BeforeValidator(_plain_decimal)
ItemId = Annotated[int, Path(ge=1, le=ID_MAX, description="The item's id."), PlainDecimal]


def _not_found(item_id: int) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "not_found", f"Item {item_id} does not exist.")


async def _write(
    connection: AsyncConnection, statement: Insert | Update, name: str | None
) -> ItemRead | None:
    """Runs one INSERT/UPDATE ... RETURNING; the returned item, or None if no row matched."""
    try:
        row = (await connection.execute(statement.returning(*items.c))).one_or_none()
    except IntegrityError as error:
        # The unique constraint on name is the only one validation cannot rule out beforehand.
        raise ApiError(
            status.HTTP_409_CONFLICT, "name_taken", f"An item named {name!r} already exists."
        ) from error
    return None if row is None else ItemRead.model_validate(_fields(row))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(409, 422, 503),
    summary="Create an item",
)
async def create_item(body: ItemCreate, request: Request, response: Response) -> ItemRead:
    async with _database(request).connection() as connection:
        item = await _write(connection, insert(items).values(**body.model_dump()), body.name)
    assert item is not None  # noqa: S101 - an INSERT ... RETURNING always returns its row
    response.headers["Location"] = str(request.url_for("get_item", item_id=item.id).path)
    return item


@router.get("", response_model=ItemPage, responses=responses(422, 503), summary="List items, oldest first")
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX), PlainDecimal] = LIST_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=LIST_OFFSET_MAX), PlainDecimal] = 0,
) -> Response:
    async with _database(request).connection() as connection:
        rows = await _PAGE.rows(connection, limit=limit, offset=offset)
        # One statement, one snapshot: the total counts exactly the rows the page is cut from. A page
        # past the end has no row to carry the total, so it is counted on its own.
        total = rows[0][_PAGE_TOTAL] if rows else (await _TOTAL.rows(connection))[0][0]
    page = _STORED_ITEMS.validate_python([_fields(row) for row in rows])
    return json_response({"items": page, "total": total, "limit": limit, "offset": offset})


@router.get("/{item_id}", response_model=ItemRead, responses=responses(404, 422, 503), summary="Get an item")
async def get_item(item_id: ItemId, request: Request) -> Response:
    async with _database(request).connection() as connection:
        rows = await _ITEM.rows(connection, id=item_id)
    if not rows:
        raise _not_found(item_id)
    return json_response(_STORED_ITEM.validate_python(_fields(rows[0])))


@router.patch(
    "/{item_id}",
    response_model=ItemRead,
    responses=responses(404, 409, 422, 503),
    summary="Change some fields of an item",
)
async def update_item(item_id: ItemId, body: ItemUpdate, request: Request) -> ItemRead | Response:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return await get_item(item_id, request)
    statement = update(items).where(items.c.id == item_id).values(**changes)
    async with _database(request).connection() as connection:
        item = await _write(connection, statement, changes.get("name"))
    if item is None:
        raise _not_found(item_id)
    return item


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 422, 503),
    summary="Delete an item",
)
async def delete_item(item_id: ItemId, request: Request) -> None:
    async with _database(request).connection() as connection:
        deleted = await connection.scalar(delete(items).where(items.c.id == item_id).returning(items.c.id))
    if deleted is None:
        raise _not_found(item_id)
