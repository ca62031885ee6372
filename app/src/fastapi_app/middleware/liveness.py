"""GET /health answered before anything else runs."""

from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_app.middleware.request_log import REQUEST_ID_HEADER, incoming_request_id

LIVENESS_PATH = "/health"
LIVENESS_BODY = b'{"status":"ok"}'
LIVENESS_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(LIVENESS_BODY)).encode()),
]


class LivenessMiddleware:
    """Answers GET /health before routing, validation and metrics: the probe the kubelet and the load
    balancer call most often costs almost nothing and cannot be slowed by the rest of the stack.

    The /health route in routes/health.py documents the same response in the OpenAPI schema.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == LIVENESS_PATH and scope["method"] == "GET":
            headers = [*LIVENESS_HEADERS, (REQUEST_ID_HEADER, incoming_request_id(scope).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": LIVENESS_BODY})
            return
        await self.app(scope, receive, send)
