"""Prometheus metrics: the process metrics and the service's own, all labelled by pod, and /metrics."""

from collections.abc import Iterable

from fastapi import FastAPI
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette_exporter import handle_metrics

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


def install_metrics(app: FastAPI, pod: str) -> None:
    """The pod label on the process metrics, and GET /metrics; middleware.route_metrics counts requests."""
    _label_default_collectors(pod)
    app.add_route(METRICS_PATH, handle_metrics, include_in_schema=False)
