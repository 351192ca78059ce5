"""Containers on the lab: the vipd image (scripts/image.sh) run as lab nodes with podman.

Shared by test_deploy_container.py and test_deploy_systemd.py. Every container is named
`<lab prefix>-<role>` (vipdt…), runs in a lab node's network namespace (`--network ns:…`, never
podman's bridge) and is removed by the fixture that started it, also when a test fails. podman gets
its runtime and ulimits as flags (crun refuses this host's hybrid cgroup layout; the default
ulimits exceed the hard limits), so nothing under /etc/containers is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import vipdlab

REPO = Path(__file__).resolve().parents[2]
IMAGE_SH = REPO / "scripts" / "image.sh"
SECCOMP_PROFILE = REPO / "deploy" / "container" / "seccomp-vipd.json"
PODMAN = ["podman", "--runtime", "runc"]
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
FOUR_CAPABILITIES = ("NET_ADMIN", "NET_RAW", "BPF", "PERFMON")
# Capability bit numbers (linux/capability.h).
CAP_BITS = {"NET_ADMIN": 12, "NET_RAW": 13, "SYS_ADMIN": 21, "PERFMON": 38, "BPF": 39}
CMD_TIMEOUT = 60.0


def capability_mask(names) -> int:
    return sum(1 << CAP_BITS[name] for name in names)


def podman(*args: str, timeout: float = CMD_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
    return vipdlab.run_cmd([*PODMAN, *args], timeout=timeout, check=check)


def podman_missing() -> Optional[str]:
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/setup.sh installs it): container tests skipped"
    return None


def image_reference() -> str:
    """The image to test: VIPD_IMAGE if set; else the one ctest's deploy.image built (its reference
    is recorded in the file VIPD_IMAGE_REF names, so a tree edited meanwhile changes nothing);
    else the tag scripts/image.sh builds for this tree."""
    if os.environ.get("VIPD_IMAGE"):
        return os.environ["VIPD_IMAGE"]
    recorded = Path(os.environ.get("VIPD_IMAGE_REF", "/nonexistent"))
    if recorded.is_file():
        return recorded.read_text().strip()
    return vipdlab.run_cmd([str(IMAGE_SH), "--print-tag"]).stdout.strip()


def require_image(reference: str) -> None:
    result = podman("image", "exists", reference, check=False)
    assert result.returncode == 0, (
        f"image {reference} not built: run `sudo scripts/image.sh` (ctest runs it as deploy.image)")


STALE_NAME = re.compile(r"^(vipdt[0-9a-f]{6})-")


def live_lab_prefixes() -> set[str]:
    return {m.group(1) for m in map(vipdlab.LAB_NS_RE.match, vipdlab.list_netns()) if m}


def sweep_stale() -> None:
    """Containers and bpffs mounts of labs whose namespaces are gone (a run killed before its
    teardown; Lab.up() has removed such labs' namespaces by then)."""
    live = live_lab_prefixes()
    names = podman("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
    for name in names:
        match = STALE_NAME.match(name)
        if match and match.group(1) not in live:
            podman("rm", "-f", "-t", "0", name, check=False)
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        mountpoint = Path(fields[1])
        match = STALE_NAME.match(mountpoint.name)
        if fields[2] == "bpf" and mountpoint.parent == Path(tempfile.gettempdir()) and match \
                and match.group(1) not in live:
            vipdlab.run_cmd(["umount", str(mountpoint)], check=False)
            with contextlib.suppress(OSError):
                mountpoint.rmdir()


class Bpffs:
    """A bpffs instance of the test's own, mounted on the host and bind-mounted into a container
    as its /sys/fs/bpf: what the node's /sys/fs/bpf is to a pod, without touching the host's.
    Named after the lab (<prefix>-bpffs-…) so that sweep_stale() can tell whose it is."""

    def __init__(self, lab: vipdlab.Lab):
        self.path = Path(tempfile.mkdtemp(prefix=f"{lab.prefix}-bpffs-"))
        vipdlab.run_cmd(["mount", "-t", "bpf", "bpf", str(self.path)])

    def pins(self, interface: str = "eth0") -> list[str]:
        directory = self.path / "vipd" / interface
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

    def remove(self) -> None:
        vipdlab.run_cmd(["umount", str(self.path)], check=False)
        with contextlib.suppress(OSError):
            self.path.rmdir()


class Container:
    """One `podman run -d` container in a lab node's network namespace."""

    def __init__(self, name: str, node: vipdlab.Node):
        self.name = name
        self.node = node

    def inspect(self) -> dict:
        return json.loads(podman("inspect", self.name).stdout)[0]

    def pid(self) -> int:
        return int(self.inspect()["State"]["Pid"])

    def running(self) -> bool:
        result = podman("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        return result.stdout.strip() == "true"

    def exit_code(self) -> int:
        return int(podman("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip())

    def wait_exit(self, timeout: float) -> int:
        vipdlab.wait_for(lambda: not self.running(), timeout=timeout, interval=0.1,
                         desc=f"{self.name} exited")
        return self.exit_code()

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *argv: str, timeout: float = CMD_TIMEOUT, check: bool = False) -> subprocess.CompletedProcess:
        return podman("exec", self.name, *argv, timeout=timeout, check=check)

    def status(self) -> Optional[dict]:
        result = self.exec("vipd", "status", "--json")
        return json.loads(result.stdout) if result.returncode == 0 else None

    def state(self) -> Optional[str]:
        status = self.status()
        return status["instances"][0]["state"] if status and status.get("instances") else None

    def proc_status(self) -> dict[str, str]:
        """/proc/<pid>/status of the container's main process, read from the host."""
        text = Path(f"/proc/{self.pid()}/status").read_text()
        return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


class Containers:
    """Starts containers on one lab and removes every one of them in `remove_all()`."""

    def __init__(self, lab: vipdlab.Lab, image: str):
        self.lab = lab
        self.image = image
        self.started: list[Container] = []
        sweep_stale()

    def run(self, node, role: str, args: list[str], env: Optional[dict] = None,
            capabilities=FOUR_CAPABILITIES, seccomp: Optional[Path] = SECCOMP_PROFILE,
            bpffs: Optional[Bpffs] = None, extra: Optional[list[str]] = None,
            image: Optional[str] = None) -> Container:
        node = self.lab.node(node)
        container = Container(f"{self.lab.prefix}-{role}", node)
        argv = ["run", "-d", "--pull=never", "--name", container.name,
                "--network", f"ns:/var/run/netns/{node.ns_name}", *ULIMITS]
        if capabilities is not None:
            argv += ["--cap-drop", "all"] + [f"--cap-add={c}" for c in capabilities]
        if seccomp is not None:
            argv += ["--security-opt", f"seccomp={seccomp}"]
        if bpffs is not None:
            argv += ["-v", f"{bpffs.path}:/sys/fs/bpf"]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        argv += list(extra or [])
        self.started.append(container)
        podman(*argv, image or self.image, *args)
        return container

    def remove_all(self) -> list[str]:
        for container in reversed(self.started):
            podman("rm", "-f", "-t", "0", container.name, check=False)
        left = podman("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
        return [name for name in left if name.startswith(self.lab.prefix)]


def wait_until(predicate, timeout: float, desc: str, interval: float = 0.05):
    return vipdlab.wait_for(predicate, timeout=timeout, interval=interval, desc=desc)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process's main thread in ns precision (/proc/<pid>/schedstat; /proc/<pid>/stat
    counts 10 ms ticks, too coarse for a daemon that runs microseconds per advert)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def cpu_share(pid: int, seconds: float) -> float:
    """CPU used by `pid` over `seconds` of wall time, as a fraction of one core."""
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - start)


def cgroup_memory_peak(pid: int) -> Optional[float]:
    """Peak memory of the process's memory cgroup in bytes (what a pod's memory limit counts: its
    processes plus kernel memory such as BPF maps); None where it cannot be read."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for candidate in ([f"/sys/fs/cgroup/memory{path}/memory.max_usage_in_bytes"]
                          if "memory" in controllers.split(",") else
                          [f"/sys/fs/cgroup{path}/memory.peak"] if controllers == "" else []):
            with contextlib.suppress(OSError, ValueError):
                return float(Path(candidate).read_text())
    return None
