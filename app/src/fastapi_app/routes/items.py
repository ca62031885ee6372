"""/api/v1/items: create, read, list, partially update and delete items."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_app.db import Database
from fastapi_app.errors import ApiError, responses
from fastapi_app.models import ID_MAX, Item
from fastapi_app.schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 100
# Deep offsets make PostgreSQL scan and discard every skipped row; past this, page by filtering instead.
LIST_OFFSET_MAX = 100_000

router = APIRouter(prefix="/api/v1/items", tags=["items"])


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.sessions() as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.read_sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(_session)]
ReadSession = Annotated[AsyncSession, Depends(_read_session)]
ItemId = Annotated[int, Path(ge=1, le=ID_MAX, description="The item's id.")]


async def _find(session: AsyncSession, item_id: int) -> Item:
    item = await session.get(Item, item_id)
    if item is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "not_found", f"Item {item_id} does not exist.")
    return item


async def _commit(session: AsyncSession, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        # The unique constraint on name is the only one validation cannot rule out beforehand.
        raise ApiError(
            status.HTTP_409_CONFLICT, "name_taken", f"An item named {name!r} already exists."
        ) from error


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(409, 422, 503),
    summary="Create an item",
)
async def create_item(body: ItemCreate, session: Session, request: Request, response: Response) -> ItemRead:
    item = Item(**body.model_dump())
    session.add(item)
    await _commit(session, body.name)
    response.headers["Location"] = str(request.url_for("get_item", item_id=item.id).path)
    return ItemRead.model_validate(item)


@router.get("", responses=responses(422, 503), summary="List items, oldest first")
async def list_items(
    session: Session,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = LIST_LIMIT_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=LIST_OFFSET_MAX)] = 0,
) -> ItemPage:
    total = await session.scalar(select(func.count()).select_from(Item))
    rows = await session.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
    return ItemPage(
        items=[ItemRead.model_validate(item) for item in rows],
        total=total or 0,
        limit=limit,
        offset=offset,
    )


@router.get("/{item_id}", responses=responses(404, 422, 503), summary="Get an item")
async def get_item(item_id: ItemId, session: ReadSession) -> ItemRead:
    return ItemRead.model_validate(await _find(session, item_id))


@router.patch("/{item_id}", responses=responses(404, 409, 422, 503), summary="Change some fields of an item")
async def update_item(item_id: ItemId, body: ItemUpdate, session: Session) -> ItemRead:
    item = await _find(session, item_id)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(item, field, value)
    if changes:
        await _commit(session, item.name)
    return ItemRead.model_validate(item)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 422, 503),
    summary="Delete an item",
)
async def delete_item(item_id: ItemId, session: Session) -> None:
    await session.delete(await _find(session, item_id))
    await session.commit()
