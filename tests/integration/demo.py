#!/usr/bin/python3
"""vipd demo: a VIP that survives a crashed master, in a network-namespace lab.

Steps: N nodes each running vipd and a small HTTP service, one client polling http://VIP/ every
10 ms; the master is killed (SIGKILL + link cut) and the timeline of the failover is printed
(backup's MASTER log line, VIP appearing, first answer from the new master, client-visible
outage); then the node returns and takes the VIP back (preemption), timeline again.

Exit code: 0 when the failover and the preemption happened as expected, 1 when not, 2 when the
demo could not run (usage, missing binary). Started by scripts/demo.sh (setup, build, root check).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemons  # noqa: E402
from benchstats import client_outage_ms  # noqa: E402
import vipdlab  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
PRIORITIES = (150, 120, 100, 90, 80, 70, 60, 50)
POLL_INTERVAL = 0.01
POLL_TIMEOUT = 0.3
STEADY_SECONDS = 2.0  # client traffic shown between the steps
CONFIG_NAME = "demo"
LOG_LINE_RE = re.compile(r"^\w{3} (\w{3}) +(\d+) (\d\d:\d\d:\d\d)\.(\d{3}) (\d{4}): (.*)$")


class DemoFailed(Exception):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------------------------
# Clocks: the lab's agents stamp CLOCK_MONOTONIC; vipd's log lines carry local wall time (ms).


class Clock:
    def __init__(self):
        # The smallest gap of a few samples bounds the error of the wall -> monotonic mapping.
        best = None
        for _ in range(5):
            before = time.monotonic_ns()
            wall = time.time_ns()
            after = time.monotonic_ns()
            if best is None or after - before < best[0]:
                best = (after - before, wall - (before + after) // 2)
        self.wall_minus_mono = best[1]

    def log_line_mono_ns(self, line: str) -> Optional[tuple[int, str]]:
        match = LOG_LINE_RE.match(line)
        if not match:
            return None
        month, day, hms, millis, year, message = match.groups()
        try:
            stamp = datetime.datetime.strptime(f"{year} {month} {day} {hms}", "%Y %b %d %H:%M:%S")
        except ValueError:
            return None
        wall_ns = int(stamp.timestamp()) * 1_000_000_000 + int(millis) * 1_000_000
        return wall_ns - self.wall_minus_mono, message


@dataclasses.dataclass(order=True)
class Event:
    ts_ns: int
    who: str
    what: str


class Timeline:
    def __init__(self, t0_ns: int):
        self.t0_ns = t0_ns
        self.events: list[Event] = []

    def add(self, ts_ns: Optional[int], who: str, what: str) -> None:
        if ts_ns is not None:
            self.events.append(Event(ts_ns, who, what))

    def print(self) -> None:
        for event in sorted(self.events):
            say(f"     {(event.ts_ns - self.t0_ns) / 1e6:+9.1f} ms  {event.who:7} {event.what}")


# ----------------------------------------------------------------------------------------------
# The demo


class Demo:
    def __init__(self, lab: vipdlab.Lab, args, binary: Path):
        self.lab = lab
        self.args = args
        self.vipd = daemons.Vipd(binary=str(binary))
        self.binary = binary
        self.clock = Clock()
        self.vip = lab.host_address(100)
        self.priority = {node.name: PRIORITIES[i] for i, node in enumerate(lab.nodes)}
        self.processes: dict[str, daemons.DaemonProcess] = {}
        self.watchers: dict[str, vipdlab.AddressWatcher] = {}
        self.poller: Optional[vipdlab.ClientPoller] = None
        self.crashed: set[str] = set()

    def settings(self, node: str) -> daemons.VrrpSettings:
        return daemons.VrrpSettings(vip=self.vip, priority=self.priority[node], vrid=self.args.vrid,
                                    version=self.args.version, advert_interval=self.args.interval,
                                    config_name=CONFIG_NAME)

    def master_down_ms(self, node: str) -> float:
        return self.settings(node).master_down_interval(self.priority[node]) * 1000

    def budget(self) -> float:
        """Seconds any one election may take before the demo calls it failed."""
        slowest = max(self.master_down_ms(n.name) for n in self.lab.nodes) / 1000
        return 3 * slowest + 5

    # -- observation

    def status(self, node: str) -> Optional[dict]:
        out = self.lab.node(node).run([str(self.binary), "status", "--json"], check=False, timeout=5)
        if out.returncode != 0:
            return None
        try:
            return json.loads(out.stdout)
        except ValueError:
            return None

    def print_status(self) -> None:
        say(f"     {'node':5} {'state':9} {'prio':>4}  {'master':14} VIP on eth0")
        for node in self.lab.nodes:
            status = self.status(node.name)
            instance = (status or {}).get("instances", [{}])[0] if status else None
            holds = "yes" if self.vip in node.addresses() else "-"
            if holds == "yes" and node.name in self.crashed:
                holds = "yes (stale: vipd killed, link cut)"
            if instance is None:
                say(f"     {node.name:5} {'(no vipd)':9} {'':>4}  {'':14} {holds}")
                continue
            say(f"     {node.name:5} {instance.get('state', '?'):9} {instance.get('priority', 0):>4}  "
                f"{instance.get('master') or '-':14} {holds}")

    def log_events(self, node: str, pattern: str, since_ns: int) -> list[int]:
        process = self.processes.get(node)
        if process is None:
            return []
        stamps = []
        for line in process.log().splitlines():
            parsed = self.clock.log_line_mono_ns(line)
            if parsed and parsed[0] >= since_ns - 1_000_000 and re.search(pattern, parsed[1]):
                stamps.append(parsed[0])
        return stamps

    def address_event(self, node: str, kind: str, since_ns: int) -> Optional[int]:
        events = [e for e in self.watchers[node].events(since_ns)
                  if e.kind == kind and e.address == self.vip]
        return events[0].ts_ns if events else None

    def client_summary(self, since_ns: int, until_ns: int) -> str:
        samples = [s for s in self.poller.samples(since_ns) if s.sent_ns <= until_ns]
        failed = sum(1 for s in samples if s.node is None)
        answered = {}
        for sample in samples:
            if sample.node:
                answered[sample.node] = answered.get(sample.node, 0) + 1
        by = ", ".join(f"{count} by {node}" for node, count in sorted(answered.items()))
        return f"{len(samples)} requests in {(until_ns - since_ns) / 1e9:.1f} s: {by or 'none answered'}, {failed} failed"

    def outage_ms(self, since_ns: int, until_ns: int) -> tuple[float, int]:
        """Client-visible outage: the failed requests' runs, by send time (10 ms resolution)."""
        outage = client_outage_ms(self.poller, since_ns, until_ns)
        failed = sum(1 for s in self.poller.samples(since_ns) if s.sent_ns <= until_ns and s.node is None)
        return outage, failed

    def live_holders(self) -> list[str]:
        """Nodes holding the VIP, without a crashed node (SIGKILL leaves the VIP on its cut link)."""
        return [n for n in self.lab.vip_holders(self.vip) if n not in self.crashed]

    def wait_single_holder(self, node: str, what: str) -> None:
        try:
            vipdlab.wait_for(lambda: self.live_holders() == [node], timeout=self.budget(),
                             interval=0.02, desc=f"{node} alone holding {self.vip}")
        except TimeoutError:
            raise DemoFailed(f"{what}: {node} never held {self.vip} alone "
                             f"(holders now: {self.live_holders() or 'none'})") from None

    def wait_answer(self, node: str, since_ns: int, what: str) -> vipdlab.Sample:
        try:
            return self.poller.wait_answer_from(node, since_ns=since_ns, timeout=self.budget())
        except TimeoutError:
            raise DemoFailed(f"{what}: the client never got an answer from {node}") from None

    def steady(self, seconds: float) -> None:
        start = vipdlab.now_ns()
        time.sleep(seconds)
        end = vipdlab.now_ns()
        self.poller.wait_settled(end)
        say(f"   client: {self.client_summary(start, end)}")

    # -- steps

    def start_vipd(self, node: str) -> None:
        self.processes[node] = self.vipd.start(self.lab, node, self.settings(node))

    def step_lab(self) -> None:
        self.lab.start_http_servers()
        for node in self.lab.nodes:
            self.watchers[node.name] = self.lab.watch_addresses(node.name)
        self.poller = self.lab.start_poller(self.vip, interval=POLL_INTERVAL, timeout=POLL_TIMEOUT)
        hosts = ", ".join(f"{n.name} {n.ipv4}" for n in self.lab.nodes)
        say(f"1. Lab {self.lab.prefix}: client {self.lab.client.ipv4}; {hosts}")
        say(f"   HTTP service on :80 of every node (answers its name); client polls "
            f"http://{self.vip}/ every {POLL_INTERVAL * 1000:.0f} ms")

    def step_election(self) -> str:
        priorities = ", ".join(f"{n} {p}" for n, p in self.priority.items())
        say(f"2. vipd on every node (priorities {priorities}; preempt): {self.lab.nodes[0].name} first, "
            f"then the others as it holds the VIP")
        # Not all at once: timers expiring within one delivery time of each other make two masters
        # for a moment, and the loser's late gratuitous ARP can point the client at it until the
        # winner's next announcement (vipd's second burst is off in the lab: --garp-master-delay 0).
        t0 = vipdlab.now_ns()
        master = self.lab.nodes[0].name
        self.start_vipd(master)
        self.wait_single_holder(master, "election")
        first = self.wait_answer(master, t0, "election")
        for node in self.lab.nodes[1:]:
            self.start_vipd(node.name)
        vipdlab.wait_for(lambda: all((self.status(n.name) or {}).get("instances") for n in self.lab.nodes),
                         timeout=10, interval=0.1, desc="every vipd answering `vipd status`")
        time.sleep(3 * self.args.interval)  # a few adverts: the backups have heard the master
        took = ((self.address_event(master, "add", t0) or first.sent_ns) - t0) / 1e6
        say(f"   {master} held {self.vip} {took:.0f} ms after its start (startup + its Master_Down_Interval "
            f"{self.master_down_ms(master):.0f} ms). `vipd status` on {master}:")
        text = self.lab.node(master).run([str(self.binary), "status"], check=False, timeout=5).stdout
        for line in text.strip().splitlines():
            say(f"     | {line}")
        say("   Every node (`vipd status --json`):")
        self.print_status()
        self.steady(STEADY_SECONDS)
        return master

    def step_crash(self, master: str) -> tuple[str, float]:
        backup = self.lab.nodes[1].name
        say(f"3. Crash of the master {master}: SIGKILL of vipd, then its link is cut")
        t0 = vipdlab.now_ns()
        self.processes[master].crash()
        self.lab.cut_link(master)
        self.crashed.add(master)
        cut_ns = vipdlab.now_ns()
        self.wait_single_holder(backup, "failover")
        first = self.wait_answer(backup, t0, "failover")
        outage, failed = self.outage_ms(t0, first.sent_ns)
        self.processes[master].wait(5)

        timeline = Timeline(t0)
        timeline.add(t0, master, "vipd killed (SIGKILL)")
        timeline.add(cut_ns, master, "link cut in the switch")
        for node in self.lab.nodes[1:]:
            for stamp in self.log_events(node.name, r"Entering MASTER STATE", t0):
                timeline.add(stamp, node.name, '"Entering MASTER STATE" (vipd log, ms resolution)')
            timeline.add(self.address_event(node.name, "add", t0), node.name, f"{self.vip} added to eth0")
            # Two backups whose timers fire within one delivery time of each other both become
            # master for a moment; the lower priority yields at the other's first advert.
            for stamp in self.log_events(node.name, r"Entering BACKUP STATE", t0):
                timeline.add(stamp, node.name, '"Entering BACKUP STATE" (yields to a higher priority)')
            timeline.add(self.address_event(node.name, "del", t0), node.name, f"{self.vip} removed from eth0")
        timeline.add(first.sent_ns, "client", f"first answer from {backup} (request sent)")
        timeline.print()
        mdi = self.master_down_ms(backup)
        say(f"   client-visible outage: {outage:.0f} ms ({failed} failed requests)")
        say(f"   (RFC: {backup} takes over one Master_Down_Interval, {mdi:.0f} ms, after the last advert "
            f"it heard: {mdi - self.args.interval * 1000:.0f}-{mdi:.0f} ms after the crash)")
        self.print_status()
        self.steady(STEADY_SECONDS)
        return backup, outage

    def step_return(self, node: str, current: str) -> float:
        say(f"4. {node} comes back (its stale VIP removed as by a reboot, link restored, vipd started)")
        self.lab.node(node).ip("addr", "del", f"{self.vip}/32", "dev", "eth0", check=False)
        self.lab.restore_link(node)
        self.crashed.discard(node)
        t0 = vipdlab.now_ns()
        self.start_vipd(node)
        self.wait_single_holder(node, "preemption")
        first = self.wait_answer(node, t0, "preemption")
        settle_end = vipdlab.now_ns() + 300_000_000
        time.sleep(0.3)
        outage, failed = self.outage_ms(t0, settle_end)

        timeline = Timeline(t0)
        timeline.add(t0, node, "vipd started")
        for stamp in self.log_events(node, r"Entering BACKUP STATE", t0)[:1]:
            timeline.add(stamp, node, '"Entering BACKUP STATE" (startup done; preempts a lower priority)')
        for stamp in self.log_events(node, r"Entering MASTER STATE", t0):
            timeline.add(stamp, node, '"Entering MASTER STATE"')
        timeline.add(self.address_event(node, "add", t0), node, f"{self.vip} added to eth0")
        for stamp in self.log_events(current, r"Entering BACKUP STATE", t0):
            timeline.add(stamp, current, '"Entering BACKUP STATE"')
        timeline.add(self.address_event(current, "del", t0), current, f"{self.vip} removed from eth0")
        timeline.add(first.sent_ns, "client", f"first answer from {node} (request sent)")
        timeline.print()
        say(f"   client-visible outage during the handback: {outage:.0f} ms ({failed} failed requests)")
        self.print_status()
        self.steady(STEADY_SECONDS / 2)
        return outage


def print_keep_hints(lab: vipdlab.Lab, binary: Path, vip: str) -> None:
    n1 = lab.nodes[0].ns_name
    say(f"Lab {lab.prefix} left up (--keep): vipd and the HTTP services keep running.")
    say(f"   status:    sudo ip netns exec {n1} {binary} status")
    say(f"   client:    sudo ip netns exec {lab.client.ns_name} curl -s http://{vip}/")
    say(f"   logs:      {lab.workdir}/")
    say(f"   tear down: sudo {REPO_ROOT}/scripts/lab.sh down {lab.prefix}")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="demo.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3, help=f"2..{len(PRIORITIES)} (default 3)")
    parser.add_argument("--version", type=int, choices=(2, 3), default=3, help="VRRP version (default 3)")
    parser.add_argument("--interval", type=float,
                        help="advert interval in seconds (default 0.1 for v3, 1 for v2)")
    parser.add_argument("--vrid", type=int, default=51)
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    parser.add_argument("--build-dir", type=Path, default=REPO_ROOT / "build")
    args = parser.parse_args(argv)
    if not 2 <= args.nodes <= len(PRIORITIES):
        parser.error(f"--nodes must be 2..{len(PRIORITIES)}")
    if args.interval is None:
        args.interval = 0.1 if args.version == 3 else 1.0
    if args.version == 2 and (args.interval != int(args.interval) or not 1 <= args.interval <= 255):
        parser.error("VRRPv2 advert intervals are whole seconds, 1..255")
    if args.version == 3 and not 0.01 <= args.interval <= 40.95:
        parser.error("VRRPv3 advert intervals are 0.01..40.95 s")
    if not 1 <= args.vrid <= 255:
        parser.error("--vrid must be 1..255")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    binary = args.build_dir.resolve() / "vipd"
    why_not = daemons.Vipd(binary=str(binary)).available()
    if why_not:
        print(f"demo: {why_not}", file=sys.stderr)
        return 2
    started = time.monotonic()
    say(f"vipd demo: {args.nodes} nodes, VRRPv{args.version}, adverts every {args.interval:g} s, "
        f"VIP 198.18.0.100, binary {binary}")
    result = 1
    lab = vipdlab.Lab(nodes=args.nodes, persistent=args.keep)
    with lab:
        demo = Demo(lab, args, binary)
        try:
            demo.step_lab()
            master = demo.step_election()
            backup, outage = demo.step_crash(master)
            handback = demo.step_return(master, backup)
            say(f"5. Result: failover {master} -> {backup} with a {outage:.0f} ms client-visible outage; "
                f"{master} took the VIP back ({handback:.0f} ms outage). PASS")
            result = 0
        except (DemoFailed, TimeoutError, vipdlab.LabError) as exc:
            say(f"FAILED: {exc}")
            for node, process in demo.processes.items():
                say(f"--- {node} vipd log (last lines) ---")
                say("\n".join(process.log().splitlines()[-15:]))
        if args.keep:
            if demo.poller:
                demo.poller.stop()
            for watcher in demo.watchers.values():
                watcher.stop()
            lab.detach()
    if args.keep:
        print_keep_hints(lab, binary, demo.vip)
    else:
        left = lab.leftovers()
        say(f"Cleaned up: lab {lab.prefix} removed"
            + (f", but left {left}" if left else " (no namespaces, no processes left)")
            + f". {time.monotonic() - started:.0f} s in all.")
        if left:
            result = 1
    return result


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # also vipdlab.LabInterrupted: the lab is already torn down
        print("\ndemo interrupted; lab removed", file=sys.stderr)
        sys.exit(130)
