#!/usr/bin/env bash
# ct_count_wait.sh: runs inside a namespace (ip netns exec NS bash ct_count_wait.sh ...) and
# waits until that namespace's conntrack table holds at least (ge) or at most (le) TARGET
# entries. Prints "REACHED <wall clock µs> <count>" when it sees it, or "TIMEOUT <count>" and
# exits 1 after DEADLINE_MS. Touches STARTED_FILE once it polls, so the caller can take its start
# time after that and never miss a fast table.
#
# It polls every 2 ms with bash builtins only (no fork per poll: /proc read with `read`, the
# pause with `read -t` on a private FIFO), so it costs the daemons it measures almost nothing.
# The entry count is the kernel's own (net.netfilter.nf_conntrack_count of this namespace).
#
#   usage: ct_count_wait.sh ge|le TARGET DEADLINE_MS STARTED_FILE
set -euo pipefail

op=$1 target=$2 deadline_ms=$3 started=$4
[[ $op == ge || $op == le ]] || { echo "usage: $0 ge|le TARGET DEADLINE_MS STARTED_FILE" >&2; exit 2; }
count_file=/proc/sys/net/netfilter/nf_conntrack_count

fifo=$(mktemp -u "${TMPDIR:-/tmp}/ct_count_wait.XXXXXX")
mkfifo -m 600 "$fifo"
exec 3<>"$fifo"
rm -f -- "$fifo"

now=${EPOCHREALTIME//[!0-9]/}
deadline=$((now + deadline_ms * 1000))
: >"$started"
while true; do
  read -r count <"$count_file"
  now=${EPOCHREALTIME//[!0-9]/}
  if [[ $op == ge ]]; then reached=$((count >= target)); else reached=$((count <= target)); fi
  if ((reached)); then
    echo "REACHED $now $count"
    exit 0
  fi
  if ((now > deadline)); then
    echo "TIMEOUT $count"
    exit 1
  fi
  read -r -t 0.002 -u 3 _ || true
done
