"""scripts/check-layers.py: passes on the tree, and fails on each kind of upward arrow planted in a copy."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKER = REPO / "scripts" / "check-layers.py"


def run_checker(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), "--root", str(root)], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "agent", tmp_path / "agent")
    return tmp_path


def plant(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_tree_passes():
    result = run_checker(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every arrow points down" in result.stdout


def test_a_copy_passes(tree: Path):
    assert run_checker(tree).returncode == 0


def test_an_upward_include_fails(tree: Path):
    plant(tree / "agent/core/timing.cpp", '#include "vipd/core/timing.h"',
          '#include "vipd/core/timing.h"\n#include "node/node.h"')
    result = run_checker(tree)
    assert result.returncode == 1
    assert 'agent/core/timing.cpp: #include "node/node.h" points from \'core\' to \'node\'' in result.stdout


def test_a_sideways_include_fails(tree: Path):
    plant(tree / "agent/net/netlink.cpp", '#include "net/netlink.h"',
          '#include "net/netlink.h"\n#include "bpf/dataplane.h"')
    result = run_checker(tree)
    assert result.returncode == 1
    assert "points from 'net' to 'bpf', which it does not link" in result.stdout


def test_an_upward_link_fails(tree: Path):
    plant(tree / "agent/config/CMakeLists.txt", "ROOMS core", "ROOMS core node")
    result = run_checker(tree)
    assert result.returncode == 1
    assert "links 'node', which is not below 'config'" in result.stdout


def test_a_room_without_its_library_fails(tree: Path):
    plant(tree / "agent/proc/CMakeLists.txt", "vipd_room(proc", "add_library(vipd_proc STATIC")
    result = run_checker(tree)
    assert result.returncode == 1
    assert "agent/proc: no vipd_room(proc ...)" in result.stdout
