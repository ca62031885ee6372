"""The HTTP protocol the server runs: uvicorn's httptools protocol with the request bounds it lacks.

It counts the head's bytes before the parser sees them and its headers, and times the head and then the
body; a violation is answered at once (431 or 408) and the connection closed. Why: docs/service.md.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from fastapi_app.errors import error_response
from fastapi_app.settings import Settings


@dataclass(frozen=True)
class RequestLimits:
    max_head_bytes: int
    max_headers: int
    head_timeout: float
    body_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "RequestLimits":
        return cls(
            max_head_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            head_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
        )

    @classmethod
    def defaults(cls) -> "RequestLimits":
        """The settings' defaults, without reading the environment."""
        return cls.from_settings(Settings.model_construct())


class _RefusedError(Exception):
    """Raised inside a parser callback to stop parsing; the refusal to send is on the protocol."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    # uvicorn's `--http fastapi_app.server:BoundedHttpToolsProtocol` runs with the default limits.
    limits: ClassVar[RequestLimits] = RequestLimits.defaults()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The head of the request being received: its bytes so far, its headers so far, whether it is done.
        self._head_bytes = 0
        # The same head as the parser reads it: what a kept-alive connection's next request brings in the
        # same read as the end of the last one never passes the byte count above, but always passes these.
        self._parsed_head_bytes = 0
        self._header_count = 0
        self._head_pending = True
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.head_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._head_pending:
                super().data_received(data)
                return
            # Only as many bytes as the head may still have reach the parser: a larger head is refused
            # after reading max_head_bytes, whatever the sender meant to send.
            room = self.limits.max_head_bytes - self._head_bytes
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self._head_pending and self._head_bytes >= self.limits.max_head_bytes:
                self._refuse(*self._head_too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_head_bytes = 0
        if self._deadline is None:
            self._arm(self.limits.head_timeout, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._stop_parsing(
                431, "too_many_headers", f"The request has more than {self.limits.max_headers} headers."
            )
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > self.limits.max_head_bytes:
            self._stop_parsing(*self._head_too_large())

    def _head_too_large(self) -> tuple[int, str, str]:
        return 431, "headers_too_large", f"The request head exceeds {self.limits.max_head_bytes} bytes."

    def _stop_parsing(self, status: int, code: str, message: str) -> NoReturn:
        """Refuses from inside a parser callback: the parser stops, and send_400_response sends this."""
        self._refusal = (status, code, message)
        raise _RefusedError

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._arm(self.limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._head_bytes = self._header_count = 0
        self._head_pending = True

    def send_400_response(self, msg: str) -> None:
        # The parser reports a callback's exception as an invalid request; a refusal has its own status.
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(*self._refusal)

    def _head_too_slow(self) -> None:
        self._deadline = None
        self._refuse(
            408, "request_timeout", f"The request head took longer than {self.limits.head_timeout:g} s."
        )

    def _body_too_slow(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The application waits in receive(): it must neither read on nor answer over the 408.
            cycle.disconnected = True
            cycle.message_event.set()
        self._refuse(
            408, "request_timeout", f"The request body took longer than {self.limits.body_timeout:g} s."
        )

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        # A response already on its way cannot be followed by another: then the connection just ends.
        if cycle is None or cycle.response_complete or not cycle.response_started:
            body = bytes(error_response(status, code, message).body)
            self.transport.write(
                b"".join(
                    [
                        STATUS_LINE[status],
                        b"content-type: application/json\r\n",
                        b"content-length: %d\r\n" % len(body),
                        b"connection: close\r\n\r\n",
                        body,
                    ]
                )
            )
        self.logger.info("request refused: %d %s", status, code)
        self.transport.close()

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def bounded_protocol(limits: RequestLimits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, with these limits."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})
