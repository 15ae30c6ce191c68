"""Statistics the benchmarks share (scripts/lib/bench*.py)."""

from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> float:
    """Seconds to milliseconds."""
    return seconds * 1000.0


def rounded(value: float | None, digits: int = 2) -> float | None:
    """A value for the JSON object (None for no value or NaN)."""
    return None if value is None or math.isnan(value) else round(value, digits)
