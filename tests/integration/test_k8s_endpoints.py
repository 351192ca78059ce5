"""vipd's Kubernetes checks on the namespace lab (issue 14): applications behind a NodePort.

No cluster runs here, so `kube_stub.py api` plays kube-apiserver for one Service (`shop/web`) in
the lab's client namespace (198.18.0.2:6443): HTTPS with a CA and server certificate made by
openssl for this test, a bearer token, EndpointSlices in the exact discovery.k8s.io/v1 JSON (an
IPv4 and an IPv6 slice per pod group, as for a dual-stack Service), list and chunked watch with
bookmarks, and 410 Gone. Two vipd nodes (VRRPv3, 0.1 s adverts, n1 150 / n2 100, preempt) watch it
as Kubernetes nodes worker-1 and worker-2 with `--monitor-service shop/web`.

Shown here:
- the VIP leaves n1 within event latency + Skew_Time when its last ready endpoint turns unready
  (terminating: ready false, serving true), and comes back when one is ready again;
- endpoint changes on other nodes, bookmarks, watches the server ends cleanly, and a 410 that
  forces a re-list move nothing;
- the API down (process killed, answering 500, answering 401) for less than the grace period moves
  nothing, is logged once per outage and shown in `vipd status --json`; beyond the grace the state
  is still kept and reported stale;
- a rejected token and an unknown CA at start keep the node out (no state to keep) until fixed;
- kube-proxy's healthCheckNodePort (`kube_stub.py healthz`, kube-proxy's exact body) as an HTTP
  check: 503 moves the VIP, 200 brings it back.

Timing: the test stamps CLOCK_MONOTONIC just before it changes the API's objects; the backup's
address watcher stamps the VIP's RTM_NEWADDR with the same clock.

ctest: integration.k8s_endpoints.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

import vipdlab
from conftest import FAILOVER_MARGIN_S, V3_XDP, Cluster, log_lines, record_timing

KUBE_STUB = str(Path(__file__).resolve().parent / "kube_stub.py")
NAMESPACE, SERVICE = "shop", "web"
API_PORT = 6443
HEALTHZ_PORT = 32000
CHECK_NAME = "chk_vipdtest"
HIGH, LOW = 150, 100
TOKEN = "eyJhbGciOiJSUzI1NiJ9.vipd-lab-token.c2lnbmF0dXJl"


def node_name(node: str) -> str:
    """The Kubernetes node name of a lab node: n1 -> worker-1 (not the host name, on purpose)."""
    return f"worker-{node[1:]}"


def pod(node: Optional[str], index: int, ready: bool = True, group: str = "a") -> dict:
    """A pod of shop/web; ready=False is a terminating pod (ready false, serving true)."""
    return {"node": node_name(node) if node and node.startswith("n") else node, "ready": ready,
            "serving": True, "terminating": not ready, "slice": group,
            "ipv4": f"198.18.128.{index}", "ipv6": f"fd00:198:18:80::{index:x}",
            "uid": f"00000000-0000-4000-8000-{index:012d}"}


# ----------------------------------------------------------------------------------------------
# PKI and service accounts


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}")
    return key, cert


def make_server_cert(directory: Path, ca_key: Path, ca_cert: Path, address: str) -> tuple[Path, Path]:
    key, csr, cert = directory / "apiserver.key", directory / "apiserver.csr", directory / "apiserver.crt"
    extensions = directory / "apiserver.ext"
    extensions.write_text(f"subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", "/CN=kube-apiserver")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions))
    return key, cert


class KubeApi:
    """kube_stub.py api in the lab's client namespace, with its PKI and the nodes' ServiceAccount
    directories (token, ca.crt, namespace) as the kubelet would mount them."""

    def __init__(self, lab: vipdlab.Lab, pods: dict[str, dict], bookmark_interval: float = 60.0,
                 watch_cap: float = 0.0):
        self.lab = lab
        self.dir = lab.workdir / "kube"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.address = lab.client.ipv4
        self.ca_key, self.ca_cert = make_ca(self.dir, "cluster-ca")
        _, self.rogue_ca = make_ca(self.dir, "rogue-ca")
        self.key, self.cert = make_server_cert(self.dir, self.ca_key, self.ca_cert, self.address)
        self.token_file = self.dir / "expected-token"
        self.token_file.write_text(TOKEN + "\n")
        self.pods_file = self.dir / "pods.json"
        self.pods_file.write_text(json.dumps(pods))
        self.state = self.dir / "state.json"
        self.control_path = str(self.dir / "control.sock")
        self.bookmark_interval = bookmark_interval
        self.watch_cap = watch_cap
        self.proc: Optional[vipdlab.Proc] = None
        self.start()

    def start(self) -> None:
        self.proc = self.lab.start_process(
            self.lab.client,
            [vipdlab.PYTHON, "-u", KUBE_STUB, "api", "--address", self.address, "--port",
             str(API_PORT), "--cert", str(self.cert), "--key", str(self.key), "--token-file",
             str(self.token_file), "--namespace", NAMESPACE, "--service", SERVICE, "--state",
             str(self.state), "--pods", str(self.pods_file), "--control", self.control_path,
             "--bookmark-interval", str(self.bookmark_interval), "--watch-cap", str(self.watch_cap)],
            name="kube-api", capture_lines=True)
        self.proc.wait_line(lambda line: line == "READY", timeout=10)

    def kill(self) -> int:
        """SIGKILL: the API server is gone (connections reset, then refused). Returns t0."""
        t0 = vipdlab.now_ns()
        self.proc.kill()
        self.proc.wait(5)
        self.proc.close()
        return t0

    def control(self, **request) -> dict:
        import kube_stub
        return kube_stub.control(self.control_path, request)

    def set_pods(self, pods: dict[str, dict]) -> int:
        """Replaces the Service's pods; returns the monotonic time just before the change."""
        t0 = vipdlab.now_ns()
        answer = self.control(op="set_pods", pods=pods)
        assert answer["events"] > 0, "the change produced no watch event"
        return t0

    def stats(self) -> dict:
        return self.control(op="stats")["stats"]

    def service_account(self, node: str, token: str = TOKEN, ca: Optional[Path] = None) -> Path:
        directory = self.dir / f"sa-{node}"
        directory.mkdir(exist_ok=True)
        (directory / "token").write_text(token)
        (directory / "ca.crt").write_bytes((ca or self.ca_cert).read_bytes())
        (directory / "namespace").write_text("ipfailover")
        return directory

    def vipd_args(self, node: str, grace: float = 60, **account) -> tuple[str, ...]:
        return ("--monitor-service", f"{NAMESPACE}/{SERVICE}", "--node-name", node_name(node),
                "--k8s-api-host", self.address, "--k8s-api-port", str(API_PORT),
                "--k8s-service-account-dir", str(self.service_account(node, **account)),
                "--k8s-api-grace", f"{grace:g}")


def health(cluster: Cluster, node: str) -> dict:
    status = cluster.status(node)
    assert status is not None and "health_check" in status, f"{node}: no health_check in status"
    return status["health_check"]


def metric(cluster: Cluster, node: str, series: str) -> float:
    """One series from the node's /metrics (vipd's default :9112), e.g.
    'vipd_kubernetes_api_stale{service="ipfailover/web"}'."""
    out = cluster.lab.node(node).run(["curl", "-s", "--max-time", "2", "http://127.0.0.1:9112/metrics"])
    for line in out.stdout.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{node}: no {series} in /metrics")


def start_pair(cluster: Cluster, api: KubeApi, grace: float = 60) -> None:
    for node, priority in (("n1", HIGH), ("n2", LOW)):
        cluster.start(node, priority, extra=api.vipd_args(node, grace))
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout(), desc="n1 holds the VIP")
    cluster.wait_state("n2", "BACKUP", timeout=3)
    for node in ("n1", "n2"):
        assert log_lines(cluster.procs[node], re.escape(f"VRRP_Script({CHECK_NAME}) succeeded")), \
            cluster.procs[node].log()[-2000:]


def transitions(cluster: Cluster) -> dict[str, int]:
    return {node: proc.count(r"Entering \w+ STATE") for node, proc in cluster.procs.items()}


def holders_stay(cluster: Cluster, expected: list[str], seconds: float) -> None:
    """Samples the VIP holders every 50 ms for `seconds`: they must never differ from `expected`."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05) + 2):
        assert cluster.holders() == expected, f"VIP moved: {cluster.holders()}\n{cluster.diagnostics()}"
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)


@pytest.fixture
def cluster(make_cluster) -> Cluster:
    made = make_cluster(2, V3_XDP)
    made.base_args = ()  # the Kubernetes check replaces the port check under test
    return made


# ----------------------------------------------------------------------------------------------


def test_vip_leaves_with_the_last_ready_local_endpoint(cluster):
    """n1 has two pods, n2 one. The first n1 pod terminating changes nothing; the second one
    terminating puts n1 into FAULT and n2 holds the VIP within Skew_Time + 100 ms of the API
    change (the event's delivery included). A ready pod on n1 again brings the VIP back."""
    pods = {"web-1": pod("n1", 11), "web-2": pod("n1", 12), "web-3": pod("n2", 13)}
    api = KubeApi(cluster.lab, pods)
    start_pair(cluster, api)
    before = transitions(cluster)
    n1_watcher = cluster.lab.watch_addresses("n1")
    n2_watcher = cluster.lab.watch_addresses("n2")

    api.set_pods({**pods, "web-1": pod("n1", 11, ready=False)})
    holders_stay(cluster, ["n1"], 1.0)
    assert transitions(cluster) == before
    assert health(cluster, "n1")["local_ready_endpoints"] == 1
    assert health(cluster, "n1")["local_not_ready_endpoints"] == 1
    service = f'service="{NAMESPACE}/{SERVICE}"'
    vipdlab.wait_for(lambda: metric(cluster, "n1", f'vipd_service_endpoints{{{service},where="local_ready"}}') == 1,
                     timeout=2, interval=0.1, desc="n1's metrics show 1 ready local endpoint")
    assert metric(cluster, "n1", f'vipd_service_endpoints{{{service},where="local_not_ready"}}') == 1
    assert metric(cluster, "n1", f'vipd_service_endpoints{{{service},where="ready_elsewhere"}}') == 1

    t0 = api.set_pods({**pods, "web-1": pod("n1", 11, ready=False), "web-2": pod("n1", 12, ready=False)})
    released = n1_watcher.wait_event("del", cluster.vip, t0, timeout=5)
    taken = n2_watcher.wait_event("add", cluster.vip, t0, timeout=5)
    latency = (released.ts_ns - t0) / 1e9
    took = (taken.ts_ns - t0) / 1e9
    bound = cluster.skew_time(LOW) + FAILOVER_MARGIN_S
    record_timing("k8s: last local endpoint unready -> VIP off n1 (event latency)", latency, FAILOVER_MARGIN_S)
    record_timing("k8s: last local endpoint unready -> VIP on n2", took, bound)
    assert latency <= FAILOVER_MARGIN_S, f"event latency {latency * 1000:.1f} ms"
    assert took <= bound, f"{took * 1000:.1f} ms > {bound * 1000:.1f} ms\n{cluster.diagnostics()}"
    n1 = cluster.procs["n1"]
    assert log_lines(n1, re.escape(f"VRRP_Script({CHECK_NAME}) failed (0 ready endpoint(s) of "
                                   f"{NAMESPACE}/{SERVICE} on node worker-1, 2 not ready; ready on: "
                                   "worker-2)")), n1.log()[-3000:]
    cluster.wait_state("n1", "FAULT", timeout=1)
    cluster.wait_holders(["n2"], timeout=1)
    state = health(cluster, "n1")
    assert state["status"] == "failed" and state["local_ready_endpoints"] == 0, state
    # Dual stack: each pod is in an IPv4 and an IPv6 slice and still counts once.
    assert state["slices"] == 2 and state["ready_endpoints_elsewhere"] == 1, state

    t_back = api.set_pods({**pods, "web-1": pod("n1", 11, ready=False)})
    cluster.wait_holders(["n1"], timeout=cluster.master_down_interval(HIGH) + 3, desc="n1 back")
    record_timing("k8s: a local endpoint ready again -> VIP back on n1 (preempt)",
                  (vipdlab.now_ns() - t_back) / 1e9, cluster.master_down_interval(HIGH) + 3)
    cluster.wait_state("n1", "MASTER", timeout=1)
    cluster.wait_state("n2", "BACKUP", timeout=1)


def test_other_nodes_bookmarks_watch_ends_and_410_move_nothing(make_cluster):
    """Watches the server ends after 2 s (resumed from the last resourceVersion, no re-list) and
    bookmarks every 0.5 s; then endpoints change on n2 and on a node without vipd, and a 410
    Gone ends every watch (one re-list per node): n1 keeps the VIP with no transition."""
    cluster = make_cluster(2, V3_XDP)
    cluster.base_args = ()
    pods = {"web-1": pod("n1", 11), "web-2": pod("n2", 12), "web-3": pod("n3", 13)}
    api = KubeApi(cluster.lab, pods, bookmark_interval=0.5, watch_cap=2.0)
    start_pair(cluster, api)
    n1_before = transitions(cluster)["n1"]

    holders_stay(cluster, ["n1"], 4.5)  # two clean watch ends per node, with bookmarks
    for node in ("n1", "n2"):
        state = health(cluster, node)
        assert state["lists"] == 1, state
        assert state["watches"] >= 3 and state["bookmarks"] >= 4, state
        assert state["api_reachable"] and state["api_failures"] == 0, state

    # n2's only pod terminates (n2 goes to FAULT, which is right), a pod on worker-3 (no vipd)
    # comes and goes in a slice of its own, n2's pod comes back.
    steps = [
        {**pods, "web-2": pod("n2", 12, ready=False)},
        {**pods, "web-2": pod("n2", 12, ready=False), "web-4": pod("n3", 14, group="b")},
        {**pods, "web-2": pod("n2", 12, ready=False), "web-4": pod("n3", 14, ready=False, group="b")},
        {**pods, "web-2": pod("n2", 12, ready=False)},
        pods,
    ]
    for step in steps:
        api.set_pods(step)
        holders_stay(cluster, ["n1"], 0.4)
    cluster.wait_state("n2", "BACKUP", timeout=3)
    assert log_lines(cluster.procs["n2"], r"Entering FAULT STATE"), "n2 lost its only endpoint"
    assert transitions(cluster)["n1"] == n1_before, cluster.procs["n1"].log()[-3000:]

    lists_before = api.stats()["lists"]
    api.control(op="expire")
    holders_stay(cluster, ["n1"], 1.5)
    assert api.stats()["lists"] == lists_before + 2, api.stats()  # one re-list per node
    for node in ("n1", "n2"):
        state = health(cluster, node)
        assert state["relists_after_gone"] == 1 and state["lists"] == 2, state
        assert state["api_failures"] == 0 and state["api_reachable"], state
        assert log_lines(cluster.procs[node], r"watch of shop/web expired \(410 Expired: too old resource version")
    assert transitions(cluster)["n1"] == n1_before

    # The watches after the re-list see changes: n2 goes to FAULT again.
    api.set_pods({**pods, "web-2": pod("n2", 12, ready=False)})
    cluster.wait_state("n2", "FAULT", timeout=2)
    assert cluster.holders() == ["n1"]


def assert_outage_moved_nothing(cluster: Cluster, before: dict[str, int], outages: int) -> None:
    assert transitions(cluster) == before, cluster.diagnostics()
    for node in ("n1", "n2"):
        proc = cluster.procs[node]
        # Once per outage, not once per retry.
        assert len(log_lines(proc, r"Kubernetes API failed: .*keeping the last known state \(healthy\)")) == outages, \
            proc.log()[-3000:]
        assert len(log_lines(proc, r"the Kubernetes API answers again after")) == outages, proc.log()[-3000:]
        assert not log_lines(proc, r"STALE"), proc.log()[-3000:]


def wait_reachable(cluster: Cluster, timeout: float) -> None:
    vipdlab.wait_for(lambda: all(health(cluster, n)["api_reachable"] for n in ("n1", "n2")),
                     timeout=timeout, interval=0.1, desc="both nodes reach the API again")


def test_api_outages_shorter_than_the_grace_move_nothing(cluster):
    """Grace 10 s. The API server killed for 3 s, answering 500 for 2 s, answering 401 for 2 s:
    the VIP stays on n1, no node changes state, each outage is logged once per node and shown in
    `vipd status --json` (api_reachable false), and the retries back off."""
    pods = {"web-1": pod("n1", 11), "web-2": pod("n2", 12)}
    api = KubeApi(cluster.lab, pods)
    start_pair(cluster, api, grace=10)
    before = transitions(cluster)

    api.kill()
    vipdlab.wait_for(lambda: not health(cluster, "n1")["api_reachable"], timeout=2, interval=0.05,
                     desc="n1 notices the API is gone")
    holders_stay(cluster, ["n1"], 3.0)
    state = health(cluster, "n1")
    assert state["status"] == "healthy" and not state["api_stale"] and state["api_outage_ms"] > 2500, state
    api.start()  # same objects (state file), no watch history: a re-list
    wait_reachable(cluster, timeout=8)
    assert_outage_moved_nothing(cluster, before, outages=1)

    for mode, words in (("error500", "HTTP 500 InternalError: Internal error occurred: etcdserver"),
                        ("unauthorized", "HTTP 401 Unauthorized: Unauthorized")):
        requests_before = api.stats()["refused_by_mode"]
        api.control(op="mode", mode=mode)  # open watches are cut as well
        holders_stay(cluster, ["n1"], 2.0)
        refused = api.stats()["refused_by_mode"] - requests_before
        for node in ("n1", "n2"):
            state = health(cluster, node)
            assert not state["api_reachable"] and words in state["api_last_error"], state
        api.control(op="mode", mode="ok", drop_watches=False)
        # Backoff from 0.5 s, doubling, ±20 %: at most 3 attempts per node in 2 s.
        assert 2 <= refused <= 6, f"{mode}: {refused} requests refused in 2 s"
        wait_reachable(cluster, timeout=8)
        for node in ("n1", "n2"):
            # The outage's first error is the cut watch; the recovery line names the last one.
            assert log_lines(cluster.procs[node], rf"answers again after .*the last: list: {words}"), \
                cluster.procs[node].log()[-3000:]
    assert_outage_moved_nothing(cluster, before, outages=3)
    assert cluster.holders() == ["n1"]
    assert log_lines(cluster.procs["n1"], r"\(the ServiceAccount token was rejected\)")


def test_outage_beyond_the_grace_keeps_the_state_and_reports_it_stale(cluster):
    """Grace 1 s, API answering 500 for 3 s: each node logs once that its state is STALE and
    keeps it (the API going away for every node at once must not take the VIP off every node);
    status says api_stale; the first answer clears it."""
    pods = {"web-1": pod("n1", 11), "web-2": pod("n2", 12)}
    api = KubeApi(cluster.lab, pods)
    start_pair(cluster, api, grace=1)
    before = transitions(cluster)
    api.control(op="mode", mode="error500")
    holders_stay(cluster, ["n1"], 3.0)
    service = f'{{service="{NAMESPACE}/{SERVICE}"}}'
    for node in ("n1", "n2"):
        state = health(cluster, node)
        assert state["api_stale"] and not state["api_reachable"] and state["status"] == "healthy", state
        assert len(log_lines(cluster.procs[node], r"is STALE and kept as it is")) == 1
        # The snapshot behind /metrics is at most a second old.
        vipdlab.wait_for(lambda node=node: metric(cluster, node, "vipd_kubernetes_api_stale" + service) == 1,
                         timeout=2, interval=0.1, desc=f"{node}'s metrics say stale")
        assert metric(cluster, node, "vipd_kubernetes_api_reachable" + service) == 0
        assert metric(cluster, node, "vipd_kubernetes_api_failures_total" + service) >= 1
    api.control(op="mode", mode="ok", drop_watches=False)
    wait_reachable(cluster, timeout=8)
    for node in ("n1", "n2"):
        assert not health(cluster, node)["api_stale"]
        vipdlab.wait_for(lambda node=node: metric(cluster, node, "vipd_kubernetes_api_reachable" + service) == 1,
                         timeout=2, interval=0.1, desc=f"{node}'s metrics say reachable")
        assert metric(cluster, node, "vipd_kubernetes_api_stale" + service) == 0
        assert metric(cluster, node, "vipd_kubernetes_api_outages_total" + service) == 1
        assert log_lines(cluster.procs[node], r"answers again after .*the check state is current again")
    assert transitions(cluster) == before
    assert cluster.holders() == ["n1"]


def test_rejected_token_or_unknown_ca_keep_a_starting_node_out_until_fixed(cluster):
    """n1 starts with a token the API rejects (401), n2 with a CA that did not sign the API's
    certificate (TLS failure): with no state to keep, both count as failed and nobody holds the
    VIP. Fixing the files (both read afresh at every retry) lets them in; n1 holds the VIP."""
    pods = {"web-1": pod("n1", 11), "web-2": pod("n2", 12)}
    api = KubeApi(cluster.lab, pods)
    cluster.start("n1", HIGH, extra=api.vipd_args("n1", token="not-the-token"))
    cluster.start("n2", LOW, extra=api.vipd_args("n2", ca=api.rogue_ca))
    for node in ("n1", "n2"):
        cluster.wait_state(node, "FAULT", timeout=5)
    holders_stay(cluster, [], 1.5)
    n1, n2 = cluster.procs["n1"], cluster.procs["n2"]
    assert len(log_lines(n1, r"Kubernetes API failed: list: HTTP 401 Unauthorized.*token was rejected.*no state known yet")) == 1, \
        n1.log()[-3000:]
    assert len(log_lines(n2, r"Kubernetes API failed: list: SSL.*no state known yet")) == 1, n2.log()[-3000:]
    assert health(cluster, "n1")["status"] == "failed"

    # Both files fixed now; each node notices at its next retry. Retries back off from 0.5 s to
    # 30 s (±20 %): a few seconds after start the next one is at most ~15 s away.
    (api.dir / "sa-n2" / "ca.crt").write_bytes(api.ca_cert.read_bytes())
    (api.dir / "sa-n1" / "token").write_text(TOKEN)
    for proc in (n1, n2):
        vipdlab.wait_for(lambda p=proc: log_lines(p, re.escape(
            f"VRRP_Script({CHECK_NAME}) succeeded (1 ready endpoint(s)")), timeout=25, interval=0.1,
            desc="the check succeeds with the fixed file")
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout(), desc="n1 in, preempting n2")
    cluster.wait_state("n2", "BACKUP", timeout=2)


def test_kube_proxy_health_check_node_port(cluster):
    """--monitor-url on kube-proxy's healthCheckNodePort (kube_stub.py healthz on each node's
    address, kube-proxy's body): 503 with localEndpoints 0 moves the VIP within one check interval
    + Skew_Time + 100 ms; 200 again brings it back."""
    lab = cluster.lab
    interval = 0.5
    controls = {}
    for node in lab.nodes:
        controls[node.name] = str(lab.workdir / f"healthz-{node.name}.sock")
        proc = lab.start_process(node, [vipdlab.PYTHON, "-u", KUBE_STUB, "healthz", "--address",
                                        node.ipv4, "--port", str(HEALTHZ_PORT), "--namespace",
                                        NAMESPACE, "--service", SERVICE, "--control",
                                        controls[node.name]],
                                 name=f"{node.name}-healthz", capture_lines=True)
        proc.wait_line(lambda line: line == "READY", timeout=10)
    import kube_stub
    for node, priority in (("n1", HIGH), ("n2", LOW)):
        url = f"http://{lab.node(node).ipv4}:{HEALTHZ_PORT}/healthz"
        cluster.start(node, priority, extra=("--monitor-url", url, "--check-interval", f"{interval:g}"))
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout(), desc="n1 holds the VIP")
    n1 = cluster.procs["n1"]
    assert log_lines(n1, re.escape(f"VRRP_Script({CHECK_NAME}) succeeded")), n1.log()[-2000:]
    watcher = lab.watch_addresses("n2")

    t0 = kube_stub.control(controls["n1"], {"op": "set", "local_endpoints": 0})["t0"]
    event = watcher.wait_event("add", cluster.vip, t0, timeout=5)
    took = (event.ts_ns - t0) / 1e9
    bound = interval + cluster.skew_time(LOW) + FAILOVER_MARGIN_S
    record_timing("kube-proxy 503 (no local endpoint) -> VIP on n2", took, bound)
    assert took <= bound, f"{took * 1000:.1f} ms > {bound * 1000:.1f} ms"
    assert log_lines(n1, re.escape(f"VRRP_Script({CHECK_NAME}) failed (HTTP 503, localEndpoints 0)")), \
        n1.log()[-2000:]
    cluster.wait_state("n1", "FAULT", timeout=1)

    kube_stub.control(controls["n1"], {"op": "set", "local_endpoints": 2})
    cluster.wait_holders(["n1"], timeout=interval + cluster.master_down_interval(HIGH) + 3,
                         desc="n1 back after 200")
    cluster.wait_state("n2", "BACKUP", timeout=2)
    # kube-proxy itself unhealthy: 503 although the count is 2.
    kube_stub.control(controls["n1"], {"op": "set", "proxy_healthy": False})
    cluster.wait_holders(["n2"], timeout=interval + 2, desc="n2 while kube-proxy on n1 is unhealthy")
    assert log_lines(n1, re.escape("failed (HTTP 503, localEndpoints 2, serviceProxyHealthy false)"))
