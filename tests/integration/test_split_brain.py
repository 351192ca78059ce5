"""Split-brain healing on the namespace lab (docs/SPLIT_BRAIN.md, issue 11): multicast blocked
between the nodes as a snooping switch does it (the VRRP group MAC) and as a firewall does it (IP
224.0.0.18), a host firewall on one backup, a host holding the VIP by hand, a forged ARP flood,
hybrid transport with DNS peers served by dnsmasq, and a mixed cluster with Debian's keepalived.

ctest: integration.split_brain. Every test samples who holds the VIP on every node
(vipdlab.OwnerSampler: a netlink dump every 5 ms per node plus every address event on arrival) and
asserts from those samples: the dual-owner window ends within the bound, then nothing changes.

Bound (issue 11): Master_Down_Interval of the slowest backup + the longest probe interval (3 s
default, jittered up to 1.25x) + 2 s. Stability windows: 60 s in one parametrisation of the
blocked-from-start test (what the issue asks), 10-15 s elsewhere to keep the suite at a few minutes.
"""

from __future__ import annotations

import datetime
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

import vipdlab
from conftest import (SPLIT_BRAIN_PROBE_S, V2_RAW, V2_XDP, V3_RAW, V3_XDP, Cluster, Flavor, log_lines,
                      record_measure, record_timing)

PRIORITIES = {"n1": 150, "n2": 100, "n3": 50}  # n1 wins every election
HEAL_MARGIN_S = 2.0
# A sampling dump later than 10 ms after the previous one: allowed for at most this share of the
# dumps (the machine is shared; address changes are caught by their netlink events regardless).
LATE_SHARE = 0.05
VRRP_DROP = ["iptables", "-A", "INPUT", "-d", "224.0.0.18/32", "-p", "112", "-j", "DROP"]


def heal_bound(cluster: Cluster) -> float:
    return cluster.master_down_interval(min(PRIORITIES.values())) + SPLIT_BRAIN_PROBE_S + HEAL_MARGIN_S


def transitions(cluster: Cluster) -> dict[str, tuple[int, int]]:
    return {n: (p.master_transitions(), p.backup_transitions()) for n, p in cluster.procs.items()}


def assert_sampled(sampler: vipdlab.OwnerSampler) -> None:
    worst, dumps, late = sampler.sampling()
    record_measure("owner sampling: worst gap between dumps", worst / 1e6, "ms")
    assert dumps > 0, "the owner sampler took no samples"
    assert late <= LATE_SHARE * dumps, (f"{late} of {dumps} owner samples came later than 10 ms "
                                        f"(worst gap {worst / 1e6:.1f} ms)")


def wait_single_owner(cluster: Cluster, sampler: vipdlab.OwnerSampler, master: str, timeout: float) -> None:
    """`master` alone holds the VIP (sampled) and every vipd agrees (status)."""
    try:
        vipdlab.wait_for(lambda: sampler.holders() == [master] and cluster.settled_on(master),
                         timeout=timeout, interval=0.05, desc=f"{master} alone holds the VIP")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\nsampled: {sampler.describe()}\n{cluster.diagnostics()}") from None


def assert_quiet(cluster: Cluster, sampler: vipdlab.OwnerSampler, master: str, seconds: float,
                 label: str) -> None:
    """For `seconds`: no owner change on any node (sampled), no state transition in any daemon's
    log, and `master` still alone at the end."""
    before = transitions(cluster)
    t0 = vipdlab.now_ns()
    time.sleep(seconds)
    moved = sampler.transitions(t0)
    assert moved == [], f"{label}: owner changes in the stable window: {sampler.describe(t0)}"
    assert transitions(cluster) == before, (f"{label}: state transitions in the stable window: "
                                            f"{before} -> {transitions(cluster)}\n{cluster.diagnostics()}")
    cluster.assert_single_master(master)


def start_all(cluster: Cluster, extra: tuple[str, ...] = ()) -> int:
    """Starts n1..n3 (n3 first: the winner must not depend on the order); returns when the last
    was launched (the bound runs from there: each daemon's own start-up is inside it)."""
    for node in ("n3", "n2", "n1"):
        cluster.start(node, PRIORITIES[node], extra=extra)
    return vipdlab.now_ns()


def dual_owner_end(sampler: vipdlab.OwnerSampler, since_ns: int) -> tuple[int, float]:
    """(end of the last dual-owner interval since `since_ns`, or since_ns; total dual-owner s)."""
    intervals = sampler.multi_owner_intervals(since_ns)
    end = intervals[-1][1] if intervals else since_ns
    return end, sum(b - a for a, b in intervals) / 1e9


def learned_peers(cluster: Cluster, node: str) -> set[str]:
    return {p["address"] for p in cluster.status(node)["peers"] if p["source"] == "learned"}


# ----------------------------------------------------------------------------------------------
# 0. The checker: the owner sampler sees a short dual-owner window and every change


def test_owner_sampler_catches_a_short_dual_owner_window():
    """A planted split brain, made by hand: the VIP on n2 for ~30 ms while n1 holds it. The
    sampler must report that window (and both of n2's changes); otherwise every "never two
    owners" assertion in this file could pass blind."""
    with vipdlab.Lab(nodes=2) as lab:
        vip = lab.host_address(100)
        sampler = lab.sample_owners(vip)
        lab.node("n1").ip("addr", "add", f"{vip}/24", "dev", "eth0")
        vipdlab.wait_for(lambda: sampler.holders() == ["n1"], timeout=2, desc="n1 sampled")
        t0 = vipdlab.now_ns()
        lab.node("n2").run(["sh", "-c", f"ip addr add {vip}/24 dev eth0; sleep 0.03; ip addr del {vip}/24 dev eth0"])
        time.sleep(0.3)
        intervals = sampler.multi_owner_intervals(t0)
        assert len(intervals) == 1, sampler.describe(t0)
        assert 0.02 <= (intervals[0][1] - intervals[0][0]) / 1e9 <= 1.0, sampler.describe(t0)
        assert [(n, h) for _, n, h in sampler.transitions(t0)] == [("n2", True), ("n2", False)]
        assert sampler.holders() == ["n1"] and sampler.single_owner_since(t0) == intervals[0][1]
        time.sleep(1.1)
        assert_sampled(sampler)


# ----------------------------------------------------------------------------------------------
# 1. Multicast blocked from the start


@pytest.mark.parametrize("flavor,block,stable_s", [
    pytest.param(V3_XDP, "l2", 60, id="v3-100ms-xdp-l2-60s"),
    pytest.param(V3_RAW, "ip", 12, id="v3-100ms-raw-ip-12s"),
    pytest.param(V2_XDP, "ip", 12, id="v2-1s-xdp-ip-12s"),
    pytest.param(V2_RAW, "l2", 12, id="v2-1s-raw-l2-12s"),
])
def test_blocked_from_start_heals_once_and_stays(make_cluster, flavor: Flavor, block: str, stable_s: int):
    """Multicast-only configuration, VRRP multicast dropped on the switch before any daemon runs:
    every node becomes MASTER, finds the others through the VIP and the election runs over
    unicast. Within the bound one node holds the VIP; then nothing moves for `stable_s` and the
    client reaches the VIP on every request."""
    cluster = make_cluster(3, flavor)
    cluster.lab.block_multicast(block)
    assert not cluster.lab.multicast_reaches("n1", "n2", timeout=0.5), f"{block} block lets VRRP through"
    cluster.ensure_http()
    sampler = cluster.lab.sample_owners(cluster.vip)
    started = start_all(cluster)
    bound = heal_bound(cluster)
    wait_single_owner(cluster, sampler, "n1", timeout=bound + 3)
    end, dual_s = dual_owner_end(sampler, started)
    took = (end - started) / 1e9
    record_timing(f"split brain {flavor.name} {block} block from start -> one owner", took, bound)
    assert sampler.multi_owner_intervals(started), f"never two owners: was multicast blocked? {sampler.describe(started)}"
    assert took <= bound, f"two owners until {took:.3f}s after the start (bound {bound:.3f}s): {sampler.describe(started)}"
    # The election ran over unicast: the master knows both losers as learned peers (they keep it
    # hearing them), the losers hold no VIP and follow it.
    assert learned_peers(cluster, "n1") >= {cluster.lab.node("n2").ipv4, cluster.lab.node("n3").ipv4}, \
        cluster.status("n1")["peers"]
    assert sum(cluster.instance(n)["conflicts"]["vrrp"] for n in PRIORITIES) >= 1

    poller = cluster.lab.start_poller(cluster.vip, interval=0.05, timeout=0.5)
    quiet_from = vipdlab.now_ns()
    assert_quiet(cluster, sampler, "n1", stable_s, f"{flavor.name} {block}")
    done = vipdlab.now_ns()
    poller.wait_settled(done)
    samples = [s for s in poller.samples(quiet_from) if s.sent_ns <= done]
    assert len(samples) >= stable_s * 10, f"only {len(samples)} HTTP requests in {stable_s}s"
    wrong = [(s.node, s.error) for s in samples if s.node != "n1"]
    assert not wrong, f"{len(wrong)} of {len(samples)} HTTP requests not answered by n1: {wrong[:10]}"
    assert_sampled(sampler)


# ----------------------------------------------------------------------------------------------
# 2. Blocked mid-run, then unblocked


@pytest.mark.parametrize("flavor,block", [
    pytest.param(V3_XDP, "ip", id="v3-100ms-xdp-ip"),
    pytest.param(V3_RAW, "l2", id="v3-100ms-raw-l2"),
    pytest.param(V2_RAW, "ip", id="v2-1s-raw-ip"),
])
def test_blocked_mid_run_heals_and_unblocking_changes_nothing(make_cluster, flavor: Flavor, block: str):
    cluster = make_cluster(3, flavor)
    start_all(cluster)
    sampler = cluster.lab.sample_owners(cluster.vip)
    wait_single_owner(cluster, sampler, "n1", timeout=cluster.election_timeout())
    cluster.prime_client("n1")
    blocked = vipdlab.now_ns()
    cluster.lab.block_multicast(block)
    bound = heal_bound(cluster)
    # The backups lose the master's adverts and claim the VIP after their Master_Down_Interval.
    vipdlab.wait_for(lambda: sampler.multi_owner_intervals(blocked), timeout=bound,
                     desc="a backup claims the VIP behind the block")
    wait_single_owner(cluster, sampler, "n1", timeout=bound + 3)
    # Each backup claims on its own Master_Down_Interval: n2 (100) heals before n3 (50) has timed
    # out (at v2 0.19 s apart), and n1 cannot reach n3 before n3 claims, since it learns of n3 only
    # from that claim. The heal is over once the slowest backup has had its turn.
    slowest = blocked + int((cluster.master_down_interval(min(PRIORITIES.values())) + 0.2) * 1e9)
    time.sleep(max(0.0, (slowest - vipdlab.now_ns()) / 1e9))
    wait_single_owner(cluster, sampler, "n1", timeout=bound + 3)
    end, dual_s = dual_owner_end(sampler, blocked)
    took = (end - blocked) / 1e9
    record_timing(f"split brain {flavor.name} {block} block mid-run -> one owner", took, bound)
    assert took <= bound, f"two owners until {took:.3f}s after the block: {sampler.describe(blocked)}"
    assert_quiet(cluster, sampler, "n1", 3, "blocked, healed")
    cluster.assert_client_reaches("n1", arp_timeout=1.0)

    cluster.lab.unblock_multicast()
    assert_quiet(cluster, sampler, "n1", 10, "unblocked")
    record_measure(f"split brain {flavor.name} {block} mid-run: dual-owner time", dual_s * 1000, "ms")
    assert_sampled(sampler)


# ----------------------------------------------------------------------------------------------
# 3. Host firewall on one backup


@pytest.mark.parametrize("flavor", [pytest.param(V3_XDP, id="v3-100ms-xdp"),
                                    pytest.param(V3_RAW, id="v3-100ms-raw"),
                                    pytest.param(V2_RAW, id="v2-1s-raw")])
def test_host_firewall_on_one_backup(make_cluster, flavor: Flavor):
    """iptables INPUT DROP for 224.0.0.18 on n3. XDP sees the adverts before netfilter: n3 never
    claims the VIP. The raw socket sits behind netfilter: n3 claims it, and the split heals over
    unicast (our contact is IP-addressed to the VIP, which the rule does not match)."""
    cluster = make_cluster(3, flavor)
    cluster.lab.node("n3").run(VRRP_DROP)
    sampler = cluster.lab.sample_owners(cluster.vip)
    # n1 first: a backup started before any master would claim the VIP at start-up anyway.
    cluster.start("n1", PRIORITIES["n1"])
    wait_single_owner(cluster, sampler, "n1", timeout=cluster.election_timeout())
    for node in ("n2", "n3"):
        cluster.start(node, PRIORITIES[node])
    started = vipdlab.now_ns()
    bound = heal_bound(cluster)
    if flavor.bpf:
        # Long enough for n3 to have timed out many times over had it not heard n1.
        time.sleep(max(3.0, 5 * cluster.master_down_interval(50)))
        assert sampler.multi_owner_intervals(started) == [], sampler.describe(started)
        assert cluster.procs["n3"].master_transitions() == 0, cluster.procs["n3"].log()
    else:
        vipdlab.wait_for(lambda: log_lines(cluster.procs["n3"], r"Entering MASTER STATE"),
                         timeout=bound, desc="n3 claims the VIP behind its firewall")
        wait_single_owner(cluster, sampler, "n1", timeout=bound + 3)
        end, _ = dual_owner_end(sampler, started)
        took = (end - started) / 1e9
        record_timing(f"split brain {flavor.name} host firewall on n3 -> one owner", took, bound)
        assert took <= bound, f"two owners until {took:.3f}s: {sampler.describe(started)}"
        # n3 now hears n1 by unicast; the multicast copies still die in its INPUT chain.
        assert cluster.lab.node("n1").ipv4 in learned_peers(cluster, "n3") | {
            p["address"] for p in cluster.instance("n3")["peers_heard"]}
    assert_quiet(cluster, sampler, "n1", 10, f"{flavor.name} firewall")
    assert_sampled(sampler)


# ----------------------------------------------------------------------------------------------
# 4. A host with the VIP configured by hand; forged ARP


@pytest.mark.parametrize("flavor", [pytest.param(V3_XDP, id="v3-100ms-xdp"),
                                    pytest.param(V2_RAW, id="v2-1s-raw")])
def test_vip_configured_by_hand_is_defended_not_fought(make_cluster, flavor: Flavor):
    """n3 runs no VRRP and gets the VIP with `ip addr add`. n1 finds it with its probes, contacts it
    three times without an answer, counts a foreign conflict and defends the VIP with at most one
    gratuitous ARP per 10 s (RFC 5227); nobody's state changes. Periodic re-announcement is off
    here (--garp-master-refresh 0), so every announcement seen is a defence."""
    cluster = make_cluster(3, flavor)
    extra = ("--garp-master-refresh", "0")
    cluster.start("n1", 150, extra=extra)
    cluster.start("n2", 100, extra=extra)
    sampler = cluster.lab.sample_owners(cluster.vip)
    wait_single_owner(cluster, sampler, "n1", timeout=cluster.election_timeout())
    arp = cluster.lab.watch_arp("cl")
    before = transitions(cluster)
    by_hand = vipdlab.now_ns()
    cluster.lab.node("n3").ip("addr", "add", f"{cluster.vip}/{cluster.lab.prefixlen}", "dev", "eth0")
    n1_mac, n3_mac = cluster.node_mac("n1"), cluster.node_mac("n3")
    vipdlab.wait_for(lambda: (cluster.instance("n1")["conflict"] or {}).get("kind") == "foreign",
                     timeout=4 * SPLIT_BRAIN_PROBE_S + 5, desc="n1 reports a foreign conflict")
    first = vipdlab.wait_for(lambda: arp.announcements(n1_mac, cluster.vip, by_hand), timeout=5,
                             desc="n1 defends the VIP")[0]
    time.sleep(max(0.0, (first - vipdlab.now_ns()) / 1e9 + 21))  # room for two more defences
    announcements = arp.announcements(n1_mac, cluster.vip, by_hand)
    gaps = [(b - a) / 1e9 for a, b in zip(announcements, announcements[1:])]
    record_measure(f"foreign VIP {flavor.name}: shortest gap between defences", min(gaps, default=0) * 1000, "ms")
    assert len(announcements) >= 2, f"n1 defended only {len(announcements)} time(s) in 21 s"
    assert all(gap >= 9.8 for gap in gaps), f"defences closer than 10 s: {gaps}"

    inst = cluster.instance("n1")
    assert inst["state"] == "MASTER" and inst["holds_vips"], inst
    assert inst["conflict"]["mac"] == n3_mac and inst["conflict"]["vip"] == cluster.vip, inst["conflict"]
    assert inst["conflicts"]["foreign"] >= 1, inst["conflicts"]
    assert log_lines(cluster.procs["n1"], r"answers no VRRP advert"), cluster.procs["n1"].log()
    assert transitions(cluster) == before, f"{before} -> {transitions(cluster)}"
    moved = [t for t in sampler.transitions(by_hand) if t[1] != "n3"]
    assert moved == [], f"vipd nodes changed owner: {sampler.describe(by_hand)}"
    assert sampler.holders() == ["n1", "n3"]  # n3 keeps it: we cannot make it yield
    assert_sampled(sampler)


@pytest.mark.parametrize("flavor", [pytest.param(V3_XDP, id="v3-100ms-xdp"),
                                    pytest.param(V3_RAW, id="v3-100ms-raw")])
def test_forged_arp_flood_never_makes_the_master_yield(make_cluster, flavor: Flavor):
    """≥ 10k forged ARP replies a second claim the VIP from random sender MACs (from n3, which runs
    no VRRP): evidence only leads to rate-limited contacts, never to yielding."""
    cluster = make_cluster(3, flavor)
    cluster.start("n1", 150)
    cluster.start("n2", 100)
    sampler = cluster.lab.sample_owners(cluster.vip)
    wait_single_owner(cluster, sampler, "n1", timeout=cluster.election_timeout())
    before = transitions(cluster)
    contacts_before = cluster.status("n1")["split_brain_contacts_sent"]
    flood_from = vipdlab.now_ns()
    duration = 8.0
    achieved = cluster.lab.arp_flood("n3", cluster.vip, rate=20000, duration=duration)
    record_measure(f"forged ARP flood {flavor.name}: achieved rate", achieved["pps"], "pps")
    assert achieved["pps"] >= 10000, f"the flood reached only {achieved}"
    time.sleep(2 * cluster.master_down_interval(100))
    assert sampler.transitions(flood_from) == [], sampler.describe(flood_from)
    assert transitions(cluster) == before, f"{before} -> {transitions(cluster)}"
    cluster.assert_single_master("n1")
    status = cluster.status("n1")
    contacts = status["split_brain_contacts_sent"] - contacts_before
    record_measure(f"forged ARP flood {flavor.name}: contacts sent", contacts, "frames")
    # 4 contacts (2 frames each) per instance and second at most, whatever the flood.
    assert contacts <= 8 * (achieved["seconds"] + 2), f"{contacts} contact frames during the flood"
    assert cluster.procs["n1"].alive() and cluster.procs["n2"].alive()
    assert_sampled(sampler)


# ----------------------------------------------------------------------------------------------
# 5. Hybrid transport with DNS peers (dnsmasq in the lab)

PEER_NAME = "vipd-peers.lab.test"
RESOLVE_INTERVAL_S = 1.0


class LabDns:
    """dnsmasq on the client namespace's address answering PEER_NAME from a hosts file it re-reads
    on SIGHUP; /etc/netns/<node ns>/resolv.conf points the node namespaces at it (ip netns exec
    bind-mounts it over /etc/resolv.conf). Removed again by close()."""

    def __init__(self, lab: vipdlab.Lab, addresses: list[str]):
        self.lab = lab
        self.hosts = lab.workdir / "dns-hosts"
        self.netns_dirs = [Path("/etc/netns") / n.ns_name for n in lab.nodes]
        self.write(addresses)
        for directory in self.netns_dirs:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "resolv.conf").write_text(f"nameserver {lab.client.ipv4}\noptions timeout:1 attempts:2\n")
        self.proc = lab.start_process(lab.client, [
            "/usr/sbin/dnsmasq", "--keep-in-foreground", "--log-facility=-", "--log-queries",
            "--conf-file=/dev/null", "--no-resolv", "--no-hosts", f"--addn-hosts={self.hosts}",
            f"--listen-address={lab.client.ipv4}", "--bind-interfaces", "--port=53",
            "--user=root", "--group=root", "--local-ttl=0", "--pid-file="], name="cl-dnsmasq")
        vipdlab.wait_for(lambda: "started" in self.proc.log_text() or not self.proc.alive(), timeout=5,
                         desc="dnsmasq up")
        assert self.proc.alive(), self.proc.log_text()

    def write(self, addresses: list[str]) -> None:
        self.hosts.write_text("".join(f"{a} {PEER_NAME}\n" for a in addresses))

    def update(self, addresses: list[str]) -> int:
        self.write(addresses)
        t = vipdlab.now_ns()
        self.proc.signal(signal.SIGHUP)
        return t

    def close(self) -> None:
        self.proc.stop()
        for directory in self.netns_dirs:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def lab_dns():
    made: list[LabDns] = []

    def make(lab, addresses):
        dns = LabDns(lab, addresses)
        made.append(dns)
        return dns
    yield make
    for dns in made:
        dns.close()


def dns_peers(cluster: Cluster, node: str) -> set[str]:
    status = cluster.status(node)
    return {p["address"] for p in status["peers"] if p["source"] == "dns"} if status else set()


@pytest.mark.parametrize("flavor", [pytest.param(V3_XDP, id="v3-100ms-xdp"),
                                    pytest.param(V2_RAW, id="v2-1s-raw")])
def test_hybrid_dns_peers_prevent_split_brain_and_follow_a_moved_peer(make_cluster, lab_dns, flavor: Flavor):
    cluster = make_cluster(3, flavor)
    lab = cluster.lab
    dns = lab_dns(lab, [n.ipv4 for n in lab.nodes])
    assert lab.node("n1").run(["getent", "ahostsv4", PEER_NAME], check=False).returncode == 0, \
        "the node namespaces do not resolve through the lab's dnsmasq"
    lab.block_multicast("ip")
    sampler = lab.sample_owners(cluster.vip)
    extra = ("--unicast-peers", PEER_NAME, "--peer-resolve-interval", f"{RESOLVE_INTERVAL_S:g}")
    started = vipdlab.now_ns()
    cluster.start("n1", PRIORITIES["n1"], extra=extra)
    wait_single_owner(cluster, sampler, "n1", timeout=cluster.election_timeout())
    for node in ("n2", "n3"):
        cluster.start(node, PRIORITIES[node], extra=extra)
    for node in ("n2", "n3"):
        cluster.wait_state(node, "BACKUP", timeout=5)
    assert_quiet(cluster, sampler, "n1", 5, "hybrid, multicast blocked")
    status = cluster.status("n1")
    assert status["transport"] == "hybrid", status["transport"]
    assert dns_peers(cluster, "n1") == {lab.node("n2").ipv4, lab.node("n3").ipv4}, status["peers"]

    # n3 comes back with a new address: DNS is updated first, the others pick it up at their next
    # lookup, and n3 hears n1 by unicast as soon as it runs.
    n3 = lab.node("n3")
    cluster.procs["n3"].stop()
    cluster.procs["n3"].wait(5)
    old, new = n3.ipv4, lab.host_address(23)
    n3.ip("addr", "del", f"{old}/{lab.prefixlen}", "dev", "eth0")
    n3.ip("addr", "add", f"{new}/{lab.prefixlen}", "dev", "eth0")
    n3.ipv4 = new
    updated = datetime.datetime.now()
    dns.update([lab.node("n1").ipv4, lab.node("n2").ipv4, new])
    for node in ("n1", "n2"):
        vipdlab.wait_for(lambda: new in dns_peers(cluster, node) and old not in dns_peers(cluster, node),
                         timeout=RESOLVE_INTERVAL_S + 5, interval=0.05, desc=f"{node} resolves {new}")
    # Timed by the daemons' own log line (local time, ms): the next lookup comes within the
    # interval, plus the lookup itself.
    bound = RESOLVE_INTERVAL_S + 0.25
    for node in ("n1", "n2"):
        line = log_lines(cluster.procs[node], rf"Unicast peers from DNS now: .*{re.escape(new)}")[0]
        logged = datetime.datetime.strptime(line.split(": ", 1)[0], "%a %b %d %H:%M:%S.%f %Y")
        took = (logged - updated).total_seconds()
        record_timing(f"hybrid dns {flavor.name}: DNS update -> {node} uses the new peer", took, bound)
        assert took <= bound, f"{node} picked up {new} {took:.3f}s after the DNS update: {line}"
    cluster.start("n3", PRIORITIES["n3"], extra=extra)
    cluster.wait_state("n3", "BACKUP", timeout=5)
    assert_quiet(cluster, sampler, "n1", 5, "n3 moved")
    assert cluster.instance("n3")["master"] == lab.node("n1").ipv4
    assert sampler.multi_owner_intervals(started) == [], f"two owners: {sampler.describe(started)}"
    assert_sampled(sampler)


# ----------------------------------------------------------------------------------------------
# 6. Mixed with keepalived (rolling migration), multicast blocked


@pytest.mark.parametrize("winner,block", [pytest.param("vipd", "l2", id="vipd-higher-l2"),
                                          pytest.param("keepalived", "l2", id="keepalived-higher-l2"),
                                          pytest.param("vipd", "ip", id="vipd-higher-ip")])
def test_mixed_with_keepalived_vipd_never_flaps(make_cluster, keepalived, winner: str, block: str):
    """n1 runs vipd, n2 Debian's keepalived, both VRRPv3 0.1 s, elected normally; then multicast is
    blocked for 12 s. What keepalived does is recorded (docs/SPLIT_BRAIN.md); what we guarantee is
    asserted: vipd changes state at most once (a backup becoming master when it stops hearing the
    master) and never gives the VIP up again."""
    cluster = make_cluster(2, V3_XDP)
    vipd_priority, keepalived_priority = (150, 100) if winner == "vipd" else (100, 150)
    cluster.start("n1", vipd_priority)
    ka = keepalived.start(cluster.lab, "n2", cluster.settings(keepalived_priority))
    cluster.procs["n2"] = ka
    expected = "n1" if winner == "vipd" else "n2"
    sampler = cluster.lab.sample_owners(cluster.vip)
    vipdlab.wait_for(lambda: sampler.holders() == [expected], timeout=cluster.election_timeout(),
                     desc=f"{expected} holds the VIP")
    time.sleep(1)
    vipd = cluster.procs["n1"]
    vipd_before = (vipd.master_transitions(), vipd.backup_transitions())
    blocked = vipdlab.now_ns()
    cluster.lab.block_multicast(block)
    window = 12.0
    time.sleep(window)
    changes = sampler.transitions(blocked, node="n1")
    ka_changes = sampler.transitions(blocked, node="n2")
    dual_s = sampler.multi_owner_seconds(blocked)
    record_measure(f"mixed keepalived ({winner} higher, {block} block): dual-owner s of {window:g}", dual_s, "s")
    record_measure(f"mixed keepalived ({winner} higher, {block} block): keepalived owner changes", len(ka_changes), "")
    record_measure(f"mixed keepalived ({winner} higher, {block} block): vipd owner changes", len(changes), "")
    print(f"\n[{winner} higher, {block}] n1 (vipd): {sampler.describe(blocked)}\n"
          f"keepalived log: {[l for l in ka.log().splitlines() if 'STATE' in l][-6:]}")
    vipd_after = (vipd.master_transitions(), vipd.backup_transitions())
    if winner == "vipd":
        assert changes == [], f"vipd's VIP moved: {sampler.describe(blocked)}"
        assert vipd_after == vipd_before, f"vipd changed state: {vipd_before} -> {vipd_after}"
    else:
        # One claim (it stops hearing keepalived), then it keeps the VIP.
        assert [holds for _, _, holds in changes] in ([], [True]), f"vipd flapped: {sampler.describe(blocked)}"
        assert vipd_after[0] - vipd_before[0] <= 1 and vipd_after[1] == vipd_before[1], \
            f"vipd flapped: {vipd_before} -> {vipd_after}\n{vipd.log()[-3000:]}"
    assert vipd.alive()
    assert_sampled(sampler)
