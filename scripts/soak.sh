#!/usr/bin/env bash
# Chaos soak in the namespace lab: 3 vipd nodes and an HTTP client for N minutes while master
# kills, link flaps, multicast blocks, CPU stress, reloads and application failures are injected
# at random; reports dual-owner time, zero-owner gaps, VIP moves and client errors per fault, RSS
# and fd growth (tests/integration/soak.py has the details).
#   sudo scripts/soak.sh --minutes 10 --progress --json /tmp/soak.json
#   sudo scripts/soak.sh --minutes 2 --seed 1 --faults kill,link      # a subset, reproducible
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise; docs/BENCHMARKS.md
# ("Chaos soak") has results. Exit status 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/soak.py "$@"
