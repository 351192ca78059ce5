#!/usr/bin/env bash
# Split-brain benchmark in the namespace lab: time from a VRRP multicast block (by IP 224.0.0.18
# or by the group MAC) to a single VIP owner, and the dual-owner time, vipd and keepalived in the
# same run (keepalived never heals: its dual-owner time is the whole window). Prints a markdown
# table (p50 / p90 / max per daemon, setting and block).
#   sudo scripts/bench-split-brain.sh                                   # vipd,keepalived; v3 0.1 s and v2 1 s; ip and l2; 20 trials
#   sudo scripts/bench-split-brain.sh --daemon vipd,vipd-nobpf,keepalived --settings v3-100ms --runs 5
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise. docs/BENCHMARKS.md
# ("Split brain in the lab") has results.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_split_brain.py "$@"
