#!/usr/bin/env bash
# The README's "run" command: a VIP surviving a crashed master, in a network-namespace lab.
#   sudo scripts/demo.sh                        # setup, build, 3 nodes, VRRPv3, 0.1 s adverts
#   sudo scripts/demo.sh --nodes 4 --version 2 --interval 1
#   sudo scripts/demo.sh --keep                 # leave the lab up afterwards (prints how to remove it)
#   sudo scripts/demo.sh --no-setup --no-build --build-dir build-x   # use an existing build (ctest)
# Installs missing packages (scripts/setup.sh), builds the vipd target into build/, then runs
# tests/integration/demo.py. Exit code 0 only if the failover and the preemption happened.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

usage() {
  cat <<EOF
usage: sudo scripts/demo.sh [--nodes N] [--version 2|3] [--interval S] [--vrid N] [--keep]
                            [--no-setup] [--no-build] [--build-dir DIR]
  --nodes N       nodes in the lab, 2..8 (default 3; priorities 150, 120, 100, ...)
  --version 2|3   VRRP version (default 3)
  --interval S    advert interval in seconds (default 0.1 for v3, 1 for v2)
  --vrid N        VRRP virtual router ID (default 51)
  --keep          leave the lab up for poking; prints how to tear it down
  --no-setup      do not run scripts/setup.sh (package installation)
  --no-build      do not build; use the vipd binary in the build directory
  --build-dir DIR build directory (default build/)
EOF
}

setup=1
build=1
build_dir=$repo/build
demo_args=()
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --no-setup) setup=0 ;;
    --no-build) build=0 ;;
    --build-dir)
      (($# >= 2)) || { usage >&2; exit 2; }
      build_dir=$2; shift ;;
    --build-dir=*) build_dir=${1#*=} ;;
    --nodes | --version | --interval | --vrid)
      (($# >= 2)) || { usage >&2; exit 2; }
      demo_args+=("$1" "$2"); shift ;;
    --nodes=* | --version=* | --interval=* | --vrid=* | --keep) demo_args+=("$1") ;;
    *) echo "demo.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ $build_dir == /* ]] || build_dir=$repo/$build_dir

if [[ $EUID -ne 0 ]]; then
  echo "demo.sh: the demo builds network namespaces and loads eBPF programs, so it needs root:" >&2
  echo "  sudo scripts/demo.sh" >&2
  exit 1
fi

if ((setup)); then
  scripts/setup.sh
fi
if ((build)); then
  echo "demo.sh: building vipd in $build_dir"
  # Only the daemon: the demo needs nothing else. The default build type is RelWithDebInfo.
  cmake_log=$(mktemp)
  cmake -S "$repo" -B "$build_dir" -G Ninja >"$cmake_log" 2>&1 || { cat "$cmake_log" >&2; rm -f "$cmake_log"; exit 1; }
  rm -f "$cmake_log"
  ninja -C "$build_dir" ${VIPD_JOBS:+-j "$VIPD_JOBS"} vipd
fi

# The lab tears itself down on exit, Ctrl-C, SIGTERM and SIGHUP. If the demo itself dies hard
# (SIGKILL), this removes what it left: only labs whose owner process is gone, never live ones
# of concurrent runs, nor a lab kept with --keep.
cleanup_stale() {
  /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import vipdlab; vipdlab.cleanup_stale()' \
    "$repo/tests/integration" >/dev/null 2>&1 || true
}
trap cleanup_stale EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status=0
/usr/bin/python3 tests/integration/demo.py --build-dir "$build_dir" ${demo_args[@]+"${demo_args[@]}"} || status=$?
exit "$status"
