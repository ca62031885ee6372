"""Prometheus metrics: seed names, bounded path label, pod label, probes not counted."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import TEST_POD

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
