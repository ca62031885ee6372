"""Admission to the database: one slot per pooled connection, handed out first come, first served.

A request expected to wait past the deadline (DB_POOL_TIMEOUT) is refused at once with 503 and
Retry-After; one that still reaches it in line is refused then. docs/service.md#admission-and-shedding.
"""

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

# Weight of the latest hold time in the running mean: about the last 30 holds count, enough to smooth
# over the pauses a CPU quota puts into single holds.
_HOLD_WEIGHT = 0.03

ShedReason = Literal["estimate", "deadline"]


class OverloadedError(Exception):
    def __init__(self, reason: ShedReason, retry_after: int) -> None:
        super().__init__(f"overloaded ({reason})")
        self.reason = reason
        self.retry_after = retry_after


class Admission:
    def __init__(self, slots: int, deadline: float) -> None:
        self.slots = slots
        self.deadline = deadline
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._mean_hold = 0.0
        # When a slot last came back, or the last free one was taken: the line moved.
        self._moved = 0.0

    async def acquire(self) -> float:
        """Waits for a slot, or raises OverloadedError; returns the time it was taken, for release()."""
        loop = asyncio.get_running_loop()
        await self._acquire(loop)
        return loop.time()

    def release(self, held_since: float) -> None:
        now = asyncio.get_running_loop().time()
        # Starting from 0, the first holds (which open the pool's connections) weigh little.
        self._mean_hold += _HOLD_WEIGHT * (now - held_since - self._mean_hold)
        self._release(now)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        held_since = await self.acquire()
        try:
            yield
        finally:
            self.release(held_since)

    async def _acquire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        if self._free and not self._waiters:
            self._free -= 1
            self._moved = now
            return
        expected_wait = (len(self._waiters) + 1) * self._mean_hold / self.slots
        if expected_wait > self.deadline or now - self._moved > self.deadline:
            raise OverloadedError("estimate", self._retry_after(expected_wait))
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.deadline):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # The slot arrived just as the wait ended: pass it on.
                self._release(loop.time())
            else:
                # Out of the line (unless a release already dropped it), so that the estimate for those
                # behind it counts only requests still waiting.
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            if isinstance(error, TimeoutError):
                raise OverloadedError("deadline", self._retry_after(self.deadline)) from None
            raise

    def _release(self, now: float) -> None:
        self._moved = now
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    @staticmethod
    def _retry_after(seconds: float) -> int:
        return max(1, math.ceil(seconds))
