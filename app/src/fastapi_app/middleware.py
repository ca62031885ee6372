"""ASGI middleware: request ids and one log line per request, and the request body size limit."""

import logging
import re
import secrets
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_app.errors import error_response
from fastapi_app.logs import request_id_var

access_logger = logging.getLogger("fastapi_app.access")

LIVENESS_PATH = "/health"
LIVENESS_BODY = b'{"status":"ok"}'
LIVENESS_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(LIVENESS_BODY)).encode()),
]

_REQUEST_ID_HEADER = b"x-request-id"
# A caller's id is kept only if it cannot break a log line or a header.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def _incoming_request_id(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == _REQUEST_ID_HEADER and _VALID_REQUEST_ID.fullmatch(value):
            return value.decode()
    return secrets.token_hex(16)


class LivenessMiddleware:
    """Answers GET /health before routing, validation and metrics: the probe the kubelet and the load
    balancer call most often costs almost nothing and cannot be slowed by the rest of the stack.

    The /health route in routes/health.py documents the same response in the OpenAPI schema.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == LIVENESS_PATH and scope["method"] == "GET":
            headers = [*LIVENESS_HEADERS, (_REQUEST_ID_HEADER, _incoming_request_id(scope).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": LIVENESS_BODY})
            return
        await self.app(scope, receive, send)


class RequestLogMiddleware:
    """Takes or makes an X-Request-ID, returns it, and logs the finished request as one JSON line."""

    def __init__(self, app: ASGIApp, quiet_paths: frozenset[str]) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = request_id_var.set(request_id)
        # A 500 is answered outside every middleware (by Starlette's ServerErrorMiddleware); the error
        # handler finds the id in the request state.
        scope.setdefault("state", {})["request_id"] = request_id
        started = perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if scope["path"] not in self.quiet_paths:
                route = scope.get("route")
                access_logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": getattr(route, "path", None),
                        "status": status,
                        "duration_ms": round((perf_counter() - started) * 1000, 3),
                    },
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Rejects request bodies over max_bytes with 422 before the application reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
        elif declared is None and b"transfer-encoding" in headers:
            await self._buffer_unsized_body(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _buffer_unsized_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Without Content-Length the size is only known once read; read it here, bounded, and replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            422, "body_too_large", f"The request body is larger than {self.max_bytes} bytes."
        )
        await response(scope, receive, send)
