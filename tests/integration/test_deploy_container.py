"""The vipd image run as lab nodes the way the OpenShift manifests run it.

Each node is a podman container of the image scripts/image.sh builds (ctest's deploy.image), in a
lab node's network namespace (`--network ns:…`, as `hostNetwork: true` puts a pod in the node's),
with `--cap-drop all` plus exactly NET_ADMIN, NET_RAW, BPF and PERFMON, the project's seccomp
profile, not privileged, and a bpffs of the test's own mounted at /sys/fs/bpf (the node's bpffs
hostPath). Shown here: XDP attaches (not the raw-socket fallback), the election, crash failover,
the graceful stop on `podman stop` (priority 0, VIPs removed, programs detached, pins gone), the
probes (FAULT makes the pod unready, not dead), the runbook's tools (ip and ps in the image,
bpftool and tcpdump on the node); without
the seccomp profile, the fallback in one log line; without NET_RAW, an exit with one line naming
it. vipd's RSS and CPU are measured here for the manifests' resources. VIPD_IMAGE=<reference>
runs them on another image.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time

import pytest

import conftest
import deploylab
import vipdlab
from daemons import master_down_interval, skew_time

pytestmark = pytest.mark.skipif(deploylab.podman_missing() is not None,
                                reason=deploylab.podman_missing() or "")

INTERVAL = 0.1  # VRRPv3 adverts every 100 ms: failovers in a fraction of a second
VRID_OFFSET = 60
ATTACHED = "eBPF data plane attached to eth0: XDP"
FALLBACK = re.compile(r"eBPF data plane unavailable: .*falling back to a raw VRRP socket")


@pytest.fixture(scope="module")
def image() -> str:
    reference = deploylab.image_reference()
    deploylab.require_image(reference)
    return reference


@pytest.fixture
def deployment(image):
    """A fresh 3-node lab, a bpffs per node and the containers started on it; all removed after."""
    bpffs: dict[str, deploylab.Bpffs] = {}
    with vipdlab.Lab(nodes=3) as lab:
        containers = deploylab.Containers(lab, image)
        try:
            yield lab, containers, bpffs
        finally:
            left = containers.remove_all()
            for fs in bpffs.values():
                fs.remove()
            assert not left, f"containers left behind: {left}"


def vipd_args(priority: int) -> list[str]:
    return ["run", "--vrrp-version", "3", "--advert-interval", str(INTERVAL),
            "--priority", str(priority), "--preemption", "preempt", "--garp-master-delay", "0"]


def pod_env(lab: vipdlab.Lab) -> dict[str, str]:
    """The manifests' way: ipfailover's variables (no port check: the lab runs no application)."""
    return {"OPENSHIFT_HA_NETWORK_INTERFACE": "eth0",  # the lab's nodes have no default route
            "OPENSHIFT_HA_VIRTUAL_IPS": lab.host_address(100), "OPENSHIFT_HA_CONFIG_NAME": "deploy",
            "OPENSHIFT_HA_VRRP_ID_OFFSET": str(VRID_OFFSET), "OPENSHIFT_HA_MONITOR_PORT": "0"}


# As the manifests' readOnlyRootFilesystem: true (no tmpfs on /run or /tmp either, as in a pod).
READ_ONLY = ["--read-only", "--read-only-tmpfs=false"]


def start_node(lab, containers, bpffs, node: str, priority: int) -> deploylab.Container:
    bpffs[node] = deploylab.Bpffs(lab)
    return containers.run(node, node, vipd_args(priority), env=pod_env(lab), bpffs=bpffs[node],
                          extra=READ_ONLY)


def wait_or_explain(predicate, timeout: float, desc: str, containers: deploylab.Containers):
    """wait_until, and on a timeout the log tail of every container started."""
    try:
        return deploylab.wait_until(predicate, timeout, desc)
    except TimeoutError as exc:
        tails = "\n".join(f"--- {c.name}:\n" + "\n".join(c.logs().splitlines()[-15:])
                          for c in containers.started)
        raise TimeoutError(f"{exc}\n{tails}") from None


def xdp_programs(node: vipdlab.Node) -> list[str]:
    out = node.run(["ip", "-d", "-j", "link", "show", "dev", "eth0"]).stdout
    xdp = vipdlab.json.loads(out)[0].get("xdp") or {}
    attached = xdp.get("attached") or ([{"prog": xdp["prog"]}] if "prog" in xdp else [])
    return [a.get("prog", {}).get("name", "?") for a in attached]


def tc_filters(node: vipdlab.Node) -> str:
    return "".join(node.run(["tc", "filter", "show", "dev", dev, hook], check=False).stdout
                   for dev in ("eth0", "lo") for hook in ("ingress", "egress"))


def assert_least_privilege(container: deploylab.Container) -> None:
    """What the kernel says about the running vipd: exactly the four capabilities, a seccomp
    filter, not privileged."""
    info = container.inspect()
    assert info["HostConfig"]["Privileged"] is False
    status = container.proc_status()
    effective = int(status["CapEff"], 16)
    assert effective == deploylab.capability_mask(deploylab.FOUR_CAPABILITIES), (
        f"CapEff {status['CapEff']}: not exactly NET_ADMIN, NET_RAW, BPF, PERFMON")
    assert int(status["CapBnd"], 16) == effective, status["CapBnd"]
    assert status["Seccomp"].strip() == "2", "no seccomp filter in force"


def test_image_runs_vipd_with_four_capabilities(deployment):
    """Three nodes over XDP: election, probes, runbook tools, crash failover, the crashed node's
    restart, and the graceful stop on `podman stop`."""
    lab, containers, bpffs = deployment
    vip = lab.host_address(100)
    n1 = start_node(lab, containers, bpffs, "n1", 150)
    n2 = start_node(lab, containers, bpffs, "n2", 100)
    n3 = start_node(lab, containers, bpffs, "n3", 50)
    nodes = {"n1": n1, "n2": n2, "n3": n3}

    # Election: n1 (150) alone holds the VIP; every node receives over XDP with pins in its bpffs.
    wait_or_explain(lambda: lab.vip_holders(vip) == ["n1"], master_down_interval(INTERVAL, 1) + 10,
                    "n1 holds the VIP", containers)
    wait_or_explain(lambda: [c.state() for c in nodes.values()] == ["MASTER", "BACKUP", "BACKUP"],
                    5, "n1 MASTER, n2 and n3 BACKUP", containers)
    for name, container in nodes.items():
        status = container.status()
        assert status["receive_path"] == "xdp", (name, status["receive_path"], container.logs())
        assert ATTACHED in container.logs(), container.logs()
        assert not FALLBACK.search(container.logs()), container.logs()
        assert xdp_programs(lab.node(name)) == ["vipd_xdp_advert"], name
        assert "vipd_vrid_stat" in bpffs[name].pins(), (name, bpffs[name].pins())
        assert_least_privilege(container)
    assert re.search(r"commit [0-9a-f]{12}", n1.logs()), "the image's vipd must know its commit"

    # The probes the manifests run, inside the container as the kubelet would.
    ready = n2.exec("vipd", "status", "--ready")
    assert ready.returncode == 0 and ready.stdout.startswith("ready: eth0 (xdp): deploy_VIP_1 BACKUP"), ready
    live = n2.exec("vipd", "status", "--live", "--timeout", "3")
    assert live.returncode == 0 and live.stdout.startswith("live: eth0 answered"), live

    # The runbook's tools: ip and ps in the image; tcpdump on the node (in the pod it would drop to
    # its own user, which the four capabilities cannot do), where XDP passes the adverts up to it.
    assert vip in n1.exec("ip", "-br", "addr", "show", "dev", "eth0").stdout
    assert "vipd" in n1.exec("ps", "-e", "-o", "comm").stdout
    dump = lab.node("n2").run(["tcpdump", "-c", "2", "-nni", "eth0", "vrrp"], timeout=20)
    assert f"{lab.node('n1').ipv4} > 224.0.0.18: VRRPv3" in dump.stdout, dump

    # bpftool runs on the node, not in the pod (it needs CAP_SYS_ADMIN to read the maps' BTF): the
    # node's bpffs (here the test's) shows the backup's per-VRID kernel counters.
    pin = bpffs["n2"].path / "vipd" / "eth0" / "vipd_vrid_stat"
    dump = vipdlab.json.loads(vipdlab.run_cmd(["bpftool", "-j", "map", "dump", "pinned", str(pin)]).stdout)
    entry = next(e["formatted"] for e in dump if int(e["formatted"]["key"]) == VRID_OFFSET + 1)
    assert sum(int(cpu["value"]["rx_valid"]) for cpu in entry["values"]) > 0, entry

    # Resources, for the manifests' requests and limits: RSS, peak RSS and CPU over 5 s of
    # 100 ms adverts (the master sends 10 adverts/s, a backup receives them in XDP).
    for name in ("n1", "n2"):
        status = nodes[name].proc_status()
        conftest.record_measure(f"container {name} CPU used until here (start-up, election)",
                                deploylab.cpu_seconds(nodes[name].pid()) * 1000, "ms")
        peak = deploylab.cgroup_memory_peak(nodes[name].pid())
        if peak is not None:
            conftest.record_measure(f"container {name} memory cgroup peak (incl. BPF maps)", peak / 2**20, "MiB")
        conftest.record_measure(f"container {name} ({nodes[name].state()}) RSS", int(status["VmRSS"].split()[0]) / 1024, "MiB")
        conftest.record_measure(f"container {name} peak RSS (VmHWM)", int(status["VmHWM"].split()[0]) / 1024, "MiB")
        share = deploylab.cpu_share(nodes[name].pid(), 5.0)
        conftest.record_measure(f"container {name} CPU at 0.1 s adverts", share * 1000, "millicores")
        assert share < 0.05, f"{name}: {share * 1000:.1f} millicores for 10 adverts/s"

    # Crash: SIGKILL to n1's vipd (the container's main process), as a node or pod crash.
    watcher = lab.watch_addresses("n2")
    t0 = vipdlab.now_ns()
    os.kill(n1.pid(), signal.SIGKILL)
    bound = master_down_interval(INTERVAL, 100) + conftest.FAILOVER_MARGIN_S
    conftest.took_over(_Holder(vip), watcher, t0, bound, "container crash -> n2 holds the VIP")
    n1.wait_exit(10)
    deploylab.wait_until(lambda: n2.state() == "MASTER" and n3.state() == "BACKUP", 5, "n2 MASTER")
    # A killed vipd leaves its (pass-through) XDP program and pins; the next start replaces them.
    assert xdp_programs(lab.node("n1")) == ["vipd_xdp_advert"]
    podman_start = deploylab.podman("start", n1.name)
    assert podman_start.returncode == 0
    deploylab.wait_until(lambda: lab.vip_holders(vip) == ["n1"], 10, "restarted n1 takes the VIP back")
    deploylab.wait_until(lambda: n1.state() == "MASTER", 5, "n1 MASTER again")
    assert n1.status()["receive_path"] == "xdp"
    deploylab.wait_until(lambda: n2.state() == "BACKUP", 5, "n2 BACKUP again")

    # Graceful stop: `podman stop` sends SIGTERM; n1 sends priority 0, n2 takes over after its
    # Skew_Time, n1 removes its VIP, detaches its programs, removes its pins and exits 0.
    adverts = lab.watch_adverts("n2")
    watcher2 = lab.watch_addresses("n2")
    t_stop = vipdlab.now_ns()
    deploylab.podman("stop", "-t", "10", n1.name)
    assert n1.exit_code() == 0, n1.logs()[-2000:]
    zero = deploylab.wait_until(
        lambda: next((e for e in adverts.events(t_stop)
                      if e.source == lab.node("n1").ipv4 and e.priority == 0), None),
        5, "n1's priority-0 advert")
    conftest.took_over(_Holder(vip), watcher2, zero.ts_ns, skew_time(INTERVAL, 100) + conftest.FAILOVER_MARGIN_S,
                       "podman stop: priority 0 -> n2 holds the VIP")
    assert lab.vip_holders(vip) == ["n2"]
    assert xdp_programs(lab.node("n1")) == [], "XDP left attached after a graceful stop"
    assert "vipd" not in tc_filters(lab.node("n1")), tc_filters(lab.node("n1"))
    assert bpffs["n1"].pins() == [], f"pins left: {bpffs['n1'].pins()}"
    assert re.search(r"\(deploy_VIP_1\) sent 0 priority", n1.logs()), n1.logs()[-2000:]
    for tool in ("bpftool", "tcpdump"):
        assert n2.exec("sh", "-c", f"command -v {tool}").returncode != 0, f"{tool} is not shipped"


class _Holder:
    """What conftest.took_over needs of a cluster: the VIP."""

    def __init__(self, vip: str):
        self.vip = vip


def test_without_the_seccomp_profile_falls_back_in_one_line(deployment):
    """The runtime's default profile refuses bpf(2) without CAP_SYS_ADMIN: vipd still runs, on the
    raw socket, and says so once, naming the cause."""
    lab, containers, bpffs = deployment
    bpffs["n1"] = deploylab.Bpffs(lab)
    node = containers.run("n1", "n1-default-seccomp", vipd_args(150), env=pod_env(lab),
                          seccomp=None, bpffs=bpffs["n1"])
    wait_or_explain(lambda: node.state() == "MASTER", master_down_interval(INTERVAL, 1) + 10,
                    "n1 MASTER on the raw socket", containers)
    assert node.proc_status()["Seccomp"].strip() == "2", "podman's default profile must be in force"
    lines = [line for line in node.logs().splitlines() if "eBPF" in line]
    assert len(lines) == 1, lines
    assert FALLBACK.search(lines[0]), lines[0]
    assert "CAP_BPF and CAP_PERFMON held, so a seccomp filter refused bpf(2)" in lines[0], lines[0]
    assert "seccomp-vipd.json" in lines[0], lines[0]
    assert node.status()["receive_path"] == "raw-socket"
    assert node.exec("vipd", "status", "--ready").returncode == 0
    assert lab.vip_holders(lab.host_address(100)) == ["n1"]


def test_fault_makes_the_pod_unready_not_dead(deployment):
    """Link lost: the instance goes FAULT, `--ready` fails naming it, `--live` still passes (the
    kubelet marks the pod not ready and does not restart it); link back: ready again."""
    lab, containers, bpffs = deployment
    node = start_node(lab, containers, bpffs, "n1", 150)
    wait_or_explain(lambda: node.state() == "MASTER", master_down_interval(INTERVAL, 1) + 10,
                    "n1 MASTER", containers)
    lab.cut_link("n1", mode="carrier")
    deploylab.wait_until(lambda: node.state() == "FAULT", 5, "n1 FAULT without carrier")
    ready = node.exec("vipd", "status", "--ready")
    assert ready.returncode == 1 and ready.stderr.strip() == "not ready: eth0: deploy_VIP_1 is FAULT", ready
    assert node.exec("vipd", "status", "--live").returncode == 0
    lab.restore_link("n1")
    deploylab.wait_until(lambda: node.exec("vipd", "status", "--ready").returncode == 0, 10,
                         "ready again with the link back")
    assert node.running()


def test_missing_capability_exits_with_one_line(deployment):
    """Without NET_RAW: exit 1 and one line naming it, before anything touches the node."""
    lab, containers, _ = deployment
    node = containers.run("n1", "n1-no-net-raw", vipd_args(150), env=pod_env(lab),
                          capabilities=("NET_ADMIN", "BPF", "PERFMON"))
    assert node.wait_exit(20) == 1, node.logs()
    lines = node.logs().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("vipd: CAP_NET_RAW is missing from the effective capability set"), lines
    assert "CAP_NET_ADMIN" not in lines[0], lines
    assert xdp_programs(lab.node("n1")) == [] and lab.vip_holders(lab.host_address(100)) == []


def test_a_killed_runs_containers_and_bpffs_are_swept(image):
    """What a test run killed before its teardown leaves (a container and a bpffs mount named
    after a lab whose namespaces are gone) is removed when the next lab starts containers."""
    dead = "vipdt0dead0"  # a lab prefix (vipdt + 6 hex digits) no live lab has
    name = f"{dead}-n1"
    deploylab.podman("create", "--pull=never", "--network", "none", "--name", name, image, "version")
    mountpoint = deploylab.Path(deploylab.tempfile.mkdtemp(prefix=f"{dead}-bpffs-"))
    vipdlab.run_cmd(["mount", "-t", "bpf", "bpf", str(mountpoint)])
    try:
        with vipdlab.Lab(nodes=1) as lab:
            deploylab.Containers(lab, image)  # sweeps
        names = deploylab.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert name not in names
        assert not mountpoint.exists() and str(mountpoint) not in deploylab.Path("/proc/mounts").read_text()
    finally:
        deploylab.podman("rm", "-f", name, check=False)
        vipdlab.run_cmd(["umount", str(mountpoint)], check=False)
        with contextlib.suppress(OSError):
            mountpoint.rmdir()
