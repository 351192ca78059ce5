"""vipd's metrics scraped by Debian's real Prometheus server on the namespace lab.

Prometheus runs in the lab's client namespace with a scrape job `vipd` for three vipd nodes (1 s
scrape and rule evaluation) and the shipped rules, deploy/prometheus/vipd-rules.yml, with every
`for:` shortened to 1 s (the expressions are the shipped ones; their timing is unit-tested with
promtool in ctest unit.prometheus_rules). Through Prometheus's HTTP query API the test sees:
  - keepalived_vrrp_state (2 MASTER, 1 BACKUP) and vipd_vip_present name the master;
  - the master SIGKILLed: both move to the new master; meanwhile the new master is scraped back
    to back from four threads, and its takeover still meets the failover bound;
  - the VIP added by hand on a second node (a split brain): VipdVipOnMultipleNodes fires.
And: an unusable metrics address is a startup error with exit 2 that leaves the host untouched.

ctest: integration.vipd_metrics.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest

import daemons
import vipdlab
from conftest import FAILOVER_MARGIN_S, SPLIT_BRAIN_PROBE_S, V3_XDP, record_measure, record_timing

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "vipd-rules.yml"
METRICS_PORT = 9112
PROMETHEUS_PORT = 9090


class Prometheus:
    """Debian's prometheus server in a lab namespace, asked through its HTTP API with curl."""

    def __init__(self, lab: vipdlab.Lab, targets: list[str]):
        self.lab = lab
        self.address = f"{lab.client.ipv4}:{PROMETHEUS_PORT}"
        work = lab.workdir / "prometheus"
        work.mkdir()
        rules = re.sub(r"^(\s+)for: \S+$", r"\1for: 1s", RULES.read_text(), flags=re.M)
        (work / "rules.yml").write_text(rules)
        (work / "prometheus.yml").write_text("\n".join([
            "global:",
            "  scrape_interval: 1s",
            "  scrape_timeout: 900ms",
            "  evaluation_interval: 1s",
            "rule_files: [rules.yml]",
            "scrape_configs:",
            "  - job_name: vipd",
            "    static_configs:",
            f"      - targets: [{', '.join(targets)}]",
            "",
        ]))
        self.proc = lab.start_process(lab.client, [
            "prometheus", f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address={self.address}",
            "--log.level=warn"], name="cl-prometheus")
        vipdlab.wait_for(self.ready, timeout=20, interval=0.2, desc="prometheus ready")

    def get(self, path: str) -> str:
        out = self.lab.client.run(["curl", "-s", "--max-time", "2", f"http://{self.address}{path}"],
                                  check=False)
        return out.stdout if out.returncode == 0 else ""

    def ready(self) -> bool:
        return "Ready" in self.get("/-/ready")

    def query(self, expr: str) -> dict[str, float]:
        """{series labels (sorted, as text): value} of an instant query."""
        answer = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        if not answer:
            return {}
        data = json.loads(answer)
        assert data["status"] == "success", data
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
                for r in data["data"]["result"]}

    def by_instance(self, expr: str) -> dict[str, float]:
        return {json.loads(k)["instance"]: v for k, v in self.query(expr).items()}

    def stop(self) -> None:
        self.proc.stop()


def target(lab, node: str) -> str:
    return f"{lab.node(node).ipv4}:{METRICS_PORT}"


def test_prometheus_sees_the_failover_and_the_split_brain_alert(make_cluster):
    cluster = make_cluster(3, V3_XDP)
    lab = cluster.lab
    for node, priority in (("n1", 150), ("n2", 100), ("n3", 50)):
        cluster.start(node, priority)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    cluster.wait_state("n2", "BACKUP", timeout=3)
    cluster.wait_state("n3", "BACKUP", timeout=3)
    prometheus = Prometheus(lab, [target(lab, n) for n in ("n1", "n2", "n3")])
    vip = cluster.vip
    state = f'keepalived_vrrp_state{{ip_address="{vip}"}}'
    present = f'vipd_vip_present{{vip="{vip}"}}'
    try:
        expected = {target(lab, "n1"): 2.0, target(lab, "n2"): 1.0, target(lab, "n3"): 1.0}
        vipdlab.wait_for(lambda: prometheus.by_instance(state) == expected, timeout=15,
                         interval=0.5, desc=f"{state} == {expected}")
        expected = {target(lab, "n1"): 1.0, target(lab, "n2"): 0.0, target(lab, "n3"): 0.0}
        vipdlab.wait_for(lambda: prometheus.by_instance(present) == expected, timeout=5,
                         interval=0.5, desc=f"{present} == {expected}")
        assert prometheus.by_instance('vipd_dataplane{mode="xdp"}') == {
            target(lab, n): 1.0 for n in ("n1", "n2", "n3")}
        assert prometheus.by_instance("keepalived_up") == {
            target(lab, n): 1.0 for n in ("n1", "n2", "n3")}

        # n2 is scraped back to back while n1 dies; its takeover must still meet the bound.
        scraper = lab.start_agent(lab.client, "_scrape", "--url",
                                  f"http://{target(lab, 'n2')}/metrics", "--threads", "4",
                                  "--duration", "30", name="cl-scrape")
        watcher = lab.watch_addresses("n2")
        vipdlab.wait_for(lambda: len(prometheus.query("up")) == 3, timeout=5, desc="targets up")
        # n2 may have been MASTER for a moment at start-up, before n1's first advert.
        n2_masters_before = cluster.procs["n2"].master_transitions()
        t0 = cluster.crash("n1")
        event = watcher.wait_event("add", vip, t0, timeout=cluster.master_down_interval(100) + 3)
        took = (event.ts_ns - t0) / 1e9
        bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
        record_timing("SIGKILL -> backup holds the VIP, scraped 4x back to back", took, bound)
        scraper.terminate()
        totals = json.loads(scraper.wait_line(lambda line: line.startswith("{"), timeout=10))
        record_measure("metrics scrapes of the new master during the failover", totals["scrapes"],
                       "scrapes")
        record_measure("slowest scrape during the failover", totals["slowest_ms"], "ms")
        assert took <= bound, f"takeover {took * 1000:.0f} ms > {bound * 1000:.0f} ms under scraping"
        assert totals["errors"] == 0 and totals["scrapes"] >= 20, totals
        assert totals["bytes"] > 1000, totals

        expected = {target(lab, "n2"): 2.0, target(lab, "n3"): 1.0}
        vipdlab.wait_for(lambda: prometheus.by_instance(state) == expected, timeout=10,
                         interval=0.5, desc=f"{state} == {expected} after the failover")
        expected = {target(lab, "n2"): 1.0, target(lab, "n3"): 0.0}
        vipdlab.wait_for(lambda: prometheus.by_instance(present) == expected, timeout=5,
                         interval=0.5, desc=f"{present} == {expected} after the failover")
        assert prometheus.by_instance(f'up{{instance="{target(lab, "n1")}"}}') == {
            target(lab, "n1"): 0.0}
        transitions = prometheus.by_instance(
            'vipd_transitions_total{from="BACKUP",to="MASTER",reason="master_down"}')
        assert transitions.get(target(lab, "n2")) == n2_masters_before + 1, transitions
        assert not prometheus.query('ALERTS{alertname="VipdVipOnMultipleNodes"}')

        # A split brain by hand: the VIP on n3 too. vipd_vip_present is netlink's view, so n3
        # reports it although n3's vipd is BACKUP; the shipped alert fires.
        lab.node("n3").ip("addr", "add", f"{vip}/32", "dev", "eth0")
        alert = f'ALERTS{{alertname="VipdVipOnMultipleNodes",alertstate="firing",vip="{vip}"}}'
        vipdlab.wait_for(lambda: prometheus.query(alert), timeout=15, interval=0.5,
                         desc="VipdVipOnMultipleNodes firing")
        assert prometheus.by_instance(present) == {target(lab, "n2"): 1.0, target(lab, "n3"): 1.0}
        # n2's probes find the second owner, which never answers in VRRP: a foreign split brain,
        # counted, and the shipped VipdSplitBrainDetected alert fires on n2 alone.
        foreign = 'vipd_split_brain_events_total{kind="foreign"}'
        vipdlab.wait_for(lambda: prometheus.by_instance(foreign).get(target(lab, "n2"), 0) >= 1,
                         timeout=4 * SPLIT_BRAIN_PROBE_S + 10, interval=0.5,
                         desc=f"{foreign} >= 1 on n2")
        assert prometheus.by_instance(foreign).get(target(lab, "n3")) == 0.0
        detected = 'ALERTS{alertname="VipdSplitBrainDetected",alertstate="firing",kind="foreign"}'
        vipdlab.wait_for(lambda: prometheus.query(detected), timeout=15, interval=0.5,
                         desc="VipdSplitBrainDetected firing")
        assert set(prometheus.by_instance(detected)) == {target(lab, "n2")}
        assert prometheus.by_instance('vipd_peers_heard')[target(lab, "n3")] == 1.0
        lab.node("n3").ip("addr", "del", f"{vip}/32", "dev", "eth0", check=False)
    finally:
        prometheus.stop()


@pytest.fixture(scope="module")
def one_node_lab():
    with vipdlab.Lab(nodes=1) as lab:
        yield lab


@pytest.mark.parametrize("value,says", [
    pytest.param("198.18.0.1:notaport", "notaport", id="bad-port"),
    pytest.param("example.org:9112", "example.org", id="a-name"),
    pytest.param(":9112", "in use", id="port-taken"),
])
def test_unusable_metrics_address_exits_2_and_changes_nothing(one_node_lab, vipd, value, says):
    lab = one_node_lab
    node = lab.node("n1")
    holder = None
    if says == "in use":
        holder = lab.start_process(node, [vipdlab.PYTHON, "-c", (
            "import socket,time\n"
            "s=socket.socket(socket.AF_INET6); s.bind(('::', 9112)); s.listen()\n"
            "print('READY', flush=True); time.sleep(60)")], name="n1-porthold", capture_lines=True)
        holder.wait_line(lambda line: line == "READY", timeout=5)
    try:
        before = node.run(["ip", "-br", "addr", "show"]).stdout
        settings = daemons.VrrpSettings(vip=lab.host_address(100), priority=150, version=3,
                                        advert_interval=0.1,
                                        extra_args=("--monitor-port", "0", "--metrics-address", value))
        out = node.run(vipd.command(lab, node, settings, lab.workdir), check=False,
                       timeout=10)
        assert out.returncode == 2, out.stdout + out.stderr
        # A bad value is a config error (stderr, like check-config); a port found taken at start
        # is the daemon's error log line (stdout, the journal).
        errors = [line for line in (out.stderr + out.stdout).splitlines()
                  if says in line and (line.startswith("vipd: ") or ": ERROR: " in line)]
        assert len(errors) == 1, out.stdout + out.stderr
        assert value in errors[0], errors
        link = json.loads(node.run(["ip", "-d", "-j", "link", "show", "dev", "eth0"]).stdout)[0]
        assert "xdp" not in link
        assert node.run(["ip", "-br", "addr", "show"]).stdout == before
    finally:
        if holder:
            holder.stop()
