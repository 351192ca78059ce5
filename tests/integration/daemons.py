"""VRRP daemons the lab can run on its nodes: keepalived (the reference) and vipd.

Both are driven through the same `Daemon` interface so tests and benchmarks compare like with like:
`start(lab, node, settings) -> DaemonProcess`, then `crash()` (SIGKILL of the whole process group),
`stop()` (SIGTERM: the daemon's own graceful shutdown, priority-0 advert) and log inspection.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
from pathlib import Path
from typing import Optional

import vipdlab

REPO_ROOT = Path(__file__).resolve().parents[2]
KEEPALIVED = os.environ.get("VIPD_KEEPALIVED", "/usr/sbin/keepalived")

# keepalived log lines that mean it did not like a VRRP packet it received (vipd's, in the
# interop and migration suites): a bad checksum, TTL, version or password, or a master advert
# missing one of the configured VIPs.
KEEPALIVED_COMPLAINTS = re.compile(
    r"bogus|invalid passwd|checksum|TTL|wrong version|not present in MASTER advert", re.I)

# The daemons' own configuration variables: test daemons must not inherit them from the shell
# that runs the tests.
_CONFIG_ENV_PREFIXES = ("OPENSHIFT_HA_", "VIPD_", "HA_")


def skew_time(interval: float, priority: int) -> float:
    """RFC 3768 / 5798 Skew_Time of a backup with `priority`, in seconds (interval in seconds)."""
    return (256 - priority) / 256 * interval


def master_down_interval(interval: float, priority: int) -> float:
    """RFC 3768 / 5798 Master_Down_Interval: 3 x interval + Skew_Time, in seconds."""
    return 3 * interval + skew_time(interval, priority)


def scrubbed_environment() -> dict[str, str]:
    """Our environment without the daemons' configuration variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_ENV_PREFIXES)}


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
    # keepalived with unicast_peer sends by unicast only; vipd does too with --use-unicast, and
    # without it adds the peers to multicast (hybrid transport).
    unicast_only: bool = True
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
        return master_down_interval(self.advert_interval, backup_priority)


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

    def environment(self, lab: vipdlab.Lab, node: vipdlab.Node, settings: VrrpSettings) -> dict:
        """The daemon's environment: ours without OPENSHIFT_HA_*, VIPD_* and HA_* (a variable
        left in the shell must not configure the daemon under test)."""
        return scrubbed_environment()

    def start(self, lab: vipdlab.Lab, node, settings: VrrpSettings) -> DaemonProcess:
        node = lab.node(node)
        run_dir = lab.workdir / f"{node.name}-{self.name}"
        for k in range(1, 1000):  # one directory (config, pid files) per start
            if not run_dir.exists():
                break
            run_dir = lab.workdir / f"{node.name}-{self.name}.{k}"
        run_dir.mkdir(parents=True)
        argv = self.command(lab, node, settings, run_dir)
        proc = lab.start_daemon(node, argv, self.name, env=self.environment(lab, node, settings))
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
    """vipd's agent, configured through `vipd run` options."""

    name = "vipd"

    def __init__(self, binary: Optional[str] = None):
        build_dir = Path(os.environ.get("VIPD_BUILD_DIR", REPO_ROOT / "build"))
        self.binary = Path(binary or os.environ.get("VIPD_BINARY", build_dir / "vipd"))

    def available(self) -> Optional[str]:
        if not os.access(self.binary, os.X_OK):
            return f"{self.binary} not built"
        probe = vipdlab.run_cmd([str(self.binary), "run", "--help"], check=False)
        if probe.returncode != 0:
            return f"{self.binary} run --help failed: {probe.stderr.strip()}"
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
            if settings.unicast_only:
                argv += ["--use-unicast", "true"]
        if settings.unicast_src:
            argv += ["--source-address", settings.unicast_src]
        argv += list(settings.extra_args)
        return argv

    def environment(self, lab, node, settings):
        """Besides the scrubbed environment: the state file (what `vipd cleanup` reads) in the
        lab's work directory, never the host's /run/vipd, where a killed lab daemon's file would
        outlive the lab."""
        state_dir = lab.workdir / f"{lab.node(node).name}-state"
        return {**super().environment(lab, node, settings), "VIPD_STATE_DIR": str(state_dir)}

    def start_from_config(self, lab, node: str, config: Path, settings: VrrpSettings,
                          extra: tuple[str, ...] = ()) -> DaemonProcess:
        """`vipd run --config FILE`: what a reload reads again (flags and variables would override
        the file, so only `extra` flags that never change go on the command line). `settings`
        only describes the daemon for the caller (patterns, instance name)."""
        argv = [str(self.binary), "run", "--config", str(config), *extra]
        proc = lab.start_daemon(lab.node(node), argv, self.name,
                                env=self.environment(lab, node, settings))
        return DaemonProcess(self, lab.node(node), proc, settings)

    def master_pattern(self, settings):
        return r"Entering MASTER STATE"

    def backup_pattern(self, settings):
        return r"Entering BACKUP STATE"


# ----------------------------------------------------------------------------------------------
# OpenShift ipfailover: its keepalived.conf generator, and both daemons configured from the same
# OPENSHIFT_HA_* environment (the rolling-migration tests and bench_appfail.py).


@dataclasses.dataclass
class IpfailoverInstance:
    name: str
    vrid: int
    priority: int
    master_eligible: bool
    vips: list[str]


def split_contiguous(vips: list[str], groups: int) -> list[list[str]]:
    """The VIPs in `groups` contiguous runs, the first ones one longer: how vipd's --vip-groups and
    ipfailover's OPENSHIFT_HA_VIP_GROUPS split them."""
    size, extra = divmod(len(vips), groups)
    result, pos = [], 0
    for n in range(groups):
        take = size + (1 if n < extra else 0)
        result.append(vips[pos:pos + take])
        pos += take
    return result


class Ipfailover:
    """What ipfailover's generator (openshift/images ipfailover/keepalived lib/config-generators.sh)
    writes for an OPENSHIFT_HA_* environment, re-implemented from its behaviour as docs/CONFIG.md
    describes it (the variables, the priority scheme), IPv4 VIPs only. Backup priorities are random
    in ipfailover; `rng` makes them reproducible."""

    def __init__(self, env: dict[str, str], rng=None):
        self.env = env
        self.rng = rng or random.Random(0)

    def get(self, key: str, default: str = "") -> str:
        value = self.env.get(key)
        return default if value is None or value == "" else value

    @property
    def raw_config_name(self) -> str:
        return self.get("OPENSHIFT_HA_CONFIG_NAME", "OpenShift-IPFailover")

    @property
    def config_name(self) -> str:
        """Scrubbed, for router_id and the instance names."""
        return re.sub(r"[^A-Za-z0-9_]", "", self.raw_config_name.replace("-", "_"))

    @property
    def check_name(self) -> str:
        return "chk_" + self.raw_config_name.replace("-", "_")

    @property
    def auth_pass(self) -> str:
        # The generator passes the unscrubbed name to the authentication section; keepalived uses
        # its first 8 characters.
        return self.raw_config_name

    @property
    def interface(self) -> str:
        return self.get("OPENSHIFT_HA_NETWORK_INTERFACE", "eth0")

    @property
    def monitor_port(self) -> int:
        digits = re.sub(r"[^0-9]", "", self.get("OPENSHIFT_HA_MONITOR_PORT", "80"))
        return int(digits or "0")

    @property
    def preemption(self) -> str:
        return self.get("OPENSHIFT_HA_PREEMPTION", "preempt_delay 300")

    def vips(self) -> list[str]:
        cleaned = re.sub(r"[^0-9a-fA-F:.,-]", "", self.get("OPENSHIFT_HA_VIRTUAL_IPS"))
        result = []
        for entry in filter(None, cleaned.split(",")):
            if "-" not in entry:
                result.append(entry)
                continue
            start, end = entry.split("-", 1)
            base, first = start.rsplit(".", 1)
            last = end.rsplit(".", 1)[-1]
            result += [f"{base}.{k}" for k in range(int(first), int(last) + 1)]
        return result

    def vip_groups(self) -> list[list[str]]:
        vips = self.vips()
        groups = int(self.get("OPENSHIFT_HA_VIP_GROUPS", "0"))
        if groups <= 0:
            return [[v] for v in vips]
        return split_contiguous(vips, min(groups, len(vips)))

    def instances(self, node_ip: str) -> list[IpfailoverInstance]:
        offset = int(self.get("OPENSHIFT_HA_VRRP_ID_OFFSET", "10"))
        excluded = {int(v) for v in self.get("HA_EXCLUDED_VRRP_IDS").split()}
        replicas = max(int(self.get("OPENSHIFT_HA_REPLICA_COUNT", "1")), 1)
        ipslot = int(node_ip.rsplit(".", 1)[1]) % 128
        idx = ipslot % replicas + 1
        nopreempt = self.preemption == "nopreempt"
        result, eligible = [], 0
        for n, vips in enumerate(self.vip_groups(), start=1):
            while offset + n in excluded:
                offset += 1
            if n % idx == 0:
                high = nopreempt or eligible % 2 == 0
                eligible += 1
                priority, master = (255 - ipslot if high else ipslot + 1), True
            else:
                priority, master = ipslot % 64 + self.rng.randrange(32), False
            result.append(IpfailoverInstance(f"{self.config_name}_VIP_{n}", offset + n, priority,
                                             master, vips))
        return result

    def check_command(self, node_ip: str) -> str:
        script = self.get("OPENSHIFT_HA_CHECK_SCRIPT")
        if script:
            return script
        if self.monitor_port == 0:
            return "true"
        return f"/bin/bash -c '</dev/tcp/{node_ip}/{self.monitor_port}'"

    def keepalived_config(self, node_ip: str, instances: Optional[list[IpfailoverInstance]] = None) -> str:
        name, interface = self.config_name, self.interface
        lines = [
            "global_defs {",
            "   notification_email {",
            f"     {self.get('OPENSHIFT_HA_ADMIN_EMAILS', 'root@localhost')}",
            "   }",
            "   notification_email_from ipfailover@openshift.local",
            f"   smtp_server {self.get('OPENSHIFT_HA_SMTP_SERVER', '127.0.0.1')}",
            "   smtp_connect_timeout 30",
            f"   router_id {name}",
            "}",
            "",
            f"vrrp_script {self.check_name} {{",
            f'   script "{self.check_command(node_ip)}"',
            f"   interval {self.get('OPENSHIFT_HA_CHECK_INTERVAL', '2')}",
            "}",
            "",
        ]
        notify = self.get("OPENSHIFT_HA_NOTIFY_SCRIPT")
        peers = [p for p in self.get("OPENSHIFT_HA_UNICAST_PEERS").split(",") if p]
        for inst in instances or self.instances(node_ip):
            lines += [f"vrrp_instance {inst.name} {{", f"   interface {interface}"]
            if inst.master_eligible and self.preemption != "nopreempt":
                lines.append("   state MASTER")
            lines += [f"   virtual_router_id {inst.vrid}", f"   priority {inst.priority}",
                      f"   {self.preemption}",
                      "   authentication {", "      auth_type PASS", f"      auth_pass {self.auth_pass}", "   }",
                      "   track_script {", f"      {self.check_name}", "   }"]
            if notify:
                lines.append(f'   notify "{notify}"')
            if peers:
                lines += ["   unicast_peer {", *[f"      {p}" for p in peers], "   }"]
            lines += ["   virtual_ipaddress {", *[f"      {v} dev {interface}" for v in inst.vips],
                      "   }", "}", ""]
        return "\n".join(lines)


class IpfailoverKeepalived(Keepalived):
    """keepalived with the configuration ipfailover generates for `ipfailover.env` on each node
    (the node's own eth0 address drives the priorities and the check). `instances_for(node)`
    overrides the generated instances, e.g. to reuse the priorities vipd chose."""

    def __init__(self, ipfailover: Ipfailover, instances_for=None):
        self.ipfailover = ipfailover
        self.instances_for = instances_for
        self.configs: dict[str, str] = {}  # node name -> last config written

    def command(self, lab, node, settings, run_dir):
        instances = self.instances_for(node) if self.instances_for else None
        text = self.ipfailover.keepalived_config(node.ipv4, instances)
        self.configs[node.name] = text
        conf = run_dir / "keepalived.conf"
        conf.write_text(text)
        return [KEEPALIVED, "-n", "-l", "-D", "-G", "-P", "-f", str(conf),
                "-p", str(run_dir / "keepalived.pid"), "-r", str(run_dir / "vrrp.pid"),
                "-c", str(run_dir / "checkers.pid"), "-b", str(run_dir / "bfd.pid")]

    def master_pattern(self, settings):
        return r"\) Entering MASTER STATE"

    def backup_pattern(self, settings):
        return r"\) Entering BACKUP STATE"


class IpfailoverVipd(Vipd):
    """`vipd run` configured only through the OPENSHIFT_HA_* environment, as in the ipfailover pod
    (settings.extra_args are still appended as options)."""

    def __init__(self, env: dict[str, str], binary: Optional[str] = None):
        super().__init__(binary)
        self.env = env

    def command(self, lab, node, settings, run_dir):
        return [str(self.binary), "run", *settings.extra_args]

    def environment(self, lab, node, settings):
        return {**super().environment(lab, node, settings), **self.env}


class VipdNoBpf(Vipd):
    """vipd with its raw-socket receive path (`--no-bpf`): compares the receive paths."""

    name = "vipd-nobpf"

    def command(self, lab, node, settings, run_dir):
        return [*super().command(lab, node, settings, run_dir), "--no-bpf"]


DAEMONS = {"keepalived": Keepalived, "vipd": Vipd, "vipd-nobpf": VipdNoBpf}


def make_daemon(name: str) -> Daemon:
    try:
        return DAEMONS[name]()
    except KeyError:
        raise ValueError(f"unknown daemon {name!r}; known: {', '.join(DAEMONS)}") from None
