"""The VRRP accept rules of raw-socket mode (ipfailover's OPENSHIFT_HA_IPTABLES_CHAIN and
OPENSHIFT_HA_NFTABLES_RULE), with the real iptables and nft inside the lab's node namespaces: the
rule lets adverts through a firewall that drops them, a killed run's rule is replaced rather than
doubled, a clean stop removes only our own rule, and XDP mode adds none.

ctest: integration.vipd_firewall.
"""

import re
import time

import vipdlab
from conftest import SPLIT_BRAIN_PROBE_S, V3_RAW, V3_XDP, log_lines, stop_gracefully

VRRP_DROP = ["iptables", "-A", "INPUT", "-d", "224.0.0.18/32", "-p", "112", "-j", "DROP"]


def iptables_rules(cluster, node: str) -> list[str]:
    out = cluster.lab.node(node).run(["iptables", "-S", "INPUT"]).stdout
    return [line for line in out.splitlines() if line.startswith("-A INPUT")]


def our_iptables_rules(cluster, node: str) -> list[str]:
    return [r for r in iptables_rules(cluster, node) if '--comment "vipd eth0"' in r]


def nft_tables(cluster, node: str) -> list[str]:
    out = cluster.lab.node(node).run(["nft", "list", "tables"]).stdout
    return sorted(line.strip() for line in out.splitlines() if line.startswith("table inet vipd"))


def nft_vrrp_rules(cluster, node: str, table: str) -> list[str]:
    out = cluster.lab.node(node).run(["nft", "list", "table", "inet", table], check=False).stdout
    return [line.strip() for line in out.splitlines() if "accept" in line and "daddr" in line]


def test_iptables_rule_lets_adverts_through_a_dropping_firewall(make_cluster):
    cluster = make_cluster(2, V3_RAW)
    for node in ("n1", "n2"):
        cluster.lab.node(node).run(VRRP_DROP)
    # Control: without the rule the firewall really cuts the multicast adverts, so both nodes take
    # the VIP; they then find each other through the VIP and heal over unicast (split-brain
    # healing, which the firewall does not stop).
    cluster.start("n1", 150)
    cluster.start("n2", 100)
    vipdlab.wait_for(lambda: log_lines(cluster.procs["n2"], r"Entering MASTER STATE"),
                     timeout=cluster.election_timeout(), desc="n2 master behind the firewall")
    cluster.wait_settled("n1", timeout=cluster.election_timeout() + SPLIT_BRAIN_PROBE_S + 2)
    assert log_lines(cluster.procs["n1"], r"split brain with 198\.18\.0\.12"), cluster.procs["n1"].log()
    for node in ("n1", "n2"):
        assert stop_gracefully(cluster.procs[node])[1] == 0

    firewall = ("--iptables-chain", "INPUT")
    cluster.start("n1", 150, extra=firewall)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    cluster.start("n2", 100, extra=firewall)
    cluster.wait_state("n2", "BACKUP", timeout=5)
    time.sleep(5 * cluster.master_down_interval(100))
    cluster.assert_single_master("n1")
    # The accept rule lets the multicast adverts through: n2 never became master.
    assert not log_lines(cluster.procs["n2"], r"Entering MASTER STATE"), cluster.procs["n2"].log()
    for node in ("n1", "n2"):
        rules = iptables_rules(cluster, node)
        assert len(rules) == 2 and '--comment "vipd eth0"' in rules[0] and rules[1].endswith("-j DROP"), rules
        assert log_lines(cluster.procs[node], r"Accepting VRRP in iptables chain INPUT \(raw-socket mode\)")


def test_killed_run_rules_are_replaced_and_a_clean_stop_removes_only_ours(make_cluster):
    cluster = make_cluster(1, V3_RAW)
    n1 = cluster.lab.node("n1")
    # Another vipd's rules on another interface of the same host (made by hand): never touched.
    n1.run(["iptables", "-A", "INPUT", "-d", "224.0.0.18/32", "-p", "112", "-m", "comment",
            "--comment", "vipd eth1", "-j", "ACCEPT"])
    n1.run(["nft", "add table inet vipd_eth1 { chain input { type filter hook input priority -10; "
                   "policy accept; ip daddr 224.0.0.18/32 meta l4proto 112 accept; }; }"])
    firewall = ("--iptables-chain", "INPUT", "--nftables-rule", "yes")

    cluster.start("n1", 150, extra=firewall)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    assert len(our_iptables_rules(cluster, "n1")) == 1
    assert nft_tables(cluster, "n1") == ["table inet vipd_eth0", "table inet vipd_eth1"]
    assert nft_vrrp_rules(cluster, "n1", "vipd_eth0") == ["ip daddr 224.0.0.18 meta l4proto vrrp accept"]

    for round_no in (1, 2):
        cluster.crash("n1")
        assert len(our_iptables_rules(cluster, "n1")) == 1, "SIGKILL leaves the rule behind"
        proc = cluster.start("n1", 150, extra=firewall)
        cluster.wait_state("n1", "MASTER", timeout=cluster.election_timeout())
        assert len(our_iptables_rules(cluster, "n1")) == 1, f"round {round_no}: rule doubled"
        assert len(nft_vrrp_rules(cluster, "n1", "vipd_eth0")) == 1, f"round {round_no}: nft rule doubled"
        assert log_lines(proc, r"Removed 1 VRRP accept rule\(s\) left in iptables chain INPUT")

    assert stop_gracefully(cluster.procs["n1"])[1] == 0
    assert our_iptables_rules(cluster, "n1") == []
    assert [r for r in iptables_rules(cluster, "n1") if "vipd eth1" in r], "the other interface's rule"
    assert nft_tables(cluster, "n1") == ["table inet vipd_eth1"]


def test_xdp_mode_adds_no_rule(make_cluster):
    cluster = make_cluster(1, V3_XDP)
    proc = cluster.start("n1", 150, extra=("--iptables-chain", "INPUT", "--nftables-rule", "yes"))
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    assert log_lines(proc, r"no firewall rule needed, XDP sees adverts before netfilter")
    assert iptables_rules(cluster, "n1") == [] and nft_tables(cluster, "n1") == []
    assert stop_gracefully(proc)[1] == 0


def test_a_missing_chain_is_logged_and_vipd_runs_on(make_cluster):
    cluster = make_cluster(1, V3_RAW)
    proc = cluster.start("n1", 150, extra=("--iptables-chain", "NOSUCHCHAIN"))
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    assert log_lines(proc, r"cannot add the VRRP accept rule to iptables chain NOSUCHCHAIN: "
                           r"/usr/sbin/iptables exited with status \d+")
    assert stop_gracefully(proc)[1] == 0
    assert not [line for line in proc.log().splitlines() if re.search(r"firewall cleanup", line)]
