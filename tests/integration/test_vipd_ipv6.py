"""vipd with an IPv6 VIP (VRRPv3, RFC 5798) on the namespace lab, through XDP and the raw socket:
adverts from the link-local address, election, crash and graceful failover within the RFC
bounds, and the client following the VIP to the new master at once (unsolicited neighbour
advertisements with the override flag, the IPv6 counterpart of gratuitous ARP).

ctest: integration.vipd_ipv6.
"""

import pytest

from conftest import (FAILOVER_MARGIN_S, V3_RAW, V3_XDP, elect, flavor_params, log_lines,
                      stop_gracefully, took_over)


@pytest.fixture
def ipv6_cluster(make_cluster, request):
    cluster = make_cluster(2, request.param, ipv6=True)
    cluster.vip = cluster.lab.host_address6(100)
    return cluster


@pytest.mark.parametrize("ipv6_cluster", flavor_params(V3_XDP, V3_RAW), indirect=True)
def test_ipv6_election_crash_preempt_and_graceful_stop(ipv6_cluster):
    cluster = ipv6_cluster
    flavor = cluster.flavor
    elect(cluster, {"n1": 150, "n2": 100}, "n1")  # n2 names n1's link-local address as master
    assert cluster.vrrp_address("n1").startswith("fe80:")
    n1_log = cluster.procs["n1"].log()
    assert f"source {cluster.vrrp_address('n1')}, multicast" in n1_log, n1_log
    watchers = {n: cluster.lab.watch_addresses(n) for n in ("n1", "n2")}

    bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
    t0 = cluster.crash("n1")
    cluster.lab.cut_link("n1")  # the killed daemon's stale VIP must not answer the client
    took = took_over(cluster, watchers["n2"], t0, bound, f"ipv6 crash {flavor.name} n1->n2")
    assert took >= 2 * flavor.interval, f"took over after {took:.3f}s: before the master was down"
    cluster.wait_state("n2", "MASTER", timeout=1)
    assert log_lines(cluster.procs["n2"], rf"Sending unsolicited neighbour advert on eth0 for {cluster.vip}")
    cluster.assert_client_reaches("n2")

    cluster.lab.restore_link("n1")
    cluster.start("n1", 150)  # removes its stale VIP, then preempts
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    cluster.wait_state("n1", "MASTER", timeout=1)
    cluster.wait_state("n2", "BACKUP", timeout=1)
    cluster.assert_single_master("n1")
    cluster.assert_client_reaches("n1")

    t0, code, exit_s = stop_gracefully(cluster.procs["n1"])
    took_over(cluster, watchers["n2"], t0, cluster.skew_time(100) + FAILOVER_MARGIN_S,
              f"ipv6 graceful {flavor.name} n1->n2")
    assert code == 0 and exit_s <= 1.0
    assert cluster.holders() == ["n2"]
    assert log_lines(cluster.procs["n2"], r"\) Backup received priority 0 advertisement")
    cluster.assert_client_reaches("n2")
    if flavor.bpf:
        cluster.assert_no_attachment("n1")
