"""Static checks of deploy/ (OpenShift manifests, systemd unit, container image, seccomp profile).

No cluster, systemd manager or container engine is needed (test_deploy_container.py and
test_deploy_systemd.py run the image and the unit): every manifest is validated offline against the
Kubernetes OpenAPI schema and OpenShift's SCC/MachineConfig schemas (tests/manifests), none is
privileged, the workloads keep the seed's shape and least privilege, and their environment is fed
to `vipd check-config`; the unit is checked with `systemd-analyze` and its syscall filter against
what vipd actually calls (strace); the example env file and TOML config are validated in a
throwaway network namespace (vipdt*) with an eth0 on 198.18.x.y; the Containerfile's packages are
looked up with apt-cache and its COPY set is configured with cmake; the seccomp profile is the
runtime default plus vipd's two rules.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OPENSHIFT = DEPLOY / "openshift"
UNIT = DEPLOY / "systemd" / "vipd@.service"
ENV_FILE = DEPLOY / "systemd" / "eth0.env"
TOML_FILE = DEPLOY / "systemd" / "vipd.toml"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SETUP_SH = REPO / "scripts" / "setup.sh"
VALIDATOR = REPO / "tests" / "manifests" / "validate.mjs"
SECCOMP_SCRIPT = REPO / "scripts" / "seccomp-profile.py"
FOUR_CAPABILITIES = ["NET_ADMIN", "NET_RAW", "BPF", "PERFMON"]
INSTALLED_BINARY = "/usr/local/sbin/vipd"
CMD_TIMEOUT = 60

# The seed's keepalived ipfailover Deployment (docs/DEPLOY.md, "What changed against the
# keepalived Deployment"): the variables it sets, with its values. The vipd manifests must set the
# same ones; only the documented typo fix (no_preempt -> nopreempt) and the example VIP may differ.
SEED_ENV = {
    "OPENSHIFT_HA_CHECK_INTERVAL": "2",
    "OPENSHIFT_HA_CHECK_SCRIPT": "",
    "OPENSHIFT_HA_CONFIG_NAME": "ipfailover",
    "OPENSHIFT_HA_IPTABLES_CHAIN": "INPUT",
    "OPENSHIFT_HA_MONITOR_PORT": "8080",
    "OPENSHIFT_HA_NETWORK_INTERFACE": "",
    "OPENSHIFT_HA_NOTIFY_SCRIPT": "",
    "OPENSHIFT_HA_PREEMPTION": "no_preempt",
    "OPENSHIFT_HA_REPLICA_COUNT": "1",
    "OPENSHIFT_HA_USE_UNICAST": "false",
    "OPENSHIFT_HA_VIP_GROUPS": "0",
    "OPENSHIFT_HA_VIRTUAL_IPS": "<one address>",
    "OPENSHIFT_HA_VRRP_ID_OFFSET": "0",
}
ALLOWED_TO_DIFFER = {"OPENSHIFT_HA_PREEMPTION", "OPENSHIFT_HA_VIRTUAL_IPS", "OPENSHIFT_HA_REPLICA_COUNT"}

# setup.sh packages the image's build stage leaves out: only tests and linters use them.
TEST_ONLY_PACKAGES = {"git", "clang-format", "clang-tidy", "libclang-rt-14-dev", "libgtest-dev",
                      "libgmock-dev", "libbenchmark-dev"}
# In debian:bookworm-slim already (apt itself depends on them).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


def run(argv: list[str], timeout: float = CMD_TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


# ---- helpers: manifests -------------------------------------------------------------------------

def load_manifests() -> dict[str, list[dict]]:
    return {path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
            for path in sorted(OPENSHIFT.glob("*.yaml"))}


def workloads() -> dict[str, dict]:
    found = {}
    for name, documents in load_manifests().items():
        for document in documents:
            if document.get("kind") in ("Deployment", "DaemonSet"):
                found[f"{name}:{document['kind']}"] = document
    return found


def vipd_container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "one container per pod, as in the seed"
    return containers[0]


def container_env(workload: dict) -> dict[str, str]:
    return {item["name"]: str(item.get("value", "")) for item in vipd_container(workload)["env"]}


def help_env_names(binary: Path) -> set[str]:
    result = run([str(binary), "run", "--help"])
    assert result.returncode == 0, result.stderr
    names = set(re.findall(r"\(Env:([A-Z0-9_]+)\)", result.stdout))
    assert "OPENSHIFT_HA_VIRTUAL_IPS" in names, f"cannot parse `vipd run --help`:\n{result.stdout}"
    return names


# ---- helpers: systemd files ---------------------------------------------------------------------

def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def unit_command(setting: str, interface: str, binary: Path) -> list[str]:
    """An Exec*= line as the unit runs it for vipd@<interface>, with the build's binary."""
    line = unit_settings(UNIT.read_text())[setting][0].replace("%I", interface).replace("%i", interface)
    argv = shlex.split(line)
    assert argv[0] == INSTALLED_BINARY, f"{setting} runs {argv[0]}, docs say {INSTALLED_BINARY}"
    return [str(binary)] + argv[1:]


def read_environment_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile= reading, for the subset the example uses: KEY=value lines,
    whole-line comments, values optionally in double quotes."""
    env = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path}:{number}: not KEY=value"
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        assert "#" not in value, f"{path}:{number}: a trailing comment would become part of the value"
        env[key] = value
    return env


# ---- helpers: Containerfile ---------------------------------------------------------------------

def containerfile_stages() -> list[str]:
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    return re.split(r"^FROM\s", text, flags=re.M)[1:]


def apt_packages(stage: str) -> list[str]:
    match = re.search(r"apt-get install ([^&]*)", stage)
    assert match, "no apt-get install in stage"
    return [word for word in match.group(1).split() if not word.startswith("-")]


def setup_sh_sections() -> dict[str, list[str]]:
    body = re.search(r"PACKAGES=\((.*?)\n\)", SETUP_SH.read_text(), re.S).group(1)
    sections: dict[str, list[str]] = {}
    current = None
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = line.lstrip("# ").split(",")[0].split()[0]
            sections[current] = []
        elif line:
            sections[current].extend(line.split())
    return sections


# ---- fixtures -----------------------------------------------------------------------------------

class Netns:
    """A namespace with eth0 (a veth whose peer stays inside too) on 198.18.x.y/24 and a default
    route via 198.18.x.1: what `vipd check-config` needs to pick the interface and its address."""

    def __init__(self):
        self.name = "vipdtdep" + uuid.uuid4().hex[:6]
        third = int(self.name[-2:], 16) % 200 + 20
        self.address = f"198.18.{third}.2"
        self.gateway = f"198.18.{third}.1"

    def create(self) -> None:
        for argv in (["ip", "netns", "add", self.name],
                     ["ip", "-n", self.name, "link", "add", "eth0", "type", "veth",
                      "peer", "name", "vipdtpeer0"],
                     ["ip", "-n", self.name, "link", "set", "lo", "up"],
                     ["ip", "-n", self.name, "link", "set", "eth0", "up"],
                     ["ip", "-n", self.name, "link", "set", "vipdtpeer0", "up"],
                     ["ip", "-n", self.name, "addr", "add", f"{self.address}/24", "dev", "eth0"],
                     ["ip", "-n", self.name, "route", "add", "default", "via", self.gateway]):
            result = run(argv)
            assert result.returncode == 0, f"{argv}: {result.stderr}"

    def delete(self) -> None:
        run(["ip", "netns", "del", self.name])

    def run(self, argv: list[str], env: dict[str, str] | None = None, timeout: float = CMD_TIMEOUT):
        clean = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})}
        return run(["ip", "netns", "exec", self.name] + argv, env=clean, timeout=timeout)


@pytest.fixture
def netns():
    ns = Netns()
    try:
        ns.create()
        yield ns
    finally:
        ns.delete()
    assert ns.name not in run(["ip", "netns", "list"]).stdout, f"{ns.name} left behind"


@pytest.fixture(scope="module")
def binary(vipd) -> Path:
    return Path(vipd.binary)


# ---- OpenShift ----------------------------------------------------------------------------------

def test_manifests_parse_and_keep_the_seed_shape():
    manifests = load_manifests()
    assert {"deployment.yaml", "daemonset.yaml", "serviceaccount.yaml", "scc.yaml",
            "machineconfig-seccomp.yaml"} <= set(manifests)
    kinds = [document["kind"] for documents in manifests.values() for document in documents]
    assert sorted(kinds) == ["ClusterRole", "DaemonSet", "Deployment", "MachineConfig", "RoleBinding",
                             "SecurityContextConstraints", "ServiceAccount"]

    deployment = manifests["deployment.yaml"][0]
    spec, pod = deployment["spec"], deployment["spec"]["template"]["spec"]
    assert spec["replicas"] == 3 and spec["strategy"]["type"] == "Recreate"
    assert spec["selector"] == {"matchLabels": {"ipfailover": "ipfailover"}}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"ipfailover": "ipfailover"}
    assert pod["hostNetwork"] is True and pod["serviceAccountName"] == "ipfailover"
    assert pod["terminationGracePeriodSeconds"] == 30
    ports = vipd_container(deployment)["ports"]
    assert [(p["containerPort"], p["hostPort"]) for p in ports] == [(63000, 63000)]

    daemonset = manifests["daemonset.yaml"][0]
    assert daemonset["spec"]["selector"] == spec["selector"]
    assert daemonset["spec"]["template"]["spec"]["nodeSelector"], "the DaemonSet needs a nodeSelector"


def test_service_account_uses_the_vipd_scc_only():
    account, role, binding = load_manifests()["serviceaccount.yaml"]
    assert account["kind"] == "ServiceAccount" and account["automountServiceAccountToken"] is False
    assert role["kind"] == "ClusterRole" and role["rules"] == [{
        "apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
        "resourceNames": ["vipd"], "verbs": ["use"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ipfailover"}]


def test_scc_allows_exactly_what_vipd_uses():
    scc = load_manifests()["scc.yaml"][0]
    assert scc["metadata"]["name"] == "vipd"
    assert scc["allowHostNetwork"] is True and scc["allowHostDirVolumePlugin"] is True
    assert scc["allowPrivilegedContainer"] is False and scc["allowPrivilegeEscalation"] is False
    assert scc["allowHostIPC"] is False and scc["allowHostPID"] is False
    assert scc["allowedCapabilities"] == FOUR_CAPABILITIES
    assert scc["requiredDropCapabilities"] == ["ALL"] and scc["defaultAddCapabilities"] == []
    assert scc["volumes"] == ["hostPath"]
    assert scc["seccompProfiles"] == ["localhost/seccomp-vipd.json"]


@pytest.mark.parametrize("key", sorted(workloads()))
def test_workload_is_least_privilege(key):
    """Four capabilities, the Localhost seccomp profile the SCC allows, no token, critical
    priority, resources, a toleration for the nodes that carry VIPs."""
    workload = workloads()[key]
    pod = workload["spec"]["template"]["spec"]
    security = vipd_container(workload)["securityContext"]
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"], "add": FOUR_CAPABILITIES}
    scc = load_manifests()["scc.yaml"][0]
    profile = security["seccompProfile"]
    assert profile["type"] == "Localhost"
    assert f"localhost/{profile['localhostProfile']}" in scc["seccompProfiles"]
    machine_config = load_manifests()["machineconfig-seccomp.yaml"][0]
    written = [f["path"] for f in machine_config["spec"]["config"]["storage"]["files"]]
    assert written == [f"/var/lib/kubelet/seccomp/{profile['localhostProfile']}"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["priorityClassName"] == "system-node-critical"
    assert any(t["key"] == "node-role.kubernetes.io/infra" for t in pod["tolerations"])
    resources = vipd_container(workload)["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"] and "cpu" not in resources["limits"]


@pytest.mark.parametrize("key", sorted(workloads()))
def test_workload_runs_vipd_and_probes_the_daemon(key):
    workload = workloads()[key]
    container = vipd_container(workload)
    assert container["command"] + container.get("args", []) == ["vipd", "run"]
    live = container["livenessProbe"]
    assert live["exec"]["command"][:3] == ["vipd", "status", "--live"]
    timeout = float(live["exec"]["command"][live["exec"]["command"].index("--timeout") + 1])
    assert live["timeoutSeconds"] > timeout, "the kubelet must not cut the probe before vipd's timeout"
    assert container["readinessProbe"]["exec"]["command"] == ["vipd", "status", "--ready"]
    pod = workload["spec"]["template"]["spec"]
    bpffs = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert any(bpffs.get(name) == path == "/sys/fs/bpf" for name, path in mounts.items()), \
        "the node's /sys/fs/bpf must be mounted so bpftool on the node sees the pins"


# ---- offline schema validation and no privileged ------------------------------------------------

def _validate(*files: Path) -> subprocess.CompletedProcess:
    node = _required_tool("node")
    assert (VALIDATOR.parent / "node_modules").is_dir(), "run scripts/setup.sh (npm ci in tests/manifests)"
    return run([node, str(VALIDATOR), *map(str, files)], timeout=120)


def openshift_manifest_files() -> list[Path]:
    """Every manifest under deploy/openshift, subfolders (nodeport-local/) included."""
    return sorted(OPENSHIFT.rglob("*.yaml"))


def test_manifests_validate_against_the_api_schemas():
    """Kubernetes kinds against kubernetes-models' OpenAPI schema (and its types for unknown
    fields); the SCC and the MachineConfig against OpenShift's schemas. All of deploy/openshift,
    the NodePort mode's manifests (nodeport-local/) included; the counts are pinned so that a file
    or document the glob stops finding fails the test instead of shrinking the check."""
    files = openshift_manifest_files()
    relative = [str(f.relative_to(OPENSHIFT)) for f in files]
    assert relative == [
        "daemonset.yaml", "deployment.yaml", "machineconfig-seccomp.yaml",
        "nodeport-local/daemonset-health-check-node-port.yaml", "nodeport-local/daemonset.yaml",
        "nodeport-local/rbac.yaml", "nodeport-local/service.yaml",
        "scc.yaml", "serviceaccount.yaml"], relative
    result = _validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "14 documents in 9 files, 0 problems" in result.stdout, result.stdout


def test_validator_catches_planted_errors(tmp_path):
    """The checker can fail: a typo'd field, a wrong type, an unknown SCC field and a bad enum, and
    in the NodePort mode's manifests a typo'd RBAC field, a wrong type in its DaemonSet and a
    Service port without its required port number."""
    plants = {
        "deployment.yaml": [("priorityClassName:", "priorityClassNam:")],
        "daemonset.yaml": [("periodSeconds: 5\n", "periodSeconds: \"5\"\n")],
        "scc.yaml": [("allowHostPID: false", "allowHostPID: false\nallowHostPaths: true"),
                     ("type: MustRunAs\n  uid: 0", "type: MustRunAsRoot\n  uid: 0")],
        "machineconfig-seccomp.yaml": [("mode: 420", "mode: \"0644\"")],
        "nodeport-local/rbac.yaml": [("    verbs: [", "    verb: [")],
        "nodeport-local/daemonset.yaml": [("minReadySeconds: 10", "minReadySeconds: ten")],
        "nodeport-local/service.yaml": [("      port: 80\n", "")],
    }
    for name, replacements in plants.items():
        text = (OPENSHIFT / name).read_text()
        for old, new in replacements:
            assert old in text, (name, old)
            text = text.replace(old, new, 1)
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    result = _validate(*sorted(tmp_path.rglob("*.yaml")))
    assert result.returncode == 1, result.stdout
    expected = ["'\"priorityClassNam\"' does not exist", "periodSeconds must be integer",
                "additional properties: 'allowHostPaths'", "/runAsUser/type must be equal to one of",
                "/mode must be integer"]
    for text in expected:
        assert text in result.stdout, f"{text!r} not reported:\n{result.stdout}"
    # Each NodePort plant is reported against its own file (not only somewhere in the output).
    lines = result.stdout.splitlines()
    nodeport_expected = {
        "nodeport-local/rbac.yaml": "rules/0 must have required property verbs",
        "nodeport-local/daemonset.yaml": "spec/minReadySeconds must be integer",
        "nodeport-local/service.yaml": "ports/0 must have required property port",
    }
    for name, text in nodeport_expected.items():
        assert any(line.startswith(str(tmp_path / name)) and text in line for line in lines), \
            f"{name}: {text!r} not reported:\n{result.stdout}"


def privileged_settings(document, path: str = "") -> list[str]:
    """Every place a document asks for privilege: privileged / allowPrivilegedContainer true."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("privileged", "allowPrivilegedContainer") and value is True:
                found.append(f"{path}/{key}")
            found += privileged_settings(value, f"{path}/{key}")
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += privileged_settings(item, f"{path}/{index}")
    return found


def test_no_manifest_is_privileged():
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert len(files) >= 5, files
    for path in files:
        assert not re.search(r"^\s*privileged:\s*true\b", path.read_text(), re.M), path
        for document in yaml.safe_load_all(path.read_text()):
            assert not privileged_settings(document), (path, privileged_settings(document))
    planted = yaml.safe_load("spec: {template: {spec: {containers: [{securityContext: {privileged: true}}]}}}")
    assert privileged_settings(planted) == ["/spec/template/spec/containers/0/securityContext/privileged"]


def test_seccomp_profile_is_the_runtime_default_plus_bpf():
    """deploy/container/seccomp-vipd.json (and the MachineConfig carrying it) are derived from the
    profile podman uses on this machine; the two added grants are conditioned on the capabilities."""
    result = run([sys.executable, str(SECCOMP_SCRIPT), "--check"])
    assert result.returncode == 0, result.stdout + result.stderr
    profile = json.loads((DEPLOY / "container" / "seccomp-vipd.json").read_text())
    grants = {(r["names"][0], r["action"], tuple(r["includes"].get("caps", [])))
              for r in profile["syscalls"] if r["names"] in (["bpf"], ["perf_event_open"])}
    assert ("bpf", "SCMP_ACT_ALLOW", ("CAP_BPF",)) in grants
    assert ("perf_event_open", "SCMP_ACT_ALLOW", ("CAP_PERFMON",)) in grants
    # The check can fail: a default profile with one more rule no longer derives the committed one.
    default = json.loads(Path("/usr/share/containers/seccomp.json").read_text())
    default["syscalls"].append({"names": ["vipdt_planted"], "action": "SCMP_ACT_ALLOW", "args": []})
    planted = Path(tempfile.mkdtemp(prefix="vipdt-seccomp-")) / "seccomp.json"
    try:
        planted.write_text(json.dumps(default))
        result = run([sys.executable, str(SECCOMP_SCRIPT), "--check", "--default", str(planted)])
    finally:
        shutil.rmtree(planted.parent)
    assert result.returncode == 1 and "not derived from" in result.stderr, result
    machine_config = load_manifests()["machineconfig-seccomp.yaml"][0]
    source = machine_config["spec"]["config"]["storage"]["files"][0]["contents"]["source"]
    assert base64.b64decode(source.split(",", 1)[1]).decode() == \
        (DEPLOY / "container" / "seccomp-vipd.json").read_text()


@pytest.mark.parametrize("key", sorted(workloads()))
def test_workload_env_is_the_seeds_and_known_to_vipd(key, binary):
    env = container_env(workloads()[key])
    unknown = set(env) - help_env_names(binary)
    assert not unknown, f"{key}: variables `vipd run --help` does not know: {sorted(unknown)}"
    assert set(env) == set(SEED_ENV), f"{key}: differs from the seed's variable set"
    changed = {name for name in env if env[name] != SEED_ENV[name]} - ALLOWED_TO_DIFFER
    assert not changed, f"{key}: values differ from the seed: {sorted(changed)}"


@pytest.mark.parametrize("key", sorted(workloads()))
def test_workload_env_passes_check_config(key, binary, netns):
    env = container_env(workloads()[key])
    result = netns.run([str(binary), "check-config", "--json"], env=env)
    assert result.returncode == 0, f"{key}: check-config failed:\n{result.stdout}{result.stderr}"
    assert '"ipfailover_VIP_1"' in result.stdout, result.stdout


def test_seed_preemption_spelling_is_read_as_nopreempt(binary, netns):
    """The seed's unchanged environment must start: 'no_preempt' means nopreempt, with a note."""
    env = {**container_env(workloads()["deployment.yaml:Deployment"]),
           "OPENSHIFT_HA_PREEMPTION": "no_preempt"}
    result = netns.run([str(binary), "check-config", "--json"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads(result.stdout)
    assert all(not instance["preempt"] for instance in plan["instances"]), plan
    assert any("no_preempt" in note for note in plan["notes"]), plan["notes"]


# ---- systemd ------------------------------------------------------------------------------------

def test_unit_keeps_what_vipd_needs():
    settings = {key: values[-1] for key, values in unit_settings(UNIT.read_text()).items()}
    assert settings["ExecStartPre"].split()[1] == "check-config"
    assert settings["ExecStart"] == f"{INSTALLED_BINARY} run --interface %I"
    assert settings["EnvironmentFile"] == "/etc/vipd/%I.env"
    assert settings["Restart"] == "on-failure" and settings["KillSignal"] == "SIGTERM"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    # No BindsTo= on the device unit: it never appears without udev (containers, nspawn).
    assert "BindsTo" not in settings and "network-online.target" in settings["After"]
    assert int(settings["TimeoutStopSec"].rstrip("s")) <= 10
    capabilities = {"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF", "CAP_PERFMON"}
    assert set(settings["CapabilityBoundingSet"].split()) == capabilities
    assert set(settings["AmbientCapabilities"].split()) == capabilities
    # ProtectKernelTunables= mounts /sys/fs/bpf read-only (systemd 252 of Debian 12, and 255),
    # and ReadWritePaths= cannot override it: the maps could not be pinned.
    assert settings.get("ProtectKernelTunables", "no") in ("no", "false", "0")
    assert "/sys/fs/bpf" in settings["ReadWritePaths"]
    assert "bpf" in settings["SystemCallFilter"].split()
    assert "AF_PACKET" in settings["RestrictAddressFamilies"].split(), "gratuitous ARP uses AF_PACKET"


def _required_tool(name: str) -> str:
    """The tool's path. Missing is a failure, not a skip (see conftest.require_root): Debian 12
    has systemd-analyze, apt-cache and dpkg in the base system, and scripts/setup.sh installs
    strace."""
    tool = shutil.which(name)
    assert tool is not None, f"{name} not installed (run scripts/setup.sh)"
    return tool


def _unit_copy(tmp_path: Path, binary: Path) -> Path:
    (tmp_path / UNIT.name).write_text(UNIT.read_text().replace(INSTALLED_BINARY, str(binary)))
    return tmp_path / "vipd@eth0.service"


def test_unit_passes_systemd_analyze_verify(tmp_path, binary):
    tool = _required_tool("systemd-analyze")
    instance = _unit_copy(tmp_path, binary)
    result = run([tool, "verify", "--man=no", str(instance)], cwd=tmp_path)
    assert result.returncode == 0 and "vipd@" not in result.stderr, result.stderr
    # Exposure on systemd's 0-10 scale, times 10: the hardened unit scores 2.9.
    result = run([tool, "security", "--offline=yes", "--threshold=40", str(instance)], cwd=tmp_path)
    assert result.returncode == 0, f"hardening lost:\n{result.stdout[-1500:]}"


def _filter_syscalls(tool: str, tokens: list[str]) -> set[str]:
    allowed: set[str] = set()
    pending, seen = list(tokens), set()
    while pending:
        token = pending.pop()
        if token in seen:
            continue
        seen.add(token)
        if not token.startswith("@"):
            allowed.add(token)
            continue
        listing = run([tool, "syscall-filter", token]).stdout
        for line in listing.splitlines():
            word = line.strip()
            if word and not word.startswith("#") and word != token:
                pending.append(word)
    return allowed


def test_unit_syscall_filter_covers_what_vipd_calls(binary, netns, tmp_path):
    """strace vipd through start, MASTER, check and notify scripts and SIGTERM; every syscall
    must pass the unit's SystemCallFilter= (the filter answers EPERM, which would silently turn
    the XDP path into the raw-socket fallback)."""
    tool = _required_tool("systemd-analyze")
    strace = _required_tool("strace")
    settings = unit_settings(UNIT.read_text())
    allowed = _filter_syscalls(tool, settings["SystemCallFilter"][-1].split())
    assert "bpf" in allowed and "socket" in allowed, allowed
    trace = tmp_path / "strace.out"
    # ip netns exec gives the command its own mount namespace: the bpffs mounted there stays there.
    script = (f"mount -t bpf bpf /sys/fs/bpf && exec {strace} -f -qq -o {trace} {binary} run "
              "--interface eth0 --vips 198.18.250.100 --vrrp-version 3 --advert-interval 0.1 "
              "--vrrp-id-offset 60 --preemption preempt --check-script /bin/true --check-interval 0.2 "
              "--notify-script /bin/true")
    process = subprocess.Popen(["ip", "netns", "exec", netns.name, "sh", "-c", script],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        status = ""
        while time.monotonic() < deadline and " MASTER " not in status:
            time.sleep(0.2)
            status = netns.run([str(binary), "status"], timeout=5).stdout
        assert " MASTER " in status, f"vipd did not become master:\n{status}"
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    assert process.returncode == 0, output
    assert "eBPF data plane attached" in output, f"the trace must cover the BPF path:\n{output}"
    called = set(re.findall(r"^\d+\s+([a-z0-9_]+)\(", trace.read_text(), flags=re.M))
    assert {"bpf", "execve", "sendto"} <= called, called
    assert not called - allowed, f"blocked by SystemCallFilter=: {sorted(called - allowed)}"


def test_env_file_passes_the_units_check_config(binary, netns):
    env = read_environment_file(ENV_FILE)
    result = netns.run(unit_command("ExecStartPre", "eth0", binary), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    plan_line = r"web_VIP_1\s+51\s+150\b.*preempt_delay 30\s+198\.18\.0\.100/32"
    assert re.search(plan_line, result.stdout), result.stdout
    assert re.search(r"web_VIP_2\s+52\b", result.stdout), result.stdout


def test_env_file_error_fails_the_start(binary, netns):
    """The ExecStartPre gate can fail: a broken VIP list exits 2 and names the problem."""
    env = {**read_environment_file(ENV_FILE), "OPENSHIFT_HA_VIRTUAL_IPS": "198.18.0.300"}
    result = netns.run(unit_command("ExecStartPre", "eth0", binary), env=env)
    assert result.returncode == 2 and "198.18.0.300" in result.stderr, result.stdout + result.stderr


def test_toml_config_passes_check_config(binary, netns):
    result = netns.run([str(binary), "check-config", "--config", str(TOML_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "v3, adverts every 100 ms" in result.stdout, result.stdout
    assert re.search(r"web_VIP_1\s+51\s+150\b", result.stdout), result.stdout


def test_env_file_pointing_at_toml_passes_check_config(binary, netns):
    env = {**read_environment_file(ENV_FILE), "VIPD_CONFIG": str(TOML_FILE)}
    result = netns.run(unit_command("ExecStartPre", "eth0", binary), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # The env file's variables win over the file: v3 from the TOML, monitor settings from the env.
    assert "v3, adverts every 100 ms" in result.stdout and "every 2000 ms" in result.stdout, result.stdout


# ---- container ----------------------------------------------------------------------------------

def test_containerfile_shape():
    text = CONTAINERFILE.read_text()
    assert 'ENTRYPOINT ["vipd"]' in text and 'CMD ["run"]' in text
    build, runtime = containerfile_stages()
    assert build.split()[0].startswith("debian:") and "AS build" in build
    assert "-DVIPD_BUILD_TESTS=OFF" in build
    # The commit comes in as a build argument (the context has no .git) and reaches cmake.
    assert "ARG VIPD_GIT_COMMIT" in build and "-DVIPD_GIT_COMMIT=${VIPD_GIT_COMMIT}" in build
    assert "COPY --from=build" in runtime
    # The runbook's tools that work with four capabilities: ip, ps (bpftool and tcpdump cannot).
    assert {"iproute2", "procps"} <= set(apt_packages(runtime))
    assert not {"bpftool", "tcpdump"} & set(apt_packages(runtime))


def test_build_context_is_what_the_build_copies():
    """.dockerignore lets in exactly the paths the build stage copies (no build dirs, .git,
    node_modules)."""
    build, _ = containerfile_stages()
    copied = {source.rstrip("/") for source in re.findall(r"^COPY (?!--)(\S+)", build, flags=re.M)}
    lines = [l.strip() for l in DOCKERIGNORE.read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines[0] == "*"
    assert {l[1:] for l in lines[1:] if l.startswith("!")} == copied


def test_containerfile_build_packages_follow_setup_sh():
    sections = setup_sh_sections()
    expected = set(sections["build"] + sections["eBPF"] + sections["libraries"]) - TEST_ONLY_PACKAGES
    build, _ = containerfile_stages()
    assert set(apt_packages(build)) == expected


def test_containerfile_packages_exist_in_debian():
    apt_cache = _required_tool("apt-cache")
    wanted = {package for stage in containerfile_stages() for package in apt_packages(stage)}
    # One call: apt-cache loads its cache once; missing names only lack a "Package:" stanza.
    listing = run([apt_cache, "show", "--no-all-versions"] + sorted(wanted), timeout=180).stdout
    found = set(re.findall(r"^Package: (\S+)$", listing, flags=re.M))
    assert not wanted - found, f"not in the apt lists (apt-get update?): {sorted(wanted - found)}"


def dependency_closure(apt_cache: str, packages: set[str]) -> set[str]:
    """`packages` and what apt installs with them: Depends and Pre-Depends, recursively (libcurl4
    brings its TLS, HTTP/2 and Kerberos libraries this way)."""
    listing = run([apt_cache, "depends", "--recurse", "--no-recommends", "--no-suggests",
                   "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + sorted(packages),
                  timeout=180).stdout
    return {line.strip() for line in listing.splitlines() if line and not line.startswith((" ", "<"))}


def test_runtime_stage_has_every_library_vipd_links(binary):
    dpkg = _required_tool("dpkg")
    apt_cache = _required_tool("apt-cache")
    _, runtime = containerfile_stages()
    shipped = dependency_closure(apt_cache, set(apt_packages(runtime))) | BASE_IMAGE_PACKAGES
    assert "libcurl4" in shipped and "libssl3" in shipped, sorted(shipped)
    ldd = run(["ldd", str(binary)])
    assert ldd.returncode == 0, ldd.stderr
    paths = re.findall(r"=> (/\S+)", ldd.stdout)
    assert any("libbpf" in path for path in paths), ldd.stdout
    # Debian 12 merged /lib into /usr/lib; dpkg records the /lib form, so ask for both.
    candidates = {path: {path, os.path.realpath(path)} for path in paths}
    queries = sorted({c.replace("/usr/lib/", "/lib/") for group in candidates.values() for c in group} |
                     {c for group in candidates.values() for c in group})
    owners = {}
    for line in run([dpkg, "-S"] + queries).stdout.splitlines():
        package, _, owned = line.partition(": ")
        owners[owned.strip()] = package.split(":")[0]
    missing = {}
    for path, group in candidates.items():
        forms = group | {c.replace("/usr/lib/", "/lib/") for c in group}
        packages = {owners[form] for form in forms if form in owners}
        assert packages, f"no package owns {path}"
        if not packages & shipped:
            missing[path] = sorted(packages)
    assert not missing, f"runtime stage lacks: {missing}"


def test_containerfile_copy_set_configures(tmp_path):
    """The build stage copies only some paths: cmake must configure from exactly those."""
    build, _ = containerfile_stages()
    sources = re.findall(r"^COPY (?!--)(\S+)", build, flags=re.M)
    assert "agent/" in sources, sources
    context = tmp_path / "src"
    for source in sources:
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, context / source)
        else:
            context.mkdir(exist_ok=True)
            shutil.copy(origin, context / source)
    # The build argument's value as scripts/image.sh passes it (a short commit).
    flags = re.search(r"cmake -S /src -B /build (.*?) &&", build).group(1)
    flags = flags.replace("${VIPD_GIT_COMMIT}", "0123456789ab").split()
    result = run(["cmake", "-S", str(context), "-B", str(tmp_path / "build")] + flags, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
