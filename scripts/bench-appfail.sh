#!/usr/bin/env bash
# Application-failure benchmark in the namespace lab: from the application (HTTP on :80) dying on
# the master to the backup holding the VIP, for keepalived with ipfailover's generated check and
# vipd with fast fail on and off, all configured from the same OPENSHIFT_HA_* environment
# (VRRPv2 1 s adverts, check every 2 s). Prints a markdown table (median / p90 / max, ratios to
# keepalived).
#   sudo scripts/bench-appfail.sh                                # 3 variants, 20 runs each
#   sudo scripts/bench-appfail.sh --variants vipd,keepalived --runs 10 --json /tmp/raw.json
#   scripts/bench-appfail.sh --from-json /tmp/raw.json           # the report of an earlier run
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise. Took 6 min with the
# defaults on a loaded 2-vCPU guest; docs/BENCHMARKS.md ("Application failure") has those results
# and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_appfail.py "$@"
