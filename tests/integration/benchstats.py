"""Shared by the lab benchmarks: the client's poll settings, nearest-rank percentiles, a median /
p90 / max cell, the client-visible outage, the machine's environment, the alternating blocks, the
root check and the JSON-lines rows."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import statistics
import sys
import time
from typing import Optional

POLL_INTERVAL = 0.01  # the client's HTTP request period: the outage resolution
POLL_TIMEOUT = 0.3
REFERENCE = "keepalived"  # the daemon the others are compared with (ratios)


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


def fmt(value: Optional[float]) -> str:
    return "FAILED" if value is None else f"{value:.1f}"


def client_outage_ms(poller, since_ns: int, until_ns: int) -> float:
    """Client-visible outage: the runs of failed requests, by send time, that end after `since_ns`
    (from 100 ms before it) up to the request sent at `until_ns` (e.g. the first answer from the
    new master). Waits until every request sent before `until_ns` has reported."""
    poller.wait_settled(until_ns)
    outages = [o for o in poller.outages(since_ns=since_ns - 100_000_000, until_ns=until_ns)
               if o.end_ns > since_ns]
    return sum(o.ms for o in outages)


def environment() -> dict:
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "time": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def block_sizes(runs: int, rounds: int) -> list[int]:
    """`runs` split into at most `rounds` blocks, as even as can be (the daemons take turns)."""
    rounds = max(1, min(rounds, runs))
    return [runs // rounds + (1 if i < runs % rounds else 0) for i in range(rounds)]


def not_root(script: str) -> bool:
    """True, after saying so on stderr, unless running as root (the lab's network namespaces)."""
    if os.geteuid() == 0:
        return False
    print(f"{script}: run as root (network namespaces): sudo scripts/{script}", file=sys.stderr)
    return True


def append_json_line(path: str, row) -> None:
    """One raw row (a dataclass) appended to a JSON-lines file."""
    with open(path, "a") as handle:
        handle.write(json.dumps(dataclasses.asdict(row)) + "\n")
