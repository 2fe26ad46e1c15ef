#!/usr/bin/env bash
# migration_handoff.sh: the VM handoff time of issue 6 on the two-site lab (scripts/lab/two-site.sh,
# BIRD, gwsyncd on both gateways, strict tracking, return path redirect). Per run, a fresh lab:
#   load    N sessions of the VM (192.0.2.10) at gw-a: N-1 idle TCP sessions written into gw-a's
#           conntrack as gw-a's PAT made them (gwsync-bench-host-load: VM -> 203.0.113.10:443..,
#           198.51.100.1 with ports of gw-a's partition) plus one real flow, the stream: a 16-byte
#           record from the VM to the server every --interval-us (TCP, TCP_NODELAY) and its echo
#           (gwsync-bench-stream); gw-b holds copies of all N (hot: in its kernel; cold: in memory)
#   move    the VM's port moves to site B's bridge, the VM sends RARP + gratuitous ARP
#   figures time zero is the RARP frame arriving on gw-b's lan0 (kernel timestamp); then
#           fwd      the first stream packet leaving gw-b's wan0 with the VM's old public
#                    IP:port (forwarded locally with the synced state; kernel timestamp)
#           reply    the first stream reply leaving gw-b's lan0 (the reply arrived at gw-a and
#                    was redirected to gw-b, whose conntrack handled it)
#           route    gw-b's host route in table 100 and the WAN router's BGP route via gw-b
#                    (rtnetlink notifications, read by the same process)
#           daemon   gw-b's own timeline (`gwsyncctl vm`): claim won, sessions written, route
#                    installed, from the sighting its detection saw first
#           gap      the longest pause between two echoes at the VM
# Prints a Markdown table of medians per mode (--modes hot,cold). --raw FILE also appends every
# run's figures to FILE, one line each, tab-separated: "gwsync-MODE", run, figure key (fwd_ms,
# d_sessions, ...: the table's rows), value in ms (sync_bench.sh merges them into its table).
#
#   usage: migration_handoff.sh --build-dir DIR [--sessions N] [--runs R] [--modes hot,cold]
#                               [--interval-us U] [--out FILE] [--raw FILE]
set -euo pipefail

usage() { sed -n 's/^#   usage: //p; s/^#                               /    /p' "$0" >&2; exit 2; }
build="" sessions=10000 runs=5 modes=hot,cold interval_us=1000 out="" raw=""
while (($#)); do
  case $1 in
    --build-dir) build=${2:?}; shift 2 ;;
    --sessions) sessions=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --modes) modes=${2:?}; shift 2 ;;
    --interval-us) interval_us=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --raw) raw=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ -n "$build" ]] || usage
for v in sessions runs interval_us; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "migration_handoff: --${v//_/-} '${!v}' is not a number" >&2; exit 2; }
done
((sessions >= 2 && sessions <= 31746)) || { echo "migration_handoff: --sessions 2..31746 (gw-a's partition)" >&2; exit 2; }
((runs >= 1)) || usage
IFS=, read -ra mode_list <<<"$modes"
for m in "${mode_list[@]}"; do [[ $m == hot || $m == cold ]] || { echo "migration_handoff: --modes: hot and/or cold" >&2; exit 2; }; done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=scripts/lab/two-site.sh
. "$here/../../scripts/lab/two-site.sh"
# shellcheck source=test/bench/migration_lib.sh
. "$here/migration_lib.sh"
TS_BUILD=$(cd "$build" && pwd)
bench_need "$TS_BUILD" test/bench/gwsync-bench-stream test/bench/gwsync-bench-host-load \
  syncd/app/gwsyncd syncd/app/gwsyncctl test/tools/gwsync-announce nat/gwsync-nat
BENCH_STREAM=$TS_BUILD/test/bench/gwsync-bench-stream
TS_RETURN_PATH=redirect
readonly STREAM_PORT=7100

trap lab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2317  # runs from wait_for
vm_owned_by() { ts_gwsyncctl "$1" vm 2>/dev/null | grep -q "^$TS_VM_IP .*owner=local($2)"; }
# shellcheck disable=SC2317  # runs from wait_for
vm_synced() {  # gw-b holds the copies of all the VM's sessions (and, hot, its kernel too)
  local line n
  line=$(ts_gwsyncctl gw-b vm 2>/dev/null | grep "^$TS_VM_IP ") || return 1
  n=$(kv "$line" sessions_peer)
  ((${n:-0} >= sessions)) || return 1
  [[ $TS_NODE_MODE == cold ]] || (($(lab_ct_count gw-b) >= sessions))
}

declare -A R  # R[mode,key]: the runs' values, space separated
keys="fwd_ms reply_ms udp_fwd_ms udp_new_ms udp_reply_ms udp_gap_ms route_gwb_ms route_wan_ms d_claim d_sessions d_route d_offset gap_ms rarp_after_arm_ms"

run_once() {
  local mode=$1 res line t
  lab_init gwbh
  TS_NODE_MODE=$mode
  ts_up
  ts_gwsyncd_start
  if ((sessions > 2)); then
    "$TS_BUILD/test/bench/gwsync-bench-host-load" --netns "$(lab_ns gw-a)" --host "$TS_VM_IP" \
      --server "$TS_SERVER" --public "$TS_PAT" --ports "$TS_PART_A" --count $((sessions - 2)) \
      >"$LAB_TMP/load.log" || lab_die "injection failed: $(cat "$LAB_TMP/load.log")"
  fi
  bs_start vm --client-ns "$(lab_ns vm)" --server-ns "$(lab_ns inet)" \
    --server "$TS_SERVER:$STREAM_PORT" --proto tcp --interval-us "$interval_us" \
    --rarp "$(lab_ns gw-b):lan0" --fwd "$(lab_ns gw-b):wan0" --reply "$(lab_ns gw-b):lan0" \
    --route "gwb=$(lab_ns gw-b):$TS_VM_IP" --route "wan=$(lab_ns wan):$TS_VM_IP:${TS_WAN_IP[gw-b]}" \
    --deadline-ms 5000
  # A UDP flow beside it: its replies keep coming whatever TCP's retransmission timer does, so
  # the first one gw-b forwards marks the moment gw-a's redirect took the flow over.
  bs_start udp --client-ns "$(lab_ns vm)" --server-ns "$(lab_ns inet)" \
    --server "$TS_SERVER:$((STREAM_PORT + 1))" --proto udp --interval-us "$interval_us" \
    --rarp "$(lab_ns gw-b):lan0" --fwd "$(lab_ns gw-b):wan0" --reply "$(lab_ns gw-b):lan0" \
    --deadline-ms 5000
  wait_for 10000 vm_owned_by gw-a 1 || lab_die "gw-a did not claim the VM: $(ts_gwsyncctl gw-a vm)"
  wait_for 10000 ts_wan_route_via "$TS_VM_IP" gw-a || lab_die "no WAN route via gw-a: $(ts_wan_routes)"
  wait_for 20000 vm_synced || lab_die "gw-b holds $(ts_gwsyncctl gw-b vm | head -n 1)"
  bs_cmd vm arm '^armed' 3000 >/dev/null
  bs_cmd udp arm '^armed' 3000 >/dev/null
  ip -n "$(lab_ns dci)" link set vm nomaster
  ip -n "$(lab_ns dci)" link set vm master br-b
  lab_exec vm "$(ts_tool gwsync-announce)" --dev eth0 --rarp --garp "$TS_VM_IP"
  res=$(bs_cmd vm report '^RESULT' 8000)
  ures=$(bs_cmd udp report '^RESULT' 8000)
  res+=" udp_fwd_ms=$(kv "$ures" fwd_ms) udp_new_ms=$(kv "$ures" fwd_new_ms) udp_reply_ms=$(kv "$ures" reply_ms) udp_gap_ms=$(kv "$ures" gap_ms)"
  wait_for 3000 vm_owned_by gw-b 2 || lab_die "gw-b did not win the VM: $(ts_gwsyncctl gw-b vm)"
  line=$(ts_gwsyncctl gw-b vm | grep "^$TS_VM_IP ")
  t=${line#*last_handoff: }
  res+=" d_sighting=${t%% *}"
  res+=" d_claim=$(sed -n 's/.* claim +\([0-9.]*\) ms.*/\1/p' <<<"$t")"
  res+=" d_sessions=$(sed -n 's/.* sessions +\([0-9.]*\) ms.*/\1/p' <<<"$t")"
  res+=" d_route=$(sed -n 's/.* route +\([0-9.]*\) ms.*/\1/p' <<<"$t")"
  res+=" taken=$(kv "$line" sessions_local)"
  # The daemon times from its own first sighting: where that lies on the RARP's clock.
  res+=" d_offset=$(awk -v a="$(kv "$res" route_gwb_ms)" -v b="$(kv "$res" d_route)" \
    'BEGIN {if (a != "-" && b != "") printf "%.1f", a - b; else print "-"}')"
  echo "run $mode: $res" >&2
  (($(kv "$line" sessions_local) >= sessions)) ||
    lab_die "gw-b took only $(kv "$line" sessions_local) of $sessions sessions"
  for k in $keys; do R[$mode,$k]+=" $(kv "$res" "$k")"; done
  # shellcheck disable=SC2086  # the keys, one word each
  [[ -z "$raw" ]] || raw_append "$raw" "gwsync-$mode" "$run" "$res" $keys
  R[$mode,sighting]+=" $(kv "$res" d_sighting)"
  R[$mode,new]+=" $(kv "$res" fwd_new_ms)"
  bs_stop vm
  bs_stop udp
  lab_cleanup
}

for ((run = 1; run <= runs; run++)); do
  for m in "${mode_list[@]}"; do run_once "$m"; done
done

label() {
  case $1 in
    fwd_ms) echo "TCP stream: RARP at gw-b → first packet forwarded by gw-b with the synced state" ;;
    reply_ms) echo "RARP at gw-b → first TCP stream reply forwarded by gw-b (redirected from gw-a)" ;;
    udp_fwd_ms) echo "UDP flow: RARP at gw-b → first packet forwarded by gw-b with the synced state" ;;
    udp_new_ms) echo "UDP flow: RARP at gw-b → first packet forwarded by gw-b with a NEW binding (state lost)" ;;
    udp_reply_ms) echo "UDP flow: RARP at gw-b → first reply forwarded by gw-b (gw-a's redirect in place)" ;;
    udp_gap_ms) echo "UDP flow: longest pause between two echoes at the VM" ;;
    route_gwb_ms) echo "RARP at gw-b → host route in gw-b's table 100 (rtnetlink)" ;;
    route_wan_ms) echo "RARP at gw-b → WAN router's route via gw-b (BGP, rtnetlink)" ;;
    d_claim) echo "daemon: sighting → claim won" ;;
    d_sessions) echo "daemon: sighting → sessions written into gw-b's kernel" ;;
    d_route) echo "daemon: sighting → host route installed" ;;
    d_offset) echo "context: the daemon's sighting on the RARP's clock (route seen − daemon's route figure)" ;;
    gap_ms) echo "TCP stream: longest pause between two echoes at the VM" ;;
    rarp_after_arm_ms) echo "context: port move → RARP at gw-b (the announce tool's start)" ;;
  esac
}
table() {
  local k m
  echo "VM handoff, $sessions sessions of the moving VM (a real TCP stream and a real UDP flow, a record every ${interval_us} µs each, + $((sessions - 2)) idle TCP), medians of $runs runs, ms, $(date -u +%F)"
  echo
  printf '| figure |'; for m in "${mode_list[@]}"; do printf ' %s |' "$m"; done; echo
  printf '|---|'; for m in "${mode_list[@]}"; do printf -- '---:|'; done; echo
  for k in $keys; do
    printf '| %s |' "$(label "$k")"
    # shellcheck disable=SC2086  # the runs' values, one word each
    for m in "${mode_list[@]}"; do printf ' %s |' "$(median ${R[$m,$k]})"; done
    echo
  done
  echo
  for m in "${mode_list[@]}"; do
    echo "- $m per run: fwd ${R[$m,fwd_ms]# }; daemon sessions ${R[$m,d_sessions]# }; first sighting by the daemon: ${R[$m,sighting]# }; TCP stream packets with a new binding at gw-b (ms): ${R[$m,new]# }"
  done
  # shellcheck disable=SC2086
  for m in "${mode_list[@]}"; do
    f=$(median ${R[$m,fwd_ms]})
    echo "- goal ≤ 50 ms ($m): $(awk -v f="$f" 'BEGIN {print (f != "-" && f <= 50) ? "met" : "**not met**"}') (median $f ms)"
  done
}
table | tee ${out:+"$out"}
