"""The chaos soak's verdicts (soak.py), pure so unit.soak_report_test can plant faults in them.

Inputs are timelines in CLOCK_MONOTONIC ns:
  holdings   per node, the sampled changes of the VIPs it holds: [(ts_ns, frozenset of VIPs)]
  excuses    periods in which a node (or, node None, every node) is not "connected": its daemon
             killed and not yet restarted, its link cut, VRRP multicast blocked in the switch.
             A VIP held by such a node belongs to nobody: a killed daemon's addresses are
             orphans no daemon can remove, and a partitioned node cannot hear the master.
             A "starting" excuse (a restarted daemon's first moments, while it may still hold its
             predecessor's orphans) only keeps the node out of dual ownership: what it holds still
             counts as held, so the gap before it takes its VIPs back is measured.
Verdicts:
  dual owner    a VIP held by two connected nodes for longer than one Master_Down_Interval (the
                time two masters need to hear each other): the excess is counted, must be 0;
  zero owner    a VIP held by no connected node for longer than the failover bound, while some
                node could hold it: must be 0;
  growth        RSS and fds of each daemon process between a reading after the warm-up and the
                last one: RSS within a slack, fds not at all (the minimum of a few readings, so a
                health-check socket open at one reading does not count).
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import Iterable, Optional

Holdings = dict[str, list[tuple[int, frozenset]]]


@dataclasses.dataclass(frozen=True)
class Excuse:
    start_ns: int
    end_ns: int
    node: Optional[str]  # None: every node
    why: str
    starting: bool = False  # only excuses dual ownership (see above)

    def covers(self, node: str, ts_ns: int) -> bool:
        return (self.node is None or self.node == node) and self.start_ns <= ts_ns < self.end_ns


@dataclasses.dataclass(frozen=True)
class Run:
    """A stretch of time in which one VIP had the same kind of ownership problem."""
    vip: str
    start_ns: int
    end_ns: int
    owners: tuple[str, ...]

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _held_at(changes: list[tuple[int, frozenset]], stamps: list[int], ts_ns: int) -> frozenset:
    k = bisect.bisect_right(stamps, ts_ns) - 1
    return changes[k][1] if k >= 0 else frozenset()


def ownership_runs(holdings: Holdings, excuses: Iterable[Excuse], vips: Iterable[str],
                   since_ns: int, until_ns: int) -> tuple[list[Run], list[Run]]:
    """(runs with two or more connected owners, runs with no connected owner while some node was
    connected) for each VIP, over [since, until)."""
    excuses = list(excuses)
    nodes = sorted(holdings)
    stamps = {n: [ts for ts, _ in holdings[n]] for n in nodes}
    bounds = {since_ns, until_ns}
    for n in nodes:
        bounds.update(ts for ts in stamps[n] if since_ns < ts < until_ns)
    for e in excuses:
        bounds.update(ts for ts in (e.start_ns, e.end_ns) if since_ns < ts < until_ns)
    edges = sorted(bounds)
    dual: list[Run] = []
    zero: list[Run] = []
    for vip in vips:
        open_dual: Optional[list] = None
        open_zero: Optional[list] = None
        for start, end in zip(edges, edges[1:]):
            active = [e for e in excuses if e.start_ns <= start < e.end_ns]
            connected = [n for n in nodes if not any(e.covers(n, start) and not e.starting for e in active)]
            holders = [n for n in connected if vip in _held_at(holdings[n], stamps[n], start)]
            owners = tuple(n for n in holders if not any(e.covers(n, start) for e in active))
            if len(owners) >= 2:
                if open_dual is None:
                    open_dual = [start, end, set(owners)]
                else:
                    open_dual[1] = end
                    open_dual[2].update(owners)
            elif open_dual is not None:
                dual.append(Run(vip, open_dual[0], open_dual[1], tuple(sorted(open_dual[2]))))
                open_dual = None
            if not holders and connected:
                if open_zero is None:
                    open_zero = [start, end]
                else:
                    open_zero[1] = end
            elif open_zero is not None:
                zero.append(Run(vip, open_zero[0], open_zero[1], ()))
                open_zero = None
        if open_dual is not None:
            dual.append(Run(vip, open_dual[0], open_dual[1], tuple(sorted(open_dual[2]))))
        if open_zero is not None:
            zero.append(Run(vip, open_zero[0], open_zero[1], ()))
    return dual, zero


def split_by_windows(runs: Iterable[Run], windows: Iterable[tuple[int, int]],
                     after_ns: int) -> tuple[list[Run], list[Run]]:
    """(runs touching one of the windows, extended by `after_ns` past its end; the other runs).
    The windows are multicast blocks: VRRP multicast cannot carry the election there, so a dual
    owner has the split-brain healing's bound instead of one Master_Down_Interval."""
    windows = list(windows)
    inside, outside = [], []
    for run in runs:
        touches = any(run.start_ns < end + after_ns and run.end_ns > start for start, end in windows)
        (inside if touches else outside).append(run)
    return inside, outside


def excess_ms(runs: Iterable[Run], allowed_ms: float) -> float:
    """Total time of the runs beyond `allowed_ms` each."""
    return sum(max(0.0, r.ms - allowed_ms) for r in runs)


def beyond(runs: Iterable[Run], allowed_ms: float) -> list[Run]:
    return [r for r in runs if r.ms > allowed_ms]


def gains(holdings: Holdings, since_ns: int, until_ns: int) -> int:
    """VIPs added on any node in (since, until]: one per VIP per change that adds it."""
    count = 0
    for changes in holdings.values():
        held: frozenset = frozenset()
        for ts, now in changes:
            if since_ns < ts <= until_ns:
                count += len(now - held)
            if ts > until_ns:
                break
            held = now
    return count


@dataclasses.dataclass
class ProcessReading:
    ts_ns: int
    node: str
    pid: int
    rss_kib: int
    fds: int


@dataclasses.dataclass
class Growth:
    node: str
    pid: int
    seconds: float
    rss_kib: int
    fds: int


def growth(readings: list[ProcessReading], from_ns: int, window: int = 3,
           process_warmup_ns: int = 10_000_000_000) -> list[Growth]:
    """Per daemon process: RSS growth from its first reading at or after `from_ns` and at least
    `process_warmup_ns` after its own first reading (a daemon restarted just before `from_ns` is
    still loading its BPF objects and filling its maps) to its last, and fd growth between the
    minimum of its first `window` such readings and of its last `window`. Processes with fewer
    than 2 x `window` such readings are left out."""
    first_seen: dict[tuple[str, int], int] = {}
    for r in readings:
        key = (r.node, r.pid)
        first_seen[key] = min(first_seen.get(key, r.ts_ns), r.ts_ns)
    by_pid: dict[tuple[str, int], list[ProcessReading]] = {}
    for r in readings:
        key = (r.node, r.pid)
        if r.ts_ns >= max(from_ns, first_seen[key] + process_warmup_ns):
            by_pid.setdefault(key, []).append(r)
    result = []
    for (node, pid), series in sorted(by_pid.items()):
        if len(series) < 2 * window:
            continue
        series.sort(key=lambda r: r.ts_ns)
        first_fds = min(r.fds for r in series[:window])
        last_fds = min(r.fds for r in series[-window:])
        result.append(Growth(node, pid, (series[-1].ts_ns - series[0].ts_ns) / 1e9,
                             series[-1].rss_kib - series[0].rss_kib, last_fds - first_fds))
    return result


def error_seconds(samples, interval_s: float, since_ns: int, until_ns: int) -> float:
    """The client's failed requests sent in [since, until), as seconds of its polling."""
    return sum(1 for s in samples if since_ns <= s.sent_ns < until_ns and s.node is None) * interval_s
