#!/usr/bin/env bash
# Churn benchmark in the namespace lab: n1's vipd (10 VRRPv3 instances, master) is knocked out and
# back N times (carrier down/up at the switch, health check failing/passing, or one instance
# removed and added again by `vipd reload`), and its RSS, fds, BPF maps/programs, map entries and
# pins are compared after a warm-up and at the end.
#   sudo scripts/bench-churn.sh                        # 1000 cycles, carrier and check in turns
#   sudo scripts/bench-churn.sh --kinds reload         # 1000 instance restarts through reload
#   sudo scripts/bench-churn.sh --cycles 200 --kinds carrier --json /tmp/churn.json
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise; docs/BENCHMARKS.md
# ("Churn") has results.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_churn.py "$@"
