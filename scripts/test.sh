#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every ctest label
# (unit, sim, fuzz, bpf, integration, deploy). The exit code is the verdict.
#   sudo scripts/test.sh                  # everything (~25 min on 2 cores)
#   sudo scripts/test.sh -L unit -j2      # extra arguments go to ctest after the build
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then  # the comment above, without doing anything
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
  exit 0
fi
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "test.sh: run as root (BPF and network-namespace tests need it): sudo scripts/test.sh" >&2
  exit 1
fi

scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIPD_WERROR=ON
ninja -C build
ctest --test-dir build --output-on-failure --timeout 900 -j2 "$@"
