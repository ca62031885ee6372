"""/api/v1/items: create, read, list, partially update and delete items."""

import re
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BeforeValidator

from fastapi_app.errors import ApiError, responses
from fastapi_app.models import ID_MAX
from fastapi_app.routes.deps import store_of
from fastapi_app.schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 100
# Deep offsets make PostgreSQL scan and discard every skipped row; past this, page by filtering instead.
LIST_OFFSET_MAX = 100_000

router = APIRouter(prefix="/api/v1/items", tags=["items"])


def _decimal_as_string(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def json_response(content: object, status_code: int = status.HTTP_200_OK) -> Response:
    """The response the route's model declares, written by orjson from the store's items: the same bytes
    pydantic would write (tests/test_read_json.py compares them) for a fraction of the CPU."""
    body = orjson.dumps(content, default=_decimal_as_string, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type="application/json")


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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemRead,
    responses=responses(409, 422, 503),
    summary="Create an item",
)
async def create_item(body: ItemCreate, request: Request) -> Response:
    item = await store_of(request).create(body.name, body.description, body.price)
    response = json_response(item, status.HTTP_201_CREATED)
    response.headers["Location"] = str(request.url_for("get_item", item_id=item["id"]).path)
    return response


@router.get("", response_model=ItemPage, responses=responses(422, 503), summary="List items, oldest first")
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX), PlainDecimal] = LIST_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=LIST_OFFSET_MAX), PlainDecimal] = 0,
) -> Response:
    page, total = await store_of(request).page(limit, offset)
    return json_response({"items": page, "total": total, "limit": limit, "offset": offset})


@router.get("/{item_id}", response_model=ItemRead, responses=responses(404, 422, 503), summary="Get an item")
async def get_item(item_id: ItemId, request: Request) -> Response:
    item = await store_of(request).get(item_id)
    if item is None:
        raise _not_found(item_id)
    return json_response(item)


@router.patch(
    "/{item_id}",
    response_model=ItemRead,
    responses=responses(404, 409, 422, 503),
    summary="Change some fields of an item",
)
async def update_item(item_id: ItemId, body: ItemUpdate, request: Request) -> Response:
    store = store_of(request)
    changes = body.model_dump(exclude_unset=True)
    item = await store.update(item_id, changes) if changes else await store.get(item_id)
    if item is None:
        raise _not_found(item_id)
    return json_response(item)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 422, 503),
    summary="Delete an item",
)
async def delete_item(item_id: ItemId, request: Request) -> None:
    if not await store_of(request).delete(item_id):
        raise _not_found(item_id)
