#!/usr/bin/env bash
# The network-namespace lab for humans: a thin wrapper around tests/integration/vipdlab.py.
#   sudo scripts/lab.sh up --nodes 3 [--ipv6] [--http] [--subnet 198.18.4.0/24]
#   sudo scripts/lab.sh status
#   sudo scripts/lab.sh down [PREFIX...]      # no prefix: every lab started with `up`
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "lab.sh: run as root (network namespaces)" >&2
  exit 1
fi
exec /usr/bin/python3 tests/integration/vipdlab.py "$@"
