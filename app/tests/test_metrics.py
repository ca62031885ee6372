"""Prometheus metrics: seed names, bounded path label, pod label, probes not counted, and the service's
middleware counting exactly like starlette-exporter's own."""

from collections.abc import Callable

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route
from starlette_exporter import PrometheusMiddleware, handle_metrics

from fastapi_app.middleware.route_metrics import RouteMetricsMiddleware
from support.app import TEST_POD

ITEMS = "/api/v1/items"


async def scrape(client: httpx.AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def ours(samples: list[tuple[dict[str, str], float]], **labels: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample_labels, value)
        for sample_labels, value in samples
        if all(sample_labels.get(key) == wanted for key, wanted in labels.items())
    ]


async def test_request_metrics_have_the_seed_names_and_labels(client: httpx.AsyncClient) -> None:
    created = (await client.post(ITEMS, json={"name": "m", "price": "1"})).json()
    await client.get(f"{ITEMS}/{created['id']}")

    samples = await scrape(client)

    for name in (
        "starlette_requests_total",
        "starlette_request_duration_seconds_bucket",
        "starlette_requests_in_progress",
    ):
        assert ours(samples[name], app_name="fastapi-app", pod=TEST_POD), name
    total = ours(
        samples["starlette_requests_total"], path=f"{ITEMS}/{{item_id}}", status_code="200", pod=TEST_POD
    )
    assert total[0][0] == {
        "app_name": "fastapi-app",
        "method": "GET",
        "path": f"{ITEMS}/{{item_id}}",
        "status_code": "200",
        "pod": TEST_POD,
    }


def requests_counted(samples: dict[str, list[tuple[dict[str, str], float]]], **labels: str) -> float:
    return sum(value for _, value in ours(samples.get("starlette_requests_total", []), **labels))


async def test_a_thousand_ids_make_one_series(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for item_id in range(1, 1001):
        await client.get(f"{ITEMS}/{item_id}")
    await client.get("/not/a/route")

    samples = await scrape(client)

    paths = {labels["path"] for labels, _ in samples["starlette_requests_total"]}
    assert f"{ITEMS}/{{item_id}}" in paths
    assert not any(path.startswith(f"{ITEMS}/") and path != f"{ITEMS}/{{item_id}}" for path in paths)
    assert "/not/a/route" not in paths
    not_found = {"path": f"{ITEMS}/{{item_id}}", "status_code": "404", "pod": TEST_POD}
    assert requests_counted(samples, **not_found) - requests_counted(before, **not_found) == 1000


async def test_probes_and_scrapes_are_not_counted(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for path in ("/health", "/ready", "/metrics"):
        await client.get(path)

    samples = await scrape(client)

    assert requests_counted(samples) == requests_counted(before)
    paths = {labels["path"] for labels, _ in samples.get("starlette_requests_total", [])}
    assert paths.isdisjoint({"/health", "/ready", "/metrics"})


async def test_process_metrics_carry_the_pod_label(client: httpx.AsyncClient) -> None:
    samples = await scrape(client)

    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert [labels["pod"] for labels, _ in samples[name]] == [TEST_POD], name


def twin_app(add_metrics: Callable[[FastAPI], None]) -> FastAPI:
    """Routes of every kind the metrics middleware must tell apart: included router, path parameters, a
    mounted application, an unhandled exception, a skipped path."""
    app = FastAPI()
    things = APIRouter(prefix="/things")

    @things.get("/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise HTTPException(404)
        return {"id": thing_id}

    @things.post("", status_code=201)
    async def create_thing() -> dict[str, int]:
        return {"id": 1}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    async def mounted(_: Request) -> PlainTextResponse:
        return PlainTextResponse("mounted")

    app.include_router(things)
    app.mount("/sub", Starlette(routes=[Route("/x/{n}", mounted)]))
    app.add_route("/metrics", handle_metrics)
    add_metrics(app)
    return app


def samples_of(prefix: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The request metrics under one prefix, keyed without it; durations and creation times left out."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            name = sample.name.removeprefix(f"{prefix}_")
            if name != sample.name and not name.endswith(("_bucket", "_sum", "_created")):
                samples.setdefault(name, []).append((sample.labels, sample.value))
    for values in samples.values():
        values.sort(key=lambda sample: sorted(sample[0].items()))
    return samples


async def test_route_metrics_middleware_counts_exactly_like_starlette_exporters_own() -> None:
    def stock(app: FastAPI) -> None:
        app.add_middleware(
            PrometheusMiddleware,
            app_name="twin",
            prefix="stock",
            group_paths=True,
            filter_unhandled_paths=True,
            skip_paths=["/metrics"],
            labels={"pod": "twin-0"},
        )

    def lean(app: FastAPI) -> None:
        app.add_middleware(
            RouteMetricsMiddleware, app_name="twin", prefix="lean", pod="twin-0", skip_paths=["/metrics"]
        )

    requests = [
        ("GET", "/things/1"), ("GET", "/things/2"), ("DELETE", "/things/3"), ("GET", "/things/0"),
        ("GET", "/things/abc"), ("POST", "/things"), ("PUT", "/things/1"), ("GET", "/things/1/"),
        ("GET", "/nowhere"), ("GET", "/boom"), ("GET", "/sub/x/5"), ("GET", "/sub/nope"), ("GET", "/metrics"),
    ]  # fmt: skip
    statuses: dict[str, list[int]] = {}
    for prefix, add_metrics in (("stock", stock), ("lean", lean)):
        transport = httpx.ASGITransport(app=twin_app(add_metrics), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            statuses[prefix] = [(await client.request(method, path)).status_code for method, path in requests]

    assert statuses["lean"] == statuses["stock"]
    assert {404, 405, 422, 500, 201} <= set(statuses["lean"])
    stock_samples, lean_samples = samples_of("stock"), samples_of("lean")
    assert lean_samples == stock_samples
    counted = {(lbl["method"], lbl["path"], lbl["status_code"]) for lbl, _ in lean_samples["requests_total"]}
    assert counted == {
        ("GET", "/things/{thing_id}", "200"),
        ("GET", "/things/{thing_id}", "404"),
        ("GET", "/things/{thing_id}", "422"),
        ("POST", "/things", "201"),
        ("GET", "/boom", "500"),
        ("GET", "/sub/x/{n}", "200"),
    }
    assert all(value == 0 for _, value in lean_samples["requests_in_progress"])
