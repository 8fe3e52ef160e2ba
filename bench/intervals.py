"""Confidence intervals for benchmarks that judge a cost against a limit over noisy repeats.

A benchmark repeats a comparison (one pair of freshly started servers, say) and gets one
figure per repeat, such as the percent fewer requests per second of one server than the other.
`Interval.of` is the mean of those figures with a Student t-interval, and `judge` reads it
against a limit: met only when the whole interval is under it, missed only when the whole
interval is over it, undecided otherwise, saying how wide the noise is.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import t as student_t


@dataclass(frozen=True)
class Interval:
    """The mean of `count` figures with its `level` confidence interval, and their median."""

    mean: float
    low: float
    high: float
    median: float
    count: int
    level: float = 0.95

    @classmethod
    def of(cls, values: Sequence[float], level: float = 0.95) -> Interval:
        mean = statistics.fmean(values)
        if len(values) < 2:
            return cls(mean, -math.inf, math.inf, mean, len(values), level)
        half = student_t.ppf((1 + level) / 2, len(values) - 1) * statistics.stdev(values)
        half /= math.sqrt(len(values))
        return cls(mean, mean - half, mean + half, statistics.median(values), len(values), level)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self, unit: str = "%") -> str:
        return (f"mean {self.mean:+.2f}{unit} [{self.low:+.2f}, {self.high:+.2f}]"
                f" ({self.level:.0%}, n={self.count}),"
                f" median {self.median:+.2f}{unit}")  # fmt: skip


def judge(cost: Interval, limit: float, noise: Interval | None = None) -> str:
    """`cost` (an interval of a cost, lower is better) against `limit`; `noise` (the same
    figure where there is no cost) gives the noise floor an undecided verdict names."""
    if cost.high < limit:
        return "target met"
    if cost.low > limit:
        return "missed"
    floor = (noise or cost).half_width
    return f"undecided: noise floor ±{floor:.1f}%"
