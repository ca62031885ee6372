"""The items on PostgreSQL, through asyncpg alone: one pool, one way to run a statement, one rule for
replacing a connection. Each statement is constant SQL, which asyncpg prepares once per connection."""

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import URL

from fastapi_app.admission import Admission
from fastapi_app.db import DatabaseCertificateError, DatabaseTls, database_tls, database_url
from fastapi_app.settings import READINESS_POOL_SIZE, Settings
from fastapi_app.store.base import ITEM_FIELDS, Item, NameTakenError

logger = logging.getLogger("fastapi_app.db")

T = TypeVar("T")
Work = Callable[[asyncpg.Connection], Awaitable[T]]

_COLUMNS = ", ".join(ITEM_FIELDS)
_ITEM_SQL = f"SELECT {_COLUMNS} FROM items WHERE id = $1"  # noqa: S608 - constant column names
_PAGE_SQL = f"SELECT {_COLUMNS}, count(*) OVER () FROM items ORDER BY id LIMIT $1 OFFSET $2"  # noqa: S608
_TOTAL_SQL = "SELECT count(*) FROM items"
_INSERT_SQL = f"INSERT INTO items (name, description, price) VALUES ($1, $2, $3) RETURNING {_COLUMNS}"  # noqa: S608
_DELETE_SQL = "DELETE FROM items WHERE id = $1 RETURNING id"
_UPDATABLE = ("name", "description", "price")
_CONNECTION_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)
# A page's row carries the collection's total after the item's columns.
_PAGE_TOTAL = len(ITEM_FIELDS)


def _update_sql(fields: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{field} = ${position}" for position, field in enumerate(fields, start=2))
    return f"UPDATE items SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}"  # noqa: S608


# One statement per set of changed fields, built once: 7 in all.
_UPDATE_SQL = {
    fields: _update_sql(fields)
    for fields in (
        tuple(field for bit, field in enumerate(_UPDATABLE) if mask >> bit & 1) for mask in range(1, 8)
    )
}


def row_to_item(row: asyncpg.Record) -> Item:
    """The one place a row becomes an item: asyncpg already decodes each column to the API's type."""
    return cast(Item, dict(zip(ITEM_FIELDS, row, strict=False)))


class _Slot:
    """One of the pool's connections, opened when first needed and again whenever it was lost."""

    __slots__ = ("connection", "opened_at")

    def __init__(self) -> None:
        self.connection: asyncpg.Connection | None = None
        self.opened_at = 0.0


class ConnectionPool:
    """Connections handed out by admission (first come, first served, bounded wait), one per slot.

    A connection is replaced when the server has closed it, when it is older than DB_POOL_RECYCLE, when a
    pre-ping fails, and after any error other than one the server reported: then its state is unknown.
    """

    def __init__(
        self,
        url: URL,
        *,
        size: int,
        overflow: int,
        deadline: float,
        pre_ping: bool,
        recycle: float,
        connect_args: dict[str, Any],
    ) -> None:
        self.url = url
        self.admission = Admission(size + overflow, deadline)
        self._size = size
        self._pre_ping = pre_ping
        self._recycle = recycle
        self._connect_args = {
            "host": url.host,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "database": url.database,
            **connect_args,
        }
        self._idle = [_Slot() for _ in range(size + overflow)]
        self._open = 0

    async def run(self, work: Work[T]) -> T:
        """Runs `work` on a pooled connection once this request's turn has come."""
        held_since = await self.admission.acquire()
        slot = self._idle.pop()
        try:
            connection = await self._usable(slot)
            try:
                return await work(connection)
            except asyncpg.PostgresError:
                raise
            except BaseException:
                self._discard(slot)
                raise
        finally:
            if self._open > self._size and slot.connection is not None:
                # Overflow: a connection beyond the pool's size is closed again when it comes back.
                self._discard(slot)
            self._idle.append(slot)
            self.admission.release(held_since)

    async def _usable(self, slot: _Slot) -> asyncpg.Connection:
        connection = slot.connection
        if connection is not None and (
            connection.is_closed() or asyncio.get_running_loop().time() - slot.opened_at > self._recycle
        ):
            self._discard(slot)
            connection = None
        if connection is not None and self._pre_ping:
            try:
                await connection.execute("SELECT 1")
            except _CONNECTION_ERRORS:
                self._discard(slot)
                connection = None
        if connection is None:
            connection = slot.connection = await asyncpg.connect(**self._connect_args)
            slot.opened_at = asyncio.get_running_loop().time()
            self._open += 1
        return connection

    def _discard(self, slot: _Slot) -> None:
        if slot.connection is not None:
            slot.connection.terminate()
            slot.connection = None
            self._open -= 1

    async def open(self, count: int) -> None:
        """Opens `count` connections now, so that no request pays for opening a session."""
        slots = [self._idle.pop() for _ in range(min(count, len(self._idle)))]
        try:
            for slot in slots:
                await self._usable(slot)
        finally:
            self._idle += slots

    async def close(self) -> None:
        for slot in self._idle:
            if slot.connection is not None:
                try:
                    await slot.connection.close(timeout=1)
                except _CONNECTION_ERRORS:
                    # Shutting down anyway: a server that does not answer the goodbye is not waited for.
                    slot.connection.terminate()
                slot.connection = None
        self._open = 0


def _pool(
    settings: Settings,
    tls: DatabaseTls,
    *,
    application_name: str,
    size: int,
    overflow: int,
    deadline: float,
    pre_ping: bool,
    connect_timeout: float,
    statement_timeout: float,
) -> ConnectionPool:
    return ConnectionPool(
        database_url(settings),
        size=size,
        overflow=overflow,
        deadline=deadline,
        pre_ping=pre_ping,
        recycle=settings.db_pool_recycle,
        connect_args={
            "timeout": connect_timeout,
            # The client gives up a second after the server's statement_timeout would have.
            "command_timeout": statement_timeout + 1,
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(int(statement_timeout * 1000)),
            },
            "ssl": tls,
        },
    )


class PostgresItemStore:
    def __init__(self, settings: Settings) -> None:
        # Read once: it parses DATABASE_URL and reads the CA bundle; both pools use the same.
        tls = database_tls(settings)
        self.verifies_certificate = isinstance(tls, ssl.SSLContext)
        self.pool = _pool(
            settings,
            tls,
            application_name="fastapi-app",
            size=settings.db_pool_size,
            overflow=settings.db_max_overflow,
            deadline=settings.db_pool_timeout,
            pre_ping=settings.db_pool_pre_ping,
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_statement_timeout,
        )
        # Readiness has a connection of its own, tested before each use: requests that exhaust their pool
        # must not turn every pod unready at once while the database is healthy.
        timeout = settings.readiness_timeout
        self.probe_pool = _pool(
            settings,
            tls,
            application_name="fastapi-app-readiness",
            size=READINESS_POOL_SIZE,
            overflow=0,
            deadline=timeout,
            pre_ping=True,
            connect_timeout=timeout,
            statement_timeout=timeout,
        )

    async def start(self) -> None:
        logger.info("database %s", self.pool.url.render_as_string(hide_password=True))
        if self.verifies_certificate:
            await self._check_certificate()
        try:
            await self.pool.open(self.pool.admission.slots)
        except _CONNECTION_ERRORS as error:
            # Not fatal: /ready reports the database, and requests open what is missing.
            logger.warning("could not open the connection pool at start: %s", type(error).__name__)

    async def _check_certificate(self) -> None:
        """A certificate that fails verification fails every connection for good: stop and say why. An
        unreachable database is an outage instead: the service starts and stays unready until it is back."""
        try:
            await self.ping()
        except ssl.SSLCertVerificationError as error:
            raise DatabaseCertificateError(self.pool.url, error) from None
        except Exception as error:
            logger.warning(
                "database check at start-up failed, staying unready until it passes: %s", type(error).__name__
            )

    async def stop(self) -> None:
        await self.pool.close()
        await self.probe_pool.close()

    async def ping(self) -> None:
        await self.probe_pool.run(_select_1)

    async def get(self, item_id: int) -> Item | None:
        row = await self.pool.run(lambda connection: connection.fetchrow(_ITEM_SQL, item_id))
        return None if row is None else row_to_item(row)

    async def page(self, limit: int, offset: int) -> tuple[list[Item], int]:
        return await self.pool.run(lambda connection: self._page(connection, limit, offset))

    async def _page(self, connection: asyncpg.Connection, limit: int, offset: int) -> tuple[list[Item], int]:
        rows = await self._fetch(connection, _PAGE_SQL, limit, offset)
        # One statement, one snapshot: the total counts exactly the rows the page is cut from. A page past
        # the end has no row to carry the total, so it is counted on its own.
        total = rows[0][_PAGE_TOTAL] if rows else (await self._fetch(connection, _TOTAL_SQL))[0][0]
        return [row_to_item(row) for row in rows], total

    async def _fetch(self, connection: asyncpg.Connection, sql: str, *arguments: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *arguments)
        return rows

    async def create(self, name: str, description: str | None, price: Any) -> Item:
        row = await self._write(name, _INSERT_SQL, name, description, price)
        assert row is not None  # noqa: S101 - an INSERT ... RETURNING always returns its row
        return row_to_item(row)

    async def update(self, item_id: int, changes: dict[str, Any]) -> Item | None:
        fields = tuple(field for field in _UPDATABLE if field in changes)
        row = await self._write(
            changes.get("name"), _UPDATE_SQL[fields], item_id, *(changes[field] for field in fields)
        )
        return None if row is None else row_to_item(row)

    async def _write(self, name: str | None, sql: str, *arguments: Any) -> asyncpg.Record | None:
        try:
            return await self.pool.run(lambda connection: connection.fetchrow(sql, *arguments))
        except asyncpg.UniqueViolationError as error:
            raise NameTakenError(name or "") from error

    async def delete(self, item_id: int) -> bool:
        deleted = await self.pool.run(lambda connection: connection.fetchval(_DELETE_SQL, item_id))
        return deleted is not None


async def _select_1(connection: asyncpg.Connection) -> None:
    await connection.fetchval("SELECT 1")
