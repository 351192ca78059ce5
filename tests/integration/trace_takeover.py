#!/usr/bin/python3
"""Where a backup's takeover time goes: one crash failover in the lab, with the backup's syscalls
and scheduler events traced by ftrace, printed against the RFC instant (the master's last advert
as received by the backup + Master_Down_Interval).

    sudo /usr/bin/python3 tests/integration/trace_takeover.py --daemon vipd --interval 0.01
    sudo /usr/bin/python3 tests/integration/trace_takeover.py --daemon keepalived --interval 0.01

Lab: n1 priority 150 (master), n2 priority 100 (backup), VRRPv3. The master is SIGKILLed and its
link cut; the events of every process in n2's namespace from just before the crash until just
after the VIP appeared are printed with their offset from the RFC instant, in µs. ftrace is
global state: the script uses its own instance (/sys/kernel/tracing/instances/vipd-takeover) and
removes it afterwards, so the host's own tracing is left alone.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemons  # noqa: E402
import vipdlab  # noqa: E402

TRACING = Path("/sys/kernel/tracing")
INSTANCE = TRACING / "instances" / "vipd-takeover"
MASTER_PRIORITY, BACKUP_PRIORITY = 150, 100
EVENTS = ("raw_syscalls:sys_enter", "raw_syscalls:sys_exit", "sched:sched_wakeup", "sched:sched_switch")
SYSCALLS = {0: "read", 1: "write", 7: "poll", 44: "sendto", 45: "recvfrom", 46: "sendmsg",
            47: "recvmsg", 55: "getsockopt", 232: "epoll_wait", 286: "timerfd_settime",
            307: "sendmmsg", 321: "bpf"}
LINE = re.compile(r"^\s*(?P<task>\S+)\s+\[\d+\]\s+\S+\s+(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s+(?P<rest>.*)$")


def write(path: Path, value: str) -> None:
    path.write_text(value)


def mount_tracefs() -> bool:
    """Mounts tracefs where a fresh host has not; True when we did (and must unmount it)."""
    if (TRACING / "instances").is_dir():
        return False
    vipdlab.run_cmd(["mount", "-t", "tracefs", "nodev", str(TRACING)])
    return True


def readable(rest: str) -> str:
    match = re.match(r"NR (\d+)(.*)", rest)
    if match:
        return f"{SYSCALLS.get(int(match.group(1)), 'NR ' + match.group(1))}{match.group(2)}"
    return rest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemon", choices=("vipd", "keepalived"), default="vipd")
    parser.add_argument("--interval", type=float, default=0.01, help="advert interval, s (v3)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root (network namespaces, ftrace)")
    daemon = daemons.make_daemon(args.daemon)
    if why_not := daemon.available():
        parser.error(why_not)
    master_down_ns = int(daemons.master_down_interval(args.interval, BACKUP_PRIORITY) * 1e9)

    with vipdlab.Lab(nodes=2) as lab:
        lab.start_http_servers()  # vipd's default port-80 check
        vip = lab.host_address(100)

        def settings(priority: int) -> daemons.VrrpSettings:
            return daemons.VrrpSettings(vip=vip, priority=priority, vrid=51, version=3,
                                        advert_interval=args.interval, config_name="trace")

        daemon.start(lab, "n2", settings(BACKUP_PRIORITY))
        vipdlab.wait_for(lambda: lab.vip_holders(vip) == ["n2"], timeout=5, desc="n2 holds the VIP")
        master = daemon.start(lab, "n1", settings(MASTER_PRIORITY))
        vipdlab.wait_for(lambda: lab.vip_holders(vip) == ["n1"], timeout=5, desc="n1 holds the VIP")
        time.sleep(0.5)
        addresses = lab.watch_addresses("n2")
        adverts = lab.watch_adverts("n2")
        pids = vipdlab.run_cmd(["ip", "netns", "pids", lab.node("n2").ns_name]).stdout.split()

        mounted = mount_tracefs()
        INSTANCE.mkdir(exist_ok=True)
        try:
            write(INSTANCE / "trace_clock", "mono")  # CLOCK_MONOTONIC, like the watchers
            write(INSTANCE / "buffer_size_kb", "8192")
            write(INSTANCE / "set_event_pid", " ".join(pids))
            write(INSTANCE / "set_event", "\n".join(EVENTS))
            write(INSTANCE / "tracing_on", "1")
            t0 = vipdlab.now_ns()
            master.crash()
            lab.cut_link("n1")
            added = addresses.wait_event("add", vip, since_ns=t0, timeout=5)
            time.sleep(0.02)
            write(INSTANCE / "tracing_on", "0")
            trace = (INSTANCE / "trace").read_text()
        finally:
            write(INSTANCE / "set_event", "")
            INSTANCE.rmdir()
            if mounted:
                vipdlab.run_cmd(["umount", str(TRACING)])
        master.wait(5)

    last = adverts.last_from(lab.node("n1").ipv4, 51, before_ns=added.ts_ns)
    if last is None:
        print("no advert from the master was seen", file=sys.stderr)
        return 1
    rfc_ns = last.ts_ns + master_down_ns
    print(f"{args.daemon}: VIP added {(added.ts_ns - rfc_ns) / 1e3:.0f} µs after the RFC instant "
          f"(last advert + Master_Down_Interval {master_down_ns / 1e6:.3f} ms)")
    window = (rfc_ns - 2_000_000, added.ts_ns + 200_000)
    for line in trace.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        ts_ns = int(float(match["ts"]) * 1e9)
        if window[0] <= ts_ns <= window[1]:
            print(f"{(ts_ns - rfc_ns) / 1e3:+9.0f} µs  {match['task']:<22} {match['event']:<14} "
                  f"{readable(match['rest'])[:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
