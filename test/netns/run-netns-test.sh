#!/usr/bin/env bash
# Runs one netns test program with a per-run namespace prefix and removes every namespace with
# that prefix on exit, whatever happened to the program (crash, sanitizer abort, timeout).
set -u
prefix="gwst$$x${RANDOM}-"
export GWSYNC_NETNS_PREFIX="$prefix"

cleanup() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${prefix}" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

if [[ $EUID -ne 0 ]]; then
  echo "netns tests need root (network namespaces, ctnetlink); skipped"
  exit 77
fi
"$@"
