"""A row held FOR UPDATE by another session: keeps a service request waiting inside the database."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

POLLS = 200
POLL_SECONDS = 0.05


class RowLock:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def wait_for_a_waiter(self) -> None:
        """Returns once a session of the service is blocked on a lock: the request is provably in flight."""
        for _ in range(POLLS):
            if await self._connection.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND application_name = 'fastapi-app'"
            ):
                return
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError("no session of the service ever waited for the row lock")

    async def release(self) -> None:
        await self._connection.execute("ROLLBACK")


@asynccontextmanager
async def row_locked(database_url: str, item_id: int) -> AsyncIterator[RowLock]:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("BEGIN")
        await connection.execute("SELECT 1 FROM items WHERE id = $1 FOR UPDATE", item_id)
        yield RowLock(connection)
    finally:
        await connection.close()
