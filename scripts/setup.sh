#!/usr/bin/env bash
# Installs every Debian package vipd needs to build, test, benchmark and run its lab.
# Idempotent: packages already present are skipped; nothing is mounted or configured on the host
# (podman is given its runtime and ulimits as flags by the scripts and tests that call it).
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then  # the comment above, without doing anything
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
  exit 0
fi

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git clang llvm clang-format clang-tidy
  libclang-rt-14-dev
  # eBPF
  libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  # libraries
  libnl-3-dev libnl-route-3-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libcurl4-openssl-dev libc-ares-dev libsystemd-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # package, man page, alert rules: cpack's dpkg-shlibdeps, help2man, promtool, a clean Debian root
  dpkg-dev help2man prometheus mmdebstrap
  # lab, integration tests, interop
  iproute2 iputils-ping tcpdump nftables iptables procps psmisc ethtool curl
  keepalived python3 python3-scapy python3-pytest python3-pyroute2 python3-yaml strace openssl
  # split-brain tests: DNS peers served by a dnsmasq inside the lab (the binary only, no service)
  dnsmasq-base
  # hostile conditions: trafgen floods (bench-flood.sh, integration.flood), CPU hogs (bench-starve.sh,
  # soak.sh, integration.starve / integration.soak)
  netsniff-ng stress-ng
  # deploy: the container image (scripts/image.sh), its lab test and systemd running the unit
  podman buildah runc systemd-container
)
# npm packages of the offline manifest validation (tests/manifests/package-lock.json).
MANIFEST_TOOLS=tests/manifests

if [[ $EUID -ne 0 ]]; then
  echo "setup.sh: must run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

# Node.js and npm come with this project's machines; Debian's packages where they do not.
command -v npm >/dev/null || missing+=(nodejs npm)

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
else
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # keepalived is only a test peer and prometheus a test tool (promtool, a server the tests start
  # themselves): a package this run installed must not leave a daemon running. One that was
  # already installed is the host's own business and is left alone.
  for daemon in keepalived prometheus; do
    if [[ " ${missing[*]} " == *" $daemon "* ]]; then
      systemctl disable --now "$daemon" >/dev/null 2>&1 || true
    fi
  done
fi

# The manifest validators, exactly as locked; again only when the lock file changed.
manifest_dir="$(dirname "$0")/../$MANIFEST_TOOLS"
if [[ ! -f $manifest_dir/node_modules/.package-lock.json ||
      $manifest_dir/package-lock.json -nt $manifest_dir/node_modules/.package-lock.json ]]; then
  echo "setup.sh: npm ci in $MANIFEST_TOOLS"
  npm ci --prefix "$manifest_dir" --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "setup.sh: done"
