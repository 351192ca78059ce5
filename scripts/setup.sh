#!/usr/bin/env bash
# Installs every Debian package vipd needs to build, test, benchmark and run its lab.
# Idempotent: packages already present are skipped; nothing is mounted or configured on the host.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git clang llvm clang-format clang-tidy
  libclang-rt-14-dev
  # eBPF
  libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  # libraries
  libnl-3-dev libnl-route-3-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # lab, integration tests, interop
  iproute2 iputils-ping tcpdump nftables iptables procps psmisc ethtool curl
  keepalived python3 python3-scapy python3-pytest python3-pyroute2 python3-yaml strace openssl
)

if [[ $EUID -ne 0 ]]; then
  echo "setup.sh: must run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# keepalived is only a test peer: a package this run installed must not leave a daemon running.
# A keepalived that was already installed is the host's own business and is left alone.
if [[ " ${missing[*]} " == *" keepalived "* ]]; then
  systemctl disable --now keepalived >/dev/null 2>&1 || true
fi
echo "setup.sh: done"
