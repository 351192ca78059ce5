"""deploy/systemd/vipd@.service run by a real systemd.

A container of the vipd image with systemd added (systemd-node.Containerfile) boots systemd as PID
1 (`podman run --systemd=always`) in a lab node's network namespace: a host without udev, like a
container or nspawn machine. The test installs the unit and an env file as docs/DEPLOY.md says,
starts `vipd@eth0` with systemctl and checks: active, MASTER over XDP, the unit's sandbox in force
(`systemctl show` and the kernel's view of the main process: exactly four capabilities, no new
privileges, a seccomp filter), Type=notify readiness and its STATUS= line, `systemctl reload`
keeps the daemon running as MASTER, a SIGKILL is cleaned up by ExecStopPost= (`vipd cleanup`:
the VIP is gone within a second) before the restart, and
`systemctl stop` hands the VIP to the backup with priority 0, removes it, detaches the programs
and removes the pins. A vipd on a second node (the build's binary) is the backup.

The outer container is not privileged: podman's default capabilities plus SYS_ADMIN (systemd
builds the unit's mount namespace) and the four vipd uses; the unit bounds vipd to those four.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

import conftest
import daemons
import deploylab
import vipdlab

pytestmark = pytest.mark.skipif(deploylab.podman_missing() is not None,
                                reason=deploylab.podman_missing() or "")

UNIT = deploylab.REPO / "deploy" / "systemd" / "vipd@.service"
NODE_CONTAINERFILE = Path(__file__).resolve().parent / "systemd-node.Containerfile"
INTERVAL = 0.1
VRID_OFFSET = 60
UNIT_NAME = "vipd@eth0.service"


@pytest.fixture(scope="module")
def systemd_image() -> str:
    """localhost/vipd-systemd-test:<the vipd image's tag>, built once per vipd image."""
    vipd_image = deploylab.image_reference()
    deploylab.require_image(vipd_image)
    reference = vipd_image.replace("localhost/vipd:", "localhost/vipd-systemd-test:")
    if deploylab.podman("image", "exists", reference, check=False).returncode != 0:
        with tempfile.TemporaryDirectory(prefix="vipdt-ctx-") as context:
            deploylab.podman("build", "--quiet", "--pull=never", "--network", "host", *deploylab.ULIMITS,
                             "--build-arg", f"VIPD_IMAGE={vipd_image}", "-f", str(NODE_CONTAINERFILE),
                             "-t", reference, context, timeout=600)
    # This test's images of earlier vipd images are of no further use (about 100 MB each).
    listed = deploylab.podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    stale = [image for image in listed
             if image.startswith("localhost/vipd-systemd-test:") and image != reference]
    if stale:
        deploylab.podman("rmi", *stale, check=False)
    return reference


def env_file(lab: vipdlab.Lab) -> str:
    return "\n".join([
        "# written by test_deploy_systemd.py",
        f"OPENSHIFT_HA_VIRTUAL_IPS={lab.host_address(100)}",
        "OPENSHIFT_HA_CONFIG_NAME=web",
        f"OPENSHIFT_HA_VRRP_ID_OFFSET={VRID_OFFSET}",
        "OPENSHIFT_HA_MONITOR_PORT=0",
        "OPENSHIFT_HA_PREEMPTION=preempt",
        "VIPD_PRIORITY=150",
        "VIPD_VRRP_VERSION=3",
        f"VIPD_ADVERT_INTERVAL={INTERVAL}",
        "VIPD_GARP_MASTER_DELAY=0",
    ]) + "\n"


class SystemdNode:
    def __init__(self, container: deploylab.Container):
        self.container = container

    def systemctl(self, *args: str, timeout: float = 60) -> "vipdlab.subprocess.CompletedProcess":
        return self.container.exec("systemctl", *args, timeout=timeout)

    def show(self, *properties: str) -> dict[str, str]:
        out = self.systemctl("show", UNIT_NAME, *[f"--property={p}" for p in properties]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, pid: int = 0) -> str:
        """The unit's journal, or only what process `pid` (vipd itself) wrote."""
        match = [f"_PID={pid}"] if pid else []
        return self.container.exec("journalctl", "-u", UNIT_NAME, *match, "--no-pager", "-o",
                                   "cat").stdout

    def wait_booted(self, timeout: float = 120) -> None:
        """Until systemd answers on its bus and has finished starting up (running or degraded)."""
        def booted():
            if not self.container.running():
                raise AssertionError(f"the systemd container exited:\n{self.container.logs()[-3000:]}")
            state = self.systemctl("is-system-running", "--wait", timeout=timeout).stdout.strip()
            return state if state in ("running", "degraded") else None
        deploylab.wait_until(booted, timeout, "systemd booted", interval=0.5)

    def main_pid(self) -> int:
        return int(self.show("MainPID")["MainPID"])

    def vipd_state(self) -> tuple[str, str]:
        status = self.container.status()
        if not status:
            return ("", "")
        return status["instances"][0]["state"], status["receive_path"]


@pytest.fixture
def systemd_lab(systemd_image):
    with vipdlab.Lab(nodes=2) as lab:
        containers = deploylab.Containers(lab, systemd_image)
        bpffs = deploylab.Bpffs(lab)
        try:
            caps = ["--cap-add=SYS_ADMIN"] + [f"--cap-add={c}" for c in deploylab.FOUR_CAPABILITIES]
            container = containers.run("n1", "systemd-n1", [], capabilities=None, seccomp=None,
                                       bpffs=bpffs, extra=["--systemd=always", *caps])
            yield lab, SystemdNode(container), bpffs
        finally:
            left = containers.remove_all()
            bpffs.remove()
            assert not left, f"containers left behind: {left}"


def test_unit_under_systemd(systemd_lab, vipd):
    lab, node, bpffs = systemd_lab
    vip = lab.host_address(100)
    node.wait_booted()

    # Install as docs/DEPLOY.md says (the image has vipd in /usr/local/sbin already).
    deploylab.podman("cp", str(UNIT), f"{node.container.name}:/etc/systemd/system/vipd@.service")
    node.container.exec("install", "-d", "-m", "0755", "/etc/vipd", check=True)
    with tempfile.NamedTemporaryFile("w", prefix="vipdt-env-", suffix=".env") as handle:
        handle.write(env_file(lab))
        handle.flush()
        deploylab.podman("cp", handle.name, f"{node.container.name}:/etc/vipd/eth0.env")
    node.container.exec("chmod", "0600", "/etc/vipd/eth0.env", check=True)
    # The one deviation from the unit as shipped: no process on the test machines holds
    # CAP_SYS_RESOURCE (it is outside their bounding set), so no PID 1 here can raise the memlock
    # hard limit to the unit's LimitMEMLOCK=infinity (kernels before 5.11 need it; later ones
    # charge BPF maps to the cgroup instead). A drop-in keeps the limit the machine has.
    hard_kib = int(vipdlab.run_cmd(["sh", "-c", "ulimit -Hl"]).stdout.strip())
    node.container.exec("mkdir", "-p", "/etc/systemd/system/vipd@.service.d", check=True)
    node.container.exec("sh", "-c", f"printf '[Service]\\nLimitMEMLOCK={hard_kib}K\\n' > "
                        "/etc/systemd/system/vipd@.service.d/memlock.conf", check=True)
    assert node.systemctl("daemon-reload").returncode == 0

    # The backup: the build's vipd on n2, same VRID, lower priority.
    backup = vipd.start(lab, "n2", daemons.VrrpSettings(
        vip=vip, priority=100, vrid=VRID_OFFSET + 1, advert_interval=INTERVAL, version=3,
        config_name="web", extra_args=("--monitor-port", "0")))

    started = node.systemctl("start", UNIT_NAME)
    assert started.returncode == 0, started.stderr + node.journal()
    # Type=notify: `systemctl start` returned on READY=1, sent once the instances run (so vipd
    # answers with a running instance at once), and the unit shows vipd's STATUS= line.
    assert node.show("Type")["Type"] == "notify"
    assert node.vipd_state()[0] in ("BACKUP", "MASTER"), node.journal()[-2000:]
    deploylab.wait_until(lambda: node.vipd_state() == ("MASTER", "xdp"),
                         daemons.master_down_interval(INTERVAL, 1) + 10, "vipd@eth0 MASTER over XDP")
    deploylab.wait_until(lambda: lab.vip_holders(vip) == ["n1"], 5, "n1 holds the VIP")
    deploylab.wait_until(lambda: node.show("StatusText")["StatusText"] == "1 MASTER, dataplane xdp",
                         5, "STATUS= 1 MASTER, dataplane xdp")
    shown = node.show("ActiveState", "SubState", "CapabilityBoundingSet", "NoNewPrivileges",
                      "ProtectSystem", "RestrictAddressFamilies", "SystemCallFilter")
    assert (shown["ActiveState"], shown["SubState"]) == ("active", "running"), shown
    assert set(shown["CapabilityBoundingSet"].split()) == {
        "cap_net_admin", "cap_net_raw", "cap_bpf", "cap_perfmon"}, shown
    assert shown["NoNewPrivileges"] == "yes" and shown["ProtectSystem"] == "strict", shown
    assert "bpf" in shown["SystemCallFilter"].split(), shown["SystemCallFilter"][:200]

    # The sandbox as the kernel enforces it on the main process.
    pid = node.main_pid()
    proc = dict(line.split(":\t", 1) for line in node.container.exec(
        "cat", f"/proc/{pid}/status").stdout.splitlines() if ":\t" in line)
    four = deploylab.capability_mask(deploylab.FOUR_CAPABILITIES)
    assert int(proc["CapEff"], 16) == four and int(proc["CapBnd"], 16) == four, proc
    assert proc["NoNewPrivs"].strip() == "1" and proc["Seccomp"].strip() == "2", proc
    # ProtectSystem=strict: the service sees / read-only, /sys/fs/bpf (ReadWritePaths=) writable.
    mounts = {fields[4]: fields[5].split(",") for fields in (
        line.split() for line in node.container.exec("cat", f"/proc/{pid}/mountinfo").stdout.splitlines())}
    assert "ro" in mounts["/"], mounts["/"]
    assert "rw" in mounts["/sys/fs/bpf"], mounts.get("/sys/fs/bpf")
    assert "vipd_vrid_stat" in bpffs.pins(), bpffs.pins()
    journal = node.journal()
    assert "eBPF data plane attached to eth0: XDP" in journal, journal
    assert node.container.exec("vipd", "status", "--ready").returncode == 0

    # Reload: the daemon itself hears it (its own journal lines, not systemd's "Reloading"), keeps
    # running (same process) and stays MASTER.
    reloaded = node.systemctl("reload", UNIT_NAME)
    assert reloaded.returncode == 0, reloaded.stderr
    deploylab.wait_until(lambda: re.search(r"SIGHUP|[Rr]eload", node.journal(pid)), 5,
                         "vipd logged the reload")
    assert node.main_pid() == pid
    assert node.show("ActiveState")["ActiveState"] == "active"
    assert node.vipd_state() == ("MASTER", "xdp") and lab.vip_holders(vip) == ["n1"]

    # SIGKILL (a crash, an OOM kill): ExecStopPost= (`vipd cleanup`) removes the VIP within a
    # second, before systemd restarts the unit (RestartSec=2s); the restarted vipd preempts.
    watcher = lab.watch_addresses("n1")
    t0 = vipdlab.now_ns()
    assert node.systemctl("kill", "--signal=SIGKILL", UNIT_NAME).returncode == 0
    gone = watcher.wait_event("del", vip, t0, timeout=5)
    took = (gone.ts_ns - t0) / 1e9
    conftest.record_timing("systemd: SIGKILL -> ExecStopPost removed the VIP", took, 1.0)
    assert took <= 1.0, f"VIP removed {took * 1000:.0f} ms after SIGKILL"
    deploylab.wait_until(lambda: "vipd cleanup: removed VIP" in node.journal(), 5,
                         "the cleanup's lines in the journal")
    deploylab.wait_until(lambda: node.main_pid() not in (0, pid) and node.vipd_state() == ("MASTER", "xdp"),
                         daemons.master_down_interval(INTERVAL, 1) + 10, "restarted vipd MASTER again")
    deploylab.wait_until(lambda: lab.vip_holders(vip) == ["n1"], 5, "n1 holds the VIP again")
    assert node.show("NRestarts")["NRestarts"] == "1"

    # Stop: priority 0 to the backup, VIP removed, programs detached, pins removed, success.
    watcher = lab.watch_addresses("n2")
    adverts = lab.watch_adverts("n2")
    t0 = vipdlab.now_ns()
    stopped = node.systemctl("stop", UNIT_NAME)
    assert stopped.returncode == 0, stopped.stderr
    result = node.show("ActiveState", "Result", "ExecMainStatus")
    assert result == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}, result
    zero = deploylab.wait_until(
        lambda: next((e for e in adverts.events(t0)
                      if e.source == lab.node("n1").ipv4 and e.priority == 0), None),
        5, "n1's priority-0 advert")
    conftest.took_over(_Holder(vip), watcher, zero.ts_ns,
                       daemons.skew_time(INTERVAL, 100) + conftest.FAILOVER_MARGIN_S,
                       "systemctl stop: priority 0 -> backup holds the VIP")
    assert lab.vip_holders(vip) == ["n2"]
    assert "(web_VIP_1) sent 0 priority" in node.journal(), node.journal()[-2000:]
    link = lab.node("n1").run(["ip", "-d", "link", "show", "dev", "eth0"]).stdout
    assert "xdp" not in link, link
    assert bpffs.pins() == [], bpffs.pins()
    assert backup.alive()


class _Holder:
    """What conftest.took_over needs of a cluster: the VIP."""

    def __init__(self, vip: str):
        self.vip = vip
