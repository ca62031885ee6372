"""A TCP proxy in front of PostgreSQL that delays every reply, like a database a few milliseconds away:
each query holds its pooled connection for at least that long."""

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from sqlalchemy import make_url

_CHUNK = 65_536


class LatencyProxy:
    def __init__(self, database_url: str, delay: float) -> None:
        self._upstream = make_url(database_url)
        self.delay = delay
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return self._upstream.set(port=port).render_as_string(hide_password=False)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _connect(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        host, port = self._upstream.host or "127.0.0.1", self._upstream.port or 5432
        server_reader, server_writer = await asyncio.open_connection(host, port)
        pipes = [
            asyncio.create_task(self._pipe(client_reader, server_writer, 0.0)),
            asyncio.create_task(self._pipe(server_reader, client_writer, self.delay)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        loop = asyncio.get_running_loop()
        # Each chunk is delivered `delay` after it arrived, in order, however many are in flight.
        chunks: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while (chunk := await chunks.get()) is not None:
                due, data = chunk
                await asyncio.sleep(due - loop.time())
                writer.write(data)
                await writer.drain()

        delivery = asyncio.create_task(deliver())
        try:
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(_CHUNK):
                    chunks.put_nowait((loop.time() + delay, data))
            chunks.put_nowait(None)
            with contextlib.suppress(ConnectionError):
                await delivery
        finally:
            delivery.cancel()
            writer.close()
