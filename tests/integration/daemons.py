"""VRRP daemons the lab can run on its nodes: keepalived (the reference) and vipd.

Both are driven through the same `Daemon` interface so tests and benchmarks compare like with like:
`start(lab, node, settings) -> DaemonProcess`, then `crash()` (SIGKILL of the whole process group),
`stop()` (SIGTERM: the daemon's own graceful shutdown, priority-0 advert) and log inspection.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Optional

import vipdlab

REPO_ROOT = Path(__file__).resolve().parents[2]
KEEPALIVED = os.environ.get("VIPD_KEEPALIVED", "/usr/sbin/keepalived")


@dataclasses.dataclass
class VrrpSettings:
    vip: str
    priority: int
    vrid: int = 51
    advert_interval: float = 1.0  # seconds; v2 whole seconds only
    version: int = 2
    config_name: str = "vipdtest"
    preemption: str = ""  # "", "nopreempt" or "preempt_delay 300" (ipfailover's default)
    unicast_peers: tuple[str, ...] = ()
    unicast_src: Optional[str] = None
    interface: str = "eth0"
    extra_args: tuple[str, ...] = ()  # vipd only: further `vipd run` options

    def __post_init__(self):
        if self.version == 2 and self.advert_interval != int(self.advert_interval):
            raise ValueError("VRRPv2 advert intervals are whole seconds")
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.config_name):
            raise ValueError("config_name: letters, digits and _ only (ipfailover scrubs it)")

    @property
    def instance_name(self) -> str:
        return f"{self.config_name}_VIP_1"

    def master_down_interval(self, backup_priority: int) -> float:
        """RFC 3768 / 5798: 3 x interval + skew, in seconds."""
        return 3 * self.advert_interval + (256 - backup_priority) / 256 * self.advert_interval

    def skew_time(self, backup_priority: int) -> float:
        return (256 - backup_priority) / 256 * self.advert_interval


class DaemonProcess:
    """A running daemon on one node."""

    def __init__(self, daemon: "Daemon", node: vipdlab.Node, proc: vipdlab.Proc, settings: VrrpSettings):
        self.daemon = daemon
        self.node = node
        self.proc = proc
        self.settings = settings

    def crash(self) -> None:
        self.proc.kill()

    def stop(self) -> None:
        self.proc.terminate()

    def wait(self, timeout: float = 5.0) -> int:
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc.alive()

    def log(self) -> str:
        return self.proc.log_text()

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log()))

    def master_transitions(self) -> int:
        return self.count(self.daemon.master_pattern(self.settings))

    def backup_transitions(self) -> int:
        return self.count(self.daemon.backup_pattern(self.settings))


class Daemon:
    name = "daemon"

    def available(self) -> Optional[str]:
        """None if it can run here, else why not."""
        return None

    def command(self, lab: vipdlab.Lab, node: vipdlab.Node, settings: VrrpSettings, run_dir: Path) -> list[str]:
        raise NotImplementedError

    def master_pattern(self, settings: VrrpSettings) -> str:
        raise NotImplementedError

    def backup_pattern(self, settings: VrrpSettings) -> str:
        raise NotImplementedError

    def start(self, lab: vipdlab.Lab, node, settings: VrrpSettings) -> DaemonProcess:
        node = lab.node(node)
        run_dir = lab.workdir / f"{node.name}-{self.name}"
        for k in range(1, 1000):  # one directory (config, pid files) per start
            if not run_dir.exists():
                break
            run_dir = lab.workdir / f"{node.name}-{self.name}.{k}"
        run_dir.mkdir(parents=True)
        argv = self.command(lab, node, settings, run_dir)
        proc = lab.start_daemon(node, argv, self.name)
        return DaemonProcess(self, node, proc, settings)


def keepalived_config(settings: VrrpSettings, node: vipdlab.Node) -> str:
    """ipfailover-style keepalived.conf (one vrrp_instance, no check script)."""
    lines = [
        "global_defs {",
        f"   router_id {settings.config_name}_{node.name}",
        "}",
        "",
        f"vrrp_instance {settings.instance_name} {{",
        f"   interface {settings.interface}",
        "   state BACKUP",
        f"   virtual_router_id {settings.vrid}",
        f"   priority {settings.priority}",
    ]
    if settings.preemption:
        lines.append(f"   {settings.preemption}")
    if settings.version == 3:
        lines += ["   version 3", f"   advert_int {settings.advert_interval:g}"]
    else:
        lines.append(f"   advert_int {int(settings.advert_interval)}")
        lines += ["   authentication {", "      auth_type PASS",
                  f"      auth_pass {settings.config_name[:8]}", "   }"]
    if settings.unicast_src:
        lines.append(f"   unicast_src_ip {settings.unicast_src}")
    if settings.unicast_peers:
        lines += ["   unicast_peer {", *[f"      {peer}" for peer in settings.unicast_peers], "   }"]
    lines += ["   virtual_ipaddress {", f"      {settings.vip} dev {settings.interface}", "   }", "}", ""]
    return "\n".join(lines)


class Keepalived(Daemon):
    name = "keepalived"

    def available(self) -> Optional[str]:
        return None if os.access(KEEPALIVED, os.X_OK) else f"{KEEPALIVED} not installed"

    def command(self, lab, node, settings, run_dir):
        conf = run_dir / "keepalived.conf"
        conf.write_text(keepalived_config(settings, node))
        # Own pid files per node: keepalived refuses to start while another copy's pid file is live.
        # -n: stay in the foreground (the process group holds parent and VRRP child);
        # -l -D: detailed log to the console, captured in the lab's log file; -G: keep syslog clean.
        return [KEEPALIVED, "-n", "-l", "-D", "-G", "-P", "-f", str(conf),
                "-p", str(run_dir / "keepalived.pid"), "-r", str(run_dir / "vrrp.pid"),
                "-c", str(run_dir / "checkers.pid"), "-b", str(run_dir / "bfd.pid")]

    def master_pattern(self, settings):
        return re.escape(f"({settings.instance_name}) Entering MASTER STATE")

    def backup_pattern(self, settings):
        return re.escape(f"({settings.instance_name}) Entering BACKUP STATE")


class Vipd(Daemon):
    """vipd's agent; the command line follows the lead's planned `vipd run` interface."""

    name = "vipd"

    def __init__(self, binary: Optional[str] = None):
        build_dir = Path(os.environ.get("VIPD_BUILD_DIR", REPO_ROOT / "build"))
        self.binary = Path(binary or os.environ.get("VIPD_BINARY", build_dir / "vipd"))

    def available(self) -> Optional[str]:
        if not os.access(self.binary, os.X_OK):
            return f"{self.binary} not built"
        probe = vipdlab.run_cmd([str(self.binary), "run", "--help"], check=False)
        if probe.returncode != 0:
            return f"{self.binary} has no `run` subcommand yet"
        return None

    def command(self, lab, node, settings, run_dir):
        argv = [str(self.binary), "run", "--interface", settings.interface, "--vips", settings.vip,
                "--vrid", str(settings.vrid), "--priority", str(settings.priority),
                "--advert-interval", f"{settings.advert_interval:g}",
                "--vrrp-version", str(settings.version), "--config-name", settings.config_name,
                # The lab's announcements would only slow the runs down after the first burst.
                "--garp-master-delay", "0"]
        # vipd's default is ipfailover's `preempt_delay 300`; the lab's default is keepalived's
        # (preempt, no delay), so say it explicitly.
        argv += ["--preemption", settings.preemption or "preempt"]
        if settings.unicast_peers:
            argv += ["--unicast-peers", ",".join(settings.unicast_peers)]
        if settings.unicast_src:
            argv += ["--source-address", settings.unicast_src]
        argv += list(settings.extra_args)
        return argv

    def master_pattern(self, settings):
        return r"Entering MASTER STATE"

    def backup_pattern(self, settings):
        return r"Entering BACKUP STATE"


DAEMONS = {"keepalived": Keepalived, "vipd": Vipd}


def make_daemon(name: str) -> Daemon:
    try:
        return DAEMONS[name]()
    except KeyError:
        raise ValueError(f"unknown daemon {name!r}; known: {', '.join(DAEMONS)}") from None
