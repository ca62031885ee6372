"""How the benchmark reads wrk and reports a sweep: the figures in docs/service.md come from these."""

import pytest
from bench.run import (
    ITEM_ENDPOINT,
    LIST_ENDPOINT,
    POST_ENDPOINT,
    SWEEP_CONNECTIONS,
    Result,
    SweepPoint,
    parse_wrk,
    share_of_reference,
    sweep_table,
    sweep_verdicts,
)

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:41234/api/v1/items/500
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   153.30ms   40.12ms 319.60ms   70.00%
    Req/Sec   410.00     30.00   480.00     70.00%
  Latency Distribution
     50%  153.30ms
     75%  170.00ms
     90%  200.00ms
     99%    1.39s
  2040 requests in 5.00s, 700.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:    408.00
Transfer/sec:    140.00KB
"""


def test_wrk_output_becomes_a_result_with_socket_errors_counted() -> None:
    result = parse_wrk("GET item", WRK_OUTPUT, cpu_seconds=2.55)

    assert (result.requests_per_second, result.requests, result.errors) == (408.0, 2040, 12)
    assert (result.p50_ms, result.p99_ms) == pytest.approx((153.3, 1390.0))
    assert result.cpu_us_per_request == pytest.approx(1250.0)


def test_a_clean_run_has_no_errors() -> None:
    clean = WRK_OUTPUT.replace("  Socket errors: connect 0, read 2, write 0, timeout 3\n", "").replace(
        "  Non-2xx or 3xx responses: 7\n", ""
    )
    assert parse_wrk("GET item", clean, cpu_seconds=1.0).errors == 0


def test_unexpected_wrk_output_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        parse_wrk("GET item", "wrk: connection refused", cpu_seconds=0.0)


def result(cpu_us_per_request: float) -> Result:
    return Result("case", 100.0, 1.0, 2.0, 0, 1000, cpu_us_per_request * 1000 / 1e6)


def test_share_of_reference_is_the_ratio_of_cpu_per_request() -> None:
    assert share_of_reference(result(1200), result(300)) == pytest.approx(0.25)


def test_the_sweep_table_pairs_each_service_point_with_the_reference_at_the_same_point() -> None:
    points = [
        SweepPoint("service", "GET item", 16, result(1000), 0.0),
        SweepPoint("reference", "GET item", 16, result(250), 0.0),
        SweepPoint("service", "GET item", 64, result(1200), 2.5),
        SweepPoint("reference", "GET item", 64, result(240), 0.0),
    ]

    rows = sweep_table(points).splitlines()[2:]

    assert rows == [
        "| GET item | 16 | 100 | 1.0 | 2.0 | 0 | 1,000 µs | 0.0 | 250 µs | 25.0% |",
        "| GET item | 64 | 100 | 1.0 | 2.0 | 0 | 1,200 µs | 2.5 | 240 µs | 20.0% |",
    ]


def test_the_sweep_judges_list_and_post_by_the_reference_get_item_of_the_same_point() -> None:
    points = []
    for connections in SWEEP_CONNECTIONS:
        points += [
            SweepPoint("reference", ITEM_ENDPOINT, connections, result(200), 0.0),
            SweepPoint("reference", LIST_ENDPOINT, connections, result(400), 0.0),
            SweepPoint("reference", POST_ENDPOINT, connections, result(300), 0.0),
            SweepPoint("service", ITEM_ENDPOINT, connections, result(500), 0.0),
            SweepPoint("service", LIST_ENDPOINT, connections, result(880 if connections == 64 else 600), 0.0),
            SweepPoint(
                "service", POST_ENDPOINT, connections, result(950), 0.4 if connections == 256 else 0.0
            ),
        ]

    verdicts = sweep_verdicts(points)

    assert verdicts[0].endswith(
        "at most 4.40x the reference's CPU per GET item over the sweep; target <= 4.5x: met"
    )
    assert verdicts[1].endswith(
        "at most 4.75x the reference's CPU per GET item over the sweep; target <= 4.5x: MISSED"
    )
    assert verdicts[2] == (
        "- service: 0 non-2xx + socket errors, at most 0.4 new PostgreSQL sessions/s over every point; "
        "target 0 and 0: MISSED"
    )
    assert (
        verdicts[3]
        == "- GET item at 16 connections: 100.0% of the reference's throughput, p99 1.00x its p99 "
        "(single unpaired runs: the reference part judges these)"
    )
