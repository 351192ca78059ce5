"""Hostile traffic for the flood benchmark and its smoke test: the packet classes an attacker (or a
broken neighbour) can put on a VRRP segment, as Ethernet frames for trafgen (netsniff-ng).

Every frame is built here byte by byte (IPv4 header and VRRP checksums computed in Python), so each
class says exactly which reject reason vipd must count it under. Per-packet randomness (garbage
payloads, ARP sender MACs) uses trafgen's runtime `drnd()`; everything else is a list of static
frames that trafgen sends round robin.

The generator runs in the lab's client namespace on its eth0 (a veth to the lab switch), so the
floods cross the same bridge as the adverts. Achieved rates come from the kernel's counters: the
client's eth0 tx_packets (generator side) and each node's eth0 rx_packets (receiver side).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
import struct
import time
from pathlib import Path
from typing import Optional

import vipdlab

TRAFGEN = "/usr/sbin/trafgen"
VRRP_GROUP = "224.0.0.18"
VRRP_GROUP_MAC = "01:00:5e:00:00:12"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
PROTO_VRRP = 112
# A lab address no node uses: the source of spoofed adverts (a "non-peer").
SPOOF_HOST = 66
SPOOF_PRIORITY = 254
# What vipd counts (core::reason_label), per class; None: spread over several reasons.
GARBAGE_BYTES = 40


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ipv4_header(src: str, dst: str, payload_len: int, ttl: int, proto: int = PROTO_VRRP,
                tos: int = 0xC0) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + payload_len, 0, 0, ttl, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:]


def vrrp_v3(src: str, dst: str, vrid: int, priority: int, addresses: list[str],
            interval_cs: int = 10, good_checksum: bool = True) -> bytes:
    """RFC 5798 advert, IPv4; checksum over the pseudo-header."""
    addr = b"".join(socket.inet_aton(a) for a in addresses)
    body = struct.pack("!BBBBH", 0x31, vrid, priority, len(addresses), interval_cs & 0x0FFF)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, PROTO_VRRP,
                                                                         8 + len(addr))
    csum = checksum(pseudo + body + b"\0\0" + addr)
    if not good_checksum:
        csum ^= 0x5A5A
    return body + struct.pack("!H", csum) + addr


def vrrp_v2(vrid: int, priority: int, addresses: list[str], password: bytes,
            interval_s: int = 1) -> bytes:
    """RFC 3768 advert with simple-password authentication (auth type 1)."""
    addr = b"".join(socket.inet_aton(a) for a in addresses)
    auth = password[:8].ljust(8, b"\0")
    head = struct.pack("!BBBBBB", 0x21, vrid, priority, len(addresses), 1, interval_s)
    csum = checksum(head + b"\0\0" + addr + auth)
    return head + struct.pack("!H", csum) + addr + auth


def ethernet(dst_mac: str, src_mac: str, ethertype: int, payload: bytes) -> bytes:
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ethertype) + payload


# ----------------------------------------------------------------------------------------------
# Flood classes


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a flood goes and what the nodes serve."""

    client_ip: str
    client_mac: str
    master_ip: str
    master_mac: str
    backup_ip: str
    backup_mac: str
    vips: tuple[str, ...]        # one per served VRID, VRID i+1 for vips[i]
    vrids: tuple[int, ...]       # served VRIDs
    spoof_ip: str
    password: bytes = b""        # v2 settings: the configured password


@dataclasses.dataclass(frozen=True)
class FloodClass:
    name: str
    description: str
    reason: Optional[str]        # vipd's reject reason label that must count every packet
    version: int = 3             # the daemons' VRRP version for this class (auth needs v2)
    unicast_config: bool = False  # the daemons run in unicast mode
    destination: str = "group"   # group | backup | master | broadcast
    harmless: bool = True        # False: valid adverts; VRRP cannot refuse them (see spoof)
    allowed_sources: bool = False  # vipd runs with --allowed-sources <the nodes> (keepalived: no such option)


CLASSES: dict[str, FloodClass] = {c.name: c for c in [
    FloodClass("garbage", f"IP protocol 112, {GARBAGE_BYTES} random bytes, to {VRRP_GROUP}", None),
    FloodClass("unknown-vrid", "valid VRRPv3 adverts, priority 200, for the 205 VRIDs not served",
               "unknown_vrid"),
    FloodClass("bad-ttl", "VRRPv3 adverts, priority 200, TTL 64, at the served VRIDs", "bad_ttl"),
    FloodClass("bad-checksum", "VRRPv3 adverts, priority 200, wrong checksum, at the served VRIDs",
               "bad_checksum"),
    FloodClass("bad-auth", "VRRPv2 adverts, priority 200, wrong PASS password, at the served VRIDs "
               "(daemons on VRRPv2 1 s with a password)", "auth_mismatch", version=2),
    FloodClass("garbage-unicast", "as garbage, unicast to the backup", None, destination="backup"),
    FloodClass("unknown-vrid-unicast", "as unknown-vrid, unicast to the backup", "unknown_vrid",
               destination="backup"),
    FloodClass("bad-ttl-unicast", "as bad-ttl, unicast to the backup", "bad_ttl", destination="backup"),
    FloodClass("bad-checksum-unicast", "as bad-checksum, unicast to the backup", "bad_checksum",
               destination="backup"),
    FloodClass("bad-auth-unicast", "as bad-auth, unicast to the backup", "auth_mismatch", version=2,
               destination="backup"),
    FloodClass("arp", "gratuitous ARP replies claiming the VIPs, random sender MACs, broadcast",
               None, destination="broadcast"),
    FloodClass("spoof", f"valid VRRPv3 adverts, priority {SPOOF_PRIORITY}, at the served VRIDs, "
               f"from a non-peer lab address, to {VRRP_GROUP}", None, harmless=False),
    FloodClass("spoof-unicast", f"valid VRRPv3 adverts, priority {SPOOF_PRIORITY}, at the served "
               "VRIDs, from a non-peer lab address, unicast to the master (daemons in unicast mode: "
               "vipd's kernel filter drops adverts from non-peers)",
               "not_peer", unicast_config=True, destination="master"),
    FloodClass("spoof-allowed", f"as spoof (multicast), vipd with --allowed-sources set to the two "
               "nodes: the kernel drops adverts from any other source", "not_peer",
               allowed_sources=True),
]}


def _destination(flood: FloodClass, target: Target) -> tuple[str, str]:
    """(IP, MAC) the class's packets are sent to."""
    if flood.destination == "backup":
        return target.backup_ip, target.backup_mac
    if flood.destination == "master":
        return target.master_ip, target.master_mac
    return VRRP_GROUP, VRRP_GROUP_MAC


def _hex(data: bytes) -> str:
    return ", ".join(f"0x{b:02x}" for b in data)


def _static(frames: list[bytes]) -> str:
    return "\n".join("{ " + _hex(frame) + " }" for frame in frames) + "\n"


def trafgen_config(flood: FloodClass, target: Target) -> str:
    """The trafgen packet configuration of one class (one packet per line, round robin)."""
    dst_ip, dst_mac = _destination(flood, target)
    src_ip, src_mac = target.client_ip, target.client_mac
    kind = flood.name.removesuffix("-unicast").removesuffix("-allowed")
    if kind == "garbage":
        head = ethernet(dst_mac, src_mac, 0x0800,
                        ipv4_header(src_ip, dst_ip, GARBAGE_BYTES, ttl=255))
        return "{ " + _hex(head) + f", drnd({GARBAGE_BYTES}) }}\n"
    if kind == "arp":
        frames = []
        for vip in target.vips:
            # ARP reply, sender = the VIP with a random MAC (drnd), target = the VIP (gratuitous).
            head = ethernet(BROADCAST_MAC, src_mac, 0x0806,
                            struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2))
            tail = socket.inet_aton(vip) + b"\xff" * 6 + socket.inet_aton(vip)
            frames.append("{ " + _hex(head) + ", 0x02, drnd(5), " + _hex(tail) + " }")
        return "\n".join(frames) + "\n"
    frames = []
    if kind == "unknown-vrid":
        served = set(target.vrids)
        for vrid in (v for v in range(1, 256) if v not in served):
            msg = vrrp_v3(src_ip, dst_ip, vrid, 200, [target.vips[0]])
            frames.append(ethernet(dst_mac, src_mac, 0x0800,
                                   ipv4_header(src_ip, dst_ip, len(msg), 255) + msg))
        return _static(frames)
    for vrid, vip in zip(target.vrids, target.vips):
        ttl = 255
        if kind == "bad-ttl":
            ttl = 64
            msg = vrrp_v3(src_ip, dst_ip, vrid, 200, [vip])
        elif kind == "bad-checksum":
            msg = vrrp_v3(src_ip, dst_ip, vrid, 200, [vip], good_checksum=False)
        elif kind == "bad-auth":
            wrong = bytes(b ^ 0x20 for b in (target.password or b"vipd")[:8])
            msg = vrrp_v2(vrid, 200, [vip], wrong)
        elif kind == "spoof":
            src_ip = target.spoof_ip
            msg = vrrp_v3(src_ip, dst_ip, vrid, SPOOF_PRIORITY, [vip])
        else:
            raise ValueError(f"unknown flood class {flood.name}")
        frames.append(ethernet(dst_mac, src_mac, 0x0800,
                               ipv4_header(src_ip, dst_ip, len(msg), ttl) + msg))
    return _static(frames)


# ----------------------------------------------------------------------------------------------
# Counters and the generator


def link_counters(ns: vipdlab.Namespace, dev: str = "eth0") -> dict[str, int]:
    """The kernel's packet counters of one interface (`ip -s -j link`)."""
    out = ns.run(["ip", "-s", "-j", "link", "show", "dev", dev]).stdout
    stats = json.loads(out)[0]["stats64"]
    return {"rx_packets": stats["rx"]["packets"], "rx_dropped": stats["rx"]["dropped"],
            "tx_packets": stats["tx"]["packets"], "tx_dropped": stats["tx"]["dropped"]}


def link_mac(ns: vipdlab.Namespace, dev: str = "eth0") -> str:
    return json.loads(ns.ip("-j", "link", "show", "dev", dev).stdout)[0]["address"]


@dataclasses.dataclass
class GeneratorResult:
    sent: int            # the client's eth0 tx_packets delta (the generator's own kernel counter)
    tx_dropped: int
    seconds: float
    trafgen_output: str

    @property
    def pps(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class Trafgen:
    """trafgen in the client namespace, at about `rate` pps (0: as fast as it can, its TX_RING).
    The achieved rate is measured, not assumed: the gap's sleep adds its own overhead. Never touches host settings: --no-sock-mem (no socket-memory sysctls; its -A is broken in 0.6.8),
    -Q (no IRQ affinity changes)."""

    def __init__(self, lab: vipdlab.Lab, config: str, rate: int, cpus: int = 1):
        self.lab = lab
        self.config_path = lab.workdir / f"trafgen-{time.monotonic_ns()}.cfg"
        self.config_path.write_text(config)
        self.rate = rate
        self.cpus = cpus
        self.proc: Optional[vipdlab.Proc] = None
        self.before: Optional[dict] = None
        self.started_ns = 0

    def argv(self) -> list[str]:
        argv = [TRAFGEN, "-o", "eth0", "-i", str(self.config_path), "--no-sock-mem", "-Q", "-C",
                "-P", str(self.cpus)]
        if self.rate > 0:
            # A fixed gap between packets (sendto per packet): steady. trafgen's own -b rate sends
            # each second's quota in one ~0.1 s burst and then idles, which is a different test.
            argv += ["-t", f"{max(1, round(1e9 / self.rate))}ns"]
        return argv

    def start(self) -> None:
        self.before = link_counters(self.lab.client)
        self.started_ns = vipdlab.now_ns()
        self.proc = self.lab.client.popen(self.argv(), name="cl-trafgen")

    def stop(self) -> GeneratorResult:
        assert self.proc is not None and self.before is not None
        self.proc.signal(2, group=True)  # SIGINT to it and its per-CPU children: they stop
        try:
            self.proc.wait(5)
        except TimeoutError:
            self.proc.kill()
            self.proc.wait(2)
        seconds = (vipdlab.now_ns() - self.started_ns) / 1e9
        time.sleep(0.2)  # frames in flight reach the nodes' counters
        after = link_counters(self.lab.client)
        self.proc.close()
        return GeneratorResult(after["tx_packets"] - self.before["tx_packets"],
                               after["tx_dropped"] - self.before["tx_dropped"], seconds,
                               self.proc.log_text()[-2000:])


def available() -> Optional[str]:
    return None if Path(TRAFGEN).exists() else f"{TRAFGEN} not installed (Debian package netsniff-ng)"


def lab_target(lab: vipdlab.Lab, vips: list[str], vrids: list[int], password: bytes = b"") -> Target:
    master, backup = lab.node("n1"), lab.node("n2")
    return Target(client_ip=lab.client.ipv4, client_mac=link_mac(lab.client),
                  master_ip=master.ipv4, master_mac=link_mac(master),
                  backup_ip=backup.ipv4, backup_mac=link_mac(backup),
                  vips=tuple(vips), vrids=tuple(vrids),
                  spoof_ip=lab.host_address(SPOOF_HOST), password=password)


def is_lab_address(address: str) -> bool:
    return ipaddress.ip_address(address) in vipdlab.ALLOWED_V4 or address == VRRP_GROUP
