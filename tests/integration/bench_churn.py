#!/usr/bin/python3
"""Churn benchmark: memory and descriptor hygiene of vipd under repeated faults.

Lab: 2 nodes, --instances VRRPv3 0.1 s instances (one VIP each, VRIDs 1..N), n1 priority 150
(master, preempt), n2 priority 100. Each cycle knocks n1 out and lets it come back, so every
instance on n1 goes MASTER -> FAULT -> BACKUP -> MASTER (VIPs removed and re-added, ARP watch
and deliver-all switched, coalescing records forgotten):
  carrier  the switch takes n1's port down and up (n1 sees NO-CARRIER: netlink link events);
  check    n1's health check fails and passes again (a check script reading a flag file): FAULT
           and back per instance.
  reload   an instance restarted through reload: n1's configuration file loses its last VIP
           (`vipd reload`: that instance is removed, priority 0, n2 takes the VIP) and gets it
           back (the instance is created again and preempts). n1 then runs from a TOML file
           (`vipd run --config`), as the reload test does; the other kinds work the same.
Cycles rotate over --kinds. After --warmup cycles and at the end, on n1's vipd:
  RSS / PSS      /proc/<pid>/smaps_rollup
  fds            entries of /proc/<pid>/fd
  BPF objects    map and program descriptors it holds (/proc/<pid>/fd); entries of vipd's hash maps
                 (vipd_vips, vipd_peers, vipd_own_macs, vipd_ports) and valid vipd_last_adv
                 records, through its pins
  pins           files under its bpffs /sys/fs/bpf/vipd
Growth between the two readings is the result; the verdict allows --rss-slack KiB of RSS (the
allocator's noise) and nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
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
PIN_DIR = "/sys/fs/bpf/vipd"
HASH_MAPS = ("vipd_vips", "vipd_peers", "vipd_own_macs", "vipd_ports")
KINDS = ("carrier", "check", "reload")


@dataclasses.dataclass
class Reading:
    cycle: int
    rss_kib: int
    pss_kib: int
    fds: int
    bpf_maps: int
    bpf_progs: int
    map_entries: dict
    pins: int

    def growth(self, later: "Reading") -> dict:
        out = {"rss_kib": later.rss_kib - self.rss_kib, "pss_kib": later.pss_kib - self.pss_kib,
               "fds": later.fds - self.fds, "bpf_maps": later.bpf_maps - self.bpf_maps,
               "bpf_progs": later.bpf_progs - self.bpf_progs, "pins": later.pins - self.pins}
        for name, count in later.map_entries.items():
            out[f"entries.{name}"] = count - self.map_entries.get(name, 0)
        return out


def nsenter(pid: int, argv: list[str]) -> vipdlab.subprocess.CompletedProcess:
    return vipdlab.run_cmd(["nsenter", "-t", str(pid), "-m", "-n", *argv], check=False, timeout=20)


def bpf_objects(pid: int) -> tuple[int, int]:
    """BPF maps and programs the process holds descriptors of (anon_inode:bpf-map / bpf-prog)."""
    maps = progs = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        maps += target == "anon_inode:bpf-map"
        progs += target == "anon_inode:bpf-prog"
    return maps, progs


def map_entries(pid: int) -> dict:
    entries = {}
    for name in HASH_MAPS:
        out = nsenter(pid, ["bpftool", "-j", "map", "dump", "pinned", f"{PIN_DIR}/eth0/{name}"])
        entries[name] = len(json.loads(out.stdout)) if out.returncode == 0 and out.stdout.strip() else -1
    out = nsenter(pid, ["bpftool", "-j", "map", "dump", "pinned", f"{PIN_DIR}/eth0/vipd_last_adv"])
    if out.returncode == 0 and out.stdout.strip():
        entries["vipd_last_adv.valid"] = sum(
            1 for e in json.loads(out.stdout) if int(e.get("formatted", {}).get("value", {}).get("valid", 0)))
    return entries


def pins(pid: int) -> int:
    out = nsenter(pid, ["find", PIN_DIR])
    return len([l for l in out.stdout.splitlines() if l.strip()])


def read(pid: int, cycle: int) -> Reading:
    rss, pss = procstats.memory_kib(pid)
    maps, progs = bpf_objects(pid)
    return Reading(cycle, rss, pss, procstats.fd_count(pid), maps, progs, map_entries(pid), pins(pid))


def write_config(path: Path, vips: str, priority: int) -> None:
    """n1's settings as a TOML file: what a reload reads again (flags and variables would
    override it)."""
    path.write_text("\n".join([
        'interface = "eth0"', f'vips = "{vips}"', "vip_groups = 0", "vrrp_id_offset = 0",
        'config_name = "churn"', "vrrp_version = 3", "advert_interval = 0.1",
        f"priority = {priority}", 'preemption = "preempt"', "monitor_port = 0",
        "garp_master_delay = 0", ""]))


def check_script(directory: Path) -> Path:
    script = directory / "check.sh"
    script.write_text(f"#!/bin/sh\ntest ! -e {directory}/fail\n")
    script.chmod(0o755)
    return script


@dataclasses.dataclass
class Result:
    cycles: int
    kinds: list
    instances: int
    seconds: float
    first: Reading
    last: Reading
    growth: dict
    n1_transitions: int
    failed_cycles: int
    misses: list


def run_churn(args, vipd: Optional[daemons.Vipd] = None) -> Result:
    vipd = vipd or daemons.Vipd()
    problem = vipd.available()
    if problem:
        raise SystemExit(f"bench-churn: {problem}")
    vips = bench_scale.vip_list(args.instances)
    with vipdlab.Lab(nodes=2, subnet=bench_scale.lab_subnet(len(vips)), keep_logs=args.keep_logs) as lab:
        check_dir = lab.workdir / "n1-check"
        check_dir.mkdir()
        base = ["--vip-groups", "0", "--vrrp-id-offset", "0", "--monitor-port", "0"]

        def settings(priority: int, extra: tuple[str, ...] = ()) -> daemons.VrrpSettings:
            return daemons.VrrpSettings(vip=bench_scale.vip_ranges(args.instances), priority=priority,
                                        vrid=1, version=3, advert_interval=0.1, config_name="churn",
                                        preemption="preempt", extra_args=tuple(base) + extra)

        n1_extra = ("--check-script", str(check_script(check_dir)), "--check-interval", "1",
                    "--check-timeout", "0.5") if "check" in args.kind_list else ()
        config = lab.workdir / "n1-vipd.toml"
        if "reload" in args.kind_list:
            write_config(config, settings(MASTER_PRIORITY).vip, MASTER_PRIORITY)
            n1 = vipd.start_from_config(lab, "n1", config, settings(MASTER_PRIORITY), n1_extra)
        else:
            n1 = vipd.start(lab, "n1", settings(MASTER_PRIORITY, n1_extra))
        vipdlab.wait_for(lambda: set(vips) <= set(lab.node("n1").addresses()), timeout=30,
                         interval=0.1, desc="n1 holds every VIP")
        vipd.start(lab, "n2", settings(BACKUP_PRIORITY))
        vipdlab.wait_for(lambda: bench_scale.all_vips_on_master(lab, vips) is None, timeout=30,
                         interval=0.1, desc="n1 master, n2 backup")
        pid = n1.proc.pid

        def n1_holds(all_: bool) -> bool:
            held = set(lab.node("n1").addresses()) & set(vips)
            return held == set(vips) if all_ else not held

        def reload(vip_list: list[str]) -> None:
            write_config(config, ",".join(vip_list), MASTER_PRIORITY)
            out = lab.node("n1").run([str(vipd.binary), "reload"], check=False)
            if out.returncode != 0:
                raise TimeoutError(f"vipd reload failed: {out.stderr.strip()}")

        def cycle(kind: str) -> None:
            if kind == "reload":
                reload(vips[:-1])
                vipdlab.wait_for(lambda: vips[-1] in lab.node("n2").addresses()
                                 and vips[-1] not in lab.node("n1").addresses(), timeout=5,
                                 interval=0.01, desc="the removed instance's VIP on n2")
                reload(vips)
            elif kind == "carrier":
                lab.cut_link("n1", mode="carrier")
                vipdlab.wait_for(lambda: n1_holds(False), timeout=5, interval=0.01, desc="n1 drops its VIPs")
                lab.restore_link("n1")
            else:
                (check_dir / "fail").touch()
                vipdlab.wait_for(lambda: n1_holds(False), timeout=5, interval=0.01, desc="n1 in FAULT")
                (check_dir / "fail").unlink()
            vipdlab.wait_for(lambda: n1_holds(True), timeout=10, interval=0.01, desc="n1 master again")

        failed = 0
        started = time.monotonic()
        first = None
        for k in range(args.cycles):
            if k == args.warmup:
                time.sleep(0.5)
                first = read(pid, k)
            try:
                cycle(args.kind_list[k % len(args.kind_list)])
            except TimeoutError as exc:
                failed += 1
                print(f"cycle {k}: {exc}", file=sys.stderr, flush=True)
                lab.restore_link("n1")
                (check_dir / "fail").unlink(missing_ok=True)
                if "reload" in args.kind_list:
                    reload(vips)
                vipdlab.wait_for(lambda: n1_holds(True), timeout=15, interval=0.05, desc="n1 master again")
            if args.progress and (k + 1) % args.progress == 0:
                rss, _ = procstats.memory_kib(pid)
                print(f"  {k + 1} cycles, {time.monotonic() - started:.0f} s, RSS {rss} KiB, "
                      f"fds {procstats.fd_count(pid)}", file=sys.stderr, flush=True)
        seconds = time.monotonic() - started
        time.sleep(0.5)
        last = read(pid, args.cycles)
        transitions = len([l for l in n1.log().splitlines() if "Entering MASTER STATE" in l])
        alive = n1.alive()
    assert first is not None
    growth = first.growth(last)
    misses = [] if alive else ["n1's vipd exited"]
    for key, value in growth.items():
        if key == "pss_kib":
            continue
        limit = args.rss_slack if key == "rss_kib" else 0
        # vipd_peers mirrors vipd's peer table. A peer is learned from a unicast advert vipd
        # accepted (to a VIP it holds, or in a conflict probe's window: split-brain healing when a
        # cycle left two masters) and forgotten after --learned-peer-timeout (10 s) of silence.
        # The only node that can send one here is n2: one entry at most, not a leak.
        if key == "entries.vipd_peers":
            limit = 1
        if value > limit:
            misses.append(f"{key} grew by {value}")
    if failed:
        misses.append(f"{failed} cycles did not complete")
    return Result(args.cycles, args.kind_list, args.instances, seconds, first, last, growth,
                  transitions, failed, misses)


def report(result: Result) -> str:
    f, l = result.first, result.last
    lines = [f"Machine: {platform.node()}, {os.cpu_count()} CPUs, kernel {platform.release()}; load "
             f"average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
             f"{result.cycles} cycles ({', '.join(result.kinds)} in turns), {result.instances} "
             f"instances, {result.seconds:.0f} s; n1 logged Entering MASTER STATE {result.n1_transitions} times "
             f"(all instances); readings after cycle {f.cycle} and after cycle {l.cycle}", "",
             "| measure | after warm-up | at the end | growth |", "|---|---:|---:|---:|"]
    rows = [("RSS KiB", f.rss_kib, l.rss_kib), ("PSS KiB", f.pss_kib, l.pss_kib), ("fds", f.fds, l.fds),
            ("BPF maps held", f.bpf_maps, l.bpf_maps), ("BPF programs held", f.bpf_progs, l.bpf_progs),
            ("pins", f.pins, l.pins)]
    rows += [(f"entries {k}", f.map_entries.get(k), v) for k, v in l.map_entries.items()]
    for name, a, b in rows:
        lines.append(f"| {name} | {a} | {b} | {b - a if a is not None else '–'} |")
    lines.append("")
    lines.append("verdict: " + ("flat" if not result.misses else "MISSED: " + "; ".join(result.misses)))
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20, help="cycles before the first reading")
    parser.add_argument("--kinds", default="carrier,check", help=f"comma list of {', '.join(KINDS)}")
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--rss-slack", type=int, default=256, help="KiB of RSS growth tolerated")
    parser.add_argument("--progress", type=int, default=100, help="print a line every N cycles")
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.kind_list = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not args.kind_list or any(k not in KINDS for k in args.kind_list):
        parser.error(f"--kinds: {args.kinds}")
    if not 0 < args.warmup < args.cycles:
        parser.error("--warmup must be below --cycles")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if benchstats.not_root("bench-churn.sh"):
        return 1
    result = run_churn(args)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(dataclasses.asdict(result), indent=1))
    return 1 if result.misses else 0


if __name__ == "__main__":
    sys.exit(main())
