#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every ctest label
# (unit, sim, fuzz, bpf, integration, deploy). The exit code is the verdict.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "test.sh: run as root (BPF and network-namespace tests need it): sudo scripts/test.sh" >&2
  exit 1
fi

scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C build
ctest --test-dir build --output-on-failure --timeout 900 -j2 "$@"
