"""The benchmark's statistics (bench/compare.py): the verdicts printed in docs/service.md come from these."""

import random

import pytest
from bench.compare import Interval, a_runs_first, throughput_ratio, verdict


def test_rounds_alternate_which_server_runs_first() -> None:
    assert [a_runs_first(index) for index in range(4)] == [True, False, True, False]


def test_ratio_is_of_mean_throughputs_and_exact_when_every_round_agrees() -> None:
    ratio = throughput_ratio([90.0, 180.0, 45.0], [100.0, 200.0, 50.0])
    assert (ratio.estimate, ratio.low, ratio.high) == pytest.approx((0.9, 0.9, 0.9))


def test_interval_covers_the_true_ratio_despite_a_drift_shared_by_both_servers() -> None:
    noise = random.Random(7)  # noqa: S311 - simulated measurement noise
    drift = [1 + 0.3 * noise.uniform(-1, 1) for _ in range(20)]
    a = [200 * 0.94 * d * (1 + noise.gauss(0, 0.03)) for d in drift]
    b = [200 * d * (1 + noise.gauss(0, 0.03)) for d in drift]
    ratio = throughput_ratio(a, b)
    assert ratio.low < 0.94 < ratio.high
    assert ratio.low <= ratio.estimate <= ratio.high
    assert ratio.high - ratio.low < 0.05


def test_interval_widens_with_noisier_rounds() -> None:
    steady = throughput_ratio([95.0, 94.0, 96.0, 95.0], [100.0] * 4)
    noisy = throughput_ratio([80.0, 110.0, 85.0, 105.0], [100.0] * 4)
    assert noisy.high - noisy.low > 5 * (steady.high - steady.low)


def test_resampling_is_repeatable() -> None:
    a, b = [95.0, 80.0, 99.0, 91.0], [100.0, 98.0, 97.0, 101.0]
    assert throughput_ratio(a, b) == throughput_ratio(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [([1.0, 2.0], [1.0]), ([1.0], [1.0]), ([1.0, 0.0], [1.0, 1.0])],
    ids=["unpaired", "one round", "zero throughput"],
)
def test_ratio_refuses_what_it_cannot_judge(a: list[float], b: list[float]) -> None:
    with pytest.raises(ValueError, match="rounds"):
        throughput_ratio(a, b)


def test_complement_turns_a_ratio_into_a_cost_with_its_bounds_swapped() -> None:
    cost = Interval(0.9, 0.85, 0.95).complement()
    assert (cost.estimate, cost.low, cost.high) == pytest.approx((0.1, 0.05, 0.15))


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        (Interval(0.05, 0.02, 0.08), "met with 95% confidence"),
        (Interval(0.08, 0.04, 0.12), "met by the estimate, not with 95% confidence"),
        (Interval(0.12, 0.09, 0.15), "MISSED"),
    ],
)
def test_verdict_on_a_ceiling(cost: Interval, expected: str) -> None:
    assert verdict(cost, at_most=0.10) == expected


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (Interval(0.70, 0.65, 0.75), "met with 95% confidence"),
        (Interval(0.62, 0.58, 0.66), "met by the estimate, not with 95% confidence"),
        (Interval(0.55, 0.50, 0.61), "MISSED"),
    ],
)
def test_verdict_on_a_floor(share: Interval, expected: str) -> None:
    assert verdict(share, at_least=0.60) == expected
