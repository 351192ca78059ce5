#!/usr/bin/python3
"""CPU-starvation benchmark: do 10 ms adverts survive CPU hogs on every core?

Lab: 2 nodes, --instances VRRPv3 instances at --interval (default 10 x 10 ms; one VIP each),
n1 priority 150 (master), n2 priority 100 (backup), preempt. After both settle, stress-ng runs one
CPU hog per core (`stress-ng --cpu <cores>`, in the lab's client namespace, so the lab's teardown
ends it) for --window seconds; the daemons run at nice 0 or at --nice (both nodes). Counted over
the window (a niced daemon's autogroup is niced too: see renice_autogroup): VIPs gained by the backup and lost by the master (an agent per node samples its VIPs
every 5 ms, itself at nice -10 so the hogs do not blind it), vipd's state transitions, the
backup's "Entering MASTER STATE" lines, and the daemons' CPU. Rows: vipd and keepalived
configured the same, each unniced and niced; vipd also with the options in --vipd-variants
(e.g. `--realtime-priority 10 --lock-memory`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
import procstats  # noqa: E402
import vipdlab  # noqa: E402

MASTER_PRIORITY = 150
BACKUP_PRIORITY = 100


def renice_autogroup(pid: int, nice: int) -> None:
    """With sched_autogroup on (Debian's default), nice only ranks tasks within one session's
    autogroup, and every lab process is its own session: the group's own nice value is what
    competes with the hogs. Setting both is what a niced daemon in its own service gets."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        pass  # no autogroup support: the task's nice value alone applies


class Niced:
    """A daemon started under `nice -n N` (the whole process tree inherits it), its autogroup
    niced too."""

    def __init__(self, daemon: daemons.Daemon, nice: int):
        self.daemon = daemon
        self.nice = nice

    def start(self, lab, node, settings):
        original = self.daemon.command

        def command(lab_, node_, settings_, run_dir):
            argv = original(lab_, node_, settings_, run_dir)
            return ["nice", "-n", str(self.nice), *argv] if self.nice else argv

        self.daemon.command = command  # type: ignore[method-assign]
        try:
            started = self.daemon.start(lab, node, settings)
        finally:
            del self.daemon.command
        if self.nice:
            renice_autogroup(started.proc.pid, self.nice)
        return started


@dataclasses.dataclass
class Row:
    daemon: str
    variant: str
    nice: int
    stress: bool
    window_s: float
    backup_gains: int
    master_losses: int
    vipd_transitions: Optional[int]
    backup_master_lines: int
    master_cpu: float
    backup_cpu: float
    sampler_max_gap_ms: float
    stress_ng: str
    scheduling: str = ""  # the master daemon's policy, real-time priority and nice during the window

    @property
    def flaps(self) -> int:
        return self.backup_gains + self.master_losses + (self.vipd_transitions or 0)


def measure(daemon_name: str, extra: tuple[str, ...], nice: int, stress: bool, args) -> Row:
    vips = bench_scale.vip_list(args.instances)
    is_vipd = daemon_name == "vipd"
    daemon = daemons.Vipd() if is_vipd else bench_scale.ScaleKeepalived(args.instances)
    problem = daemon.available()
    if problem:
        raise SystemExit(f"bench-starve: {problem}")
    base = ("--vip-groups", "0", "--vrrp-id-offset", "0", "--monitor-port", "0") if is_vipd else ()

    def settings(priority: int) -> daemons.VrrpSettings:
        return daemons.VrrpSettings(vip=bench_scale.vip_ranges(args.instances), priority=priority,
                                    vrid=1, version=3, advert_interval=args.interval,
                                    config_name="starve", preemption="preempt",
                                    extra_args=base + extra if is_vipd else ())

    starter = Niced(daemon, nice)
    with vipdlab.Lab(nodes=2, subnet=bench_scale.lab_subnet(len(vips)), keep_logs=args.keep_logs) as lab:
        master = starter.start(lab, "n1", settings(MASTER_PRIORITY))
        vipdlab.wait_for(lambda: set(vips) <= set(lab.node("n1").addresses()), timeout=30,
                         interval=0.1, desc="n1 holds every VIP")
        backup = starter.start(lab, "n2", settings(BACKUP_PRIORITY))
        vipdlab.wait_for(lambda: bench_scale.all_vips_on_master(lab, vips) is None, timeout=30,
                         interval=0.1, desc="n1 master, n2 backup")
        time.sleep(args.settle)
        watchers = {role: lab.watch_owner(node, vips) for role, node in (("master", "n1"), ("backup", "n2"))}
        for watcher in watchers.values():
            os.setpriority(os.PRIO_PROCESS, watcher.proc.pid, -10)
            renice_autogroup(watcher.proc.pid, -10)  # its own session competes with the hogs
        pids = {"master": procstats.process_tree(master.proc.pid),
                "backup": procstats.process_tree(backup.proc.pid)}

        def status_sum(node: str) -> Optional[int]:
            if not is_vipd:
                return None
            for attempt in range(3):  # the status client itself can be slow to run on a loaded machine
                out = lab.node(node).run([str(daemon.binary), "status", "--json"], check=False, timeout=20)
                if out.returncode == 0:
                    return bench_scale.instance_sum(json.loads(out.stdout), "transitions")
                print(f"bench-starve: vipd status on {node} failed (attempt {attempt + 1}): "
                      f"{out.stderr.strip()}", file=sys.stderr, flush=True)
                time.sleep(0.5)
            return None

        policy, rt_priority, niceness = procstats.scheduling(master.proc.pid)
        scheduling = f"{policy} {rt_priority} nice {niceness}"
        transitions0 = [status_sum("n1"), status_sum("n2")]
        log0 = len(backup.log())
        ticks0 = {r: sum(procstats.tree_cpu_ticks(p)) for r, p in pids.items()}
        t0 = vipdlab.now_ns()
        hog = None
        if stress:
            hog = lab.client.popen(["stress-ng", "--cpu", str(os.cpu_count()), "--timeout",
                                    f"{args.window:g}s", "--metrics-brief"], name="cl-stress-ng")
        time.sleep(args.window)
        if hog is not None:
            try:
                hog.wait(10)
            except TimeoutError:
                hog.kill()
        t1 = vipdlab.now_ns()
        ticks1 = {r: sum(procstats.tree_cpu_ticks(p)) for r, p in pids.items()}
        time.sleep(0.5)
        transitions1 = [status_sum("n1"), status_sum("n2")]
        gaps = [w.stop() for w in watchers.values()]
        lines = len(re.findall(r"Entering MASTER STATE", backup.log()[log0:]))
        stress_out = hog.log_text()[-600:] if hog is not None else ""
    seconds = (t1 - t0) / 1e9

    def cpu(role: str) -> float:
        return (ticks1[role] - ticks0[role]) / procstats.CLK_TCK / seconds * 100

    transitions = None
    if is_vipd and None not in transitions0 + transitions1:
        transitions = sum(transitions1) - sum(transitions0)
    return Row(daemon=daemon_name, variant=" ".join(extra) or "default", nice=nice, stress=stress,
               window_s=seconds,
               backup_gains=watchers["backup"].gains(t0, t1 + int(0.5e9)),
               master_losses=watchers["master"].losses(t0, t1 + int(0.5e9)),
               vipd_transitions=transitions, backup_master_lines=lines,
               master_cpu=cpu("master"), backup_cpu=cpu("backup"),
               sampler_max_gap_ms=max((g[1] / 1e6 for g in gaps if g), default=0.0),
               stress_ng=stress_out, scheduling=scheduling)


def report(rows: list[Row], args) -> str:
    out = [f"Machine: {platform.node()}, {os.cpu_count()} CPUs, kernel {platform.release()}; load "
           f"average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
           f"{args.instances} instances, VRRPv3 {args.interval * 1000:g} ms, {args.window:g} s windows; "
           f"stress-ng --cpu {os.cpu_count()}", "",
           "| daemon | options | nice | scheduling seen | CPU hogs | backup VIPs gained | master VIPs lost | "
           "vipd transitions | backup 'Entering MASTER' | CPU % master / backup | sampler max gap ms |",
           "|---|---|---:|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        out.append(f"| {r.daemon} | {r.variant} | {r.nice} | {r.scheduling} | {'yes' if r.stress else 'no'} | "
                   f"{r.backup_gains} | "
                   f"{r.master_losses} | {'–' if r.vipd_transitions is None else r.vipd_transitions} | "
                   f"{r.backup_master_lines} | {r.master_cpu:.2f} / {r.backup_cpu:.2f} | "
                   f"{r.sampler_max_gap_ms:.1f} |")
    return "\n".join(out)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemon", default="vipd,keepalived")
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--nice", default="0,19", help="comma list of nice values for the daemons")
    parser.add_argument("--no-stress-baseline", action="store_true",
                        help="skip the unstressed control row per daemon")
    parser.add_argument("--vipd-variants", default="",
                        help="';'-separated extra vipd option sets, "
                             "e.g. '--realtime-priority 10 --lock-memory'")
    parser.add_argument("--json", help="append raw rows (JSON lines)")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.daemons = [d for d in args.daemon.split(",") if d]
    args.nices = [int(n) for n in args.nice.split(",") if n.strip()]
    args.variants = [()] + [tuple(v.split()) for v in args.vipd_variants.split(";") if v.strip()]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if benchstats.not_root("bench-starve.sh"):
        return 1
    rows = []
    plan = []
    for daemon in args.daemons:
        if not args.no_stress_baseline:
            plan.append((daemon, (), 0, False))
        for nice in args.nices:
            for variant in (args.variants if daemon == "vipd" else [()]):
                plan.append((daemon, variant, nice, True))
    for daemon, variant, nice, stress in plan:
        row = measure(daemon, variant, nice, stress, args)
        print(f"  {daemon} {' '.join(variant) or 'default'} nice {nice} stress {stress}: flaps "
              f"{row.flaps} (gained {row.backup_gains}, lost {row.master_losses}), CPU "
              f"{row.master_cpu:.2f} / {row.backup_cpu:.2f} %", file=sys.stderr, flush=True)
        rows.append(row)
        if args.json:
            benchstats.append_json_line(args.json, row)
    print(report(rows, args))
    return 1 if any(r.flaps for r in rows if r.daemon == "vipd" and r.stress and r.nice == 0) else 0


if __name__ == "__main__":
    sys.exit(main())
