"""Statistics shared by the lab benchmarks: nearest-rank percentiles and a median / p90 / max cell."""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Optional


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: p90 of 20 runs is the 18th smallest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclasses.dataclass
class Stats:
    median: float
    p90: float
    max: float
    count: int
    failed: int

    @classmethod
    def of(cls, values: list[Optional[float]]) -> Optional["Stats"]:
        valid = [v for v in values if v is not None]
        if not valid:
            return None
        return cls(statistics.median(valid), percentile(valid, 0.9), max(valid), len(values),
                   len(values) - len(valid))

    def cell(self) -> str:
        failed = f" ({self.failed} failed)" if self.failed else ""
        return f"{self.median:.1f} / {self.p90:.1f} / {self.max:.1f}{failed}"
