"""Prometheus metrics: starlette-exporter's request metrics plus process metrics, all labelled by pod."""

from collections.abc import Iterable
from time import perf_counter
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware, handle_metrics
from starlette_exporter.middleware import get_matching_route_path

APP_NAME = "fastapi-app"
METRICS_PATH = "/metrics"
# Probes and scrapes are not traffic: counting them would drown the request rate of an idle service.
UNCOUNTED_PATHS = (METRICS_PATH, "/health", "/ready")

_DEFAULT_COLLECTORS = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)

# Registered once per process, like the default collectors; every application instance labels its pod.
REQUESTS_SHED = Counter(
    "fastapi_app_requests_shed_total",
    "Requests answered 503 overloaded without reaching the database: refused on arrival because the "
    "expected wait exceeded the deadline (reason estimate), or after waiting the whole deadline (deadline).",
    ["pod", "reason"],
)


class PodLabelledCollector(Collector):
    """Adds the pod label to prometheus_client's default process, platform and GC metrics.

    Prometheus scrapes through the load balancer and reaches one pod per scrape; without the label,
    samples of different pods would land in one series.
    """

    def __init__(self, pod: str) -> None:
        self.pod = pod

    def collect(self) -> Iterable[Metric]:
        for collector in _DEFAULT_COLLECTORS:
            for family in collector.collect():
                family.samples = [
                    sample._replace(labels={**sample.labels, "pod": self.pod}) for sample in family.samples
                ]
                yield family


_pod_collector: PodLabelledCollector | None = None


def _label_default_collectors(pod: str) -> None:
    global _pod_collector  # noqa: PLW0603 - the default registry is process-wide, so is this collector
    if _pod_collector is None:
        for collector in _DEFAULT_COLLECTORS:
            REGISTRY.unregister(collector)
        _pod_collector = PodLabelledCollector(pod)
        REGISTRY.register(_pod_collector)
    _pod_collector.pod = pod


class RouteMetricsMiddleware(PrometheusMiddleware):
    """starlette-exporter's PrometheusMiddleware, configured as this service needs it (route templates as
    paths, unmatched paths not counted, exact paths skipped, a constant pod label), with the same metrics,
    labels and values, at a fraction of the stock cost per request.

    The stock middleware finds the route template by matching the request against every route again
    after the response; with FastAPI's included routers that is the largest part of its cost. It also builds
    the request URL twice and looks up each labelled series from its label values. Here only the route
    the router chose (scope["route"]) is matched again, so a 405 still counts as no route, exactly as
    in the stock lookup. Requests routed into a mounted application keep the stock lookup: the route
    that application chose knows only the part of the path below the mount. The labelled series are kept
    once looked up: their labels come from a bounded set (methods x route templates x statuses), so the
    caches are bounded too.
    tests/test_metrics.py checks the samples against the stock middleware's for the same requests.
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


def install_metrics(app: FastAPI, pod: str) -> None:
    _label_default_collectors(pod)
    app.add_middleware(RouteMetricsMiddleware, app_name=APP_NAME, pod=pod, skip_paths=UNCOUNTED_PATHS)
    app.add_route(METRICS_PATH, handle_metrics, include_in_schema=False)
