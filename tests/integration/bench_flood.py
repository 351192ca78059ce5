#!/usr/bin/python3
"""Flood benchmark: hostile VRRP, ARP and spoofed traffic against a steady master/backup pair,
vipd and keepalived configured the same, in turns, in one run.

Lab: 2 nodes, n1 priority 150 (master), n2 priority 100 (backup), --instances VRRP instances
(default 50: VRIDs 1..50, one VIP each, 198.18.0.100...), VRRPv3 0.1 s adverts, preempt; the
bad-auth classes run VRRPv2 1 s with a PASS password instead. keepalived gets the generated
equivalent configuration (bench_scale.ScaleKeepalived). The flood comes from the lab's client
namespace (trafgen, floodgen.py) and crosses the lab switch like the adverts.

Per row (daemon x class) a fresh lab: both daemons start, n1 must hold every VIP and n2 none,
--settle seconds pass, then a quiet --baseline window and a --window of flood. Measured per node:
  takeovers    VIPs added on the backup / lost on the master (an agent in each node samples the VIPs
               it holds every 5 ms: `vipdlab.py _sample-owner`), time some VIP was on both nodes,
               and "Entering MASTER STATE" lines of the backup;
  CPU          utime + stime of the daemon's processes (/proc/<pid>/stat), % of one core;
  log          lines written per minute, and the most frequent lines (numbers masked);
  counters     vipd's per-reason reject counters (`vipd status --json`: the kernel's
               vipd_vrid_stat.rx_invalid[] on the XDP path) against what the generator sent;
  adverts      the master's eth0 tx packets per second (its adverts), quiet vs flooded;
  rates        the generator's sent packets (client eth0 tx_packets) and each node's eth0
               rx_packets, per second.
Exit status 1 when vipd missed a target on a class it must withstand (every class but `spoof`:
valid adverts from an unknown source in multicast mode, which VRRP cannot refuse; with unicast
peers or --allowed-sources vipd's kernel filter drops them, `spoof-unicast` and `spoof-allowed`).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale  # noqa: E402
import benchstats  # noqa: E402
import daemons  # noqa: E402
import floodgen  # noqa: E402
import procstats  # noqa: E402
import vipdlab  # noqa: E402

MASTER_PRIORITY = 150
BACKUP_PRIORITY = 100
PASSWORD = "floodpw"
CPU_TARGET = 5.0          # % of one core per node
LOG_LINES_PER_MIN = 15    # vipd: all its lines together, per started minute of flood
ADVERT_RATE_TOLERANCE = 0.03   # fewer adverts while flooded than in the quiet window
ADVERT_RATE_SURPLUS = 0.15     # more (see vipd_misses)
COUNT_TOLERANCE = 0.005   # counted vs sent, after the kernel's own drop counters


Flavor = bench_scale.Flavor
FLAVORS = bench_scale.FLAVORS


# ----------------------------------------------------------------------------------------------
# Daemons


def vipd_args(flavor: Flavor, version: int) -> tuple[str, ...]:
    """One instance per VIP (as bench_scale), the lab's password for VRRPv2."""
    return bench_scale.vipd_extra_args(flavor.bpf) + (("--auth-pass", PASSWORD) if version == 2 else ())


def settings_for(flavor: Flavor, flood: floodgen.FloodClass, lab: vipdlab.Lab, instances: int,
                 priority: int) -> daemons.VrrpSettings:
    version = flood.version
    peers = tuple(n.ipv4 for n in lab.nodes) if flood.unicast_config else ()
    extra = vipd_args(flavor, version) if flavor.is_vipd else ()
    if flavor.is_vipd and flood.allowed_sources:
        extra += ("--allowed-sources", ",".join(n.ipv4 for n in lab.nodes))
    return daemons.VrrpSettings(vip=bench_scale.vip_ranges(instances), priority=priority, vrid=1,
                                version=version, advert_interval=0.1 if version == 3 else 1.0,
                                config_name="flood", preemption="preempt", unicast_peers=peers,
                                extra_args=extra)


class Side:
    """One daemon (master or backup) and its node."""

    def __init__(self, role: str, proc: daemons.DaemonProcess, vipd: Optional[daemons.Vipd]):
        self.role = role
        self.proc = proc
        self.node = proc.node
        self.vipd = vipd
        self.pids = procstats.process_tree(proc.proc.pid)

    def status(self) -> Optional[dict]:
        if self.vipd is None:
            return None
        out = self.node.run([str(self.vipd.binary), "status", "--json"], timeout=10, check=False)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def conflicts(self) -> Optional[int]:
        """The XDP program's ARP/NA conflict counters (vipd_vips.conflicts), summed over VIPs:
        read from vipd's pinned map in its own mount namespace."""
        if self.vipd is None or not self.proc.alive():
            return None
        out = vipdlab.run_cmd(["nsenter", "-t", str(self.proc.proc.pid), "-m", "-n", "bpftool", "-j",
                               "map", "dump", "pinned", "/sys/fs/bpf/vipd/eth0/vipd_vips"], check=False)
        if out.returncode != 0:
            return None
        return sum(int(e["formatted"]["value"]["conflicts"]) for e in json.loads(out.stdout))

    def snapshot(self) -> dict:
        status = self.status()
        user, system = procstats.tree_cpu_ticks(self.pids)
        return {"t_ns": vipdlab.now_ns(), "user": user, "system": system, "status": status,
                "conflicts": self.conflicts(),
                "log_len": len(self.proc.log()), "link": floodgen.link_counters(self.node)}


def delta_rejects(before: Optional[dict], after: Optional[dict]) -> dict[str, int]:
    if not before or not after:
        return {}
    old, new = before.get("adverts_rejected", {}), after.get("adverts_rejected", {})
    return {k: v - old.get(k, 0) for k, v in new.items() if v - old.get(k, 0)}


NUMBERS = re.compile(r"\d+(\.\d+)*")


def log_summary(text: str, top: int = 4) -> tuple[int, list[tuple[str, int]]]:
    """Line count and the most frequent lines with numbers and addresses masked (timestamps too)."""
    lines = [l for l in text.splitlines() if l.strip()]
    shapes = collections.Counter(NUMBERS.sub("#", l)[:140] for l in lines)
    return len(lines), shapes.most_common(top)


# ----------------------------------------------------------------------------------------------
# One row


@dataclasses.dataclass
class NodeWindow:
    cpu: float
    cpu_user: float
    cpu_system: float
    log_lines: int
    log_top: list
    rx_pps: float
    tx_pps: float
    rx_dropped: int
    rejects: dict
    conflicts: Optional[int]


@dataclasses.dataclass
class Row:
    daemon: str
    flood: str
    rate_target: int
    window_s: float
    sent: int
    sent_pps: float
    generator_tx_dropped: int
    expected_on: list           # nodes that must count every packet
    baseline: dict              # role -> NodeWindow (asdict)
    flooded: dict
    backup_gains: int
    master_losses: int
    dual_owner_ms: float
    backup_master_lines: int
    vipd_transitions: int
    master_adverts_sent_per_s: Optional[list]  # vipd: [quiet, flooded]
    recovered_s: Optional[float]
    sampler: dict
    misses: list

    def node(self, phase: str, role: str) -> dict:
        return getattr(self, phase)[role]


def node_window(side: Side, before: dict, after: dict, active_s: Optional[float] = None) -> NodeWindow:
    """One node over one window; packet rates per `active_s` (the generator's running time) when
    given, since the window also spans the generator's start and stop."""
    seconds = (after["t_ns"] - before["t_ns"]) / 1e9
    tick = procstats.CLK_TCK * seconds / 100

    def rate(key: str, span: float) -> float:
        return (after["link"][key] - before["link"][key]) / span

    lines, top = log_summary(side.proc.log()[before["log_len"]:after["log_len"]])
    return NodeWindow(
        cpu=(after["user"] + after["system"] - before["user"] - before["system"]) / tick,
        cpu_user=(after["user"] - before["user"]) / tick,
        cpu_system=(after["system"] - before["system"]) / tick,
        log_lines=lines, log_top=top, rx_pps=rate("rx_packets", active_s or seconds),
        tx_pps=rate("tx_packets", seconds),
        rx_dropped=after["link"]["rx_dropped"] - before["link"]["rx_dropped"],
        rejects=delta_rejects(before["status"], after["status"]),
        conflicts=(after["conflicts"] - before["conflicts"]
                   if after["conflicts"] is not None and before["conflicts"] is not None else None))


def all_on_master(lab: vipdlab.Lab, vips: list[str]) -> Optional[str]:
    return bench_scale.all_vips_on_master(lab, vips)


def measure(flavor: Flavor, flood: floodgen.FloodClass, args) -> Row:
    vips = bench_scale.vip_list(args.instances)
    vipd = daemons.Vipd() if flavor.is_vipd else None
    daemon = vipd if vipd else bench_scale.ScaleKeepalived(args.instances, password=PASSWORD)
    problem = daemon.available() or floodgen.available()
    if problem:
        raise SystemExit(f"bench-flood: {flavor.name}: {problem}")
    with vipdlab.Lab(nodes=2, subnet=bench_scale.lab_subnet(len(vips)), keep_logs=args.keep_logs) as lab:
        master = daemon.start(lab, "n1", settings_for(flavor, flood, lab, args.instances, MASTER_PRIORITY))
        vipdlab.wait_for(lambda: set(vips) <= set(lab.node("n1").addresses()), timeout=30,
                         interval=0.2, desc=f"{flavor.name}: n1 holds all {len(vips)} VIPs")
        backup = daemon.start(lab, "n2", settings_for(flavor, flood, lab, args.instances, BACKUP_PRIORITY))
        vipdlab.wait_for(lambda: all_on_master(lab, vips) is None, timeout=30, interval=0.2,
                         desc=f"{flavor.name}: n1 holds all VIPs, n2 none")
        time.sleep(args.settle)
        if (problem := all_on_master(lab, vips)) is not None:
            raise vipdlab.LabError(f"{flavor.name}: not steady after settling: {problem}")
        sides = {"master": Side("master", master, vipd), "backup": Side("backup", backup, vipd)}
        watchers = {role: lab.watch_owner(side.node, vips) for role, side in sides.items()}
        target = floodgen.lab_target(lab, vips, list(range(1, args.instances + 1)),
                                     PASSWORD.encode())
        generator = floodgen.Trafgen(lab, floodgen.trafgen_config(flood, target), args.rate,
                                     cpus=args.cpus)
        quiet0 = {r: s.snapshot() for r, s in sides.items()}
        time.sleep(args.baseline)
        quiet1 = {r: s.snapshot() for r, s in sides.items()}
        flood_start = vipdlab.now_ns()
        generator.start()
        time.sleep(args.window)
        sent = generator.stop()
        flood_end = vipdlab.now_ns()
        flooded = {r: s.snapshot() for r, s in sides.items()}
        # After the flood: how long until n1 holds every VIP and n2 none again (spoof classes).
        recovered = None
        try:
            vipdlab.wait_for(lambda: all_on_master(lab, vips) is None, timeout=args.recover,
                             interval=0.05, desc="recovery")
            recovered = (vipdlab.now_ns() - flood_end) / 1e9
        except TimeoutError:
            pass
        time.sleep(0.2)
        sampler = {}
        for role, watcher in watchers.items():
            stats = watcher.stop()
            sampler[role] = {"samples": stats[0], "max_gap_ms": stats[1] / 1e6} if stats else {}
        alive = {role: side.proc.alive() for role, side in sides.items()}

    base = {r: dataclasses.asdict(node_window(sides[r], quiet0[r], quiet1[r])) for r in sides}
    hit = {r: dataclasses.asdict(node_window(sides[r], quiet1[r], flooded[r], sent.seconds)) for r in sides}
    until = flood_end + int(0.5e9)  # a takeover a Master_Down_Interval after the last packet counts
    gains = watchers["backup"].gains(flood_start, until)
    losses = watchers["master"].losses(flood_start, until)
    dual = vipdlab.overlap_ns(watchers["master"], watchers["backup"], flood_start, until) / 1e6
    backup_log = backup.log()[quiet1["backup"]["log_len"]:flooded["backup"]["log_len"]]
    master_lines = len(re.findall(r"Entering MASTER STATE", backup_log))
    transitions = 0
    adverts = None
    if vipd:
        for role in sides:
            b, a = quiet1[role]["status"], flooded[role]["status"]
            if a and b:
                transitions += (bench_scale.instance_sum(a, "transitions")
                                - bench_scale.instance_sum(b, "transitions"))

        def sent_rate(b: dict, a: dict) -> Optional[float]:
            if not (a["status"] and b["status"]):
                return None
            return (a["status"]["adverts_sent"] - b["status"]["adverts_sent"]) / ((a["t_ns"] - b["t_ns"]) / 1e9)
        adverts = [sent_rate(quiet0["master"], quiet1["master"]),
                   sent_rate(quiet1["master"], flooded["master"])]
    expected_on = ["backup"] if flood.destination == "backup" else (
        ["master"] if flood.destination in ("master", "broadcast") else ["master", "backup"])
    row = Row(daemon=flavor.name, flood=flood.name, rate_target=args.rate,
              window_s=sent.seconds, sent=sent.sent, sent_pps=sent.pps,
              generator_tx_dropped=sent.tx_dropped, expected_on=expected_on, baseline=base,
              flooded=hit, backup_gains=gains, master_losses=losses, dual_owner_ms=dual,
              backup_master_lines=master_lines, vipd_transitions=transitions,
              master_adverts_sent_per_s=adverts, recovered_s=recovered, sampler=sampler, misses=[])
    for role, ok in alive.items():
        if not ok:
            row.misses.append(f"{role} exited")
    if flavor.is_vipd and flood.harmless:
        row.misses += vipd_misses(row, flood)
    return row


def vipd_misses(row: Row, flood: floodgen.FloodClass) -> list[str]:
    """vipd's targets on a class it must withstand."""
    misses = []
    if row.backup_gains or row.master_losses or row.vipd_transitions:
        misses.append(f"takeovers: backup gained {row.backup_gains} VIPs, master lost "
                      f"{row.master_losses}, {row.vipd_transitions} transitions")
    allowed_lines = LOG_LINES_PER_MIN * math.ceil(row.window_s / 60)
    for role in ("master", "backup"):
        node = row.flooded[role]
        if node["cpu"] >= CPU_TARGET:
            misses.append(f"{role} CPU {node['cpu']:.2f} % >= {CPU_TARGET} %")
        if node["log_lines"] > allowed_lines:
            misses.append(f"{role} logged {node['log_lines']} lines in {row.window_s:.0f} s")
    for role in row.expected_on:
        counted = counted_for(row, flood, role)
        if counted is None:
            continue
        expected = row.sent - row.generator_tx_dropped - row.flooded[role]["rx_dropped"]
        if counted > row.sent or counted < expected * (1 - COUNT_TOLERANCE):
            misses.append(f"{role} counted {counted} of {row.sent} sent ({flood.reason or 'all reasons'})")
    quiet, loud = row.master_adverts_sent_per_s or (None, None)
    # Fewer adverts under the flood is the harm (backups would time out). More is harm only when
    # it is more than the scheduler's noise: on a loaded machine the quiet window itself can run
    # a few % slow (462/s of a nominal 500/s was seen at load average 23), and the flood window
    # then looks faster although nothing changed.
    if quiet and loud is not None and (loud < quiet * (1 - ADVERT_RATE_TOLERANCE)
                                       or loud > quiet * (1 + ADVERT_RATE_SURPLUS)):
        misses.append(f"master sent {loud:.0f} adverts/s flooded vs {quiet:.0f}/s quiet")
    return misses


def counted_for(row: Row, flood: floodgen.FloodClass, role: str) -> Optional[int]:
    """vipd's reject count for the class's packets on one node; None: not a VRRP class."""
    if flood.name == "arp":
        return row.flooded[role]["conflicts"] if role == "master" else None
    if not flood.harmless:
        return None
    rejects = row.flooded[role]["rejects"]
    if flood.reason is None:
        return sum(rejects.values())
    return rejects.get(flood.reason, 0)


# ----------------------------------------------------------------------------------------------
# Report


def fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def report(rows: list[Row], args) -> str:
    out = [f"Machine: {platform.node()}, {os.cpu_count()} CPUs, kernel {platform.release()}; load "
           f"average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
           f"{args.instances} instances, VRRPv3 0.1 s (bad-auth: VRRPv2 1 s, PASS), master n1 prio "
           f"{MASTER_PRIORITY}, backup n2 prio {BACKUP_PRIORITY}; {args.baseline:g} s quiet, then "
           f"{args.window:g} s flood at {'max' if args.rate == 0 else f'{args.rate} pps'} "
           f"(trafgen, {args.cpus} process(es))", ""]
    out.append("| class | daemon | sent pps | backup rx pps | backup VIPs gained | master VIPs lost | "
               "both held (ms) | CPU % master / backup (quiet → flood) | log lines/min master / backup | "
               "counted / sent (reason) | master tx pps quiet → flood | recovered s |")
    out.append("|---|---|---:|---:|---:|---:|---:|---|---|---|---|---:|")
    for r in rows:
        m, b = r.flooded["master"], r.flooded["backup"]
        qm, qb = r.baseline["master"], r.baseline["backup"]
        minutes = r.window_s / 60
        flood = floodgen.CLASSES[r.flood]
        counted = []
        for role in r.expected_on:
            c = counted_for(r, flood, role)
            if c is not None:
                counted.append(f"{role[0]}: {c}/{r.sent}")
        counted_cell = (", ".join(counted) + f" ({flood.reason or 'all'})") if counted and r.daemon.startswith("vipd") else "–"
        out.append(
            f"| {r.flood} | {r.daemon} | {r.sent_pps:.0f} | {b['rx_pps']:.0f} | {r.backup_gains} | "
            f"{r.master_losses} | {r.dual_owner_ms:.0f} | {qm['cpu']:.2f} → {m['cpu']:.2f} / "
            f"{qb['cpu']:.2f} → {b['cpu']:.2f} | {m['log_lines'] / minutes:.0f} / "
            f"{b['log_lines'] / minutes:.0f} | {counted_cell} | {qm['tx_pps']:.0f} → {m['tx_pps']:.0f} | "
            f"{fmt(r.recovered_s, 2)} |")
    out.append("")
    for r in rows:
        if r.misses:
            out.append(f"MISSED {r.daemon} {r.flood}: {'; '.join(r.misses)}")
    for r in rows:
        for role in ("master", "backup"):
            top = r.flooded[role]["log_top"]
            if top:
                lines = "; ".join(f"{n}x {shape}" for shape, n in top[:2])
                out.append(f"log {r.daemon} {r.flood} {role}: {lines}")
    gaps = [s.get("max_gap_ms", 0) for r in rows for s in r.sampler.values() if s]
    if gaps:
        out.append(f"VIP ownership sampled every 5 ms; largest gap between samples {max(gaps):.1f} ms")
    return "\n".join(out)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemon", default="vipd,keepalived", help=f"comma list of {', '.join(FLAVORS)}")
    parser.add_argument("--classes", default=",".join(floodgen.CLASSES),
                        help=f"comma list of {', '.join(floodgen.CLASSES)}")
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--rate", type=int, default=0, help="pps (0: as fast as trafgen goes)")
    parser.add_argument("--cpus", type=int, default=1, help="trafgen processes")
    parser.add_argument("--window", type=float, default=20.0, help="seconds of flood per row")
    parser.add_argument("--baseline", type=float, default=10.0, help="quiet seconds before it")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--recover", type=float, default=10.0,
                        help="seconds to wait for n1 to hold every VIP again after the flood")
    parser.add_argument("--json", help="append the raw rows to this file (JSON lines)")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.daemons = [d.strip() for d in args.daemon.split(",") if d.strip()]
    args.class_list = [c.strip() for c in args.classes.split(",") if c.strip()]
    unknown = [d for d in args.daemons if d not in FLAVORS] + [c for c in args.class_list
                                                                  if c not in floodgen.CLASSES]
    if unknown:
        parser.error(f"unknown daemon(s) or class(es): {unknown}")
    return args


def run(args) -> list[Row]:
    rows = []
    for name in args.class_list:
        for daemon in args.daemons:  # in turns, so load changes hit both
            row = measure(FLAVORS[daemon], floodgen.CLASSES[name], args)
            print(f"  {name} {daemon}: {row.sent_pps:.0f} pps, backup gained {row.backup_gains}, "
                  f"master lost {row.master_losses}, CPU {row.flooded['master']['cpu']:.2f} / "
                  f"{row.flooded['backup']['cpu']:.2f} %, misses {row.misses or 'none'}",
                  file=sys.stderr, flush=True)
            rows.append(row)
            if args.json:
                benchstats.append_json_line(args.json, row)
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    if benchstats.not_root("bench-flood.sh"):
        return 1
    rows = run(args)
    print(report(rows, args))
    return 1 if any(r.misses for r in rows if r.daemon.startswith("vipd")) else 0


if __name__ == "__main__":
    sys.exit(main())
