#!/usr/bin/python3
"""Application-failure benchmark: from the application dying on the master to the backup holding
the VIP, for vipd (fast fail on and off) and keepalived running ipfailover's generated check.

Lab: 2 nodes, each running the lab's HTTP server on port 80 (the "application") and one VRRP
daemon configured from the same OPENSHIFT_HA_* environment, as the ipfailover pod would be:
VRRPv2 with 1 s adverts (ipfailover writes no advert_int), OPENSHIFT_HA_MONITOR_PORT=80,
OPENSHIFT_HA_CHECK_INTERVAL=2, one VIP (instance <name>_VIP_1, VRID 51), the priority scheme
(n1 .11 -> 244, n2 .12 -> 243). PREEMPTION is `nopreempt` so that the node whose application
failed does not take the VIP back once it recovers: the runs alternate between the nodes, each
run failing the application on whichever node is master.

Variants:
  keepalived       keepalived with ipfailover's keepalived.conf: vrrp_script chk_<name> runs
                   `/bin/bash -c '</dev/tcp/<node ip>/80'` every 2 s; failure -> FAULT.
  vipd             vipd with the same environment: native TCP connect every 2 s, plus fast fail
                   (default): its tc program sees the RST the kernel sends when a client's SYN to
                   port 80 finds no listener and checks at once.
  vipd-nofastfail  the same with VIPD_FAST_FAIL=false: the interval check only.

Each run: a random phase in [0, check interval), then SIGKILL of the application on the master
(t0 = just before the signal). The client polls the VIP over HTTP every 10 ms (one new TCP
connection per request): those connections are what the fast path reacts to. Without client
traffic the application's failure shows only at vipd's next interval check, as for keepalived.

Measures: "backup holds VIP" = t0 to the RTM_NEWADDR of the VIP in the backup's namespace
(netlink agent, CLOCK_MONOTONIC); "client outage" = the run of failed poller requests; and for
reference the first refused request (t0 to its send time).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemons  # noqa: E402
from benchstats import (POLL_INTERVAL, POLL_TIMEOUT, REFERENCE, Stats, block_sizes,  # noqa: E402
                        client_outage_ms, environment, fmt, not_root)
import vipdlab  # noqa: E402

CHECK_INTERVAL = 2.0
ADVERT_INTERVAL = 1.0
VARIANTS = ("keepalived", "vipd", "vipd-nofastfail")


def ipfailover_env(vip: str) -> dict[str, str]:
    return {
        "OPENSHIFT_HA_CONFIG_NAME": "bench",
        "OPENSHIFT_HA_VIRTUAL_IPS": vip,
        "OPENSHIFT_HA_VRRP_ID_OFFSET": "50",
        "OPENSHIFT_HA_MONITOR_PORT": "80",
        "OPENSHIFT_HA_CHECK_INTERVAL": f"{CHECK_INTERVAL:g}",
        "OPENSHIFT_HA_NETWORK_INTERFACE": "eth0",
        "OPENSHIFT_HA_REPLICA_COUNT": "1",
        "OPENSHIFT_HA_PREEMPTION": "nopreempt",
    }


def make_daemon(variant: str, vip: str, binary: Optional[str]) -> daemons.Daemon:
    env = ipfailover_env(vip)
    if variant == "keepalived":
        return daemons.IpfailoverKeepalived(daemons.Ipfailover(env))
    if variant == "vipd":
        daemon = daemons.IpfailoverVipd(env, binary)
    elif variant == "vipd-nofastfail":
        daemon = daemons.IpfailoverVipd({**env, "VIPD_FAST_FAIL": "false"}, binary)
    else:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    daemon.name = variant
    return daemon


@dataclasses.dataclass
class RunResult:
    takeover_ms: Optional[float]  # None: the backup never took the VIP in time
    outage_ms: Optional[float]
    refused_ms: Optional[float]  # first refused client connection after t0 (its send time)
    master: str = ""


class Bench:
    def __init__(self, lab: vipdlab.Lab, variant: str, binary: Optional[str]):
        self.lab = lab
        self.vip = lab.host_address(100)
        self.daemon = make_daemon(variant, self.vip, binary)
        self.procs: dict[str, daemons.DaemonProcess] = {}
        self.httpd: dict[str, vipdlab.Proc] = {}

    def settings(self) -> daemons.VrrpSettings:
        return daemons.VrrpSettings(vip=self.vip, priority=1, config_name="bench")

    def holders(self) -> list[str]:
        return self.lab.vip_holders(self.vip)

    def setup(self) -> None:
        self.httpd = {n.name: self.lab.start_http(n) for n in self.lab.nodes}
        self.watchers = {n.name: self.lab.watch_addresses(n) for n in self.lab.nodes}
        self.poller = self.lab.start_poller(self.vip, interval=POLL_INTERVAL, timeout=POLL_TIMEOUT,
                                            max_duration=3 * 3600)
        # One after the other: with nopreempt, whoever is master first stays master.
        self.procs["n1"] = self.daemon.start(self.lab, "n1", self.settings())
        vipdlab.wait_for(lambda: self.holders() == ["n1"], timeout=15, interval=0.02, desc="n1 holds the VIP")
        self.procs["n2"] = self.daemon.start(self.lab, "n2", self.settings())
        vipdlab.wait_for(lambda: self.procs["n2"].backup_transitions() >= 1, timeout=10, desc="n2 BACKUP")
        self.poller.wait_answer_from("n1", since_ns=vipdlab.now_ns(), timeout=5)
        time.sleep(CHECK_INTERVAL + 3 * ADVERT_INTERVAL)
        if self.holders() != ["n1"]:
            raise vipdlab.LabError(f"election not stable: {self.holders()}")

    def one_run(self) -> RunResult:
        holders = self.holders()
        if len(holders) != 1:
            raise vipdlab.LabError(f"VIP holders before the run: {holders}")
        master = holders[0]
        backup = "n2" if master == "n1" else "n1"
        time.sleep(random.uniform(0, CHECK_INTERVAL))  # random phase of the check cycle
        t0 = vipdlab.now_ns()
        self.httpd[master].kill()
        budget = CHECK_INTERVAL + 4 * ADVERT_INTERVAL + 3
        takeover_ms = refused_ms = outage_ms = None
        try:
            event = self.watchers[backup].wait_event("add", self.vip, since_ns=t0, timeout=budget)
            takeover_ms = (event.ts_ns - t0) / 1e6
        except TimeoutError:
            pass
        try:
            first = self.poller.wait_answer_from(backup, since_ns=t0, timeout=budget)
            outage_ms = client_outage_ms(self.poller, t0, first.sent_ns)
        except TimeoutError:
            pass
        refused = self.poller.first_refused(t0)
        if refused is not None:
            refused_ms = (refused.sent_ns - t0) / 1e6
        self.httpd[master].wait(5)
        self.restore(master)
        return RunResult(takeover_ms, outage_ms, refused_ms, master)

    def restore(self, node: str) -> None:
        """The application comes back; the node leaves FAULT for BACKUP (nopreempt: it stays)."""
        proc = self.procs[node]
        backups = proc.backup_transitions()
        self.httpd[node] = self.lab.start_http(node)
        vipdlab.wait_for(lambda: proc.backup_transitions() > backups, timeout=CHECK_INTERVAL * 2 + 5,
                         desc=f"{node} leaves FAULT")
        time.sleep(0.5)


# ----------------------------------------------------------------------------------------------
# Statistics and the report


MEASURES = (("takeover_ms", "backup holds VIP"), ("outage_ms", "client outage"),
            ("refused_ms", "first refused request"))


def markdown(results: dict[str, list[RunResult]]) -> str:
    names = list(results)
    others = [n for n in names if n != REFERENCE] if REFERENCE in names else []
    header = ["measure (ms after the kill)"] + [f"{n} median / p90 / max" for n in names]
    header += [f"{n}/{REFERENCE} median / p90" for n in others]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label in MEASURES:
        stats = {n: Stats.of([getattr(r, key) for r in runs]) for n, runs in results.items()}
        row = [label] + [s.cell() if s else "–" for s in stats.values()]
        for n in others:
            mine, theirs = stats[n], stats[REFERENCE]
            if key == "refused_ms" or not mine or not theirs or theirs.median <= 0 or theirs.p90 <= 0:
                row.append("–")
            else:
                row.append(f"{mine.median / theirs.median:.3f} / {mine.p90 / theirs.p90:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def run_block(variant: str, runs: int, binary: Optional[str], progress, label: str) -> list[RunResult]:
    results = []
    with vipdlab.Lab(nodes=2) as lab:
        bench = Bench(lab, variant, binary)
        bench.setup()
        for run in range(runs):
            result = bench.one_run()
            results.append(result)
            progress(f"{variant} {label} run {run + 1}/{runs} (app killed on {result.master}): VIP moved "
                     f"{fmt(result.takeover_ms)} ms, outage {fmt(result.outage_ms)} ms, first refusal "
                     f"{fmt(result.refused_ms)} ms")
        for proc in bench.procs.values():
            if not proc.alive():
                raise vipdlab.LabError(f"{variant} on {proc.node.name} died: {proc.log()[-2000:]}")
    return results


def report(results: dict[str, list[RunResult]], runs: int, blocks: int, env_start: dict, env_end: dict,
           minutes: float) -> None:
    print(markdown(results))
    print()
    print(f"Runs per variant: {runs} in {blocks} alternating blocks; VRRPv2 1 s adverts, check every "
          f"{CHECK_INTERVAL:g} s, client request every {POLL_INTERVAL * 1000:.0f} ms; load average "
          f"{env_start['loadavg'][0]} at the start, {env_end['loadavg'][0]} at the end "
          f"({env_start['cpus']} CPUs, kernel {env_start['kernel']}); {minutes:.0f} min.")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--runs", type=int, default=20, help="runs per variant (default 20)")
    parser.add_argument("--rounds", type=int, default=4, help="variants take turns in this many blocks")
    parser.add_argument("--seed", type=int, help="seed for the random failure phase")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--from-json", type=Path, help="print the report of an earlier --json file, run nothing")
    args = parser.parse_args(argv)
    if args.from_json:
        raw = json.loads(args.from_json.read_text())
        results = {n: [RunResult(**r) for r in rs] for n, rs in raw["results"].items()}
        report(results, raw["args"]["runs"], len(block_sizes(raw["args"]["runs"], raw["args"]["rounds"])),
               raw["start"], raw["end"], raw.get("minutes", 0))
        return 0
    if not_root("bench-appfail.sh"):
        return 1
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be 1..1000")
    if args.seed is not None:
        random.seed(args.seed)
    variants = args.variants.split(",")
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant}")
        why_not = make_daemon(variant, "198.18.0.100", None).available()
        if why_not:
            print(f"{variant}: {why_not}", file=sys.stderr)
            return 1

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    env_start = environment()
    started = time.monotonic()
    results: dict[str, list[RunResult]] = {v: [] for v in variants}
    sizes = block_sizes(args.runs, args.rounds)
    for index, size in enumerate(sizes):
        for variant in variants:
            results[variant] += run_block(variant, size, None, progress, f"block {index + 1}/{len(sizes)}")
    env_end = environment()
    minutes = (time.monotonic() - started) / 60
    report(results, args.runs, len(sizes), env_start, env_end, minutes)
    if args.json:
        raw = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "start": env_start, "end": env_end, "minutes": minutes,
               "results": {n: [dataclasses.asdict(r) for r in rs] for n, rs in results.items()}}
        args.json.write_text(json.dumps(raw, indent=1))
    failed = any(r.takeover_ms is None for rs in results.values() for r in rs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
