#!/usr/bin/env bash
# Installs the Debian packages gwsync builds, tests and runs with. Idempotent: when every
# package is already installed it changes nothing and touches no package index.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config
  # libraries
  libboost-dev libmnl-dev libnetfilter-conntrack-dev libprotobuf-dev protobuf-compiler
  libtomlplusplus-dev libsystemd-dev
  # TLS on the sync channel (Asio SSL over OpenSSL 3); the openssl command for gwsync-keygen
  libssl-dev openssl
  prometheus-cpp-dev
  libnftables-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the data plane tools the tests, demo and lab drive
  iproute2 nftables conntrack procps
  # the two-site lab (docs/lab.md): BIRD 2 as the BGP speakers
  bird2
  # operability: promtool and a Prometheus server scrape /metrics; systemd-analyze checks the
  # unit; dpkg-shlibdeps for scripts/package.sh
  prometheus curl systemd dpkg-dev
  # benchmarks
  conntrackd gnuplot-nox
  # the LB namespace test's TCP client and backends (test/netns/lb_traffic.py)
  python3
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The tests run their own Prometheus; on a systemd host the package would also start one on
# :9090. Only when this script installed it: stop and disable that one.
if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  echo "install-deps: prometheus.service disabled (the tests start their own server)"
fi
# Likewise bird2 enables bird.service; the lab runs its own BIRD per namespace.
if [[ " ${missing[*]} " == *" bird2 "* && -d /run/systemd/system ]]; then
  systemctl disable --now bird.service >/dev/null 2>&1 || true
  echo "install-deps: bird.service disabled (the lab starts its own BIRD per namespace)"
fi
