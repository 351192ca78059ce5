#!/usr/bin/python3
"""Split-brain benchmark: time from a multicast block to a single VIP owner, vipd and keepalived.

Lab: 3 nodes, priorities 150 / 100 / 50 (n1 wins), multicast-only configuration. Each trial starts
the daemons, waits for the normal election (n1 alone holds the VIP), then blocks VRRP multicast in
the lab switch (kind "ip": packets to 224.0.0.18; "l2": frames to 01:00:5e:00:00:12) and watches
who holds the VIP on every node (vipdlab.OwnerSampler: netlink dump every 5 ms plus every address
event, CLOCK_MONOTONIC). The backups stop hearing n1 and claim the VIP after their
Master_Down_Interval; vipd finds the rival and heals, keepalived does not.

Per trial:
  one_owner_ms  block -> the end of the last dual-owner interval in the window (vipd: the heal;
                keepalived: the window's end if it never healed, counted as not healed)
  dual_ms       total time with two or more owners in the window
  healed        the trial ended with one owner and stayed so for the quiet period

Window: Master_Down_Interval(50) + 3.75 s (longest probe interval) + 2 s + 3 s. A vipd trial ends
early once one owner has held for 2 s; keepalived is watched for the whole window (it never heals:
its dual-owner time is the whole window after its backups time out). Daemons take turns trial by
trial so load changes on the shared machine hit them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemons  # noqa: E402
from benchstats import Stats, environment, not_root  # noqa: E402
import vipdlab  # noqa: E402

PRIORITIES = {"n1": 150, "n2": 100, "n3": 50}
PROBE_S = 3.75
MARGIN_S = 2.0
EXTRA_S = 3.0
QUIET_S = 2.0
SETTINGS = {"v3-100ms": (3, 0.1), "v2-1s": (2, 1.0)}
BLOCKS = ("ip", "l2")
# Each backup claims the VIP once when its Master_Down_Interval ends, and each claim is a
# dual-owner episode until healed: more episodes than backups means a node claimed again after
# yielding. The log lines kept from such a vipd trial:
BACKUPS = len(PRIORITIES) - 1
EPISODE_WORDS = r"STATE|split|rival|conflict|peer|priority"


def window_s(interval: float) -> float:
    return daemons.master_down_interval(interval, PRIORITIES["n3"]) + PROBE_S + MARGIN_S + EXTRA_S


def one_trial(lab: vipdlab.Lab, sampler: vipdlab.OwnerSampler, daemon: daemons.Daemon, version: int,
              interval: float, block: str) -> dict:
    vip = lab.host_address(100)
    procs = []
    try:
        for node in ("n1", "n2", "n3"):
            settings = daemons.VrrpSettings(vip=vip, priority=PRIORITIES[node], version=version,
                                            advert_interval=interval, config_name="bench",
                                            extra_args=("--monitor-port", "0") if daemon.name.startswith("vipd") else ())
            procs.append(daemon.start(lab, node, settings))
        vipdlab.wait_for(lambda: sampler.holders() == ["n1"], timeout=3 * window_s(interval),
                         desc="n1 alone holds the VIP")
        time.sleep(3 * interval + 0.2)
        blocked = vipdlab.now_ns()
        lab.block_multicast(block)
        deadline = blocked + int(window_s(interval) * 1e9)
        keepalived = not daemon.name.startswith("vipd")
        for _ in range(int(window_s(interval) / 0.05) + 2):
            now = vipdlab.now_ns()
            if now >= deadline:
                break
            if not keepalived and sampler.multi_owner_intervals(blocked) and len(sampler.holders(now)) == 1:
                last_end = sampler.multi_owner_intervals(blocked)[-1][1]
                if now - last_end >= QUIET_S * 1e9:
                    break
            time.sleep(0.05)
        until = vipdlab.now_ns()
        intervals = sampler.multi_owner_intervals(blocked, until)
        healed = bool(intervals) and len(sampler.holders(until)) == 1 and until - intervals[-1][1] >= QUIET_S * 1e9 * 0.99
        one_owner = (intervals[-1][1] - blocked) / 1e6 if intervals else 0.0
        dual = sum(b - a for a, b in intervals) / 1e6
        result = {"daemon": daemon.name, "block": block, "healed": healed,
                  "one_owner_ms": one_owner if healed else None, "dual_ms": dual,
                  "window_ms": (until - blocked) / 1e6, "episodes": len(intervals)}
        if len(intervals) > BACKUPS and not keepalived:
            # A heal that did not hold at once: keep what each node logged about it.
            result["logs"] = {proc.node.name: [line for line in proc.log().splitlines()
                                               if re.search(EPISODE_WORDS, line)][-40:]
                              for proc in procs}
        return result
    finally:
        for proc in procs:
            proc.proc.stop(timeout=3)
        lab.unblock_multicast()
        for node in lab.nodes:
            node.ip("addr", "del", f"{vip}/{lab.prefixlen}", "dev", "eth0", check=False)
        vipdlab.wait_for(lambda: sampler.holders() == [], timeout=5, desc="VIP removed everywhere")


def report(results: list[dict], env: dict, command: str) -> str:
    lines = [f"command: `{command}`", f"environment: {json.dumps(env)}", "",
             "| setting | block | daemon | trials | healed | block -> one owner, ms (p50 / p90 / max) "
             "| dual-owner time, ms (p50 / p90 / max) | window, ms |",
             "|---|---|---|---|---|---|---|---|"]
    keys = []
    for r in results:
        key = (r["setting"], r["block"], r["daemon"])
        if key not in keys:
            keys.append(key)
    for setting, block, daemon in keys:
        rows = [r for r in results if (r["setting"], r["block"], r["daemon"]) == (setting, block, daemon)]
        heal = Stats.of([r["one_owner_ms"] for r in rows])
        dual = Stats.of([r["dual_ms"] for r in rows])
        healed = sum(r["healed"] for r in rows)
        heal_cell = (f"{heal.median:.0f} / {heal.p90:.0f} / {heal.max:.0f}" if heal else "never")
        dual_cell = f"{dual.median:.0f} / {dual.p90:.0f} / {dual.max:.0f}" if dual else "-"
        window = max(r["window_ms"] for r in rows)
        lines.append(f"| {setting} | {block} | {daemon} | {len(rows)} | {healed}/{len(rows)} | {heal_cell} "
                     f"| {dual_cell} | {window:.0f} |")
    repeated = [r for r in results if r.get("episodes", 0) > BACKUPS and r["daemon"].startswith("vipd")]
    if repeated:
        lines += ["", f"vipd trials with more dual-owner episodes than backups (a node claimed again "
                  f"after yielding): {len(repeated)} (their nodes' log lines are in the JSON, key `logs`)"]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemon", default="vipd,keepalived",
                        help="comma list of vipd, vipd-nobpf, keepalived (default vipd,keepalived)")
    parser.add_argument("--settings", default="v3-100ms,v2-1s", help=f"comma list of {', '.join(SETTINGS)}")
    parser.add_argument("--blocks", default="ip,l2", help="comma list of ip, l2")
    parser.add_argument("--runs", type=int, default=20, help="trials per daemon, setting and block")
    parser.add_argument("--json", type=Path, help="also write the raw trials here")
    args = parser.parse_args(argv)
    if not_root("bench-split-brain.sh"):
        return 1
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be 1..1000")
    settings = args.settings.split(",")
    blocks = args.blocks.split(",")
    for key in settings:
        if key not in SETTINGS:
            parser.error(f"unknown setting {key}")
    for block in blocks:
        if block not in BLOCKS:
            parser.error(f"unknown block {block}")
    runnable = []
    for name in args.daemon.split(","):
        daemon = daemons.make_daemon(name)
        problem = daemon.available()
        if problem:
            parser.error(f"{name}: {problem}")
        runnable.append(daemon)
    env = environment()
    results: list[dict] = []
    for key in settings:
        version, interval = SETTINGS[key]
        with vipdlab.Lab(nodes=3) as lab:
            sampler = lab.sample_owners(lab.host_address(100))
            for block in blocks:
                for run in range(args.runs):
                    for daemon in runnable:  # take turns trial by trial
                        result = one_trial(lab, sampler, daemon, version, interval, block)
                        result["setting"] = key
                        results.append(result)
                        one = result["one_owner_ms"]
                        print(f"{key} {block} {daemon.name} #{run + 1}: healed={result['healed']} "
                              f"one owner {'never' if one is None else f'{one:.0f} ms'}, "
                              f"dual {result['dual_ms']:.0f} ms", file=sys.stderr, flush=True)
    command = "sudo scripts/bench-split-brain.sh " + " ".join(argv if argv is not None else sys.argv[1:])
    env["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(report(results, env, command.strip()))
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "trials": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
