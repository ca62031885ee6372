"""The items in the development SQLite file, through SQLAlchemy Core on aiosqlite: no server to run, and
the tables created from the models at start (no migration Job runs on a laptop)."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Row, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from fastapi_app.db import database_url
from fastapi_app.models import items, metadata
from fastapi_app.settings import Settings
from fastapi_app.store.base import ITEM_FIELDS, Item, NameTakenError

logger = logging.getLogger("fastapi_app.db")

T = TypeVar("T")

_ITEM = select(items).where(items.c.id == bindparam("id"))
_PAGE = (
    select(items, func.count().over().label("total"))
    .order_by(items.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_TOTAL = select(func.count()).select_from(items)
_PAGE_TOTAL = len(ITEM_FIELDS)


def row_to_item(row: Row[Any] | Sequence[Any]) -> Item:
    """The one place a row becomes an item: the models' types (a UTC timestamp, a Decimal) decode it."""
    return cast(Item, dict(zip(ITEM_FIELDS, row, strict=False)))


class SqliteItemStore:
    def __init__(self, settings: Settings) -> None:
        url = database_url(settings)
        # Every request runs one statement: autocommit, and nothing to roll back when a connection returns.
        self.engine = create_async_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self.engine.connect() as connection:
            return await work(connection)

    async def start(self) -> None:
        logger.warning(
            "DATABASE_URL is unset: using the development SQLite database %s",
            self.engine.url.render_as_string(hide_password=True),
        )
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def stop(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        await self._run(lambda connection: connection.execute(text("SELECT 1")))

    async def get(self, item_id: int) -> Item | None:
        row = (await self._run(lambda connection: connection.execute(_ITEM, {"id": item_id}))).first()
        return None if row is None else row_to_item(row)

    async def page(self, limit: int, offset: int) -> tuple[list[Item], int]:
        async def read(connection: AsyncConnection) -> tuple[list[Item], int]:
            rows = (await connection.execute(_PAGE, {"limit": limit, "offset": offset})).all()
            total = rows[0][_PAGE_TOTAL] if rows else (await connection.execute(_TOTAL)).scalar_one()
            return [row_to_item(row) for row in rows], total

        return await self._run(read)

    async def create(self, name: str, description: str | None, price: Any) -> Item:
        statement = insert(items).values(name=name, description=description, price=price)
        item = await self._write(name, statement.returning(*items.c))
        assert item is not None  # noqa: S101 - an INSERT ... RETURNING always returns its row
        return item

    async def update(self, item_id: int, changes: dict[str, Any]) -> Item | None:
        statement = update(items).where(items.c.id == item_id).values(**changes)
        return await self._write(changes.get("name"), statement.returning(*items.c))

    async def _write(self, name: str | None, statement: Any) -> Item | None:
        try:
            row = (await self._run(lambda connection: connection.execute(statement))).first()
        except IntegrityError as error:
            raise NameTakenError(name or "") from error
        return None if row is None else row_to_item(row)

    async def delete(self, item_id: int) -> bool:
        statement = delete(items).where(items.c.id == item_id).returning(items.c.id)
        result = await self._run(lambda connection: connection.execute(statement))
        return result.first() is not None
