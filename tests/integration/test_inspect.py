"""Inspecting a running vipd pair on the namespace lab (XDP receive path): the kernel's per-VRID
counters through bpftool, `vipd status` in text and JSON, and a bad advert showing up in both.

ctest: integration.inspect.
"""

import json
import re
import time

import pytest

import vipdlab
from conftest import V3_XDP

MASTER_PRIO = 150
BACKUP_PRIO = 100
SCALAR_FIELDS = ("rx_valid", "rx_events", "rx_bytes", "rx_events_dropped")
# rx_invalid[] is indexed by enum vipd_reason; these are its labels (core::reason_label) in order.
REASONS = ("ok", "truncated", "bad_version", "bad_type", "bad_checksum", "bad_ttl", "zero_interval",
           "count_mismatch", "auth_type_mismatch", "auth_mismatch", "interval_mismatch",
           "family_mismatch", "unknown_vrid", "not_peer")
STAT_FIELDS = SCALAR_FIELDS + tuple(f"rx_invalid.{reason}" for reason in REASONS)
PIN = "/sys/fs/bpf/vipd/eth0/vipd_vrid_stat"
BAD_TTL_KEY = "bad_ttl"  # core::reason_label(DecodeError::BadTtl), as status JSON names it


@pytest.fixture
def pair(make_cluster):
    cluster = make_cluster(2, V3_XDP)
    # One after the other: started together on a loaded machine, n2 may win a first election
    # before n1 is up, and these tests are about the steady state, not about preemption.
    cluster.start("n1", MASTER_PRIO)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    cluster.start("n2", BACKUP_PRIO)
    cluster.wait_state("n1", "MASTER", timeout=2)
    cluster.wait_state("n2", "BACKUP", timeout=2)
    master_ip = cluster.lab.node("n1").ipv4
    vipdlab.wait_for(lambda: (cluster.instance("n2") or {}).get("master") == master_ip, timeout=2,
                     desc="n2 has heard n1's adverts")
    return cluster


def dump_vrid_stat(cluster, node: str) -> list[dict]:
    """`bpftool -j map dump` of the daemon's pinned vipd_vrid_stat, run in its mount and network
    namespaces (the pin lives in the bpffs vipd mounted inside its own `ip netns exec` mount
    namespace; the name alone is ambiguous: every vipd on the host has a map of that name)."""
    pid = cluster.procs[node].proc.pid
    out = vipdlab.run_cmd(["nsenter", "-t", str(pid), "-m", "-n", "bpftool", "-j", "map", "dump",
                           "pinned", PIN]).stdout
    # With the map's BTF, each element carries a "formatted" view: key as a number, per-CPU values
    # with named fields. Without BTF there would only be hex bytes, and the lookups below fail.
    return [entry["formatted"] for entry in json.loads(out)]


def flatten(value: dict) -> dict:
    """One CPU's vipd_vrid_stat as bpftool prints it, with rx_invalid[] named by reason."""
    counters = {field: int(value[field]) for field in SCALAR_FIELDS}
    invalid = value["rx_invalid"]
    assert len(invalid) == len(REASONS), f"rx_invalid has {len(invalid)} slots, expected {len(REASONS)}"
    counters.update({f"rx_invalid.{reason}": int(n) for reason, n in zip(REASONS, invalid)})
    return counters


def vrid_counters(entries: list[dict], vrid: int) -> dict:
    """The per-CPU values of one key, summed field by field (bpftool shows them per CPU)."""
    for entry in entries:
        if int(entry["key"]) == vrid:
            totals = dict.fromkeys(STAT_FIELDS, 0)
            for per_cpu in entry["values"]:
                for field, count in flatten(per_cpu["value"]).items():
                    totals[field] += count
            return totals
    raise AssertionError(f"no key {vrid} in vipd_vrid_stat: {[e['key'] for e in entries][:10]}...")


def all_counters(entries: list[dict], field: str) -> int:
    return sum(flatten(c["value"])[field] for e in entries for c in e["values"])


def map_id(cluster, node: str) -> int:
    pid = cluster.procs[node].proc.pid
    out = vipdlab.run_cmd(["nsenter", "-t", str(pid), "-m", "-n", "bpftool", "-j", "map", "show",
                           "pinned", PIN]).stdout
    return int(json.loads(out)["id"])


def test_bpftool_shows_coalescing_on_the_backup(pair):
    vrid = pair.vrid
    # Both daemons' maps carry the named fields of struct vipd_vrid_stat (bpftool has their BTF).
    master_entries = dump_vrid_stat(pair, "n1")
    assert set(STAT_FIELDS) == set(flatten(master_entries[0]["values"][0]["value"])), master_entries[0]
    vrid_counters(master_entries, vrid)

    first = vrid_counters(dump_vrid_stat(pair, "n2"), vrid)
    window = 3.0
    time.sleep(window)
    second = vrid_counters(dump_vrid_stat(pair, "n2"), vrid)
    heard = second["rx_valid"] - first["rx_valid"]
    events = second["rx_events"] - first["rx_events"]
    adverts = window / pair.flavor.interval
    # The backup hears every advert of the steady master in the kernel ...
    assert heard >= 0.7 * adverts, (first, second)
    # ... and only a few reach user space: the first, and any re-emitted after a scheduling gap
    # longer than two intervals (the staleness rule) on this shared machine.
    assert events <= 0.1 * heard, (first, second)
    assert second["rx_events"] <= second["rx_valid"]
    assert second["rx_invalid.bad_ttl"] == 0 and second["rx_invalid.bad_checksum"] == 0, second
    assert second["rx_bytes"] > first["rx_bytes"]

    # `map dump name` finds maps by name from the kernel, from any namespace: the backup's map is
    # one of those it dumps (others are the master's and any other vipd's on this host).
    by_name = json.loads(pair.lab.node("n2").run(["bpftool", "-j", "map", "show", "name",
                                                  "vipd_vrid_stat"]).stdout)
    ids = {int(m["id"]) for m in (by_name if isinstance(by_name, list) else [by_name])}
    assert {map_id(pair, "n1"), map_id(pair, "n2")} <= ids, ids


def test_status_names_instance_state_and_master(pair):
    master_ip = pair.lab.node("n1").ipv4
    text = pair.lab.node("n2").run([str(pair.vipd.binary), "status"]).stdout
    row = [line for line in text.splitlines() if re.match(r"\S+_VIP_1\s", line)]
    assert len(row) == 1, text
    assert re.search(rf"\s{pair.vrid}\s+BACKUP\s+{BACKUP_PRIO}\s+{re.escape(master_ip)}\s+"
                     rf"{re.escape(pair.vip)}", row[0]), text
    assert "receive path xdp" in text, text

    master_text = pair.lab.node("n1").run([str(pair.vipd.binary), "status"]).stdout
    assert re.search(rf"\s{pair.vrid}\s+MASTER\s+{MASTER_PRIO}\s+{re.escape(master_ip)}\s", master_text), \
        master_text

    status = pair.status("n2")
    assert status["receive_path"] == "xdp" and status["interface"] == "eth0", status
    [instance] = status["instances"]
    assert instance["state"] == "BACKUP" and instance["master"] == master_ip, instance
    assert instance["vrid"] == pair.vrid and instance["priority"] == BACKUP_PRIO, instance
    assert instance["vips"] == [f"{pair.vip}/32"], instance
    assert status["adverts_accepted"] > 0 and instance["adverts_heard"] > 0, status
    # Coalescing seen from user space: the steady master's adverts barely wake the loop.
    before = pair.status("n2")
    time.sleep(2.0)
    after = pair.status("n2")
    assert after["instances"][0]["adverts_sent"] == before["instances"][0]["adverts_sent"], after
    wakeups = after["loop_wakeups"] - before["loop_wakeups"]
    bound = 2.0 / (pair.master_down_interval(BACKUP_PRIO)) + 10  # + status queries, stale re-emits
    assert wakeups <= bound, (before["loop_wakeups"], after["loop_wakeups"], bound)


# VRRPv3 advert (RFC 5798 5.1) for one IPv4 address; checksum over the IPv4 pseudo-header.
SEND_BAD_TTL = r"""
import socket, struct, sys
src, dst, vrid, prio, interval_cs, vip, count = sys.argv[1:8]
def csum(data):
    if len(data) % 2: data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16: total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff
body = struct.pack("!BBBBH", 0x31, int(vrid), int(prio), 1, int(interval_cs) & 0x0fff)
addresses = socket.inet_aton(vip)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 112, 8 + len(addresses))
packet = body + struct.pack("!H", csum(pseudo + body + b"\0\0" + addresses)) + addresses
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 64)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
s.bind((src, 0))
for _ in range(int(count)):
    s.sendto(packet, (dst, 0))
"""


def test_bad_ttl_advert_is_counted_in_kernel_and_status(pair):
    sender = pair.lab.node("n1")
    before_stat = dump_vrid_stat(pair, "n2")
    before_status = pair.status("n2")
    assert before_status["adverts_rejected"].get(BAD_TTL_KEY, 0) == 0, before_status
    sent = 3
    interval_cs = round(pair.flavor.interval * 100)
    sender.run([vipdlab.PYTHON, "-c", SEND_BAD_TTL, sender.ipv4, "224.0.0.18", str(pair.vrid),
                str(MASTER_PRIO), str(interval_cs), pair.vip, str(sent)])

    def counted() -> int:
        return (all_counters(dump_vrid_stat(pair, "n2"), "rx_invalid.bad_ttl")
                - all_counters(before_stat, "rx_invalid.bad_ttl"))

    vipdlab.wait_for(lambda: counted() >= sent, timeout=3, desc="rx_invalid[bad_ttl] counts the bad adverts")
    assert counted() == sent
    assert vrid_counters(dump_vrid_stat(pair, "n2"), pair.vrid)["rx_invalid.bad_ttl"] == sent, \
        "counted under the advert's VRID"
    after_status = pair.status("n2")
    assert after_status["adverts_rejected"].get(BAD_TTL_KEY, 0) == sent, after_status["adverts_rejected"]
    # Rejected in the kernel: the backup is undisturbed.
    pair.assert_single_master("n1")
