"""Request ids, and one access line per request."""

import re
import secrets
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_app.logs import log_request, request_id_var

REQUEST_ID_HEADER = b"x-request-id"
# A caller's id is kept only if it cannot break a log line or a header.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def incoming_request_id(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == REQUEST_ID_HEADER and _VALID_REQUEST_ID.fullmatch(value):
            return value.decode()
    return secrets.token_hex(16)


class RequestLogMiddleware:
    """Takes or makes an X-Request-ID, returns it, and logs the finished request as one JSON line."""

    def __init__(self, app: ASGIApp, quiet_paths: frozenset[str]) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        token = request_id_var.set(request_id)
        # A 500 is answered outside every middleware (by Starlette's ServerErrorMiddleware); the error
        # handler finds the id in the request state.
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode())
        started = perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if scope["path"] not in self.quiet_paths:
                route = scope.get("route")
                log_request(
                    scope["method"],
                    getattr(route, "path", None),
                    status,
                    round((perf_counter() - started) * 1000, 3),
                    request_id,
                )
            request_id_var.reset(token)
