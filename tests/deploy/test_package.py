"""The Debian package: built with cpack, installed with dpkg into a clean Debian root, used, purged.

1. `cpack -G DEB` on this build: the .deb carries Depends from dpkg-shlibdeps and the files
   cmake/VipdPackage.cmake installs (binary, unit, man page, examples, alert rules).
2. A minbase bookworm root made with mmdebstrap, with exactly the runtime dependencies the .deb
   declares (fetched from the Debian mirror; cached as a tarball in the build directory, keyed by
   the Depends line). The .deb itself is installed with plain `dpkg -i`: if Depends missed a
   library, dpkg or the loader fails here.
3. In that root: `vipd --version`, `vipd check-config` with the packaged example settings on the
   loopback interface of a fresh network namespace (real netlink, real config resolution; the
   host's own interfaces are never seen), bad settings exit 2 naming the value.
4. `dpkg --purge vipd`, and the root's file list is the same as before the install.

Needs root (chroot, unshare, dpkg into the root) and the Debian mirror on the first run.
"""
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

BUILD_DIR = pathlib.Path(os.environ.get("VIPD_BUILD_DIR", "build")).resolve()
CACHE_DIR = BUILD_DIR / "deploy-cache"
SUITE = "bookworm"
MIRRORS = [
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
]
EXPECTED_FILES = {
    "/usr/sbin/vipd",
    "/lib/systemd/system/vipd@.service",
    "/usr/share/man/man8/vipd.8.gz",
    "/usr/share/doc/vipd/examples/eth0.env",
    "/usr/share/doc/vipd/examples/vipd.toml",
    "/usr/share/vipd/prometheus/vipd-rules.yml",
}
# Every library the binary links must come from a Depends entry (dpkg-shlibdeps; bookworm's
# spdlog package is libspdlog1.10-fmt9).
EXPECTED_DEPENDS = {"libc6", "libstdc++6", "libbpf1", "libnl-3-200", "libnl-route-3-200",
                    "libspdlog1.10-fmt9", "libfmt9"}
# dpkg's own log: mmdebstrap's tarball has an empty /var/log; dpkg creates it at the install.
DPKG_BOOKKEEPING = {"/var/log/dpkg.log"}
TIMINGS: dict[str, float] = {}


def run(*args: str, check: bool = True, env: dict | None = None, timeout: float = 600,
        **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout,
                            **kwargs)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def timed(name: str):
    class Timer:
        def __enter__(self):
            self.start = time.monotonic()

        def __exit__(self, *exc):
            TIMINGS[name] = time.monotonic() - self.start

    return Timer()


def clean_env(**extra: str) -> dict:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def depends_packages(deb: pathlib.Path) -> list[str]:
    """Package names of the Depends field (first of each alternative, versions dropped)."""
    field = run("dpkg-deb", "--field", str(deb), "Depends").stdout.strip()
    names = [entry.split("|")[0].split("(")[0].strip() for entry in field.split(",")]
    return sorted(name for name in names if name)


def file_list(root: pathlib.Path) -> set[str]:
    return {"/" + str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture(scope="module")
def workdir():
    if os.geteuid() != 0:
        pytest.fail("the package test needs root (chroot, unshare, dpkg in the root)")
    path = pathlib.Path(tempfile.mkdtemp(prefix="vipdpkg-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def deb(workdir) -> pathlib.Path:
    with timed("cpack -G DEB"):
        run("cpack", "-G", "DEB", "--config", str(BUILD_DIR / "CPackConfig.cmake"),
            "-B", str(workdir / "cpack"))
    debs = list((workdir / "cpack").glob("vipd_*.deb"))
    assert len(debs) == 1, f"expected one vipd_*.deb, got {debs}"
    return debs[0]


@pytest.fixture(scope="module")
def root_tarball(deb) -> pathlib.Path:
    """minbase bookworm with the .deb's dependencies, cached by the Depends line."""
    packages = depends_packages(deb)
    key = hashlib.sha256((SUITE + " " + ",".join(packages)).encode()).hexdigest()[:16]
    tarball = CACHE_DIR / f"{SUITE}-minbase-{key}.tar"
    if tarball.exists():
        TIMINGS["mmdebstrap"] = 0.0
        return tarball
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial.tar")
    with timed("mmdebstrap"):
        run("mmdebstrap", "--quiet", "--variant=minbase", "--mode=root",
            f"--include={','.join(packages)}", SUITE, str(partial), *MIRRORS, timeout=900)
    partial.rename(tarball)
    for stale in CACHE_DIR.glob(f"{SUITE}-minbase-*.tar"):
        if stale != tarball:
            stale.unlink()
    return tarball


@pytest.fixture(scope="module")
def root(workdir, root_tarball) -> pathlib.Path:
    path = workdir / "root"
    path.mkdir()
    run("tar", "-C", str(path), "--numeric-owner", "-xpf", str(root_tarball))
    return path


@pytest.fixture(scope="module")
def installed(root, deb):
    """The root's file list before the install, and the root with vipd installed."""
    before = file_list(root)
    shutil.copy(deb, root / "tmp" / deb.name)
    with timed("dpkg -i"):
        run("chroot", str(root), "dpkg", "-i", f"/tmp/{deb.name}", env=clean_env())
    (root / "tmp" / deb.name).unlink()
    return before


def in_root(root: pathlib.Path, *args: str, check: bool = True, **env: str):
    return run("chroot", str(root), *args, check=check, env=clean_env(**env))


def in_root_netns(root: pathlib.Path, *args: str, check: bool = True, **env: str):
    """`args` in the root, in a new network namespace that has only `lo` (brought up)."""
    script = 'ip link set lo up && exec chroot "$0" "$@"'
    return run("unshare", "--net", "--", "/bin/sh", "-c", script, str(root), *args,
               check=check, env=clean_env(**env))


def test_file_list_sees_every_kind_of_leftover(tmp_path):
    """The leftover check itself: planted files of each kind must show up in the difference."""
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("usr/lib")
    before = file_list(tmp_path)
    (tmp_path / "usr/lib/systemd/system").mkdir(parents=True)
    (tmp_path / "usr/lib/systemd/system/vipd@.service").write_text("")
    (tmp_path / "etc/vipd").mkdir(parents=True)
    (tmp_path / "etc/vipd/.hidden").write_text("")
    (tmp_path / "run").mkdir()
    (tmp_path / "run/vipd.sock").symlink_to("/nonexistent")
    assert file_list(tmp_path) - before == {
        "/usr/lib/systemd", "/usr/lib/systemd/system", "/usr/lib/systemd/system/vipd@.service",
        "/etc", "/etc/vipd", "/etc/vipd/.hidden", "/run", "/run/vipd.sock"}


def test_deb_declares_shlib_depends(deb):
    packages = set(depends_packages(deb))
    missing = EXPECTED_DEPENDS - packages
    assert not missing, f"Depends lacks {sorted(missing)}: {sorted(packages)}"
    fields = run("dpkg-deb", "--field", str(deb)).stdout
    assert re.search(r"^Package: vipd$", fields, re.M), fields
    assert re.search(r"^Version: \d+\.\d+\.\d+-1$", fields, re.M), fields
    assert re.search(r"^Section: net$", fields, re.M), fields


def test_deb_contents(deb):
    listing = run("dpkg-deb", "--contents", str(deb)).stdout
    paths = {re.sub(r"^\./", "/", line.split()[-1]).rstrip("/") for line in listing.splitlines()}
    missing = EXPECTED_FILES - paths
    assert not missing, f"not in the package: {sorted(missing)}\n{listing}"
    assert "/etc/vipd" in paths
    mode = next(line.split()[0] for line in listing.splitlines() if line.endswith("/usr/sbin/vipd"))
    assert mode == "-rwxr-xr-x", listing


def test_installs_with_dpkg_and_reports_its_version(root, installed):
    version = in_root(root, "/usr/sbin/vipd", "--version").stdout
    assert re.match(r"vipd \d+\.\d+\.\d+\ncommit \S+\nlibbpf \S+\n$", version), version
    assert in_root(root, "/usr/sbin/vipd", "version").stdout == version
    owned = set(in_root(root, "dpkg", "-L", "vipd").stdout.split())
    assert EXPECTED_FILES <= owned, sorted(EXPECTED_FILES - owned)


def test_unit_runs_the_installed_binary(root, installed):
    unit = (root / "lib/systemd/system/vipd@.service").read_text()
    execs = dict(re.findall(r"^(Exec\w+)=(\S+)", unit, re.M))
    # Every command that runs vipd runs the packaged binary (ExecReload signals it with kill).
    vipd_execs = {key: path for key, path in execs.items() if path.endswith("/vipd")}
    assert {"ExecStart", "ExecStartPre"} <= vipd_execs.keys(), execs
    assert all(path == "/usr/sbin/vipd" for path in vipd_execs.values()), execs
    assert "/usr/local" not in unit
    assert re.search(r"^EnvironmentFile=/etc/vipd/%I\.env$", unit, re.M)


def test_man_page_lists_the_options(root, installed):
    page = run("zcat", str(root / "usr/share/man/man8/vipd.8.gz")).stdout
    assert re.search(r"^\.TH VIPD \"?8\"?", page, re.M), page[:300]
    text = page.replace("\\-", "-")  # roff's escaped hyphens
    for word in ("--log-format", "--log-level", "--vips", "check-config", "VIPD_LOG_FORMAT",
                 "OPENSHIFT_HA_VIRTUAL_IPS", "EXIT STATUS", "/etc/vipd/<interface>.env"):
        assert word in text, f"{word} not in the man page"


def test_check_config_with_the_packaged_examples(root, installed):
    toml = in_root_netns(root, "/usr/sbin/vipd", "check-config", "--json",
                         "--config", "/usr/share/doc/vipd/examples/vipd.toml", "--interface", "lo")
    plan = json.loads(toml.stdout)
    assert plan["valid"] and plan["interface"] == "lo" and plan["source"] == "127.0.0.1", plan
    assert [i["vrid"] for i in plan["instances"]] == [51, 52], plan
    assert plan["vrrp_version"] == 3 and plan["advert_interval_ms"] == 100, plan

    env = {}
    for line in (root / "usr/share/doc/vipd/examples/eth0.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value.strip('"')
    text = in_root_netns(root, "/usr/sbin/vipd", "check-config", "--interface", "lo", **env).stdout
    assert "web_VIP_1" in text and "198.18.0.100" in text and "198.18.0.101" in text, text


def test_bad_settings_exit_2_naming_the_value(root, installed):
    base = ("/usr/sbin/vipd", "check-config", "--interface", "lo", "--vips", "198.18.0.100")
    flag = in_root_netns(root, *base, "--log-format", "xml", check=False)
    assert flag.returncode == 2, flag
    assert "invalid log format 'xml' (text, json)" in flag.stderr, flag.stderr
    env = in_root_netns(root, *base, check=False, VIPD_LOG_FORMAT="yaml")
    assert env.returncode == 2 and "'yaml'" in env.stderr, env
    good = in_root_netns(root, *base, check=False, VIPD_LOG_FORMAT="json", VIPD_LOG_LEVEL="debug")
    assert good.returncode == 0, good


def test_purge_leaves_nothing_behind(root, installed):
    with timed("dpkg --purge"):
        in_root(root, "dpkg", "--purge", "vipd")
    after = file_list(root)
    assert "purge vipd" in (root / "var/log/dpkg.log").read_text()
    left = after - installed - DPKG_BOOKKEEPING
    assert left == set(), f"left behind: {sorted(left)}"
    assert installed - after == set(), f"removed although not ours: {sorted(installed - after)}"
    assert not in_root(root, "dpkg", "-s", "vipd", check=False).returncode == 0
    print("timings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in TIMINGS.items()))
