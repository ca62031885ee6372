"""The statistics the benchmark's targets are judged by: two servers compared in interleaved runs.

On a shared VM the same server's throughput drifts by about ±10 % from one minute to the next, and two
processes of the same code differ by several per cent (memory layout, hash seed). Measured one after the
other, a single A and a single B would differ by that much as well as by what sets them apart. So each
comparison starts several fresh pairs of processes and, within a pair, alternates short runs of A and B,
which the same drift hits. The spread between pairs gives the confidence interval of the ratio.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95
RESAMPLES = 10_000
MIN_ROUNDS = 2


@dataclass(frozen=True)
class Interval:
    """A ratio of throughputs and its 95 % confidence interval."""

    estimate: float
    low: float
    high: float

    def complement(self) -> "Interval":
        """1 - ratio, e.g. a cost (the share of throughput lost) from a ratio of throughputs."""
        return Interval(1 - self.estimate, 1 - self.high, 1 - self.low)


def a_runs_first(index: int) -> bool:
    """A B, B A, A B, ...: neither side always goes first, so a drift favours neither."""
    return index % 2 == 0


def throughput_ratio(a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> Interval:
    """Mean throughput of A over mean throughput of B, from paired samples (one pair of processes each).

    The interval is a percentile bootstrap over the pairs: they are resampled with replacement and the
    ratio recomputed, so it assumes nothing about how the noise is distributed.
    """
    if len(a) != len(b):
        raise ValueError(f"paired rounds needed: {len(a)} runs of A, {len(b)} of B")
    if len(a) < MIN_ROUNDS or min(*a, *b) <= 0:
        raise ValueError("at least two rounds, each with a positive throughput, are needed")
    generator = random.Random(seed)  # noqa: S311 - resampling, not secrets: seeded to be repeatable
    rounds = range(len(a))
    resampled = sorted(
        sum(a[i] for i in picks) / sum(b[i] for i in picks)
        for picks in ([generator.choice(rounds) for _ in rounds] for _ in range(RESAMPLES))
    )
    tail = round(RESAMPLES * (1 - CONFIDENCE) / 2)
    return Interval(sum(a) / sum(b), resampled[tail], resampled[-tail - 1])


def verdict(interval: Interval, *, at_least: float | None = None, at_most: float | None = None) -> str:
    """Judges a target against the whole interval, not only its estimate."""

    def meets(value: float) -> bool:
        return (at_least is None or value >= at_least) and (at_most is None or value <= at_most)

    if meets(interval.low) and meets(interval.high):
        return f"met with {CONFIDENCE:.0%} confidence"
    if meets(interval.estimate):
        return f"met by the estimate, not with {CONFIDENCE:.0%} confidence"
    return "MISSED"
