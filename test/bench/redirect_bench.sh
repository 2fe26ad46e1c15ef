#!/usr/bin/env bash
# redirect_bench.sh: the cost of issue 10's owner redirect on the two-site lab (gwsyncd on both
# gateways, strict tracking, return path "redirect", the PAT address announced from site A).
# One UDP flow from the VM to the server through PAT (gwsync-bench-stream), measured on the same
# flow in the same run before and after the VM moves to site B:
#   reference  before the move and again after moving back: both directions through gw-a
#              (plain forwarding)
#   redirect   after the move: out through gw-b; the replies still arrive at gw-a, whose netdev
#              ingress hook steers them over the sync link to gw-b (gwsync_redirect, moved4),
#              and gw-b's conntrack hands them to the VM
# Figures: round-trip time at the VM (a 16-byte record every --interval-us for --window-ms,
# p50 and p90), and throughput of the reply direction: the server sends to the flow's public
# IP:port as fast as it can for --flood-s seconds, the VM counts what arrives (packets/s). After
# the move, gw-a's redirected4 counter must have grown by at least the flood the VM received.
#
#   usage: redirect_bench.sh --build-dir DIR [--runs R] [--window-ms W] [--flood-s S]
#                            [--interval-us U] [--out FILE]
set -euo pipefail

usage() { sed -n 's/^#   usage: //p; s/^#                            /    /p' "$0" >&2; exit 2; }
build="" runs=5 window_ms=2000 flood_s=1 interval_us=1000 out=""
while (($#)); do
  case $1 in
    --build-dir) build=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --window-ms) window_ms=${2:?}; shift 2 ;;
    --flood-s) flood_s=${2:?}; shift 2 ;;
    --interval-us) interval_us=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ -n "$build" ]] || usage
for v in runs window_ms flood_s interval_us; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "redirect_bench: --${v//_/-} '${!v}' is not a number" >&2; exit 2; }
done
((runs >= 1 && window_ms >= 100 && flood_s >= 1)) || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=scripts/lab/two-site.sh
. "$here/../../scripts/lab/two-site.sh"
# shellcheck source=test/bench/migration_lib.sh
. "$here/migration_lib.sh"
TS_BUILD=$(cd "$build" && pwd)
bench_need "$TS_BUILD" test/bench/gwsync-bench-stream syncd/app/gwsyncd syncd/app/gwsyncctl \
  test/tools/gwsync-announce nat/gwsync-nat
BENCH_STREAM=$TS_BUILD/test/bench/gwsync-bench-stream
TS_RETURN_PATH=redirect

trap lab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2317  # runs from wait_for
vm_owned_by() { ts_gwsyncctl "$1" vm 2>/dev/null | grep -q "^$TS_VM_IP .*owner=local($2)"; }
# shellcheck disable=SC2317  # runs from wait_for
redirect_on() { (($(ts_gwsyncctl gw-a vm 2>/dev/null | sed -n 's/^redirected_flows: //p') >= 1)); }
# shellcheck disable=SC2317  # runs from wait_for
synced() { (($(ts_gwsyncd_status gw-b sessions_peer) >= 1)); }
redirected() {
  lab_exec gw-a nft list counter netdev gwsync_redirect redirected4 |
    sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

# measure PHASE: the RTT over a window and one flood, into R[PHASE,...].
declare -A R
measure() {
  local rtt fl
  bs_cmd s rtt '^rtt ' 3000 >/dev/null  # drops what came before the window
  # A measurement window of fixed length (records keep flowing meanwhile), not a wait for a state.
  sleep "$(awk -v w="$window_ms" 'BEGIN {print w / 1000}')"
  rtt=$(bs_cmd s rtt '^rtt ' 3000)
  fl=$(bs_cmd s "flood $flood_s" '^flood ' $((flood_s * 1000 + 15000)))
  echo "  $1: $rtt; $fl" >&2
  (($(kv "$rtt" n) >= window_ms * 1000 / interval_us / 2)) || lab_die "$1: too few echoes: $rtt"
  R[$1,p50]+=" $(kv "$rtt" p50_us)"
  R[$1,p90]+=" $(kv "$rtt" p90_us)"
  R[$1,rx]+=" $(kv "$fl" rx_pps)"
  R[$1,tx]+=" $(kv "$fl" tx_pps)"
  R[$1,loss]+=" $(awk -v s="$(kv "$fl" sent)" -v r="$(kv "$fl" received)" 'BEGIN {printf "%.1f", s ? 100 * (s - r) / s : 0}')"
  LAST_RX=$(kv "$fl" received)
}

for ((run = 1; run <= runs; run++)); do
  lab_init gwrb
  ts_up
  ts_gwsyncd_start
  bs_start s --client-ns "$(lab_ns vm)" --server-ns "$(lab_ns inet)" --server "$TS_SERVER:7100" \
    --proto udp --interval-us "$interval_us"
  wait_for 10000 vm_owned_by gw-a 1 || lab_die "gw-a did not claim the VM"
  wait_for 10000 synced || lab_die "gw-b holds no copy of the flow"
  echo "run $run" >&2
  measure plain
  ts_migrate vm b
  wait_for 5000 vm_owned_by gw-b 2 || lab_die "gw-b did not win the VM"
  wait_for 5000 redirect_on || lab_die "gw-a redirects nothing: $(ts_gwsyncctl gw-a vm)"
  before=$(redirected)
  measure redirect
  steered=$(($(redirected) - before))
  ((steered >= LAST_RX)) ||
    lab_die "gw-a's redirect counter grew by $steered, the VM received $LAST_RX flood packets"
  # Back to site A: plain forwarding again, measured a second time so that the reference is
  # not only the lab's first, busier seconds.
  ts_migrate vm a
  wait_for 5000 vm_owned_by gw-a 1 || lab_die "gw-a did not take the VM back"
  measure plain
  bs_stop s
  lab_cleanup
done

row() {  # row LABEL KEY UNIT
  local p r
  # shellcheck disable=SC2086  # the runs' values, one word each
  p=$(median ${R[plain,$2]})
  # shellcheck disable=SC2086
  r=$(median ${R[redirect,$2]})
  echo "| $1 | $p | $r | $(awk -v a="$r" -v b="$p" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%+.0f", a - b; else print "-"}') | $(ratio "$r" "$p") |"
}
table() {
  echo "Owner redirect vs plain forwarding at gw-a, one UDP flow of the VM (PAT), before and after its move, medians of $runs runs, $(date -u +%F)"
  echo
  echo "| figure | plain (before the move and after moving back) | redirected (after the move) | difference | ratio redirected/plain |"
  echo "|---|---:|---:|---:|---:|"
  row "round trip p50 at the VM (µs)" p50
  row "round trip p90 at the VM (µs)" p90
  row "reply-direction flood received by the VM (packets/s)" rx
  row "context: flood offered by the server (packets/s)" tx
  row "context: flood lost (%)" loss
  echo
  echo "- per run, p50 µs plain; redirected: ${R[plain,p50]# }; ${R[redirect,p50]# }"
  echo "- per run, received packets/s plain; redirected: ${R[plain,rx]# }; ${R[redirect,rx]# }"
}
table | tee ${out:+"$out"}
