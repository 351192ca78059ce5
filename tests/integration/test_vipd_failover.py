"""vipd failover on the namespace lab: master crash (SIGKILL), link cut, graceful stop (SIGTERM),
interface down (FAULT). Each failover is timed from the injected failure to the RTM_NEWADDR event
in the new master's namespace (the lab's monotonic address watcher) and the client must reach the
new master through the VIP at once (gratuitous ARP).

ctest: integration.vipd_failover.
"""

import time

import pytest

import vipdlab
from conftest import (FAILOVER_MARGIN_S, STOP_EXIT_BOUND_S, V2_RAW, V2_XDP, V3_RAW, V3_XDP,
                      elect, flavor_params, log_lines, record_timing, stop_gracefully, took_over)


@pytest.mark.parametrize("flavor", flavor_params(V2_XDP, V3_XDP, V3_RAW))
def test_crash_backup_takes_over_within_master_down_interval(make_cluster, flavor):
    """SIGKILL of the master, repeated: the backup holds the VIP within Master_Down_Interval
    + 100 ms of the kill (its timer runs from the last advert, which came before the kill), not
    sooner than 3 advert intervals minus one; the restarted node preempts back."""
    cluster = make_cluster(2, flavor)
    elect(cluster, {"n1": 150, "n2": 100}, "n1")
    watchers = {n: cluster.lab.watch_addresses(n) for n in ("n1", "n2")}
    rounds = 1 if flavor.version == 2 else 3
    for round_no in range(1, rounds + 1):
        bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
        t0 = cluster.crash("n1")
        took = took_over(cluster, watchers["n2"], t0, bound, f"crash {flavor.name} n1->n2#{round_no}")
        assert took >= 2 * flavor.interval, f"took over after {took:.3f}s: before the master was down"
        cluster.wait_state("n2", "MASTER", timeout=1)
        cluster.assert_client_reaches("n2")
        assert cluster.holders() == ["n1", "n2"], "SIGKILL leaves the VIP on n1 (stale)"

        n2_backups = cluster.procs["n2"].backup_transitions()
        t1 = vipdlab.now_ns()
        cluster.start("n1", 150)  # preempt: takes over after its own Master_Down_Interval
        watchers["n1"].wait_event("del", cluster.vip, t1, timeout=5)  # the stale VIP goes first
        cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
        cluster.wait_state("n1", "MASTER", timeout=1)
        vipdlab.wait_for(lambda: cluster.procs["n2"].backup_transitions() > n2_backups, timeout=1,
                         desc="n2 logs its step down to BACKUP")
        cluster.assert_client_reaches("n1")


def test_crash_three_nodes_next_priority_takes_over(make_cluster):
    cluster = make_cluster(3, V3_XDP)
    elect(cluster, {"n1": 150, "n2": 100, "n3": 50}, "n1")
    watchers = {n: cluster.lab.watch_addresses(n) for n in ("n2", "n3")}
    t0 = cluster.crash("n1")
    cluster.lab.cut_link("n1")  # the stale VIP on n1 must not answer the client
    bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
    took_over(cluster, watchers["n2"], t0, bound, "crash 3 nodes v3-100ms-xdp n1->n2")
    cluster.assert_client_reaches("n2")
    time.sleep(cluster.master_down_interval(50) + 0.3)
    assert watchers["n3"].events(t0) == [], "n3 (priority 50) must stay backup"
    assert cluster.state("n3") == "BACKUP"
    assert cluster.instance("n3")["master"] == cluster.lab.node("n2").ipv4


@pytest.mark.parametrize("flavor", flavor_params(V2_XDP, V3_XDP, V3_RAW))
def test_link_cut_backup_takes_over(make_cluster, flavor):
    cluster = make_cluster(2, flavor)
    elect(cluster, {"n1": 150, "n2": 100}, "n1")
    watcher = cluster.lab.watch_addresses("n2")
    t0 = vipdlab.now_ns()
    cluster.lab.cut_link("n1")
    bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
    took = took_over(cluster, watcher, t0, bound, f"link cut {flavor.name} n1->n2")
    assert took >= 2 * flavor.interval
    cluster.assert_client_reaches("n2")
    assert cluster.state("n1") == "MASTER", "n1 cannot hear n2 and stays master on its side"

    # The partition heals: n2 hears the higher priority and steps down.
    t1 = vipdlab.now_ns()
    cluster.lab.restore_link("n1")
    watcher.wait_event("del", cluster.vip, t1, timeout=3 * flavor.interval + 2)
    cluster.wait_holders(["n1"], timeout=2)
    cluster.assert_stable("n1")


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP, V3_RAW))
def test_partition_heal_moves_the_client_back(make_cluster, flavor):
    """After a partition both nodes are master and the client follows the one it can reach. When
    it heals, the lower priority steps down and the surviving master must re-announce the VIP
    (keepalived: a master hearing a lower priority advert sends an advert and gratuitous ARPs),
    or the client keeps sending to the node that just gave the VIP up. When n1's advert reaches
    n2 first, n2 never sends a multicast advert n1 could hear: only its parting advert (unicast, to
    the VIP) tells n1 to re-announce, and n1 must accept it although n2 is not a peer it knows."""
    cluster = make_cluster(2, flavor)
    elect(cluster, {"n1": 150, "n2": 100}, "n1")
    cluster.lab.cut_link("n1")
    cluster.wait_holders(["n1", "n2"], timeout=cluster.master_down_interval(100) + 1)
    cluster.assert_client_reaches("n2")
    cluster.lab.restore_link("n1")
    cluster.wait_holders(["n1"], timeout=3 * flavor.interval + 2)
    cluster.assert_client_reaches("n1")
    assert log_lines(cluster.procs["n1"], r"lower priority 100, ours 150, forcing new election")
    rejected = cluster.status("n1")["adverts_rejected"]
    assert rejected.get("not_peer", 0) == 0, f"n1 dropped n2's parting advert: {rejected}"


@pytest.mark.parametrize("flavor", flavor_params(V2_XDP, V2_RAW, V3_XDP, V3_RAW))
def test_graceful_stop_hands_over_within_skew_time(make_cluster, flavor):
    """SIGTERM: priority-0 advert, so the backup takes over after Skew_Time, not
    Master_Down_Interval; the stopped node removes the VIP and exits 0 within a second."""
    cluster = make_cluster(2, flavor)
    elect(cluster, {"n1": 150, "n2": 100}, "n1")
    watcher = cluster.lab.watch_addresses("n2")
    t0, code, exit_s = stop_gracefully(cluster.procs["n1"])
    bound = cluster.skew_time(100) + FAILOVER_MARGIN_S
    took_over(cluster, watcher, t0, bound, f"graceful {flavor.name} n1->n2")
    record_timing(f"graceful {flavor.name} SIGTERM -> exit", exit_s, STOP_EXIT_BOUND_S)
    assert code == 0, cluster.procs["n1"].log()
    assert exit_s <= STOP_EXIT_BOUND_S
    assert cluster.holders() == ["n2"]
    assert log_lines(cluster.procs["n1"], r"\) sent 0 priority")
    assert log_lines(cluster.procs["n2"], r"\) Backup received priority 0 advertisement")
    cluster.assert_client_reaches("n2")
    if flavor.bpf:
        cluster.assert_no_attachment("n1")


def test_graceful_stop_three_nodes(make_cluster):
    cluster = make_cluster(3, V3_XDP)
    elect(cluster, {"n1": 150, "n2": 100, "n3": 50}, "n1")
    watchers = {n: cluster.lab.watch_addresses(n) for n in ("n2", "n3")}
    t0, code, exit_s = stop_gracefully(cluster.procs["n1"])
    took_over(cluster, watchers["n2"], t0, cluster.skew_time(100) + FAILOVER_MARGIN_S,
              "graceful 3 nodes v3-100ms-xdp n1->n2")
    assert code == 0 and exit_s <= STOP_EXIT_BOUND_S
    cluster.assert_client_reaches("n2")
    time.sleep(cluster.master_down_interval(50))
    assert watchers["n3"].events(t0) == []
    cluster.assert_single_master("n2")


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP, V3_RAW))
def test_interface_down_faults_the_master_and_up_brings_it_back(make_cluster, flavor):
    cluster = make_cluster(2, flavor)
    elect(cluster, {"n1": 150, "n2": 100}, "n1")
    n1 = cluster.lab.node("n1")
    watcher = cluster.lab.watch_addresses("n2")
    t0 = vipdlab.now_ns()
    n1.ip("link", "set", "eth0", "down")
    bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
    took_over(cluster, watcher, t0, bound, f"eth0 down {flavor.name} n1->n2")
    vipdlab.wait_for(lambda: log_lines(cluster.procs["n1"], r"Entering FAULT STATE"), timeout=2,
                     desc="FAULT in n1's log")
    cluster.wait_state("n1", "FAULT", timeout=1)
    assert cluster.holders() == ["n2"], "a node in FAULT must not hold the VIP"
    cluster.assert_client_reaches("n2")

    backups_before = cluster.procs["n1"].backup_transitions()
    t1 = vipdlab.now_ns()
    n1.ip("link", "set", "eth0", "up")
    vipdlab.wait_for(lambda: cluster.procs["n1"].backup_transitions() > backups_before, timeout=3,
                     desc="n1 back to BACKUP after eth0 up")
    # Higher priority with preempt: it takes the VIP back.
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    record_timing(f"eth0 up {flavor.name} -> n1 holds VIP again", (vipdlab.now_ns() - t1) / 1e9, 5)
    cluster.assert_stable("n1")
    cluster.assert_client_reaches("n1")
