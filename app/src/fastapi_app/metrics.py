"""Prometheus metrics: starlette-exporter's request metrics plus process metrics, all labelled by pod."""

from collections.abc import Iterable

from fastapi import FastAPI
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette_exporter import PrometheusMiddleware, handle_metrics

APP_NAME = "fastapi-app"
# Probes and scrapes are not traffic: counting them would drown the request rate of an idle service.
UNCOUNTED_PATHS = ("/metrics", "/health", "/ready")

_DEFAULT_COLLECTORS = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)


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
    _label_default_collectors(pod)
    app.add_middleware(
        PrometheusMiddleware,
        app_name=APP_NAME,
        group_paths=True,
        filter_unhandled_paths=True,
        skip_paths=list(UNCOUNTED_PATHS),
        labels={"pod": pod},
    )
    app.add_route("/metrics", handle_metrics, include_in_schema=False)
