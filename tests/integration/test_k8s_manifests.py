"""Static checks of deploy/openshift/nodeport-local/ (applications behind a NodePort, issue 14).

The manifests are parsed and cross-checked (the Role grants exactly get/list/watch on
endpointslices in the Service's namespace to the DaemonSet's ServiceAccount; the monitored Service
is the one in service.yaml and has externalTrafficPolicy: Local; the node name comes from the
downward API), and each DaemonSet's environment — with what the kubelet adds: the downward API
values, KUBERNETES_SERVICE_HOST/PORT and the mounted ServiceAccount files — passes
`vipd check-config` in a throwaway network namespace (vipdt*) on 198.18.x.y. No cluster needed.
Their offline schema validation (kubernetes-models) runs with the other manifests' in
test_deploy.py (deploy.static), planted errors in these files included.

ctest: integration.k8s_manifests.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NODEPORT = REPO / "deploy" / "openshift" / "nodeport-local"


def documents() -> dict[str, list[dict]]:
    return {path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
            for path in sorted(NODEPORT.glob("*.yaml"))}


def one(kind: str, name: str | None = None) -> dict:
    found = [d for docs in documents().values() for d in docs
             if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(workload: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container(workload)["env"]}


def help_env_names(binary: Path) -> set[str]:
    result = subprocess.run([str(binary), "run", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"\(Env:([A-Z0-9_]+)\)", result.stdout))


def kubelet_env(workload: dict, downward: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: values, downward API fields, and
    $(VAR) references to variables defined before."""
    env: dict[str, str] = {}
    for item in container(workload)["env"]:
        if "valueFrom" in item:
            env[item["name"]] = downward[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)),
                                       str(item.get("value", "")))
    return env


@pytest.fixture
def netns():
    """A namespace with eth0 on 198.18.x.2/24 and a default route: what check-config reads."""
    name = "vipdtk8s" + uuid.uuid4().hex[:6]
    third = int(name[-2:], 16) % 200 + 20
    commands = [["ip", "netns", "add", name],
                ["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "vipdtpeer0"],
                ["ip", "-n", name, "link", "set", "lo", "up"],
                ["ip", "-n", name, "link", "set", "eth0", "up"],
                ["ip", "-n", name, "link", "set", "vipdtpeer0", "up"],
                ["ip", "-n", name, "addr", "add", f"198.18.{third}.2/24", "dev", "eth0"],
                ["ip", "-n", name, "route", "add", "default", "via", f"198.18.{third}.1"]]
    try:
        for argv in commands:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            assert result.returncode == 0, f"{argv}: {result.stderr}"
        yield name, f"198.18.{third}.2"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
    assert name not in listed, f"{name} left behind"


def check_config(binary: Path, netns: str, env: dict[str, str]) -> dict:
    clean = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}
    result = subprocess.run(["ip", "netns", "exec", netns, str(binary), "check-config", "--json"],
                            capture_output=True, text=True, timeout=60, env=clean)
    assert result.returncode == 0, f"check-config failed:\n{result.stdout}{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def binary(vipd) -> Path:
    return Path(vipd.binary)


# ----------------------------------------------------------------------------------------------


def test_files_and_kinds():
    kinds = {name: [d["kind"] for d in docs] for name, docs in documents().items()}
    assert kinds == {
        "daemonset-health-check-node-port.yaml": ["DaemonSet"],
        "daemonset.yaml": ["DaemonSet"],
        "rbac.yaml": ["ServiceAccount", "Role", "RoleBinding", "RoleBinding"],
        "service.yaml": ["Service"],
    }


def test_service_is_nodeport_with_local_traffic_policy():
    service = one("Service")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    assert service["spec"]["selector"], "a Service without selector gets no EndpointSlices"


def test_role_reads_endpointslices_in_the_services_namespace_only():
    service, role = one("Service"), one("Role")
    assert role["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert role["rules"] == [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                              "verbs": ["get", "list", "watch"]}]
    binding = next(b for b in documents()["rbac.yaml"]
                   if b["kind"] == "RoleBinding" and b["roleRef"]["kind"] == "Role")
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    daemonset = one("DaemonSet", "ipfailover-web")
    account = one("ServiceAccount")
    assert daemonset["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": daemonset["metadata"]["namespace"]}]
    assert account["metadata"]["namespace"] == daemonset["metadata"]["namespace"]
    scc = next(b for b in documents()["rbac.yaml"]
               if b["kind"] == "RoleBinding" and b["roleRef"]["kind"] == "ClusterRole")
    assert scc["roleRef"]["name"] == "vipd-scc"  # the least-privilege SCC of ../scc.yaml
    assert scc["subjects"] == binding["subjects"]


def test_endpoint_daemonset_mounts_the_token_and_names_its_node():
    daemonset = one("DaemonSet", "ipfailover-web")
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["hostNetwork"] is True
    env = env_of(daemonset)
    service = one("Service")
    assert env["OPENSHIFT_HA_MONITOR_SERVICE"]["value"] == \
        f"{service['metadata']['namespace']}/{service['metadata']['name']}"
    assert env["OPENSHIFT_HA_NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert "OPENSHIFT_HA_MONITOR_PORT" not in env and "OPENSHIFT_HA_CHECK_SCRIPT" not in env


def test_health_check_node_port_daemonset_needs_no_token():
    daemonset = one("DaemonSet", "ipfailover-web-lb")
    assert daemonset["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    env = env_of(daemonset)
    assert env["NODE_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    assert env["OPENSHIFT_HA_MONITOR_URL"]["value"].startswith("http://$(NODE_IP):")


@pytest.mark.parametrize("name", ["ipfailover-web", "ipfailover-web-lb"])
def test_workload_runs_vipd_with_known_variables(name, binary):
    daemonset = one("DaemonSet", name)
    spec = container(daemonset)
    assert spec["command"] + spec.get("args", []) == ["vipd", "run"]
    assert spec["livenessProbe"]["exec"]["command"][:2] == ["vipd", "status"]
    security = spec["securityContext"]
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"],
                                        "add": ["NET_ADMIN", "NET_RAW", "BPF", "PERFMON"]}
    assert spec["readinessProbe"]["exec"]["command"] == ["vipd", "status", "--ready"]
    mounts = {m["mountPath"] for m in spec["volumeMounts"]}
    assert "/sys/fs/bpf" in mounts
    unknown = set(env_of(daemonset)) - help_env_names(binary) - {"NODE_IP"}
    assert not unknown, f"{name}: variables `vipd run --help` does not know: {sorted(unknown)}"


def test_endpoint_daemonset_passes_check_config(binary, netns, tmp_path):
    name, address = netns
    # What the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount.
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("eyJhbGciOiJSUzI1NiJ9.test.c2ln")
    (account / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (account / "namespace").write_text("ipfailover")
    env = kubelet_env(one("DaemonSet", "ipfailover-web"), {"spec.nodeName": "worker-0"})
    env.update({"KUBERNETES_SERVICE_HOST": "172.30.0.1", "KUBERNETES_SERVICE_PORT": "443",
                "VIPD_K8S_SERVICE_ACCOUNT_DIR": str(account)})
    plan = check_config(binary, name, env)
    check = plan["health_check"]
    assert check["kind"] == "service-endpoints", check
    assert check["service"] == "shop/web" and check["node_name"] == "worker-0", check
    assert check["api_server"] == "https://172.30.0.1:443" and check["api_grace_ms"] == 60000, check
    assert check["token_file"] == f"{account}/token", check

    # Without the mounted token (automountServiceAccountToken: false) the plan is refused.
    (account / "token").unlink()
    clean = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}
    result = subprocess.run(["ip", "netns", "exec", name, str(binary), "check-config"],
                            capture_output=True, text=True, timeout=60, env=clean)
    assert result.returncode == 2 and "automountServiceAccountToken" in result.stderr, result.stderr


def test_health_check_node_port_daemonset_passes_check_config(binary, netns):
    name, address = netns
    env = kubelet_env(one("DaemonSet", "ipfailover-web-lb"), {"status.hostIP": address})
    plan = check_config(binary, name, env)
    check = plan["health_check"]
    assert check["kind"] == "http-get", check
    assert check["url"] == f"http://{address}:32000/healthz" and check["expected_status"] == 200, check
    assert check["fall"] == 2 and check["interval_ms"] == 2000, check
