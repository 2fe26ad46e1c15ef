#!/usr/bin/env bash
# Runs gwsync-bench-adapter inside a namespace of its own, so the benchmark's flushes and
# inserts never touch the host's conntrack table. The namespace gets an nftables nat chain
# (ctnetlink creates NAT entries only where nat is in use) and is deleted on every exit path.
# Usage: run-adapter-bench.sh BINARY [--entries N] [--runs R] [--markdown FILE]
set -euo pipefail

if (($# < 1)); then
  echo "usage: $0 BINARY [ARGS...]" >&2
  exit 2
fi
if [[ $EUID -ne 0 ]]; then
  echo "the adapter benchmark needs root (network namespaces, ctnetlink); skipped"
  exit 77
fi
bin=$1
shift

ns="gwsb$$x${RANDOM}-adapter"
cleanup() {
  local pid
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" nft -f - <<'NFT'
table ip gwsync_bench {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
  }
}
NFT
ip netns exec "$ns" "$bin" "$@"
