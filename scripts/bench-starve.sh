#!/usr/bin/env bash
# CPU-starvation benchmark in the namespace lab: 10 VRRPv3 instances at 10 ms on a master/backup
# pair while stress-ng runs a CPU hog on every core; counts flaps (VIPs moving, transitions) for
# vipd and keepalived configured the same, at nice 0 and niced.
#   sudo scripts/bench-starve.sh                                   # 60 s windows, nice 0 and 19
#   sudo scripts/bench-starve.sh --daemon vipd --vipd-variants '--realtime-priority 10 --lock-memory' --window 30
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise; docs/BENCHMARKS.md
# ("CPU starvation") has results.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_starve.py "$@"
