"""Requests that would exhaust a pod: a huge head, too many headers, a slow head or body. Each is sent over
a raw socket to the real server process, and each is answered at once or at its deadline, while /health
keeps answering within the kubelet's probe timeout and the process's memory stays bounded."""

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from service_process import ServiceProcess

HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
MAX_HEADER_BYTES = 32_768
# The Deployment's probes give /health 3 seconds (workload.ts).
PROBE_TIMEOUT = 3.0
# Answered "at once" means before a deadline could have played any part.
AT_ONCE = HEAD_TIMEOUT
# What the server may keep beyond its idle footprint while it refuses these requests.
RSS_HEADROOM_BYTES = 48 * 2**20
CHUNK = b"a" * 65_536
# The event loop's timers may fire up to a millisecond early.
TIMER_SLACK = 0.01

Outcome = TypeVar("Outcome")


@pytest.fixture(scope="module")
def service(migrated_url: str) -> Iterator[ServiceProcess]:
    with ServiceProcess(
        migrated_url,
        HEADER_TIMEOUT=str(HEAD_TIMEOUT),
        BODY_TIMEOUT=str(BODY_TIMEOUT),
        MAX_HEADER_BYTES=str(MAX_HEADER_BYTES),
    ) as service:
        yield service


def peak_rss(service: ServiceProcess) -> int:
    status = Path(f"/proc/{service.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) * 1024


# Blocking sockets, each side in a thread of its own: an asyncio transport that fails to send closes the
# socket, and with it the response the server had already sent.
async def answer(sock: socket.socket) -> int | None:
    """The status of the response, or None if the server closed without one."""

    def first_line() -> bytes:
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n" not in received and (chunk := sock.recv(4096)):
                received += chunk
        return received

    line = await asyncio.to_thread(first_line)
    return int(line.split()[1]) if line else None


async def send(sock: socket.socket, *parts: bytes) -> None:
    """Sends until done or until the server closes the connection (which is what a refusal does)."""

    def send_all() -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            for part in parts:
                sock.sendall(part)

    await asyncio.to_thread(send_all)


@contextlib.asynccontextmanager
async def connection(service: ServiceProcess) -> AsyncIterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        sock.settimeout(HEAD_TIMEOUT + 10)
        yield sock


async def timed(outcome: Awaitable[Outcome], limit: float) -> tuple[Outcome, float]:
    started = time.monotonic()
    async with asyncio.timeout(limit):
        status = await outcome
    return status, time.monotonic() - started


@contextlib.asynccontextmanager
async def health_watch(service: ServiceProcess) -> AsyncIterator[list[float]]:
    """Polls /health every 50 ms while the block runs; yields the latencies seen."""
    latencies: list[float] = []
    answered = asyncio.Event()

    async def poll() -> None:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=PROBE_TIMEOUT) as client:
            while True:
                started = time.monotonic()
                assert (await client.get("/health")).status_code == 200
                latencies.append(time.monotonic() - started)
                answered.set()
                await asyncio.sleep(0.05)

    poller = asyncio.create_task(poll())
    try:
        yield latencies
        # An attack refused at once may be over before the first poll: wait for that poll, bounded.
        async with asyncio.timeout(PROBE_TIMEOUT):
            await answered.wait()
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
    assert max(latencies) < PROBE_TIMEOUT


async def test_a_huge_header_is_431_at_once_with_health_fast_and_memory_bounded(
    service: ServiceProcess,
) -> None:
    before = peak_rss(service)
    async with health_watch(service), connection(service) as sock:
        head = b"GET /api/v1/items HTTP/1.1\r\nHost: test\r\nX-Huge: "
        sending = asyncio.create_task(send(sock, head, *[CHUNK] * 256))  # 16 MiB
        status, elapsed = await timed(answer(sock), AT_ONCE + 10)
        await sending

    assert status == 431
    assert elapsed < AT_ONCE
    assert peak_rss(service) - before < RSS_HEADROOM_BYTES


async def test_too_many_headers_are_431(service: ServiceProcess) -> None:
    headers = b"".join(b"X-Header-%d: 1\r\n" % index for index in range(150))
    async with connection(service) as sock:
        await send(sock, b"GET /api/v1/items HTTP/1.1\r\nHost: test\r\n" + headers + b"\r\n")
        status, elapsed = await timed(answer(sock), AT_ONCE + 10)

    assert (status, elapsed < AT_ONCE) == (431, True)


async def test_a_huge_head_behind_another_request_on_the_same_connection_is_431(
    service: ServiceProcess,
) -> None:
    # Both requests in one send, so the second head arrives in the same read as the end of the first.
    first = b"GET /api/v1/items HTTP/1.1\r\nHost: test\r\n\r\n"
    second = (
        b"GET /api/v1/items HTTP/1.1\r\nHost: test\r\nX-Large: "
        + b"a" * (MAX_HEADER_BYTES + 8192)
        + b"\r\n\r\n"
    )
    async with connection(service) as sock:
        await send(sock, first + second)
        received = await asyncio.to_thread(until_closed, sock)

    # The first request may be answered or cut off with the connection; the second is never served.
    statuses = re.findall(rb"HTTP/1.1 (\d{3}) ", received)
    assert statuses[-1:] == [b"431"]
    assert statuses[:-1] in ([], [b"200"])


async def test_a_large_head_within_the_limit_is_served(service: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        response = await client.get("/api/v1/items", headers={"X-Large": "a" * (MAX_HEADER_BYTES - 1024)})

    assert response.status_code == 200


async def test_half_sent_heads_are_closed_with_408_at_the_head_deadline(service: ServiceProcess) -> None:
    async def half_sent() -> int | None:
        async with connection(service) as sock:
            await send(sock, b"GET /api/v1/items HTTP/1.1\r\nHost: test\r\n")
            return await answer(sock)

    async with health_watch(service):
        statuses, elapsed = await timed(_all(half_sent() for _ in range(200)), HEAD_TIMEOUT + 10)

    assert statuses == [408] * 200
    assert HEAD_TIMEOUT - TIMER_SLACK <= elapsed < HEAD_TIMEOUT + 2


async def test_a_silent_connection_is_closed_at_the_head_deadline(service: ServiceProcess) -> None:
    async with connection(service) as sock:
        status, elapsed = await timed(answer(sock), HEAD_TIMEOUT + 10)

    assert status == 408
    assert HEAD_TIMEOUT - TIMER_SLACK <= elapsed < HEAD_TIMEOUT + 2


async def test_a_half_sent_body_is_408_at_the_body_deadline(service: ServiceProcess) -> None:
    head = (
        b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    async with connection(service) as sock:
        await send(sock, head + b'{"name": ')
        status, elapsed = await timed(answer(sock), BODY_TIMEOUT + 10)

    assert status == 408
    assert BODY_TIMEOUT - TIMER_SLACK <= elapsed < BODY_TIMEOUT + 2


async def test_a_slow_request_on_a_kept_alive_connection_gets_its_own_deadline(
    service: ServiceProcess,
) -> None:
    async with connection(service) as sock:
        await send(sock, b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        await asyncio.sleep(HEAD_TIMEOUT / 2)
        await send(sock, b"GET /health HTTP/1.1\r\n")
        started = time.monotonic()
        received = await asyncio.to_thread(until_closed, sock)
        elapsed = time.monotonic() - started

    assert re.findall(rb"HTTP/1.1 (\d{3}) ", received) == [b"200", b"408"]
    assert elapsed < HEAD_TIMEOUT + 2


def until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


async def _all(outcomes: Iterator[Awaitable[int | None]]) -> list[int | None]:
    return list(await asyncio.gather(*outcomes))
