"""The metrics port: GET /metrics without a token, and nothing else, on a port no load balancer publishes.

Prometheus reaches each pod through the Kubernetes API server's proxy, which authenticates Prometheus and then
deletes the Authorization header before it forwards the request: a scrape that way can carry no metrics token.
The API server's authorization (get on pods/proxy) guards this port instead, and the main port keeps /metrics
behind the token for scrapes through the load balancer.
"""

from fastapi import status
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette_exporter import handle_metrics

from fastapi_app.errors import error_response
from fastapi_app.metrics import METRICS_PATH


class MetricsPortMiddleware:
    """Outermost: every request that arrived on the metrics port is answered here, so no other middleware,
    route or token rule applies to it, and a scrape is not counted as a request of the service."""

    def __init__(self, app: ASGIApp, *, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server: tuple[str, int] | None = scope.get("server")
        if scope["type"] != "http" or server is None or server[1] != self.port:
            await self.app(scope, receive, send)
            return
        if scope["path"] != METRICS_PATH:
            response = error_response(status.HTTP_404_NOT_FOUND, "http_error", "Not Found")
        elif scope["method"] != "GET":
            response = error_response(status.HTTP_405_METHOD_NOT_ALLOWED, "http_error", "Method Not Allowed")
            response.headers["Allow"] = "GET"
        else:
            response = handle_metrics(Request(scope, receive))
        await response(scope, receive, send)
