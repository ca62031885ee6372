"""The shutdown probe against listeners that drop accepted connections in each way a closing server can."""

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from service_process import refuses_new_connections

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def _reset(writer: asyncio.StreamWriter) -> None:
    # Linger 0: close() sends RST instead of FIN, as the kernel does for a closed listener's backlog.
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()


@asynccontextmanager
async def dropping_listener(drop: Callable[[asyncio.StreamWriter], None], drops: int) -> AsyncIterator[str]:
    """A loopback listener that reads each request and drops it unanswered; after `drops` of them it
    closes, so that the next connection is refused."""
    dropped = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal dropped
        await reader.readuntil(b"\r\n\r\n")
        drop(writer)
        dropped += 1
        if dropped == drops:
            server.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


@pytest.mark.parametrize("drop", [_reset, _close], ids=["reset", "closed"])
async def test_a_dropped_connection_is_polled_past_until_the_refusal(
    drop: Callable[[asyncio.StreamWriter], None],
) -> None:
    async with dropping_listener(drop, drops=3) as url:
        assert await refuses_new_connections(url)


async def test_a_listener_that_keeps_answering_is_not_taken_for_closed() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        assert not await refuses_new_connections(f"http://127.0.0.1:{port}", polls=5)
