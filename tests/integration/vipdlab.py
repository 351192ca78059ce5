#!/usr/bin/python3
"""Network-namespace lab for vipd integration tests, demos and failover benchmarks.

Topology: one switch namespace holding a Linux bridge (multicast snooping off, STP off), N node
namespaces each wired to it through a veth whose node end is `eth0`, and one client namespace.
Nothing is created in the host namespace: every veth is created inside the switch namespace with
its peer placed directly into the node namespace, so deleting the namespaces removes everything.

Teardown is guaranteed by the context manager, SIGINT/SIGTERM/SIGHUP handlers and an atexit hook;
a run killed with SIGKILL is cleaned up by the next `cleanup_stale()` (the registry under
/run/vipdlab records which prefix belongs to which owner process).

Standard library only; talks to the kernel through `ip`, `nft` and `ping`.
Helper agents (HTTP server, HTTP poller, netlink address watcher, multicast probe, HTTP scraper) are hidden
subcommands of this file, started inside namespaces with `ip netns exec`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

PREFIX_ROOT = "vipdt"
STATE_DIR = Path(os.environ.get("VIPDLAB_STATE_DIR", "/run/vipdlab"))
PYTHON = "/usr/bin/python3"
THIS_FILE = str(Path(__file__).resolve())
ALLOWED_V4 = ipaddress.ip_network("198.18.0.0/15")
ALLOWED_V6 = ipaddress.ip_network("fd00:198:18::/48")
DEFAULT_SUBNET = "198.18.0.0/24"
DEFAULT_SUBNET6 = "fd00:198:18::/64"
NFT_TABLE = "vipdlab"
# Lab namespaces look like vipdt1a2b3c-sw / -cl / -n1: strict enough that cleanup_stale() never
# touches namespaces other tests created with the shared `vipdt` prefix.
LAB_NS_RE = re.compile(r"^(vipdt[0-9a-f]{6})-(sw|cl|n[0-9]{1,3})$")
MAX_NODES = 200
CMD_TIMEOUT = 10.0

T = TypeVar("T")


class LabError(RuntimeError):
    pass


class LabInterrupted(KeyboardInterrupt):
    """Raised from the signal handler so `with Lab()` unwinds and tears down."""

    def __init__(self, signum: int):
        super().__init__(f"lab interrupted by signal {signum}")
        self.signum = signum


def now_ns() -> int:
    """CLOCK_MONOTONIC in ns: shared by every process on the host, so agent timestamps compare."""
    return time.monotonic_ns()


def run_cmd(argv: list[str], timeout: float = CMD_TIMEOUT, check: bool = True,
            input_text: Optional[str] = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(argv, input=input_text, capture_output=True, text=True,
                              timeout=timeout, stdin=None if input_text is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timeout after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise LabError(f"command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    return proc


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.05,
             desc: str = "condition") -> T:
    """Polls `predicate` until it returns something truthy; raises TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    max_polls = int(timeout / max(interval, 0.001)) + 2
    last = None
    for _ in range(max_polls):
        last = predicate()
        if last:
            return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    raise TimeoutError(f"timed out after {timeout:.2f}s waiting for {desc} (last value: {last!r})")


def list_netns() -> list[str]:
    out = run_cmd(["ip", "-j", "netns", "list"], check=False).stdout.strip()
    if not out:
        return []
    return [entry["name"] for entry in json.loads(out)]


def _pid_start_time(pid: int) -> Optional[str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _kill_namespace_processes(ns_name: str) -> None:
    """SIGKILLs what still runs in one of our namespaces (only ever started by a lab)."""
    for _ in range(5):
        out = run_cmd(["ip", "netns", "pids", ns_name], check=False).stdout.split()
        pids = [int(p) for p in out if p.isdigit() and int(p) != os.getpid()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _delete_namespaces(names: Iterable[str]) -> list[str]:
    names = list(names)
    for name in names:
        _kill_namespace_processes(name)
    # Nodes and client first: deleting them removes the veth pairs; the switch goes last.
    ordered = sorted(names, key=lambda n: n.endswith("-sw"))
    for name in ordered:
        run_cmd(["ip", "netns", "del", name], check=False)
    remaining = set(list_netns())
    return [n for n in names if n in remaining]


# ----------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A process started inside a namespace, in its own process group, output to a log file.

    With `capture_lines=True` stdout is read line by line into `lines` (stderr goes to the log)."""

    def __init__(self, name: str, ns_name: str, argv: list[str], log_path: Path,
                 capture_lines: bool = False, env: Optional[dict] = None):
        self.name = name
        self.ns_name = ns_name
        self.argv = argv
        self.log_path = log_path
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log = open(log_path, "ab", buffering=0)
        self.started_ns = now_ns()
        self.popen = subprocess.Popen(
            ["ip", "netns", "exec", ns_name, *argv], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_lines else self._log,
            stderr=self._log, start_new_session=True, env=env)
        self._reader = None
        if capture_lines:
            self._reader = threading.Thread(target=self._read_lines, daemon=True)
            self._reader.start()

    def _read_lines(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int, group: bool = False) -> None:
        if not self.alive() and not group:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        """SIGTERM to the main process only: the daemon's own graceful shutdown."""
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the whole process group (daemon and its children) at once: a crash."""
        self.signal(signal.SIGKILL, group=True)

    def wait(self, timeout: float = 5.0) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{self.name} (pid {self.pid}) still running after {timeout}s") from exc

    def stop(self, timeout: float = 3.0) -> None:
        """Never leaves anything behind: SIGTERM, then SIGKILL to the group."""
        if self.alive():
            self.terminate()
            with contextlib.suppress(TimeoutError):
                self.wait(timeout)
        self.kill()
        with contextlib.suppress(TimeoutError):
            self.wait(2.0)
        self.close()

    def close(self) -> None:
        if self.popen.stdout is not None and self._reader is not None:
            self._reader.join(timeout=2.0)
        with contextlib.suppress(OSError):
            self._log.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_line(self, predicate: Callable[[str], bool], timeout: float, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    if predicate(self.lines[index]):
                        return self.lines[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: no matching output line within {timeout}s; "
                                       f"log: {self.log_text()[-2000:]}")
                if not self.alive() and (self._reader is None or not self._reader.is_alive()):
                    raise LabError(f"{self.name} exited ({self.popen.returncode}); "
                                   f"log: {self.log_text()[-2000:]}")
                self._cond.wait(min(remaining, 0.2))


# ----------------------------------------------------------------------------------------------
# Namespaces


class Namespace:
    def __init__(self, lab: "Lab", name: str, short: str):
        self.lab = lab
        self.ns_name = name
        self.name = short

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ({self.ns_name})>"

    def ip(self, *args: str, timeout: float = CMD_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
        return run_cmd(["ip", "-n", self.ns_name, *args], timeout=timeout, check=check)

    def run(self, argv: list[str], timeout: float = CMD_TIMEOUT, check: bool = True,
            input_text: Optional[str] = None) -> subprocess.CompletedProcess:
        return run_cmd(["ip", "netns", "exec", self.ns_name, *argv], timeout=timeout, check=check,
                       input_text=input_text)

    def popen(self, argv: list[str], name: Optional[str] = None, capture_lines: bool = False,
              env: Optional[dict] = None) -> Proc:
        return self.lab.start_process(self, argv, name=name, capture_lines=capture_lines, env=env)

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-qw", f"{key}={value}"])

    def addresses(self, dev: str = "eth0") -> list[str]:
        out = self.ip("-j", "addr", "show", "dev", dev, check=False).stdout.strip()
        if not out:
            return []
        return [a["local"] for link in json.loads(out) for a in link.get("addr_info", [])]


class Node(Namespace):
    def __init__(self, lab: "Lab", name: str, short: str, index: int, ipv4: str, ipv6: Optional[str]):
        super().__init__(lab, name, short)
        self.index = index
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.switch_port = f"{lab.prefix}{short}"


# ----------------------------------------------------------------------------------------------
# Registry of live labs (for cleanup_stale and the CLI)


def _registry_dir(state_dir: Path) -> Path:
    return state_dir / "runs"


def _read_registry(state_dir: Path) -> list[dict]:
    entries = []
    directory = _registry_dir(state_dir)
    if not directory.is_dir():
        return entries
    for path in sorted(directory.glob(f"{PREFIX_ROOT}*.json")):
        with contextlib.suppress(OSError, ValueError):
            entry = json.loads(path.read_text())
            entry["_path"] = str(path)
            entries.append(entry)
    return entries


def _owner_alive(entry: dict) -> bool:
    pid = entry.get("pid")
    return bool(pid) and _pid_start_time(pid) == entry.get("pid_start")


def teardown_prefix(prefix: str, state_dir: Path = STATE_DIR, remove_workdir: bool = True) -> list[str]:
    """Removes every namespace (and its processes) of one lab prefix; returns names that remain."""
    names = [n for n in list_netns() if n.startswith(prefix + "-")]
    remaining = _delete_namespaces(names)
    if not remaining:
        with contextlib.suppress(OSError):
            (_registry_dir(state_dir) / f"{prefix}.json").unlink()
        workdir = state_dir / prefix
        if remove_workdir and workdir.is_dir():
            shutil.rmtree(workdir, ignore_errors=True)
    return remaining


def cleanup_stale(state_dir: Path = STATE_DIR, include_persistent: bool = False) -> list[str]:
    """Removes leftovers of crashed runs: registered labs whose owner process is gone (persistent
    CLI labs only with include_persistent) and unregistered namespaces in the lab's name format.
    Live labs of concurrent runs are left alone. Returns the prefixes removed."""
    # Namespaces first, registry second: a lab registers before it creates a namespace, so every
    # lab namespace listed here already has its entry when the registry is read. The other order
    # let a lab that came up in between look like an orphan and be torn down while in use.
    namespaces = list_netns()
    removed = []
    registered = set()
    for entry in _read_registry(state_dir):
        prefix = entry.get("prefix", "")
        if not prefix.startswith(PREFIX_ROOT):
            continue
        registered.add(prefix)
        if entry.get("persistent") and not include_persistent:
            continue
        if not entry.get("persistent") and _owner_alive(entry):
            continue
        teardown_prefix(prefix, state_dir)
        removed.append(prefix)
    orphans = {m.group(1) for m in map(LAB_NS_RE.match, namespaces) if m} - registered
    for prefix in sorted(orphans):
        if (_registry_dir(state_dir) / f"{prefix}.json").exists():
            continue  # registered after all (a run that reuses a prefix): not ours to judge
        teardown_prefix(prefix, state_dir)
        removed.append(prefix)
    return removed


# ----------------------------------------------------------------------------------------------
# The lab


class Lab:
    """Context manager: `with Lab(nodes=2) as lab: ...` builds the topology and always removes it."""

    def __init__(self, nodes: int = 2, subnet: str = DEFAULT_SUBNET, ipv6: bool = False,
                 subnet6: str = DEFAULT_SUBNET6, prefix: Optional[str] = None,
                 state_dir: Path = STATE_DIR, persistent: bool = False, keep_logs: bool = False,
                 workdir: Optional[Path] = None):
        if not 1 <= nodes <= MAX_NODES:
            raise ValueError(f"nodes must be 1..{MAX_NODES}")
        self.subnet = ipaddress.ip_network(subnet)
        if not self.subnet.subnet_of(ALLOWED_V4):
            raise ValueError(f"subnet {subnet} is outside {ALLOWED_V4}")
        if self.subnet.num_addresses < 16 + nodes:
            raise ValueError(f"subnet {subnet} too small for {nodes} nodes")
        self.subnet6 = ipaddress.ip_network(subnet6) if ipv6 else None
        if self.subnet6 is not None and not self.subnet6.subnet_of(ALLOWED_V6):
            raise ValueError(f"subnet6 {subnet6} is outside {ALLOWED_V6}")
        self.node_count = nodes
        self.state_dir = Path(state_dir)
        self.prefix = prefix or self._new_prefix()
        if not re.fullmatch(r"vipdt[0-9a-f]{6}", self.prefix):
            raise ValueError(f"bad prefix {self.prefix!r}")
        self.persistent = persistent
        self.keep_logs = keep_logs or os.environ.get("VIPDLAB_KEEP_LOGS") == "1"
        self.workdir = Path(workdir) if workdir else self.state_dir / self.prefix
        self.switch = Namespace(self, f"{self.prefix}-sw", "sw")
        self.client = Node(self, f"{self.prefix}-cl", "cl", 0, self._v4_host(2), self._v6_host(2))
        self.nodes = [Node(self, f"{self.prefix}-n{i}", f"n{i}", i, self._v4_host(10 + i),
                           self._v6_host(10 + i)) for i in range(1, nodes + 1)]
        self.processes: list[Proc] = []
        self._cut: set[str] = set()
        self._multicast_blocked: Optional[str] = None  # None, "ip" or "l2"
        self._up = False
        self._tearing_down = False
        self._saved_handlers: dict[int, object] = {}
        self._pending_signal: Optional[int] = None
        self._lock = threading.Lock()

    # -- naming and addressing

    def _new_prefix(self) -> str:
        existing = set(list_netns())
        taken = {e.get("prefix") for e in _read_registry(self.state_dir)}
        for _ in range(32):
            candidate = f"{PREFIX_ROOT}{(os.getpid() & 0xff):02x}{secrets.token_hex(2)}"
            if candidate not in taken and not any(n.startswith(candidate + "-") for n in existing):
                return candidate
        raise LabError("could not find a free lab prefix")

    def _v4_host(self, host: int) -> str:
        return str(self.subnet.network_address + host)

    def _v6_host(self, host: int) -> Optional[str]:
        if self.subnet6 is None:
            return None
        # fd00:198:18::11 for host 11: the decimal host number reads the same as the IPv4 one.
        return str(self.subnet6.network_address + int(str(host), 16))

    @property
    def prefixlen(self) -> int:
        return self.subnet.prefixlen

    def host_address(self, host: int) -> str:
        """An address of the lab subnet, e.g. for VIPs: lab.host_address(100) -> 198.18.0.100."""
        return self._v4_host(host)

    def host_address6(self, host: int) -> str:
        if self.subnet6 is None:
            raise LabError("lab built without ipv6")
        return self._v6_host(host)  # type: ignore[return-value]

    def node(self, key) -> Node:
        if isinstance(key, Node):
            return key
        if isinstance(key, int):
            return self.nodes[key - 1]
        for candidate in [*self.nodes, self.client]:
            if key in (candidate.name, candidate.ns_name):
                return candidate
        raise KeyError(key)

    @property
    def namespaces(self) -> list[Namespace]:
        return [self.switch, self.client, *self.nodes]

    # -- lifecycle

    def __enter__(self) -> "Lab":
        self._install_signal_handlers()
        try:
            self.up()
        except BaseException:
            self.down()
            self._restore_signal_handlers()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.down()
        finally:
            self._restore_signal_handlers()
        if self._pending_signal is not None and exc_type is None:
            raise LabInterrupted(self._pending_signal)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._saved_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._saved_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved_handlers.clear()

    def _on_signal(self, signum, frame) -> None:
        if self._tearing_down:
            self._pending_signal = signum  # re-raised once the (bounded) teardown is done
            return
        raise LabInterrupted(signum)

    def _register(self) -> None:
        directory = _registry_dir(self.state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        entry = {
            "prefix": self.prefix, "pid": os.getpid(), "pid_start": _pid_start_time(os.getpid()),
            "persistent": self.persistent, "created": time.time(), "nodes": self.node_count,
            "subnet": str(self.subnet), "subnet6": str(self.subnet6) if self.subnet6 else None,
            "workdir": str(self.workdir),
        }
        tmp = directory / f".{self.prefix}.tmp"
        tmp.write_text(json.dumps(entry, indent=1))
        tmp.replace(directory / f"{self.prefix}.json")

    def up(self) -> "Lab":
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces)")
        cleanup_stale(self.state_dir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._register()  # before creating anything: a crash from here on is recoverable
        self._up = True
        atexit.register(self.down)
        for ns in self.namespaces:
            run_cmd(["ip", "netns", "add", ns.ns_name])
            ns.ip("link", "set", "lo", "up")
        self._build_switch()
        for node in [self.client, *self.nodes]:
            self._wire(node)
        wait_for(self._all_ports_forwarding, timeout=5, desc="bridge ports forwarding")
        return self

    def _build_switch(self) -> None:
        sw = self.switch
        # The switch has no addresses of its own; keeping IPv6 off stops it from sending anything.
        sw.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
        sw.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        sw.ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
              "mcast_snooping", "0")
        sw.ip("link", "set", "br0", "up")
        self._apply_filter()

    def _wire(self, node: Node) -> None:
        node.sysctl("net.ipv6.conf.all.accept_dad", "0")
        node.sysctl("net.ipv6.conf.default.accept_dad", "0")
        self.switch.ip("link", "add", node.switch_port, "type", "veth", "peer", "name", "eth0",
                       "netns", node.ns_name)
        self.switch.ip("link", "set", node.switch_port, "master", "br0", "up")
        node.ip("addr", "add", f"{node.ipv4}/{self.prefixlen}", "dev", "eth0")
        if node.ipv6:
            node.ip("addr", "add", f"{node.ipv6}/{self.subnet6.prefixlen}", "dev", "eth0", "nodad")
        node.ip("link", "set", "eth0", "up")

    def _all_ports_forwarding(self) -> bool:
        out = self.switch.run(["bridge", "-j", "link", "show"], check=False).stdout.strip()
        states = [p.get("state") for p in json.loads(out or "[]")]
        return len(states) == len(self.nodes) + 1 and all(s == "forwarding" for s in states)

    def down(self) -> None:
        """Idempotent, bounded teardown: processes, namespaces, registry entry, work dir."""
        with self._lock:
            if not self._up:
                return
            self._tearing_down = True
            try:
                for proc in reversed(self.processes):
                    with contextlib.suppress(Exception):
                        proc.kill()
                for proc in reversed(self.processes):
                    with contextlib.suppress(Exception):
                        proc.wait(2.0)
                    proc.close()
                remaining = teardown_prefix(self.prefix, self.state_dir,
                                            remove_workdir=not self.keep_logs)
                if remaining:
                    print(f"vipdlab: could not delete {remaining}", file=sys.stderr)
                if self.keep_logs:
                    print(f"vipdlab: logs kept in {self.workdir}", file=sys.stderr)
                self._up = False
            finally:
                self._tearing_down = False
            with contextlib.suppress(Exception):
                atexit.unregister(self.down)

    def leftovers(self) -> list[str]:
        """Namespaces or host links with this lab's prefix that still exist (should be none)."""
        names = [n for n in list_netns() if n.startswith(self.prefix)]
        links = run_cmd(["ip", "-j", "link", "show"], check=False).stdout.strip()
        names += [l["ifname"] for l in json.loads(links or "[]") if l["ifname"].startswith(self.prefix)]
        return names

    def detach(self) -> None:
        """Leaves a persistent lab and its processes running after this process exits (demo
        --keep); `vipdlab.py down <prefix>` removes it. Processes writing to a captured stdout
        (pollers, watchers) should be stopped first: nobody reads their pipe any more."""
        if not self.persistent:
            raise LabError("only a persistent lab can outlive its owner")
        with self._lock:
            self._up = False
        atexit.unregister(self.down)
        for proc in self.processes:
            proc.close()

    # -- processes

    def start_process(self, ns: Namespace, argv: list[str], name: Optional[str] = None,
                      capture_lines: bool = False, env: Optional[dict] = None) -> Proc:
        base = name or f"{ns.name}-{Path(argv[0]).name}"
        log_path = self.workdir / f"{base}.log"
        for k in range(1, 1000):
            if not log_path.exists():
                break
            log_path = self.workdir / f"{base}.{k}.log"
        proc = Proc(base, ns.ns_name, argv, log_path, capture_lines=capture_lines, env=env)
        self.processes.append(proc)
        return proc

    def start_agent(self, ns: Namespace, agent: str, *args: str, name: Optional[str] = None) -> Proc:
        proc = self.start_process(ns, [PYTHON, "-u", THIS_FILE, agent, *args], name=name,
                                  capture_lines=True)
        proc.wait_line(lambda l: l == "READY", timeout=10)
        return proc

    # -- link and multicast faults (nft bridge filter in the switch: invisible to the nodes)

    def _apply_filter(self) -> None:
        rules = []
        if self._multicast_blocked == "ip":
            rules += ["ip daddr 224.0.0.18 drop", "ip6 daddr ff02::12 drop"]
        elif self._multicast_blocked == "l2":
            # What a switch with IGMP snooping and no querier does: the group's MAC is dropped,
            # whatever the IP header says; frames to a node's own MAC still pass.
            rules += ["ether daddr 01:00:5e:00:00:12 drop", "ether daddr 33:33:00:00:00:12 drop"]
        for port in sorted(self._cut):
            rules += [f'iifname "{port}" drop', f'oifname "{port}" drop']
        body = "\n    ".join(rules)
        script = (f"table bridge {NFT_TABLE}\ndelete table bridge {NFT_TABLE}\n"
                  f"table bridge {NFT_TABLE} {{\n  chain forward {{\n"
                  f"    type filter hook forward priority 0; policy accept;\n    {body}\n  }}\n}}\n")
        self.switch.run(["nft", "-f", "-"], input_text=script)

    def cut_link(self, node, mode: str = "drop") -> None:
        """Isolates a node. mode "drop": the switch silently drops its frames (carrier stays up,
        like a partition); mode "carrier": the switch-side veth goes down (the node sees no carrier)."""
        node = self.node(node)
        if mode == "drop":
            self._cut.add(node.switch_port)
            self._apply_filter()
        elif mode == "carrier":
            self.switch.ip("link", "set", node.switch_port, "down")
        else:
            raise ValueError(mode)

    def restore_link(self, node) -> None:
        node = self.node(node)
        self.switch.ip("link", "set", node.switch_port, "up")
        if node.switch_port in self._cut:
            self._cut.discard(node.switch_port)
            self._apply_filter()
        wait_for(self._all_ports_forwarding, timeout=5, desc="bridge ports forwarding")

    def block_multicast(self, kind: str = "ip") -> None:
        """Drops VRRP multicast between bridge ports; unicast still flows. kind "ip": packets to
        IP 224.0.0.18 / ff02::12 (a firewall), whatever their destination MAC; "l2": frames to the
        VRRP group MACs 01:00:5e:00:00:12 / 33:33:00:00:00:12 (a snooping switch), whatever their
        IP destination."""
        if kind not in ("ip", "l2"):
            raise ValueError(f"multicast block kind {kind!r}: ip or l2")
        self._multicast_blocked = kind
        self._apply_filter()

    def unblock_multicast(self) -> None:
        self._multicast_blocked = None
        self._apply_filter()

    # -- observation

    def vip_holders(self, vip: str, dev: str = "eth0") -> list[str]:
        wanted = ipaddress.ip_address(vip)
        return [n.name for n in self.nodes
                if any(ipaddress.ip_address(a) == wanted for a in n.addresses(dev))]

    def ping(self, src, dst, count: int = 1, timeout: float = 1.0) -> bool:
        src = self.node(src)
        address = dst if _is_address(dst) else self.node(dst).ipv4
        argv = ["ping", "-n", "-q", "-c", str(count), "-W", str(max(1, int(timeout))), "-i", "0.2", address]
        return src.run(argv, timeout=timeout * count + 5, check=False).returncode == 0

    def multicast_reaches(self, src, dst, family: int = 4, timeout: float = 1.5) -> bool:
        """Sends protocol-112 packets to 224.0.0.18 (or ff02::12) from src; True if dst got one."""
        src, dst = self.node(src), self.node(dst)
        token = secrets.token_hex(8)
        receiver = self.start_agent(dst, "_mcast-recv", "--family", str(family), "--token", token,
                                    "--timeout", str(timeout), name=f"{dst.name}-mcast-recv")
        src.run([PYTHON, THIS_FILE, "_mcast-send", "--family", str(family), "--token", token,
                 "--count", "5"], timeout=10)
        line = receiver.wait_line(lambda l: l in ("GOT", "NONE"), timeout=timeout + 5)
        receiver.wait(5)
        receiver.close()
        return line == "GOT"

    # -- HTTP service and client

    def start_http(self, node, port: int = 80) -> Proc:
        node = self.node(node)
        return self.start_agent(node, "_httpd", "--name", node.name, "--port", str(port),
                                name=f"{node.name}-httpd")

    def start_http_servers(self, port: int = 80) -> list[Proc]:
        return [self.start_http(n, port) for n in self.nodes]

    def start_poller(self, address: str, port: int = 80, interval: float = 0.01,
                     timeout: float = 0.5, max_duration: float = 1800) -> "ClientPoller":
        proc = self.start_agent(self.client, "_poll", "--address", address, "--port", str(port),
                                "--interval", str(interval), "--timeout", str(timeout),
                                "--duration", str(max_duration), name="cl-poller")
        return ClientPoller(proc, interval, timeout)

    def http_get(self, address: str, port: int = 80, timeout: float = 1.0) -> Optional[str]:
        """One request from the client namespace; the answering node's name or None."""
        url = f"http://{_url_host(address)}:{port}/"
        out = self.client.run(["curl", "-s", "--max-time", str(timeout), url], timeout=timeout + 5,
                              check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def watch_addresses(self, node) -> "AddressWatcher":
        node = self.node(node)
        proc = self.start_agent(node, "_watch-addr", name=f"{node.name}-addrwatch")
        return AddressWatcher(proc)

    def watch_owner(self, node, vips: list[str], interval: float = 0.005) -> "OwnerWatcher":
        """Which of `vips` one node holds, over time (the `_sample-owner` agent; see OwnerWatcher)."""
        node = self.node(node)
        proc = self.start_agent(node, "_sample-owner", "--addresses", ",".join(vips), "--interval",
                                str(interval), name=f"{node.name}-owner")
        return OwnerWatcher(proc, vips)

    def watch_adverts(self, node) -> "AdvertWatcher":
        node = self.node(node)
        proc = self.start_agent(node, "_watch-adverts", name=f"{node.name}-advertwatch")
        return AdvertWatcher(proc)

    def sample_owners(self, address: str, interval: float = 0.005) -> "OwnerSampler":
        """Which nodes hold `address`, over time: one watch_owner per node (see OwnerSampler)."""
        return OwnerSampler(address, {n.name: self.watch_owner(n, [address], interval) for n in self.nodes})

    def watch_arp(self, node) -> "ArpWatcher":
        node = self.node(node)
        proc = self.start_agent(node, "_watch-arp", name=f"{node.name}-arpwatch")
        return ArpWatcher(proc)

    def arp_flood(self, node, vip: str, rate: int, duration: float) -> dict:
        """Spoofed ARP replies claiming `vip` from random sender MACs, broadcast from `node` at
        `rate` per second for `duration` s. Returns {"sent", "seconds", "pps"} as achieved."""
        node = self.node(node)
        out = node.run([PYTHON, THIS_FILE, "_arp-flood", "--vip", vip, "--rate", str(rate),
                        "--duration", str(duration)], timeout=duration + 20)
        return json.loads(out.stdout.strip().splitlines()[-1])

    # -- daemons

    def start_daemon(self, node, argv: list[str], name: str, env: Optional[dict] = None) -> Proc:
        return self.start_process(self.node(node), argv, name=f"{self.node(node).name}-{name}", env=env)


def _is_address(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# ----------------------------------------------------------------------------------------------
# Client poller and address watcher (lab side)


@dataclasses.dataclass
class Sample:
    sent_ns: int
    done_ns: int
    node: Optional[str]  # None: the request failed
    error: Optional[str] = None  # why it failed: "refused", "timeout" or "error"


@dataclasses.dataclass
class Outage:
    start_ns: int  # send time of the first failed request
    end_ns: int  # send time of the first successful request after it

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


class ClientPoller:
    """HTTP requests from the client namespace every `interval` s, each on a new connection and in
    its own thread, so a hanging request does not delay the next one: resolution = interval."""

    def __init__(self, proc: Proc, interval: float, timeout: float):
        self.proc = proc
        self.interval = interval
        self.timeout = timeout

    def wait_settled(self, sent_before_ns: int) -> None:
        """Results arrive when a request completes, failures only after `timeout`: wait until every
        request sent before `sent_before_ns` has reported."""
        settle_at = sent_before_ns + int((self.timeout + 0.1) * 1e9)
        delay = (settle_at - now_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)

    def samples(self, since_ns: int = 0) -> list[Sample]:
        result = []
        for line in list(self.proc.lines):
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if record["s"] >= since_ns:
                result.append(Sample(record["s"], record["d"], record.get("n"), record.get("e")))
        result.sort(key=lambda s: s.sent_ns)
        return result

    def nodes_seen(self, since_ns: int = 0) -> list[str]:
        seen: list[str] = []
        for sample in self.samples(since_ns):
            if sample.node and (not seen or seen[-1] != sample.node):
                seen.append(sample.node)
        return seen

    def outages(self, since_ns: int = 0, until_ns: Optional[int] = None) -> list[Outage]:
        """Runs of failed requests, by send time. Call wait_settled(until_ns) first: failures are
        reported only once they time out."""
        outages = []
        start = None
        for sample in self.samples(since_ns):
            if until_ns is not None and sample.sent_ns > until_ns:
                break
            if sample.node is None and start is None:
                start = sample.sent_ns
            elif sample.node is not None and start is not None:
                outages.append(Outage(start, sample.sent_ns))
                start = None
        return outages

    def first_refused(self, since_ns: int = 0) -> Optional[Sample]:
        """The first request after `since_ns` that the server refused (RST in answer to the SYN)."""
        return next((s for s in self.samples(since_ns) if s.error == "refused"), None)

    def wait_refused(self, since_ns: int, timeout: float) -> Sample:
        return wait_for(lambda: self.first_refused(since_ns), timeout, interval=0.01,
                        desc="a refused connection")

    def wait_answer_from(self, node: str, since_ns: int, timeout: float) -> Sample:
        def found():
            return next((s for s in self.samples(since_ns) if s.node == node), None)
        return wait_for(found, timeout, interval=0.02, desc=f"HTTP answer from {node}")

    def stop(self) -> None:
        self.proc.stop(timeout=2)


@dataclasses.dataclass
class AddressEvent:
    ts_ns: int
    kind: str  # "add" or "del"
    ifindex: int
    address: str


class _StampedWatcher:
    """An agent inside a namespace printing one `<CLOCK_MONOTONIC ns> <3 fields>` line per event;
    subclasses say how the fields become an event."""

    def __init__(self, proc: Proc):
        self.proc = proc

    @staticmethod
    def _event(ts_ns: int, fields: list[str]):
        raise NotImplementedError

    def events(self, since_ns: int = 0) -> list:
        result = []
        for line in list(self.proc.lines):
            parts = line.split()
            if len(parts) == 4 and parts[0].isdigit() and int(parts[0]) >= since_ns:
                result.append(self._event(int(parts[0]), parts[1:]))
        return result

    def stop(self) -> None:
        self.proc.stop(timeout=2)


class AddressWatcher(_StampedWatcher):
    """Netlink RTM_NEWADDR/RTM_DELADDR events of one namespace, timestamped on arrival with
    CLOCK_MONOTONIC by an agent inside the namespace."""

    @staticmethod
    def _event(ts_ns: int, fields: list[str]) -> AddressEvent:
        return AddressEvent(ts_ns, fields[0], int(fields[1]), fields[2])

    def wait_event(self, kind: str, address: str, since_ns: int, timeout: float) -> AddressEvent:
        wanted = ipaddress.ip_address(address)

        def found():
            return next((e for e in self.events(since_ns)
                         if e.kind == kind and ipaddress.ip_address(e.address) == wanted), None)
        return wait_for(found, timeout, interval=0.005, desc=f"address {kind} {address}")


@dataclasses.dataclass
class AdvertEvent:
    ts_ns: int
    source: str
    vrid: int
    priority: int


class AdvertWatcher(_StampedWatcher):
    """The IPv4 VRRP packets one namespace receives on eth0, stamped with their kernel receive
    time in CLOCK_MONOTONIC by an agent inside the namespace."""

    @staticmethod
    def _event(ts_ns: int, fields: list[str]) -> AdvertEvent:
        return AdvertEvent(ts_ns, fields[0], int(fields[1]), int(fields[2]))

    def last_from(self, source: str, vrid: int, before_ns: int, since_ns: int = 0) -> Optional[AdvertEvent]:
        """The newest advert from `source` for `vrid` received before `before_ns`."""
        matching = [e for e in self.events(since_ns)
                    if e.source == source and e.vrid == vrid and e.ts_ns < before_ns]
        return max(matching, key=lambda e: e.ts_ns, default=None)


class OwnerSampler:
    """Who holds one address, on every node, over time: the OwnerWatcher of each node (one
    `_sample-owner` agent per namespace), merged."""

    def __init__(self, address: str, watchers: dict[str, "OwnerWatcher"]):
        self.address = address
        self.watchers = watchers

    def changes(self) -> list[tuple[int, str, bool]]:
        """(time, node, holds) for every node's initial state and every change, in time order."""
        result = [(change.ts_ns, node, self.address in change.held)
                  for node, watcher in self.watchers.items() for change in watcher.changes()]
        result.sort()
        return result

    def holders(self, at_ns: Optional[int] = None) -> list[str]:
        """Nodes holding the address at `at_ns` (default: as last sampled)."""
        state: dict[str, bool] = {}
        for ts, node, holds in self.changes():
            if at_ns is not None and ts > at_ns:
                break
            state[node] = holds
        return sorted(n for n, h in state.items() if h)

    def multi_owner_intervals(self, since_ns: int = 0, until_ns: Optional[int] = None) -> list[tuple[int, int]]:
        """[start, end) intervals with two or more holders that overlap [since_ns, until_ns);
        an interval still open ends at until_ns (or now)."""
        until_ns = until_ns if until_ns is not None else now_ns()
        state: dict[str, bool] = {}
        intervals, start = [], None
        for ts, node, holds in self.changes():
            if ts > until_ns:
                break
            state[node] = holds
            many = sum(state.values()) >= 2
            if many and start is None:
                start = ts
            elif not many and start is not None:
                intervals.append((start, ts))
                start = None
        if start is not None:
            intervals.append((start, until_ns))
        return [(max(a, since_ns), b) for a, b in intervals if b > since_ns]

    def multi_owner_seconds(self, since_ns: int, until_ns: Optional[int] = None) -> float:
        return sum(b - a for a, b in self.multi_owner_intervals(since_ns, until_ns)) / 1e9

    def transitions(self, since_ns: int, node: Optional[str] = None) -> list[tuple[int, str, bool]]:
        """Changes (not initial states) after `since_ns`, of one node or all."""
        first_seen: set[str] = set()
        result = []
        for ts, name, holds in self.changes():
            if name not in first_seen:
                first_seen.add(name)
                continue
            if ts > since_ns and (node is None or name == node):
                result.append((ts, name, holds))
        return result

    def single_owner_since(self, since_ns: int) -> Optional[int]:
        """When the last multi-owner interval after `since_ns` ended (since_ns if there was none);
        None while it lasts."""
        intervals = self.multi_owner_intervals(since_ns)
        if not intervals:
            return since_ns
        if len(self.holders()) >= 2:
            return None
        return intervals[-1][1]

    def sampling(self) -> tuple[int, int, int]:
        """(max gap between dumps in ns, dumps, dumps later than 10 ms) over all nodes."""
        windows = [w.sampling() for w in self.watchers.values()]
        return (max((w[0] for w in windows), default=0), sum(w[1] for w in windows),
                sum(w[2] for w in windows))

    def describe(self, since_ns: int = 0) -> str:
        return ", ".join(f"{(ts - since_ns) / 1e9:+.3f}s {node} {'+' if holds else '-'}"
                         for ts, node, holds in self.changes() if ts >= since_ns)

    def stop(self) -> None:
        for watcher in self.watchers.values():
            watcher.stop()


@dataclasses.dataclass
class ArpEvent:
    ts_ns: int
    op: int
    sender_mac: str
    sender_ip: str
    target_ip: str

    @property
    def gratuitous(self) -> bool:
        return self.sender_ip == self.target_ip


class ArpWatcher(_StampedWatcher):
    """Every ARP packet one namespace receives on eth0 (kernel receive time, CLOCK_MONOTONIC)."""

    def events(self, since_ns: int = 0) -> list[ArpEvent]:
        result = []
        for line in list(self.proc.lines):
            parts = line.split()
            if len(parts) == 5 and parts[0].isdigit() and int(parts[0]) >= since_ns:
                result.append(ArpEvent(int(parts[0]), int(parts[1]), parts[2], parts[3], parts[4]))
        return result

    def announcements(self, mac: str, address: str, since_ns: int = 0, burst_s: float = 0.5) -> list[int]:
        """Start times of the gratuitous ARP bursts `mac` sent for `address` (frames closer than
        `burst_s` to the previous one belong to the same announcement)."""
        starts: list[int] = []
        last = None
        for event in self.events(since_ns):
            if event.sender_mac != mac.lower() or event.sender_ip != address or not event.gratuitous:
                continue
            if last is None or event.ts_ns - last > burst_s * 1e9:
                starts.append(event.ts_ns)
            last = event.ts_ns
        return starts


@dataclasses.dataclass
class OwnerChange:
    ts_ns: int
    held: frozenset


class OwnerWatcher:
    """Which of a list of VIPs one node holds, over time. The `_sample-owner` agent in the node's
    namespace takes a netlink dump of eth0's addresses every `interval` (5 ms) plus every
    RTM_NEWADDR/DELADDR event as it arrives, and prints `<CLOCK_MONOTONIC ns> <held, comma
    separated, or ->` whenever the held set changes (the first line is the state at start), once a
    second `GAP <max ns between dumps> <dumps> <dumps later than 10 ms>` so a test can show the
    sampling kept up, and on exit `STATS <dumps> <max ns between dumps>`."""

    LATE_NS = 10_000_000

    def __init__(self, proc: Proc, vips: list[str]):
        self.proc = proc
        self.vips = list(vips)

    def changes(self) -> list[OwnerChange]:
        """The state at start, then every change, in time order."""
        result = []
        for line in list(self.proc.lines):
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                held = frozenset() if parts[1] == "-" else frozenset(parts[1].split(","))
                result.append(OwnerChange(int(parts[0]), held))
        return result

    def sampling(self) -> tuple[int, int, int]:
        """(max gap between dumps in ns, dumps, dumps later than 10 ms) over the GAP windows so far."""
        worst, dumps, late = 0, 0, 0
        for line in list(self.proc.lines):
            parts = line.split()
            if len(parts) == 4 and parts[0] == "GAP":
                worst, dumps, late = max(worst, int(parts[1])), dumps + int(parts[2]), late + int(parts[3])
        return worst, dumps, late

    def held_at(self, ts_ns: int) -> frozenset:
        held: frozenset = frozenset()
        for change in self.changes():
            if change.ts_ns > ts_ns:
                break
            held = change.held
        return held

    def gains(self, since_ns: int, until_ns: int) -> int:
        """VIPs added in (since, until]: one per VIP per change that adds it."""
        return self._moves(since_ns, until_ns, added=True)

    def losses(self, since_ns: int, until_ns: int) -> int:
        """VIPs removed in (since, until]: one per VIP per change that removes it."""
        return self._moves(since_ns, until_ns, added=False)

    def _moves(self, since_ns: int, until_ns: int, added: bool) -> int:
        count, held = 0, self.held_at(since_ns)
        for change in self.changes():
            if change.ts_ns > until_ns:
                break
            if change.ts_ns > since_ns:
                count += len(change.held - held if added else held - change.held)
                held = change.held
        return count

    def intervals(self, since_ns: int, until_ns: int) -> list[tuple[int, int, frozenset]]:
        """(start, end, held) pieces covering [since, until]."""
        pieces, held, start = [], self.held_at(since_ns), since_ns
        for change in self.changes():
            if change.ts_ns <= since_ns:
                continue
            if change.ts_ns >= until_ns:
                break
            pieces.append((start, change.ts_ns, held))
            start, held = change.ts_ns, change.held
        pieces.append((start, until_ns, held))
        return pieces

    def stats(self) -> Optional[tuple[int, int]]:
        """(samples, max gap ns) once the agent stopped."""
        for line in reversed(list(self.proc.lines)):
            if line.startswith("STATS "):
                _, samples, gap = line.split()
                return int(samples), int(gap)
        return None

    def stop(self) -> Optional[tuple[int, int]]:
        self.proc.signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            self.proc.wait(3)
        self.proc.stop(timeout=1)
        return self.stats()


def overlap_ns(a: OwnerWatcher, b: OwnerWatcher, since_ns: int, until_ns: int) -> int:
    """How long some VIP was held by both nodes at once within [since, until]."""
    total = 0
    for a_start, a_end, a_held in a.intervals(since_ns, until_ns):
        if not a_held:
            continue
        for b_start, b_end, b_held in b.intervals(since_ns, until_ns):
            if a_held & b_held:
                total += max(0, min(a_end, b_end) - max(a_start, b_start))
    return total


# ----------------------------------------------------------------------------------------------
# Agents: run inside namespaces via `ip netns exec ... vipdlab.py _agent`


def _agent_httpd(args) -> int:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = (args.name + "\n").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *unused):
            pass

    class DualStackServer(ThreadingHTTPServer):
        address_family = socket.AF_INET6  # "::" with IPV6_V6ONLY off: IPv4 and IPv6 VIPs alike

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    try:
        server = DualStackServer(("::", args.port), Handler)
    except OSError:  # IPv6 unavailable in this namespace
        server = ThreadingHTTPServer(("0.0.0.0", args.port), Handler)
    print("READY", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


def _agent_poll(args) -> int:
    lock = threading.Lock()
    stop = threading.Event()
    in_flight = threading.BoundedSemaphore(max(16, int(args.timeout / args.interval) * 2 + 8))
    signal.signal(signal.SIGTERM, lambda *unused: stop.set())
    family = socket.AF_INET6 if ":" in args.address else socket.AF_INET
    request = f"GET / HTTP/1.0\r\nHost: {args.address}\r\n\r\n".encode()

    def one(sent_ns: int) -> None:
        node = None
        error = None  # why it failed: "refused" (RST to the SYN), "timeout" or "error"
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(args.timeout)
                sock.connect((args.address, args.port))
                sock.sendall(request)
                data = b""
                while len(data) < 4096:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"):
                node = body.decode(errors="replace").strip() or None
        except ConnectionRefusedError:
            error = "refused"
        except socket.timeout:
            error = "timeout"
        except OSError:
            error = "error"
        finally:
            in_flight.release()
        record = {"s": sent_ns, "d": now_ns(), "n": node}
        if error:
            record["e"] = error
        with lock:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    print("READY", flush=True)
    deadline = time.monotonic() + args.duration
    next_at = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        if in_flight.acquire(timeout=args.timeout):
            threading.Thread(target=one, args=(now_ns(),), daemon=True).start()
        next_at += args.interval
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.monotonic()
    time.sleep(args.timeout + 0.1)  # let in-flight requests report
    return 0


def _agent_scrape(args) -> int:
    """Scrapes an HTTP URL back to back from `--threads` threads until SIGTERM or `--duration`;
    prints READY, then at the end one JSON line: scrapes, errors, slowest (ms), bytes of the last."""
    import urllib.request
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *unused: stop.set())
    lock = threading.Lock()
    totals = {"scrapes": 0, "errors": 0, "slowest_ms": 0.0, "bytes": 0}

    def loop() -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(args.url, timeout=2) as answer:
                    size = len(answer.read())
                ok = True
            except OSError:
                size, ok = 0, False
            took = (time.monotonic() - t0) * 1000
            with lock:
                totals["scrapes" if ok else "errors"] += 1
                totals["slowest_ms"] = max(totals["slowest_ms"], took)
                if ok:
                    totals["bytes"] = size

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(args.threads)]
    print("READY", flush=True)
    for thread in threads:
        thread.start()
    stop.wait(args.duration)
    stop.set()
    for thread in threads:
        thread.join(timeout=3)
    print(json.dumps(totals), flush=True)
    return 0


RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_ADDRESS, IFA_LOCAL = 1, 2


def _parse_addr_messages(data: bytes):
    offset = 0
    while offset + 16 <= len(data):
        length, msg_type, _, _, _ = struct.unpack_from("=IHHII", data, offset)
        if length < 16:
            return
        if msg_type in (RTM_NEWADDR, RTM_DELADDR) and length >= 24:
            family, _, _, _, ifindex = struct.unpack_from("=BBBBI", data, offset + 16)
            attrs = {}
            pos = offset + 24
            while pos + 4 <= offset + length:
                rta_len, rta_type = struct.unpack_from("=HH", data, pos)
                if rta_len < 4:
                    break
                attrs[rta_type] = data[pos + 4:pos + rta_len]
                pos += (rta_len + 3) & ~3
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw:
                fam = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
                kind = "add" if msg_type == RTM_NEWADDR else "del"
                yield kind, ifindex, socket.inet_ntop(fam, raw)
        offset += (length + 3) & ~3


def _agent_watch_addr(args) -> int:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    print("READY", flush=True)
    for data in _received(sock, args.duration, lambda s: s.recv(1 << 16)):
        stamp = now_ns()
        for kind, ifindex, address in _parse_addr_messages(data):
            print(f"{stamp} {kind} {ifindex} {address}", flush=True)
    return 0


NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
RTM_GETADDR = 22


def _addresses_now(sock: socket.socket, family: int, seq: int) -> set[tuple[int, str]]:
    """(ifindex, address) of every address of `family`, by an RTM_GETADDR dump."""
    request = struct.pack("=IHHIIBBBBI", 16 + 8, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, 0,
                          family, 0, 0, 0, 0)
    sock.send(request)
    found = set()
    for _ in range(1000):
        data = sock.recv(1 << 16)
        for kind, ifindex, address in _parse_addr_messages(data):
            found.add((ifindex, address))
        offset = 0
        while offset + 16 <= len(data):
            length, msg_type = struct.unpack_from("=IH", data, offset)
            if msg_type in (NLMSG_DONE, NLMSG_ERROR):
                return found
            if length < 16:
                return found
            offset += (length + 3) & ~3
    return found


def _agent_sample_owner(args) -> int:
    """Prints `<CLOCK_MONOTONIC ns> <held, comma separated, or ->` whenever the set of --addresses
    eth0 holds changes (first line: the state at start), from a netlink dump every --interval s and
    from address events on arrival; `GAP <max ns between dumps> <dumps> <dumps later than 10 ms>`
    once a second; on exit (SIGTERM or --duration) `STATS <dumps> <max ns between dumps>`."""
    import select
    wanted = {ipaddress.ip_address(a): a for a in args.addresses.split(",") if a}
    order = list(wanted.values())
    families = sorted({socket.AF_INET if a.version == 4 else socket.AF_INET6 for a in wanted})
    ifindex = socket.if_nametoindex("eth0")
    events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    events.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    events.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    dumper = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    dumper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    dumper.bind((0, 0))
    seq = 1

    def ours(index: int, address: str) -> Optional[str]:
        return wanted.get(ipaddress.ip_address(address)) if index == ifindex else None

    def held_now() -> set[str]:
        nonlocal seq
        found = set()
        for family in families:
            seq += 1
            found |= {ours(i, a) for i, a in _addresses_now(dumper, family, seq)}
        return found - {None}

    def report(stamp: int) -> None:
        print(f"{stamp} {','.join(a for a in order if a in held) or '-'}", flush=True)

    held = held_now()
    report(now_ns())
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *unused: stop.set())
    deadline = time.monotonic() + args.duration
    interval_ns = int(args.interval * 1e9)
    last_dump = next_dump = now_ns()
    window_end = last_dump + 1_000_000_000
    worst = dumps = late = 0
    total_dumps = total_worst = 0
    while not stop.is_set() and time.monotonic() < deadline:
        wait = max(0.0, (next_dump - now_ns()) / 1e9)
        readable, _, _ = select.select([events], [], [], wait)
        if readable:
            try:
                data = events.recv(1 << 16)
            except OSError:  # ENOBUFS: events were lost; the next dump has the truth
                next_dump = now_ns()
                continue
            stamp = now_ns()
            changed = False
            for kind, index, address in _parse_addr_messages(data):
                if (mine := ours(index, address)) is not None and (kind == "add") != (mine in held):
                    held = held | {mine} if kind == "add" else held - {mine}
                    changed = True
            if changed:
                report(stamp)
            continue
        now_held = held_now()
        stamp = now_ns()
        if now_held != held:
            held = now_held
            report(stamp)
        gap = stamp - last_dump
        worst, dumps, late = max(worst, gap), dumps + 1, late + (gap > OwnerWatcher.LATE_NS)
        total_worst, total_dumps = max(total_worst, gap), total_dumps + 1
        last_dump = stamp
        next_dump = max(next_dump + interval_ns, stamp)
        if stamp >= window_end:
            print(f"GAP {worst} {dumps} {late}", flush=True)
            worst = dumps = late = 0
            window_end = stamp + 1_000_000_000
    print(f"STATS {total_dumps} {total_worst}", flush=True)
    return 0


ETH_P_ARP = 0x0806


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _agent_watch_arp(args) -> int:
    """Prints `<CLOCK_MONOTONIC ns> <op> <sender mac> <sender ip> <target ip>` for every ARP packet
    on eth0 (kernel receive time, as _watch-adverts)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind(("eth0", ETH_P_ARP))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    print("READY", flush=True)
    for data, ancillary, _, _ in _received(sock, args.duration,
                                           lambda s: s.recvmsg(256, socket.CMSG_SPACE(16))):
        if len(data) < 14 + 28:
            continue
        arp = data[14:42]
        op = struct.unpack("!H", arp[6:8])[0]
        print(f"{_monotonic_receive_time(ancillary)} {op} {_mac_text(arp[8:14])} "
              f"{socket.inet_ntoa(arp[14:18])} {socket.inet_ntoa(arp[24:28])}", flush=True)
    return 0


def _agent_arp_flood(args) -> int:
    """Broadcasts ARP replies `VIP is at <random MAC>` on eth0 at --rate per second for --duration
    s (paced in 1 ms slices); prints {"sent", "seconds", "pps"} as achieved. The Ethernet source is
    eth0's own MAC (random ones would only fill the lab switch's forwarding table); the ARP sender
    MAC, which is what a VIP watch looks at, is random in every frame of a 4096-frame cycle."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind(("eth0", 0))
    own = Path("/sys/class/net/eth0/address").read_text().strip()
    eth = b"\xff" * 6 + bytes.fromhex(own.replace(":", "")) + struct.pack("!H", ETH_P_ARP)
    vip = socket.inet_aton(args.vip)
    frames = []
    for _ in range(4096):
        mac = bytearray(secrets.token_bytes(6))
        mac[0] = (mac[0] & 0xFE) | 0x02  # unicast, locally administered
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + bytes(mac) + vip + b"\xff" * 6 + vip
        frames.append(eth + arp + bytes(18))
    per_slice = max(1, args.rate // 1000)
    sent = 0
    started = time.monotonic()
    deadline = started + args.duration
    next_slice = started
    for _ in range(int(args.duration * 1000) + 1000):
        now = time.monotonic()
        if now >= deadline:
            break
        for _ in range(per_slice):
            try:
                sock.send(frames[sent % len(frames)])
                sent += 1
            except BlockingIOError:
                break
        next_slice += 0.001
        delay = next_slice - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    seconds = time.monotonic() - started
    print(json.dumps({"sent": sent, "seconds": round(seconds, 3), "pps": round(sent / seconds)}), flush=True)
    return 0


def _received(sock: socket.socket, duration: float, receive):
    """Yields what `receive(sock)` returns until `duration` seconds have passed."""
    deadline = time.monotonic() + duration
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            yield receive(sock)
        except socket.timeout:
            return


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _monotonic_receive_time(ancillary) -> int:
    """The SO_TIMESTAMPNS stamp (CLOCK_REALTIME) in CLOCK_MONOTONIC, or now if there is none."""
    offset_ns = time.clock_gettime_ns(time.CLOCK_REALTIME) - now_ns()
    for level, kind, raw in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
            sec, nsec = struct.unpack("@qq", raw[:16])
            return sec * 1_000_000_000 + nsec - offset_ns
    return now_ns()


def _agent_watch_adverts(args) -> int:
    """Prints `<CLOCK_MONOTONIC ns> <source> <vrid> <priority>` for every IPv4 VRRP packet on eth0.
    The stamp is the kernel's receive time (SO_TIMESTAMPNS, CLOCK_REALTIME) moved to CLOCK_MONOTONIC
    with the clocks' offset read right after the packet: this agent's own wake-up delay stays out."""
    sock = _mcast_socket(4)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    print("READY", flush=True)
    for data, ancillary, _, _ in _received(sock, args.duration,
                                           lambda s: s.recvmsg(4096, socket.CMSG_SPACE(16))):
        received_ns = _monotonic_receive_time(ancillary)
        header_len = (data[0] & 0x0F) * 4 if data else 0
        if len(data) < header_len + 3:
            continue
        source = socket.inet_ntoa(data[12:16])
        print(f"{received_ns} {source} {data[header_len + 1]} {data[header_len + 2]}", flush=True)
    return 0


def _mcast_socket(family: int) -> socket.socket:
    if family == 6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
        index = socket.if_nametoindex("eth0")
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        group = socket.inet_pton(socket.AF_INET6, "ff02::12") + struct.pack("@I", index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group)
        return sock
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    membership = struct.pack("=4s4si", socket.inet_aton("224.0.0.18"), socket.inet_aton("0.0.0.0"),
                             socket.if_nametoindex("eth0"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    return sock


def _agent_mcast_recv(args) -> int:
    sock = _mcast_socket(args.family)
    print("READY", flush=True)
    deadline = time.monotonic() + args.timeout
    token = args.token.encode()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print("NONE", flush=True)
            return 1
        sock.settimeout(remaining)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        if token in data:
            print("GOT", flush=True)
            return 0


def _agent_mcast_send(args) -> int:
    sock = _mcast_socket(args.family)
    group = "ff02::12" if args.family == 6 else "224.0.0.18"
    for _ in range(args.count):
        sock.sendto(b"vipdlab-probe " + args.token.encode(), (group, 0))
        time.sleep(0.05)
    return 0


# ----------------------------------------------------------------------------------------------
# CLI for humans


def _cli_up(args) -> int:
    lab = Lab(nodes=args.nodes, subnet=args.subnet, ipv6=args.ipv6, persistent=True)
    try:
        lab.up()
        if args.http:
            lab.start_http_servers()
    except BaseException:
        lab.down()
        raise
    atexit.unregister(lab.down)  # persistent: stays until `down`
    for proc in lab.processes:
        proc.close()
    print(f"lab {lab.prefix} up; work dir {lab.workdir}")
    for node in [lab.client, *lab.nodes]:
        six = f" {node.ipv6}" if node.ipv6 else ""
        print(f"  {node.name:3} ns {node.ns_name:16} eth0 {node.ipv4}{six}")
    print(f"  run in a node:  ip netns exec {lab.nodes[0].ns_name} <command>")
    print(f"  tear down:      {PYTHON} {THIS_FILE} down {lab.prefix}")
    return 0


def _cli_down(args) -> int:
    prefixes = args.prefix or [e["prefix"] for e in _read_registry(STATE_DIR) if e.get("persistent")]
    failed = False
    for prefix in prefixes:
        if not re.fullmatch(r"vipdt[0-9a-f]{6}", prefix):
            print(f"not a lab prefix: {prefix}", file=sys.stderr)
            failed = True
            continue
        remaining = teardown_prefix(prefix)
        print(f"lab {prefix}: {'removed' if not remaining else f'left {remaining}'}")
        failed |= bool(remaining)
    for prefix in cleanup_stale(include_persistent=False):
        print(f"stale lab {prefix}: removed")
    return 1 if failed else 0


def _cli_status(args) -> int:
    entries = _read_registry(STATE_DIR)
    namespaces = list_netns()
    if not entries:
        print("no labs registered")
    for entry in entries:
        prefix = entry["prefix"]
        kind = "persistent" if entry.get("persistent") else (
            f"owner pid {entry.get('pid')} " + ("alive" if _owner_alive(entry) else "dead (stale)"))
        print(f"lab {prefix}: {entry.get('nodes')} nodes, {entry.get('subnet')}, {kind}")
        for ns in sorted(n for n in namespaces if n.startswith(prefix + "-")):
            if ns.endswith("-sw"):
                continue
            out = run_cmd(["ip", "-n", ns, "-br", "addr", "show", "dev", "eth0"], check=False).stdout.strip()
            print(f"  {ns:16} {out}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="vipdlab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build a persistent lab")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--subnet", default=DEFAULT_SUBNET)
    up.add_argument("--ipv6", action="store_true")
    up.add_argument("--http", action="store_true", help="start the per-node HTTP servers")
    up.set_defaults(func=_cli_up)
    down = sub.add_parser("down", help="remove persistent labs (all, or the given prefixes) and stale ones")
    down.add_argument("prefix", nargs="*")
    down.set_defaults(func=_cli_down)
    status = sub.add_parser("status", help="list labs")
    status.set_defaults(func=_cli_status)

    agent = sub.add_parser("_httpd")
    agent.add_argument("--name", required=True)
    agent.add_argument("--port", type=int, default=80)
    agent.set_defaults(func=_agent_httpd)
    agent = sub.add_parser("_poll")
    agent.add_argument("--address", required=True)
    agent.add_argument("--port", type=int, default=80)
    agent.add_argument("--interval", type=float, default=0.01)
    agent.add_argument("--timeout", type=float, default=0.5)
    agent.add_argument("--duration", type=float, default=600)
    agent.set_defaults(func=_agent_poll)
    agent = sub.add_parser("_scrape")
    agent.add_argument("--url", required=True)
    agent.add_argument("--threads", type=int, default=4)
    agent.add_argument("--duration", type=float, default=120)
    agent.set_defaults(func=_agent_scrape)
    agent = sub.add_parser("_watch-addr")
    agent.add_argument("--duration", type=float, default=3600)
    agent.set_defaults(func=_agent_watch_addr)
    agent = sub.add_parser("_watch-adverts")
    agent.add_argument("--duration", type=float, default=3600)
    agent.set_defaults(func=_agent_watch_adverts)
    agent = sub.add_parser("_sample-owner")
    agent.add_argument("--addresses", required=True, help="comma separated")
    agent.add_argument("--interval", type=float, default=0.005)
    agent.add_argument("--duration", type=float, default=3600)
    agent.set_defaults(func=_agent_sample_owner)
    agent = sub.add_parser("_watch-arp")
    agent.add_argument("--duration", type=float, default=3600)
    agent.set_defaults(func=_agent_watch_arp)
    agent = sub.add_parser("_arp-flood")
    agent.add_argument("--vip", required=True)
    agent.add_argument("--rate", type=int, default=20000)
    agent.add_argument("--duration", type=float, default=5)
    agent.set_defaults(func=_agent_arp_flood)
    for name, func in (("_mcast-recv", _agent_mcast_recv), ("_mcast-send", _agent_mcast_send)):
        agent = sub.add_parser(name)
        agent.add_argument("--family", type=int, choices=(4, 6), default=4)
        agent.add_argument("--token", required=True)
        agent.add_argument("--timeout", type=float, default=1.5)
        agent.add_argument("--count", type=int, default=5)
        agent.set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
