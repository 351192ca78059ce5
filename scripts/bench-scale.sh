#!/usr/bin/env bash
# Scale benchmark in the namespace lab: 2 nodes, 200 VRRPv3 instances each (one VIP per instance),
# a steady master and backup; CPU % of a core, the backup's wake-ups per second, RSS / PSS, for
# vipd (XDP), vipd --no-bpf and keepalived with identical settings, plus vipd/keepalived ratios.
#   sudo scripts/bench-scale.sh                                   # 10 ms and 100 ms, all three, 25 s windows
#   sudo scripts/bench-scale.sh --daemon vipd,keepalived --intervals 0.01 --window 30 --repeat 3
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise. About 40 s per row;
# docs/BENCHMARKS.md ("Scale: CPU, wake-ups, memory") has results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_scale.py "$@"
