"""Request bodies over the limit refused before the application reads them."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_app.errors import error_response


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
