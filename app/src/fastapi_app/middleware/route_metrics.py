"""starlette-exporter's request metrics at a fraction of the stock middleware's cost per request."""

from collections.abc import Iterable
from time import perf_counter
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware
from starlette_exporter.middleware import get_matching_route_path


class RouteMetricsMiddleware(PrometheusMiddleware):
    """starlette-exporter's PrometheusMiddleware as this service configures it (route templates as paths,
    unmatched paths not counted, a constant pod label): the same samples, tests/test_metrics.py checks.

    Only the route the router chose is matched again (a 405 still counts as no route); a mounted
    application keeps the stock lookup. Labelled series are cached: their labels come from a bounded set.
    """

    def __init__(
        self, app: ASGIApp, *, app_name: str, pod: str, skip_paths: Iterable[str], prefix: str = "starlette"
    ) -> None:
        skipped = list(skip_paths)
        super().__init__(
            app,
            app_name=app_name,
            prefix=prefix,
            group_paths=True,
            filter_unhandled_paths=True,
            skip_paths=skipped,
            labels={"pod": pod},
        )
        self._skipped = frozenset(skipped)
        self._pod = pod
        self._in_progress: dict[str, Gauge] = {}
        self._finished: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) in self._skipped:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        original_scope = dict(scope)
        in_progress = self._in_progress_series(method)
        status: int | None = None
        started = perf_counter()
        finished: float | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                finished = perf_counter()
            await send(message)

        in_progress.inc()
        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            self._observe(scope, original_scope, 500, (finished or perf_counter()) - started)
            raise
        finally:
            in_progress.dec()
        if status is None:
            status = 499 if await Request(scope, receive).is_disconnected() else 500
        self._observe(scope, original_scope, status, (finished or perf_counter()) - started)

    def _observe(self, scope: Scope, original_scope: dict[str, Any], status: int, seconds: float) -> None:
        template = _route_template(scope, original_scope)
        if template is not None:
            count, duration = self._finished_series(scope["method"], template, status)
            count.inc()
            duration.observe(seconds)

    def _in_progress_series(self, method: str) -> Gauge:
        series = self._in_progress.get(method)
        if series is None:
            series = self._in_progress[method] = self.requests_in_progress.labels(
                method, self.app_name, self._pod
            )
        return series

    def _finished_series(self, method: str, template: str, status: int) -> tuple[Counter, Histogram]:
        key = (method, template, status)
        series = self._finished.get(key)
        if series is None:
            labels = (method, template, status, self.app_name, self._pod)
            series = self._finished[key] = (
                self.request_count.labels(*labels),
                self.request_time.labels(*labels),
            )
        return series


def _route_path(scope: Scope) -> str:
    """The path the application routes on: without the root path a proxy may have mounted it under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


def _route_template(scope: Scope, original_scope: dict[str, Any]) -> str | None:
    """The matched route's path template; None when no route fully matched (404, 405)."""
    route = scope.get("route")
    mounted = scope.get("root_path", "") != original_scope.get("root_path", "")
    if route is None or mounted or getattr(route, "routes", None):
        router = scope.get("router")
        if router is None or scope.get("endpoint") is None:
            return None
        template: str | None = get_matching_route_path(original_scope, router.routes)
        return template
    match, _ = route.matches(original_scope)
    return route.path if match == Match.FULL else None
