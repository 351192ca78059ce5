#!/usr/bin/python3
"""Chaos soak: three vipd nodes and a client for N minutes while faults are injected at random.

Lab: 3 nodes, n1 priority 150, n2 120, n3 100 (preempt), --instances VRRPv3 0.1 s instances (one
VIP each, VRIDs 1..N), each node running the lab's HTTP service on port 80 and vipd's port-80
check (1 s interval, fast fail on). The client requests http://<first VIP>/ every 10 ms on a new
connection. Faults, one at a time, in shuffled rounds (every kind once per round), each held for a
random --hold and followed by a random --quiet pause:
  kill       SIGKILL of the current master's vipd (process group), restarted after the hold
  link       the switch takes the master's port down (no carrier), then up
  multicast  the switch drops VRRP multicast (224.0.0.18) between all ports, then passes it again
  stress     stress-ng --cpu <cores> in the client namespace for the hold
  reload     SIGHUP to every vipd
  app        the master's HTTP service killed (its port check fails), restarted after the hold
An agent in each node samples the VIPs it holds (`vipdlab.py _sample-owner`: a netlink dump every
5 ms plus every address event on arrival, nice -10);
every --sample-every s the harness reads each vipd's RSS and open fds. Reported (soakstats.py):
  dual owner      time a VIP was held by two connected nodes beyond one Master_Down_Interval
                  (+ two sampling periods): must be 0. Not connected: a killed daemon's node until
                  its restart, a node whose link is cut; not counted as a second owner either: a
                  restarted node for --restart-grace (it may still hold its predecessor's orphaned
                  addresses). While VRRP multicast is blocked (and one Master_Down_Interval after)
                  the nodes are still connected by unicast, and a dual owner is allowed the
                  split-brain healing's bound instead: --split-bound (vipd's conflict probe
                  interval, 3 s jittered to 3.75 s) + Master_Down_Interval; beyond it must be 0;
  zero owner      gaps in which no connected node held a VIP beyond the failover bound
                  (Master_Down_Interval + 100 ms + two sampling periods): must be 0;
  per fault kind  VIP moves (VIPs added on any node, per VIP) and the client's error seconds;
  growth          RSS and fds of every vipd process alive from the end of the first round to the
                  end: RSS within --rss-slack KiB, fds not at all.
Exit status 1 when a must-be-0 figure is not 0, a reload moved a VIP, a daemon died, or a process
grew.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale  # noqa: E402
import bench_starve  # noqa: E402
import benchstats  # noqa: E402
import daemons  # noqa: E402
import procstats  # noqa: E402
import soakstats  # noqa: E402
import vipdlab  # noqa: E402

PRIORITIES = {"n1": 150, "n2": 120, "n3": 100}
ADVERT_INTERVAL = 0.1
CHECK_INTERVAL = 1.0
FAULTS = ("kill", "link", "multicast", "stress", "reload", "app")
WATCH_INTERVAL = 0.005
POLL_INTERVAL = 0.01
FAILOVER_MARGIN_S = 0.100
# Faults during which no VIP may move: neither touches VRRP or the health of any node.
STEADY_FAULTS = ("reload",)


@dataclasses.dataclass
class Fault:
    kind: str
    node: Optional[str]
    start_ns: int
    healed_ns: int = 0
    end_ns: int = 0  # start of the next fault (or the end of the run)


class Soak:
    def __init__(self, lab: vipdlab.Lab, args, vipd: daemons.Vipd):
        self.lab = lab
        self.args = args
        self.vipd = vipd
        self.rng = random.Random(args.seed)
        self.vips = bench_scale.vip_list(args.instances)
        self.procs: dict[str, daemons.DaemonProcess] = {}
        self.httpd: dict[str, vipdlab.Proc] = {}
        self.excuses: list[soakstats.Excuse] = []
        self.multicast_blocks: list[tuple[int, int]] = []
        self.faults: list[Fault] = []
        self.readings: list[soakstats.ProcessReading] = []
        self.deaths: list[str] = []
        self._stop_sampling = threading.Event()
        self._lock = threading.Lock()

    # -- set-up

    def settings(self, node: str) -> daemons.VrrpSettings:
        extra = ("--vip-groups", "0", "--vrrp-id-offset", "0", "--monitor-port", "80",
                 "--check-interval", f"{CHECK_INTERVAL:g}", *self.args.vipd_args)
        return daemons.VrrpSettings(vip=bench_scale.vip_ranges(self.args.instances),
                                    priority=PRIORITIES[node], vrid=1, version=3,
                                    advert_interval=ADVERT_INTERVAL, config_name="soak",
                                    preemption="preempt", extra_args=extra)

    def start_daemon(self, node: str) -> None:
        with self._lock:
            self.procs[node] = self.vipd.start(self.lab, node, self.settings(node))

    def holders(self, vip: str) -> list[str]:
        return self.lab.vip_holders(vip)

    def settled(self) -> bool:
        return all(self.holders(v) == ["n1"] for v in self.vips)

    def setup(self) -> None:
        self.httpd = {n.name: self.lab.start_http(n) for n in self.lab.nodes}
        for node in PRIORITIES:
            self.start_daemon(node)
        vipdlab.wait_for(self.settled, timeout=30, interval=0.1, desc="n1 holds every VIP alone")
        self.watchers = {n: self.lab.watch_owner(n, self.vips, interval=WATCH_INTERVAL) for n in PRIORITIES}
        self.poller = self.lab.start_poller(self.vips[0], interval=POLL_INTERVAL, timeout=0.5,
                                            max_duration=self.args.minutes * 60 + 600)
        # The observers must not be starved by the stress fault: nice -10, for their autogroups
        # too (with sched_autogroup a process's nice value only ranks it inside its session).
        for proc in [w.proc for w in self.watchers.values()] + [self.poller.proc]:
            os.setpriority(os.PRIO_PROCESS, proc.pid, -10)
            bench_starve.renice_autogroup(proc.pid, -10)
        self.sampler = threading.Thread(target=self._sample_processes, daemon=True)
        self.sampler.start()

    def _sample_processes(self) -> None:
        while not self._stop_sampling.wait(self.args.sample_every):
            with self._lock:
                current = dict(self.procs)
            for node, proc in current.items():
                if not proc.alive():
                    continue
                try:
                    rss, _ = procstats.memory_kib(proc.proc.pid)
                    fds = procstats.fd_count(proc.proc.pid)
                except (OSError, AttributeError):
                    continue
                self.readings.append(soakstats.ProcessReading(vipdlab.now_ns(), node, proc.proc.pid,
                                                              rss, fds))

    # -- faults

    def master(self) -> str:
        holders = self.holders(self.vips[0])
        return holders[0] if len(holders) == 1 else "n1"

    def hold(self) -> float:
        return self.rng.uniform(*self.args.hold)

    def inject(self, kind: str) -> Fault:
        node = self.master() if kind in ("kill", "link", "app") else None
        fault = Fault(kind, node, vipdlab.now_ns())
        getattr(self, f"_fault_{kind}")(fault)
        fault.healed_ns = vipdlab.now_ns()
        return fault

    def _fault_kill(self, fault: Fault) -> None:
        proc = self.procs[fault.node]
        proc.crash()
        proc.wait(5)
        time.sleep(self.hold())
        self.start_daemon(fault.node)
        restarted = vipdlab.now_ns()
        self.excuses.append(soakstats.Excuse(fault.start_ns, restarted, fault.node, "killed"))
        self.excuses.append(soakstats.Excuse(restarted, restarted + int(self.args.restart_grace * 1e9),
                                             fault.node, "restarted", starting=True))

    def _fault_link(self, fault: Fault) -> None:
        self.lab.cut_link(fault.node, mode="carrier")
        time.sleep(self.hold())
        self.lab.restore_link(fault.node)
        self.excuses.append(soakstats.Excuse(fault.start_ns, vipdlab.now_ns(), fault.node, "link down"))

    def _fault_multicast(self, fault: Fault) -> None:
        self.lab.block_multicast()
        time.sleep(self.hold())
        self.lab.unblock_multicast()
        self.multicast_blocks.append((fault.start_ns, vipdlab.now_ns()))

    def _fault_stress(self, fault: Fault) -> None:
        seconds = self.hold()
        hog = self.lab.client.popen(["stress-ng", "--cpu", str(os.cpu_count()), "--timeout",
                                     f"{seconds:.1f}s", "--quiet"], name="cl-stress-ng")
        try:
            hog.wait(seconds + 10)
        except TimeoutError:
            hog.kill()

    def _fault_reload(self, fault: Fault) -> None:
        for proc in self.procs.values():
            proc.proc.signal(signal.SIGHUP)
        time.sleep(self.hold())

    def _fault_app(self, fault: Fault) -> None:
        self.httpd[fault.node].kill()
        self.httpd[fault.node].wait(5)
        time.sleep(self.hold())
        self.httpd[fault.node] = self.lab.start_http(fault.node)

    def check_alive(self) -> None:
        for node, proc in self.procs.items():
            if not proc.alive():
                self.deaths.append(f"{node}'s vipd exited ({proc.proc.popen.returncode}): "
                                   f"{proc.log()[-600:]}")
                self.start_daemon(node)

    # -- the run

    def run(self) -> dict:
        self.setup()
        t0 = vipdlab.now_ns()
        deadline = time.monotonic() + self.args.minutes * 60
        warm_ns = None
        bag: list[str] = []
        rounds = 0
        while time.monotonic() < deadline:
            if not bag:
                if rounds == 1:
                    warm_ns = vipdlab.now_ns()
                bag = [k for k in self.args.fault_list]
                self.rng.shuffle(bag)
                rounds += 1
            kind = bag.pop()
            if self.faults:
                self.faults[-1].end_ns = vipdlab.now_ns()
            fault = self.inject(kind)
            self.faults.append(fault)
            if self.args.progress:
                print(f"  {(fault.start_ns - t0) / 1e9:6.1f} s  {kind:9} {fault.node or ''}", file=sys.stderr,
                      flush=True)
            time.sleep(self.rng.uniform(*self.args.quiet))
            self.check_alive()
        time.sleep(self.args.settle)
        t1 = vipdlab.now_ns()
        if self.faults:
            self.faults[-1].end_ns = t1
        self._stop_sampling.set()
        self.sampler.join(timeout=self.args.sample_every + 5)
        self.poller.wait_settled(t1)
        gaps = {n: w.stop() for n, w in self.watchers.items()}
        self.poller.stop()
        self.check_alive()
        return self.analyse(t0, t1, warm_ns or t1, gaps, rounds)

    def analyse(self, t0: int, t1: int, warm_ns: int, gaps: dict, rounds: int) -> dict:
        holdings = {n: [(c.ts_ns, c.held) for c in w.changes()] for n, w in self.watchers.items()}
        resolution_ms = 2 * WATCH_INTERVAL * 1000
        mdi_ms = daemons.master_down_interval(ADVERT_INTERVAL, min(PRIORITIES.values())) * 1000
        dual_allowed = mdi_ms + resolution_ms
        zero_allowed = mdi_ms + FAILOVER_MARGIN_S * 1000 + resolution_ms
        all_dual, zero = soakstats.ownership_runs(holdings, self.excuses, self.vips, t0, t1)
        split_allowed = self.args.split_bound * 1000 + mdi_ms + resolution_ms
        split, dual = soakstats.split_by_windows(all_dual, self.multicast_blocks, int(mdi_ms * 1e6))
        samples = self.poller.samples(t0)
        per_kind: dict[str, dict] = {}
        for f in self.faults:
            row = per_kind.setdefault(f.kind, {"count": 0, "vip_moves": 0, "client_error_s": 0.0,
                                               "longest_zero_owner_ms": 0.0})
            row["count"] += 1
            row["vip_moves"] += soakstats.gains(holdings, f.start_ns, f.end_ns) / len(self.vips)
            row["client_error_s"] += soakstats.error_seconds(samples, POLL_INTERVAL, f.start_ns, f.end_ns)
            in_fault = [r.ms for r in zero if f.start_ns <= r.start_ns < f.end_ns]
            row["longest_zero_owner_ms"] = max([row["longest_zero_owner_ms"], *in_fault])
        growth = soakstats.growth(self.readings, warm_ns,
                                  process_warmup_ns=int(self.args.process_warmup * 1e9))
        result = {
            "seed": self.args.seed, "minutes": self.args.minutes, "seconds": (t1 - t0) / 1e9,
            "rounds": rounds, "instances": self.args.instances, "faults": len(self.faults),
            "mdi_ms": mdi_ms, "dual_allowed_ms": dual_allowed, "zero_allowed_ms": zero_allowed,
            "dual_owner_runs": len(dual), "dual_owner_beyond_ms": soakstats.excess_ms(dual, dual_allowed),
            "dual_owner_worst_ms": max((r.ms for r in dual), default=0.0),
            "split_allowed_ms": split_allowed, "split_runs": len(split),
            "split_beyond_ms": soakstats.excess_ms(split, split_allowed),
            "split_worst_ms": max((r.ms for r in split), default=0.0),
            "zero_owner_beyond": [dataclasses.asdict(r) for r in soakstats.beyond(zero, zero_allowed)],
            "zero_owner_worst_ms": max((r.ms for r in zero), default=0.0),
            "client_error_s": soakstats.error_seconds(samples, POLL_INTERVAL, t0, t1),
            "client_requests": len(samples),
            "per_kind": per_kind,
            "growth": [dataclasses.asdict(g) for g in growth],
            "sampler": {n: {"samples": g[0], "max_gap_ms": g[1] / 1e6} if g else None for n, g in gaps.items()},
            "deaths": self.deaths,
            "fault_log": [dataclasses.asdict(f) for f in self.faults],
            "readings": [[r.ts_ns, r.node, r.pid, r.rss_kib, r.fds] for r in self.readings],
        }
        result["misses"] = verdict(result, self.args.rss_slack)
        return result


def verdict(result: dict, rss_slack: int) -> list[str]:
    misses = []
    if result["dual_owner_beyond_ms"] > 0:
        misses.append(f"dual owner beyond one Master_Down_Interval: {result['dual_owner_beyond_ms']:.1f} ms "
                      f"(worst run {result['dual_owner_worst_ms']:.1f} ms)")
    if result.get("split_beyond_ms", 0) > 0:
        misses.append(f"dual owner during a multicast block beyond {result['split_allowed_ms']:.0f} ms: "
                      f"{result['split_beyond_ms']:.1f} ms (worst run {result['split_worst_ms']:.1f} ms)")
    if result["zero_owner_beyond"]:
        worst = max(r["end_ns"] - r["start_ns"] for r in result["zero_owner_beyond"]) / 1e6
        misses.append(f"{len(result['zero_owner_beyond'])} zero-owner gaps beyond "
                      f"{result['zero_allowed_ms']:.0f} ms (worst {worst:.1f} ms)")
    for kind in STEADY_FAULTS:
        moves = result["per_kind"].get(kind, {}).get("vip_moves", 0)
        if moves:
            misses.append(f"{kind} moved VIPs {moves:g} times")
    for g in result["growth"]:
        if g["rss_kib"] > rss_slack:
            misses.append(f"{g['node']} pid {g['pid']}: RSS grew by {g['rss_kib']} KiB in {g['seconds']:.0f} s")
        if g["fds"] > 0:
            misses.append(f"{g['node']} pid {g['pid']}: fds grew by {g['fds']}")
    if not result["growth"]:
        misses.append("no daemon process lived long enough to judge its growth")
    misses += result["deaths"]
    return misses


def report(result: dict) -> str:
    out = [f"Machine: {platform.node()}, {os.cpu_count()} CPUs, kernel {platform.release()}; load average "
           f"now {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
           f"{result['seconds']:.0f} s, seed {result['seed']}, {result['faults']} faults in {result['rounds']} "
           f"rounds, 3 nodes, {result['instances']} VRRPv3 0.1 s instances; Master_Down_Interval "
           f"{result['mdi_ms']:.1f} ms", "",
           "| fault | count | VIP moves per fault | client error s | longest zero-owner gap ms |",
           "|---|---:|---:|---:|---:|"]
    for kind in FAULTS:
        row = result["per_kind"].get(kind)
        if row:
            out.append(f"| {kind} | {row['count']} | {row['vip_moves'] / row['count']:.2f} | "
                       f"{row['client_error_s']:.2f} | {row['longest_zero_owner_ms']:.1f} |")
    out += ["",
            f"dual owner while connected beyond {result['dual_allowed_ms']:.0f} ms: "
            f"{result['dual_owner_beyond_ms']:.1f} ms ({result['dual_owner_runs']} dual-owner runs, worst "
            f"{result['dual_owner_worst_ms']:.1f} ms)",
            f"dual owner during multicast blocks beyond {result['split_allowed_ms']:.0f} ms: "
            f"{result['split_beyond_ms']:.1f} ms ({result['split_runs']} runs, worst {result['split_worst_ms']:.1f} ms)",
            f"zero-owner gaps beyond {result['zero_allowed_ms']:.0f} ms: {len(result['zero_owner_beyond'])} "
            f"(worst gap {result['zero_owner_worst_ms']:.1f} ms)",
            f"client: {result['client_requests']} requests, {result['client_error_s']:.2f} error seconds",
            "sampler: " + ", ".join(f"{n} {s['samples']} samples, max gap {s['max_gap_ms']:.1f} ms"
                                    for n, s in result["sampler"].items() if s), "",
            "| node | pid | seconds | RSS growth KiB | fd growth |", "|---|---:|---:|---:|---:|"]
    for g in result["growth"]:
        out.append(f"| {g['node']} | {g['pid']} | {g['seconds']:.0f} | {g['rss_kib']} | {g['fds']} |")
    out += ["", "verdict: " + ("every target met" if not result["misses"] else "MISSED: " + "; ".join(result["misses"]))]
    return "\n".join(out)


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {', '.join(FAULTS)}")
    parser.add_argument("--hold", type=_range, default=(1.0, 3.0), help="seconds a fault lasts: LOW-HIGH")
    parser.add_argument("--quiet", type=_range, default=(1.5, 3.0), help="seconds between faults: LOW-HIGH")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the last fault")
    parser.add_argument("--restart-grace", type=float, default=1.0,
                        help="seconds a restarted vipd has to remove its predecessor's addresses")
    parser.add_argument("--split-bound", type=float, default=3.75,
                        help="seconds a dual owner may last in a multicast block before healing "
                             "(vipd's --conflict-probe-interval, 3 s, jittered up to 1.25x)")
    parser.add_argument("--sample-every", type=float, default=2.0, help="RSS/fd readings, seconds")
    parser.add_argument("--process-warmup", type=float, default=10.0,
                        help="seconds after a daemon's start before its growth is judged")
    parser.add_argument("--rss-slack", type=int, default=256, help="KiB of RSS growth tolerated")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--vipd-arg", dest="vipd_args", action="append", default=[],
                        help="extra `vipd run` argument (repeat)")
    parser.add_argument("--progress", action="store_true", help="print each fault as it starts")
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.fault_list = [k.strip() for k in args.faults.split(",") if k.strip()]
    if not args.fault_list or any(k not in FAULTS for k in args.fault_list):
        parser.error(f"--faults: {args.faults}")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    return args


def run_soak(args, vipd: Optional[daemons.Vipd] = None) -> dict:
    vipd = vipd or daemons.Vipd()
    problem = vipd.available()
    if problem:
        raise SystemExit(f"soak: {problem}")
    subnet = bench_scale.lab_subnet(args.instances)
    with vipdlab.Lab(nodes=3, subnet=subnet, keep_logs=args.keep_logs) as lab:
        return Soak(lab, args, vipd).run()


def main(argv=None) -> int:
    args = parse_args(argv)
    if benchstats.not_root("soak.sh"):
        return 1
    result = run_soak(args)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 1 if result["misses"] else 0


if __name__ == "__main__":
    sys.exit(main())
