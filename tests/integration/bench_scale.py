#!/usr/bin/python3
"""Scale benchmark: CPU, wake-ups and memory of 200 VRRP instances on a steady master/backup pair.

Lab: 2 nodes on one /23 (198.18.0.0/23, so both VIP ranges are on-link), n1 priority 150
(master), n2 priority 100 (backup). Every daemon runs --instances instances (default 200), one
VIP each (198.18.0.100-199, 198.18.1.100-199), VRIDs 1..N, VRRPv3, the same advert interval and
preemption (preempt, no delay). Rows: vipd (XDP receive path), vipd-nobpf (`--no-bpf`, a raw
socket: every advert reaches user space) and keepalived (200 `vrrp_instance`s, generated here).

Per row a fresh lab; the daemons start, the script waits until n1 holds every VIP and n2 none,
lets --settle seconds pass (start-up bursts, keepalived's delayed gratuitous ARPs), then measures
a --window of steady state:
  CPU        (utime + stime) delta of /proc/<pid>/stat over the wall-clock window, in % of one core;
             for keepalived the parent and its VRRP child are summed (the child does the work).
  wake-ups   of the backup per second. vipd: `loop_wakeups` delta of `vipd status --json` (epoll
             returns). keepalived has no such counter: voluntary + involuntary context switches
             (/proc/<pid>/status) are the proxy, and vipd's context switches are shown beside its
             loop_wakeups so the two daemons are also compared on the same proxy.
  memory     Rss and Pss of /proc/<pid>/smaps_rollup at the end of the window (summed over the
             process tree; Pss shares pages fairly, so the sum is meaningful).
  no failover  every VIP stays on n1 alone (checked every --check-every seconds), no "Entering
             MASTER STATE" in the backup's log and no "Entering BACKUP STATE" in the master's log
             during the window; for vipd also no transition and no advert sent by the backup.

The bound on the backup's wake-ups (issue): at most one per Master_Down_Interval per instance,
i.e. instances / MDI with MDI = 3 x interval + (256 - 100) / 256 x interval.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemons  # noqa: E402
from benchstats import REFERENCE, append_json_line, not_root  # noqa: E402
from procstats import CLK_TCK, context_switches, cpu_ticks, memory_kib, process_tree  # noqa: E402
import vipdlab  # noqa: E402

MASTER_PRIORITY = 150
BACKUP_PRIORITY = 100
SUBNET = "198.18.0.0/23"
# The project's keepalived reference figures for 200 instances (master / backup % of a core), as
# quoted in docs/BENCHMARKS.md ("Scale: CPU, wake-ups, memory").
REFERENCE_CPU = {0.01: (21, 23, 9, 10), 0.1: (2.6, 2.6, 0.95, 0.95)}
REFERENCE_MEMORY_MIB = (13.4, 5.5)


def vip_list(count: int) -> list[str]:
    """`count` VIPs, 100 per /24: 198.18.0.100-199, 198.18.1.100-199, ... (up to 1600)."""
    if not 1 <= count <= 1600:
        raise ValueError("VIPs: 1..1600 (100 per /24 in 198.18.0.0/20)")
    return [f"198.18.{n // 100}.{100 + n % 100}" for n in range(count)]


def vip_ranges(count: int) -> str:
    """vipd's --vips syntax for the first `count` VIPs of vip_list."""
    ranges = []
    for block in range((count + 99) // 100):
        size = min(100, count - block * 100)
        ranges.append(f"198.18.{block}.100-{99 + size}")
    return ",".join(ranges)


def lab_subnet(vip_count: int) -> str:
    """The lab's subnet: every VIP on-link (/23 for up to 200 VIPs, as in the first runs)."""
    return SUBNET if vip_count <= 200 else "198.18.0.0/20"


def master_down_s(interval: float) -> float:
    return daemons.master_down_interval(interval, BACKUP_PRIORITY)


# ----------------------------------------------------------------------------------------------
# Daemons with N instances


class ScaleKeepalived(daemons.Keepalived):
    """keepalived with one vrrp_instance per VIP group (VRIDs 1..N), the settings vipd gets:
    VRRPv3 (or v2 with a PASS password), multicast or unicast to `unicast_peers`."""

    def __init__(self, instances: int, vips: Optional[int] = None, password: str = ""):
        self.instances = instances
        self.vips = vips or instances
        self.password = password

    def config(self, settings: daemons.VrrpSettings, node: vipdlab.Node) -> str:
        lines = ["global_defs {", f"   router_id {settings.config_name}_{node.name}", "}", ""]
        groups = daemons.split_contiguous(vip_list(self.vips), self.instances)
        for n, vips in enumerate(groups, start=1):
            lines += [
                f"vrrp_instance {settings.config_name}_VIP_{n} {{",
                f"   interface {settings.interface}",
                "   state BACKUP",
                f"   virtual_router_id {n}",
                f"   priority {settings.priority}",
            ]
            if settings.version == 3:
                lines += ["   version 3", f"   advert_int {settings.advert_interval:g}"]
            else:
                lines += ["   version 2", f"   advert_int {int(settings.advert_interval)}",
                          "   authentication {", "      auth_type PASS",
                          f"      auth_pass {self.password or settings.config_name[:8]}", "   }"]
            peers = [p for p in settings.unicast_peers if p != node.ipv4]
            if peers:
                lines += [f"   unicast_src_ip {node.ipv4}", "   unicast_peer {",
                          *[f"      {peer}" for peer in peers], "   }"]
            lines += ["   virtual_ipaddress {", *[f"      {vip} dev {settings.interface}" for vip in vips],
                      "   }", "}"]
        return "\n".join(lines) + "\n"

    def command(self, lab, node, settings, run_dir):
        argv = super().command(lab, node, settings, run_dir)
        (run_dir / "keepalived.conf").write_text(self.config(settings, node))
        return argv


def vipd_extra_args(bpf: bool, groups: int = 0) -> tuple[str, ...]:
    """--vip-groups 0: one instance per VIP; N: the VIPs split into N instances."""
    args = ["--vip-groups", str(groups), "--vrrp-id-offset", "0", "--monitor-port", "0"]
    return tuple(args + ([] if bpf else ["--no-bpf"]))


@dataclasses.dataclass(frozen=True)
class Flavor:
    name: str
    bpf: bool = True

    @property
    def is_vipd(self) -> bool:
        return self.name.startswith("vipd")


FLAVORS = {"vipd": Flavor("vipd", True), "vipd-nobpf": Flavor("vipd-nobpf", False),
           "keepalived": Flavor("keepalived", False)}


# ----------------------------------------------------------------------------------------------
# /proc readings


@dataclasses.dataclass
class Snapshot:
    t_ns: int
    ticks: int
    switches: int
    status: Optional[dict]
    log_len: int


class Side:
    """One daemon (master or backup) being measured."""

    def __init__(self, role: str, proc: daemons.DaemonProcess, vipd_binary: Optional[Path]):
        self.role = role
        self.proc = proc
        self.vipd_binary = vipd_binary
        self.pids = process_tree(proc.proc.pid)

    def status(self) -> Optional[dict]:
        if self.vipd_binary is None:
            return None
        out = self.proc.node.run([str(self.vipd_binary), "status", "--json"], timeout=10).stdout
        return json.loads(out)

    def snapshot(self) -> Snapshot:
        status = self.status()  # first: its own wake-up falls before the counters are read
        return Snapshot(vipdlab.now_ns(), sum(cpu_ticks(p) for p in self.pids),
                        sum(context_switches(p) for p in self.pids), status, len(self.proc.log()))

    def memory(self) -> tuple[int, int]:
        rss = pss = 0
        for pid in self.pids:
            r, p = memory_kib(pid)
            rss, pss = rss + r, pss + p
        return rss, pss


def syscall_summary(pids: list[int], seconds: float) -> str:
    """`strace -c -f` on the running daemon for a few seconds: which system calls it makes."""
    argv = ["timeout", "-s", "INT", f"{seconds:g}", "strace", "-c", "-f"]
    for pid in pids:
        argv += ["-p", str(pid)]
    result = vipdlab.run_cmd(argv, timeout=seconds + 10, check=False)
    return result.stderr.strip()


# ----------------------------------------------------------------------------------------------
# One row


@dataclasses.dataclass
class Row:
    daemon: str
    interval: float
    instances: int
    window_s: float
    master_cpu: float
    backup_cpu: float
    backup_switches_per_s: float
    backup_loop_wakeups_per_s: Optional[float]
    backup_ringbuf_wakeups_per_s: Optional[float]
    backup_adverts_accepted_per_s: Optional[float]
    master_adverts_sent_per_s: Optional[float]
    master_rss_kib: int
    master_pss_kib: int
    backup_rss_kib: int
    backup_pss_kib: int
    failover: list[str]
    vips: int = 0
    startup_s: Optional[float] = None  # the master started alone -> it holds every VIP

    @property
    def wakeup_bound_per_s(self) -> float:
        return self.instances / master_down_s(self.interval)

    @property
    def backup_wakeups_per_s(self) -> float:
        """vipd's own counter; keepalived's proxy."""
        if self.backup_loop_wakeups_per_s is not None:
            return self.backup_loop_wakeups_per_s
        return self.backup_switches_per_s


def all_vips_on_master(lab: vipdlab.Lab, vips: list[str]) -> Optional[str]:
    """None if n1 holds every VIP and n2 none, else what is wrong."""
    on_n1 = set(lab.node("n1").addresses())
    on_n2 = set(lab.node("n2").addresses())
    missing = [v for v in vips if v not in on_n1]
    stray = [v for v in vips if v in on_n2]
    if not missing and not stray:
        return None
    return f"n1 lacks {len(missing)} VIPs {missing[:3]}, n2 holds {len(stray)} {stray[:3]}"


def instance_sum(status: dict, key: str) -> int:
    return sum(i.get(key, 0) for i in status.get("instances", []))


def measure(flavor: Flavor, interval: float, args) -> Row:
    vip_count = args.vips or args.instances
    vips = vip_list(vip_count)
    vipd = daemons.Vipd() if flavor.is_vipd else None
    daemon = vipd if vipd else ScaleKeepalived(args.instances, vip_count)
    problem = daemon.available()
    if problem:
        raise SystemExit(f"bench-scale: {flavor.name}: {problem}")

    def settings(priority: int) -> daemons.VrrpSettings:
        groups = args.instances if vip_count != args.instances else 0
        extra = vipd_extra_args(flavor.bpf, groups) if vipd else ()
        return daemons.VrrpSettings(vip=vip_ranges(vip_count), priority=priority, vrid=1,
                                    version=3, advert_interval=interval, config_name="scale",
                                    extra_args=extra)

    with vipdlab.Lab(nodes=2, subnet=lab_subnet(vip_count), keep_logs=args.keep_logs) as lab:
        # The master first, the backup once it holds every VIP: started together, a backup whose
        # Master_Down timers expire before the master's last instances take over (255 instances
        # take ~1 s) becomes a second master on those, and the split-brain healing then leaves the
        # pair on learned unicast peers (every advert sent twice, backup keep-alives): not the
        # steady state this benchmark measures.
        started = time.monotonic()
        master = daemon.start(lab, "n1", settings(MASTER_PRIORITY))
        vipdlab.wait_for(lambda: set(vips) <= set(lab.node("n1").addresses()), timeout=60,
                         interval=0.05, desc=f"{flavor.name}: n1 holds all {len(vips)} VIPs")
        startup_s = time.monotonic() - started
        backup = daemon.start(lab, "n2", settings(BACKUP_PRIORITY))
        vipdlab.wait_for(lambda: all_vips_on_master(lab, vips) is None, timeout=60, interval=0.05,
                         desc=f"{flavor.name}: n1 holds all {len(vips)} VIPs, n2 none")
        time.sleep(args.settle)
        problem = all_vips_on_master(lab, vips)
        if problem:
            raise vipdlab.LabError(f"{flavor.name}: not steady after settling: {problem}")
        binary = vipd.binary if vipd else None
        sides = {"master": Side("master", master, binary), "backup": Side("backup", backup, binary)}
        before = {role: side.snapshot() for role, side in sides.items()}
        failover: list[str] = []
        deadline = time.monotonic() + args.window
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(args.check_every, remaining))
            problem = all_vips_on_master(lab, vips)
            if problem:
                failover.append(problem)
        after = {role: side.snapshot() for role, side in sides.items()}
        memory = {role: side.memory() for role, side in sides.items()}
        if args.syscalls:  # after the window: strace slows the traced process down
            for role, side in sides.items():
                print(f"--- {flavor.name} {interval * 1000:g} ms {role}: strace -c -f, {args.syscalls:g} s\n"
                      f"{syscall_summary(side.pids, args.syscalls)}", file=sys.stderr, flush=True)
        for role, side in sides.items():
            if not side.proc.alive():
                failover.append(f"{role} exited")

    def seconds(role: str) -> float:
        return (after[role].t_ns - before[role].t_ns) / 1e9

    def cpu(role: str) -> float:
        return (after[role].ticks - before[role].ticks) / CLK_TCK / seconds(role) * 100

    def status_rate(role: str, pick) -> Optional[float]:
        if after[role].status is None:
            return None
        return (pick(after[role].status) - pick(before[role].status)) / seconds(role)

    log_b = backup.log()[before["backup"].log_len:after["backup"].log_len]
    log_m = master.log()[before["master"].log_len:after["master"].log_len]
    if (n := len(re.findall(r"Entering MASTER STATE", log_b))):
        failover.append(f"backup logged 'Entering MASTER STATE' {n}x")
    if (n := len(re.findall(r"Entering BACKUP STATE", log_m))):
        failover.append(f"master logged 'Entering BACKUP STATE' {n}x")
    if vipd:
        for role in ("master", "backup"):
            moved = instance_sum(after[role].status, "transitions") - instance_sum(before[role].status, "transitions")
            if moved:
                failover.append(f"{role}: {moved} state transitions")
        sent = instance_sum(after["backup"].status, "adverts_sent") - instance_sum(before["backup"].status, "adverts_sent")
        if sent:
            failover.append(f"backup sent {sent} adverts")

    return Row(
        daemon=flavor.name, interval=interval, instances=args.instances,
        window_s=seconds("backup"),
        master_cpu=cpu("master"), backup_cpu=cpu("backup"),
        backup_switches_per_s=(after["backup"].switches - before["backup"].switches) / seconds("backup"),
        backup_loop_wakeups_per_s=status_rate("backup", lambda s: s["loop_wakeups"]),
        backup_ringbuf_wakeups_per_s=status_rate("backup", lambda s: s["ringbuf_wakeups"]),
        backup_adverts_accepted_per_s=status_rate("backup", lambda s: s["adverts_accepted"]),
        master_adverts_sent_per_s=status_rate("master", lambda s: instance_sum(s, "adverts_sent")),
        master_rss_kib=memory["master"][0], master_pss_kib=memory["master"][1],
        backup_rss_kib=memory["backup"][0], backup_pss_kib=memory["backup"][1],
        failover=failover, vips=vip_count, startup_s=startup_s)


# ----------------------------------------------------------------------------------------------
# Report


def fmt(value: Optional[float], digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def median_row(rows: list[Row]) -> Row:
    """Field-wise median of repeated rows (failover notes are concatenated)."""
    first = rows[0]
    values = {}
    for field in dataclasses.fields(Row):
        items = [getattr(r, field.name) for r in rows]
        if field.name == "failover":
            values[field.name] = [f for r in rows for f in r.failover]
        elif isinstance(items[0], (int, float)) and not isinstance(items[0], bool) and field.name not in ("interval", "instances"):
            values[field.name] = statistics.median(items)
        elif items[0] is None:
            values[field.name] = None
        else:
            values[field.name] = getattr(first, field.name)
    return Row(**values)


def report(rows: list[Row], args) -> str:
    out = []
    out.append(f"Machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, kernel "
               f"{platform.release()}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    out.append(f"{args.instances} instances, {args.vips or args.instances} VIPs, VRRPv3, master n1 prio {MASTER_PRIORITY}, backup n2 prio "
               f"{BACKUP_PRIORITY}; window {args.window:g} s after {args.settle:g} s settling; "
               f"{args.repeat} run(s) per row (medians)")
    out.append("")
    out.append("| daemon | interval | master CPU % | backup CPU % | backup wake-ups/s | bound N/MDI | "
               "backup ctx switches/s | ring-buffer wake-ups/s | adverts accepted/s | master adverts sent/s | "
               "master RSS / PSS MiB | backup RSS / PSS MiB | start-up s | failover |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        out.append(
            f"| {r.daemon} | {r.interval * 1000:g} ms | {fmt(r.master_cpu, 2)} | {fmt(r.backup_cpu, 2)} | "
            f"{fmt(r.backup_loop_wakeups_per_s, 0) if r.backup_loop_wakeups_per_s is not None else '(' + fmt(r.backup_switches_per_s, 0) + ')'} | "
            f"{r.wakeup_bound_per_s:.0f} | {fmt(r.backup_switches_per_s, 0)} | "
            f"{fmt(r.backup_ringbuf_wakeups_per_s, 0)} | {fmt(r.backup_adverts_accepted_per_s, 0)} | "
            f"{fmt(r.master_adverts_sent_per_s, 0)} | {mib(r.master_rss_kib)} / {mib(r.master_pss_kib)} | "
            f"{mib(r.backup_rss_kib)} / {mib(r.backup_pss_kib)} | {fmt(r.startup_s, 2)} | "
            f"{'none' if not r.failover else '; '.join(r.failover)} |")
    out.append("")
    out.append("keepalived's wake-ups are its context switches (in parentheses): it has no loop counter.")
    references = {r.interval: r for r in rows if r.daemon == REFERENCE}
    ratio_lines = []
    for r in rows:
        ref = references.get(r.interval)
        if ref is None or r.daemon == REFERENCE:
            continue

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}" if b else "–"

        ratio_lines.append(
            f"| {r.daemon} / keepalived | {r.interval * 1000:g} ms | {ratio(r.master_cpu, ref.master_cpu)} | "
            f"{ratio(r.backup_cpu, ref.backup_cpu)} | {ratio(r.backup_switches_per_s, ref.backup_switches_per_s)} | "
            f"{ratio(r.master_pss_kib, ref.master_pss_kib)} | {ratio(r.backup_pss_kib, ref.backup_pss_kib)} |")
    if ratio_lines:
        out.append("")
        out.append("| ratio | interval | master CPU | backup CPU | backup ctx switches | master PSS | backup PSS |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        out += ratio_lines
    out.append("")
    for r in rows:
        if r.backup_loop_wakeups_per_s is None or not r.daemon.startswith("vipd"):
            continue
        verdict = "within" if r.backup_loop_wakeups_per_s <= r.wakeup_bound_per_s else "ABOVE"
        out.append(f"{r.daemon} {r.interval * 1000:g} ms: backup {r.backup_loop_wakeups_per_s:.0f} wake-ups/s, "
                   f"{verdict} the bound {r.instances} / MDI {master_down_s(r.interval) * 1000:.2f} ms = "
                   f"{r.wakeup_bound_per_s:.0f}/s")
    for interval, (m_lo, m_hi, b_lo, b_hi) in REFERENCE_CPU.items():
        out.append(f"reference keepalived {interval * 1000:g} ms (vrrp.md): master {m_lo:g}-{m_hi:g} %, "
                   f"backup {b_lo:g}-{b_hi:g} % of a core; RSS / PSS {REFERENCE_MEMORY_MIB[0]} / "
                   f"{REFERENCE_MEMORY_MIB[1]} MiB")
    return "\n".join(out)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemon", default="vipd,vipd-nobpf,keepalived",
                        help=f"comma list of {', '.join(FLAVORS)}")
    parser.add_argument("--intervals", default="0.01,0.1", help="advert intervals in seconds")
    parser.add_argument("--instances", type=int, default=200, help="VRRP instances, VRIDs 1..N (at most 255)")
    parser.add_argument("--vips", type=int, default=0,
                        help="VIPs in total, split over the instances (0: one per instance; up to 1600)")
    parser.add_argument("--window", type=float, default=25.0, help="measured seconds per row")
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds between convergence and the window (keepalived's second "
                             "gratuitous ARP burst comes 5 s after it becomes master)")
    parser.add_argument("--check-every", type=float, default=2.0,
                        help="seconds between VIP placement checks in the window")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (the median is shown)")
    parser.add_argument("--syscalls", type=float, default=0.0, metavar="SECONDS",
                        help="after each window, strace -c -f master and backup for this long")
    parser.add_argument("--json", help="append the raw rows to this file (JSON lines)")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.daemons = [d.strip() for d in args.daemon.split(",") if d.strip()]
    unknown = [d for d in args.daemons if d not in FLAVORS]
    if unknown:
        parser.error(f"unknown daemon(s) {unknown}; known: {', '.join(FLAVORS)}")
    args.interval_list = [float(x) for x in args.intervals.split(",") if x.strip()]
    if not 1 <= args.instances <= 255:
        parser.error(f"--instances {args.instances}: 1-255 (one VRID each)")
    if args.vips and args.vips < args.instances:
        parser.error(f"--vips {args.vips}: at least one per instance ({args.instances})")
    try:
        vip_list(args.vips or args.instances)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not_root("bench-scale.sh"):
        return 1
    rows = []
    for interval in args.interval_list:
        runs: dict[str, list[Row]] = {d: [] for d in args.daemons}
        for _ in range(args.repeat):
            for name in args.daemons:  # daemons take turns, so load changes hit all of them
                row = measure(FLAVORS[name], interval, args)
                print(f"  {name} {interval * 1000:g} ms: master {row.master_cpu:.2f} % backup "
                      f"{row.backup_cpu:.2f} %, backup wake-ups {row.backup_wakeups_per_s:.0f}/s, "
                      f"ctx switches {row.backup_switches_per_s:.0f}/s, failover: "
                      f"{row.failover or 'none'}", file=sys.stderr, flush=True)
                runs[name].append(row)
                if args.json:
                    append_json_line(args.json, row)
        rows += [median_row(runs[name]) for name in args.daemons]
    print(report(rows, args))
    return 1 if any(r.failover for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
