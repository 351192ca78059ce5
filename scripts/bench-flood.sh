#!/usr/bin/env bash
# Flood benchmark in the namespace lab: hostile traffic (garbage protocol 112, unserved VRIDs, bad
# TTL / checksum / password at served VRIDs, the same unicast to the backup, ARP claims of the VIPs,
# spoofed higher-priority adverts) from trafgen against a steady 50-instance master/backup pair,
# vipd and keepalived configured the same, in turns. Prints a markdown table (takeovers, CPU, log
# lines, per-reason counters against what was sent, the master's advert rate) and exits 1 when
# vipd missed a target on a class it must withstand.
#   sudo scripts/bench-flood.sh                                      # every class, max rate, 20 s
#   sudo scripts/bench-flood.sh --classes garbage,bad-ttl --rate 50000 --window 10
#   sudo scripts/bench-flood.sh --daemon vipd,vipd-nobpf,keepalived --cpus 2
#   sudo scripts/bench-flood.sh --daemon vipd --classes spoof-unicast,spoof-allowed   # the source filter
# vipd is build/vipd unless VIPD_BUILD_DIR or VIPD_BINARY say otherwise; docs/BENCHMARKS.md
# ("Floods") has results and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 tests/integration/bench_flood.py "$@"
