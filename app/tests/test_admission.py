"""Admission: with more concurrent requests than pooled connections, requests wait their turn (first come,
first served) and none fails while the database is healthy; past the deadline the service sheds at once,
with 503 and Retry-After, and counts it."""

import asyncio
import time
from collections import Counter

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from fastapi_app.admission import Admission
from fastapi_app.main import create_app
from fastapi_app.settings import DB_POOL_TIMEOUT, Settings
from support.app import TEST_POD, serve
from support.latency_proxy import LatencyProxy
from support.row_lock import row_locked

ITEMS = "/api/v1/items"
DEADLINE = 1.0
LATENCY = 0.05
ANSWER_MARGIN = 1.0
REQUESTS = 50


def through(proxy: LatencyProxy, settings: Settings) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(proxy.url)})


def one_connection(settings: Settings) -> Settings:
    return settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": DEADLINE})


def shed(reason: str) -> float:
    value = REGISTRY.get_sample_value("fastapi_app_requests_shed_total", {"pod": TEST_POD, "reason": reason})
    return value or 0.0


async def test_more_requests_than_connections_all_succeed_in_turn(
    settings: Settings, migrated_url: str
) -> None:
    # One connection, a database 50 ms away and 50 requests at once: the last waits about 2.5 s for its
    # turn, within the default deadline; the former 2 s pool timeout failed every request behind the 40th.
    async with LatencyProxy(migrated_url, LATENCY) as proxy:
        app = create_app(
            through(proxy, settings).model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
        )
        async for client in serve(app):
            item = (await client.post(ITEMS, json={"name": "contended", "price": "1"})).json()
            started = time.monotonic()
            responses = await asyncio.gather(*(client.get(f"{ITEMS}/{item['id']}") for _ in range(REQUESTS)))
            elapsed = time.monotonic() - started

    assert Counter(response.status_code for response in responses) == {200: REQUESTS}
    assert REQUESTS * LATENCY <= elapsed < DB_POOL_TIMEOUT


async def test_requests_expected_to_wait_past_the_deadline_are_shed_on_arrival(
    settings: Settings, migrated_url: str
) -> None:
    async with LatencyProxy(migrated_url, LATENCY) as proxy:
        app = create_app(through(proxy, one_connection(settings)))
        async for client in serve(app):
            item = (await client.post(ITEMS, json={"name": "burst", "price": "1"})).json()
            url = f"{ITEMS}/{item['id']}"
            # The admission learns how long a request holds its connection.
            for _ in range(40):
                assert (await client.get(url)).status_code == 200
            before = shed("estimate"), shed("deadline")
            outcomes = await asyncio.gather(*(timed_get(client, url) for _ in range(150)))
            after = shed("estimate"), shed("deadline")

    served = [elapsed for response, elapsed in outcomes if response.status_code == 200]
    refused = [(response, elapsed) for response, elapsed in outcomes if response.status_code != 200]
    at_once = [elapsed for _, elapsed in refused if elapsed < DEADLINE / 4]
    assert served
    # Nobody waits in line past the deadline; answering 150 requests at once in one process (under
    # coverage, too) adds its own time on top.
    assert max(served) < DEADLINE + ANSWER_MARGIN
    for response, elapsed in refused:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "overloaded"
        assert int(response.headers["retry-after"]) >= 1
        # Refused on arrival, or (the estimate erring on the short side) at the deadline: never later.
        assert elapsed < DEADLINE + ANSWER_MARGIN
    # The burst needs about 150 x 50 ms = 7.5 s of connection time; about one deadline's worth is served.
    assert len(at_once) > len(refused) / 2
    assert (after[0] - before[0], after[1] - before[1]) == (len(at_once), len(refused) - len(at_once))


async def timed_get(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.get(url)
    return response, time.monotonic() - started


async def test_past_the_deadline_requests_are_shed_at_once_and_counted(
    settings: Settings, migrated_url: str
) -> None:
    app = create_app(one_connection(settings))
    async for client in serve(app):
        item = (await client.post(ITEMS, json={"name": "held", "price": "1"})).json()
        async with row_locked(migrated_url, item["id"]) as lock:
            # The only connection waits for the lock: nothing will come back within the deadline.
            holder = asyncio.create_task(client.patch(f"{ITEMS}/{item['id']}", json={"price": "2"}))
            await lock.wait_for_a_waiter()
            await asyncio.sleep(DEADLINE)
            before = shed("estimate")
            started = time.monotonic()
            refused = await asyncio.gather(*(client.get(f"{ITEMS}/{item['id']}") for _ in range(10)))
            elapsed = time.monotonic() - started
            after = shed("estimate")
            await lock.release()
            held = await holder
        served = await client.get(f"{ITEMS}/{item['id']}")

    for response in refused:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "overloaded"
        assert int(response.headers["retry-after"]) >= 1
    assert elapsed < DEADLINE / 4
    assert after - before == len(refused)
    assert (held.status_code, served.status_code) == (200, 200)


@pytest.mark.parametrize("pool", [(1, 0), (3, 2)])
async def test_a_request_waiting_past_the_deadline_is_shed_and_counted(
    settings: Settings, migrated_url: str, pool: tuple[int, int]
) -> None:
    size, overflow = pool
    app = create_app(
        settings.model_copy(
            update={"db_pool_size": size, "db_max_overflow": overflow, "db_pool_timeout": DEADLINE}
        )
    )
    async for client in serve(app):
        item = (await client.post(ITEMS, json={"name": "held", "price": "1"})).json()
        async with row_locked(migrated_url, item["id"]) as lock:
            holders = [
                asyncio.create_task(client.patch(f"{ITEMS}/{item['id']}", json={"price": "2"}))
                for _ in range(size + overflow)
            ]
            await lock.wait_for_a_waiter()
            before = shed("deadline")
            started = time.monotonic()
            waited = await client.get(f"{ITEMS}/{item['id']}")
            elapsed = time.monotonic() - started
            after = shed("deadline")
            await lock.release()
            held = await asyncio.gather(*holders)

    assert waited.status_code == 503
    assert waited.json()["error"]["code"] == "overloaded"
    assert DEADLINE <= elapsed < DEADLINE + 0.5
    assert after - before == 1
    assert {response.status_code for response in held} == {200}


async def test_slots_go_to_waiting_requests_in_arrival_order() -> None:
    admission = Admission(slots=1, deadline=DEADLINE)
    served: list[int] = []
    gate = asyncio.Event()

    async def request(number: int) -> None:
        async with admission.slot():
            served.append(number)
            await gate.wait()

    first = asyncio.create_task(request(0))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(request(number)) for number in range(1, 6)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, *waiting)

    assert served == [0, 1, 2, 3, 4, 5]


async def test_a_waiter_that_gives_up_does_not_take_a_slot_with_it() -> None:
    admission = Admission(slots=1, deadline=DEADLINE)
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    impatient = asyncio.create_task(hold())
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await impatient

    async with asyncio.timeout(0.1), admission.slot():
        pass
