"""Per-process readings from /proc shared by the lab benchmarks and tests: the process tree, CPU
ticks (user and system), context switches, memory (Rss / Pss), open descriptors."""

from __future__ import annotations

import os
import re
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (keepalived: parent + VRRP child)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def cpu_times(pid: int) -> tuple[int, int]:
    """(utime, stime) in clock ticks (fields 14 and 15 of stat(5))."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks(pid: int) -> int:
    return sum(cpu_times(pid))


def context_switches(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return sum(int(v) for v in re.findall(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", text, re.M))


def memory_kib(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in KiB from smaps_rollup."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    rss = int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
    pss = int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    return rss, pss


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def tree_cpu_ticks(pids: list[int]) -> tuple[int, int]:
    """(utime, stime) summed over processes; a process that is gone counts 0."""
    user = system = 0
    for pid in pids:
        try:
            u, s = cpu_times(pid)
        except OSError:
            continue
        user, system = user + u, system + s
    return user, system


SCHED_POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE",
                  6: "SCHED_DEADLINE"}


def scheduling(pid: int) -> tuple[str, int, int]:
    """(policy name, real-time priority, nice) from stat(5) fields 41, 40 and 19."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3
    return SCHED_POLICIES.get(int(fields[38]), fields[38]), int(fields[37]), int(fields[16])
