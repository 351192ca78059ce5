#!/usr/bin/env bash
# Failover benchmark in the namespace lab: crash and graceful-stop takeover times and the
# client-visible outage, keepalived and vipd with identical settings. Prints a markdown table
# (median / p90 / max per daemon, vipd/keepalived ratios) and whether vipd met its targets.
#   sudo scripts/bench-failover.sh                      # keepalived,vipd; v2 1 s / v3 0.1 s / v3 0.01 s; 20 runs
#   sudo scripts/bench-failover.sh --daemon keepalived,vipd,vipd-nobpf --runs 10 --settings v3-100ms
#   sudo scripts/bench-failover.sh --settings v3-10ms --scenarios crash --json /tmp/raw.json
#   scripts/bench-failover.sh --from-json /tmp/raw.json # the report of an earlier run again
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise. Takes ~20 min with the
# defaults; docs/BENCHMARKS.md ("Failover in the lab") has results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_failover.py "$@"
