"""The metrics port of the real process: GET /metrics without a token and nothing else, under the same request
limits and the same SIGTERM drain as the main port, which keeps /metrics behind the metrics token."""

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from fastapi_app.settings import Settings
from service_process import ServiceProcess, refuses_new_connections
from support.row_lock import row_locked

METRICS_TOKEN = "metrics-port-test-token-0123456789"  # noqa: S105 - made up for this process
POD = "fastapi-deployment-port0"
MAX_HEADER_BYTES = 4096
NOT_FOUND = {"error": {"code": "http_error", "message": "Not Found", "details": []}}


@pytest.fixture(scope="module")
def service(migrated_url: str) -> Iterator[ServiceProcess]:
    with ServiceProcess(
        migrated_url, POD_NAME=POD, METRICS_TOKENS=METRICS_TOKEN, MAX_HEADER_BYTES=str(MAX_HEADER_BYTES)
    ) as service:
        yield service


async def test_metrics_port_serves_metrics_without_a_token_while_the_main_port_asks_for_one(
    service: ServiceProcess,
) -> None:
    async with httpx.AsyncClient() as client:
        on_metrics_port = await client.get(f"{service.metrics_url}/metrics")
        on_main_port = await client.get(f"{service.base_url}/metrics")
        with_token = await client.get(
            f"{service.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )

    assert on_metrics_port.status_code == 200
    assert on_metrics_port.headers["content-type"].startswith("text/plain; version=")
    assert f'process_resident_memory_bytes{{pod="{POD}"}}' in on_metrics_port.text
    assert on_main_port.status_code == 401
    assert with_token.status_code == 200


async def test_both_ports_report_the_same_process_counters(service: ServiceProcess) -> None:
    async with httpx.AsyncClient() as client:
        created = await client.post(f"{service.base_url}/api/v1/items", json={"name": "port", "price": "1"})
        scraped = (await client.get(f"{service.metrics_url}/metrics")).text

    assert created.status_code == 201, created.text
    assert (
        'starlette_requests_total{app_name="fastapi-app",method="POST",path="/api/v1/items",'
        f'pod="{POD}",status_code="201"}} 1.0'
    ) in scraped


@pytest.mark.parametrize("path", ["/", "/health", "/ready", "/api/v1/items", "/openapi.json", "/metrics/"])
async def test_every_other_path_is_404_on_the_metrics_port(service: ServiceProcess, path: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{service.metrics_url}{path}")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_other_methods_on_the_metrics_port_are_405(service: ServiceProcess) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{service.metrics_url}/metrics")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"]["code"] == "http_error"


async def test_the_request_head_limit_holds_on_the_metrics_port(service: ServiceProcess) -> None:
    head = b"GET /metrics HTTP/1.1\r\nHost: test\r\nX-Large: " + b"a" * (2 * MAX_HEADER_BYTES) + b"\r\n\r\n"

    def first_line() -> bytes:
        with socket.create_connection(("127.0.0.1", service.metrics_port), timeout=10) as sock:
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                sock.sendall(head)
            return sock.recv(4096).split(b"\r\n", 1)[0]

    assert await asyncio.to_thread(first_line) == b"HTTP/1.1 431 Request Header Fields Too Large"


async def test_requests_on_the_metrics_port_are_neither_counted_nor_logged(migrated_url: str) -> None:
    with ServiceProcess(migrated_url, POD_NAME=POD) as service:
        async with httpx.AsyncClient(base_url=service.metrics_url) as client:
            refused = [(await client.get("/api/v1/items")).status_code for _ in range(3)]
            scrapes = [await client.get("/metrics") for _ in range(3)]
        output = service.output()

    assert refused == [404] * 3
    assert [scrape.status_code for scrape in scrapes] == [200] * 3
    assert "starlette_requests_total{" not in scrapes[-1].text
    loggers = {json.loads(line).get("logger") for line in output.splitlines()}
    assert "fastapi_app.access" not in loggers, output


async def test_sigterm_closes_the_metrics_port_too_and_drains_the_request_in_flight(
    migrated_url: str,
) -> None:
    with ServiceProcess(migrated_url, SHUTDOWN_TIMEOUT="15") as service:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=20) as client:
            created = await client.post("/api/v1/items", json={"name": "draining", "price": "1"})
            item_id = created.json()["id"]
            async with row_locked(migrated_url, item_id) as lock:
                in_flight = asyncio.create_task(client.patch(f"/api/v1/items/{item_id}", json={"price": "2"}))
                await lock.wait_for_a_waiter()
                assert (await client.get(f"{service.metrics_url}/metrics")).status_code == 200

                service.terminate()
                assert await refuses_new_connections(service.metrics_url), "metrics port open after SIGTERM"
                assert await refuses_new_connections(service.base_url), "main port open after SIGTERM"
                assert service.process.poll() is None, "the server exited with a request in flight"

                await lock.release()
                response = await in_flight
        exit_code = await asyncio.to_thread(service.wait, 10)

    assert response.status_code == 200
    assert exit_code == 0, service.output()


def test_the_metrics_port_must_differ_from_the_port() -> None:
    with pytest.raises(ValidationError, match="METRICS_PORT must differ from PORT \\(both are 9000\\)"):
        Settings(port=9000, metrics_port=9000)
