#!/usr/bin/env bash
# failover_bench.sh: failover time of issue 9, gwsyncd side by side with conntrackd on the same
# topology in the same run (the failover demo's: scripts/lab/failover-demo.sh):
#
#   vm 192.0.2.10 ── [lan: br0] ──┬── gw-a 192.0.2.2 | 203.0.113.2 ──┬── [wan: br0] ── srv 203.0.113.10
#                                 └── gw-b 192.0.2.3 | 203.0.113.3 ──┘
#   both gateways: stateful forward (ct state invalid dropped, nf_conntrack_tcp_loose=0), SNAT to
#   198.51.100.100; sync link gw-a 198.51.100.253/30 <-> gw-b .254 (plaintext, as conntrackd's
#   FTFW over UDP is; the comparison is of the sync engines).
#
# Per run and implementation (gwsync: gwsyncd hot; conntrackd-hot: DisableExternalCache yes;
# conntrackd: its external cache, committed with `conntrackd -c` at failover as Debian's
# primary-backup.sh does), on a fresh topology: N idle TCP sessions of the VM written into gw-a
# (gwsync-bench-host-load), --tcp real TCP sessions (gwsync-traffic) and two streams from the VM
# to srv (gwsync-bench-stream, TCP and UDP, a record every --interval-us), all synced to gw-b.
# Then the failure, as one sequence right after time zero: gw-a's daemon SIGKILLed, gw-a's links
# down, the VM's default route and srv's route to 198.51.100.100 moved to gw-b (what VRRP/BGP
# would do; their own convergence is not measured), for conntrackd `conntrackd -c` at gw-b.
# Figures (ms after time zero): the first stream packet leaving gw-b's WAN port with the VM's
# public IP:port (forwarded with the synced state; kernel timestamp), the first echo the VM
# gets back, the longest pause between echoes, and when a probe of every real TCP session (a
# token echoed by srv, sent right after the failure) completed. Prints a Markdown table of
# medians; --raw FILE also appends every run's figures to FILE, one line each, tab-separated:
# impl, run, figure key (fwd_ms, probe_ms, ...: the table's rows), value in ms (sync_bench.sh
# merges them into its own table).
#
#   usage: failover_bench.sh --build-dir DIR [--sessions N] [--tcp T] [--runs R]
#                            [--impls gwsync,conntrackd-hot,conntrackd] [--interval-us U] [--out FILE]
#                            [--raw FILE]
set -euo pipefail

usage() { sed -n 's/^#   usage: //p; s/^#                            /    /p' "$0" >&2; exit 2; }
build="" sessions=10000 tcp=100 runs=5 impls=gwsync,conntrackd-hot,conntrackd interval_us=1000 out="" raw=""
while (($#)); do
  case $1 in
    --build-dir) build=${2:?}; shift 2 ;;
    --sessions) sessions=${2:?}; shift 2 ;;
    --tcp) tcp=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --impls) impls=${2:?}; shift 2 ;;
    --interval-us) interval_us=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --raw) raw=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ -n "$build" ]] || usage
for v in sessions tcp runs interval_us; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "failover_bench: --${v//_/-} '${!v}' is not a number" >&2; exit 2; }
done
((sessions <= 60000 && runs >= 1 && tcp >= 1)) || { echo "failover_bench: --sessions <= 60000, --runs and --tcp >= 1" >&2; exit 2; }
IFS=, read -ra impl_list <<<"$impls"
for i in "${impl_list[@]}"; do
  [[ $i == gwsync || $i == conntrackd-hot || $i == conntrackd ]] ||
    { echo "failover_bench: --impls: gwsync, conntrackd-hot, conntrackd" >&2; exit 2; }
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/bench/migration_lib.sh
. "$here/migration_lib.sh"
build=$(cd "$build" && pwd)
bench_need "$build" test/bench/gwsync-bench-stream test/bench/gwsync-bench-host-load \
  syncd/app/gwsyncd syncd/app/gwsyncctl test/tools/gwsync-traffic
if [[ " ${impl_list[*]} " == *" conntrackd"* ]] && ! command -v conntrackd >/dev/null; then
  echo "failover_bench: conntrackd not installed (scripts/install-deps.sh); skipped"
  exit 77
fi
BENCH_STREAM=$build/test/bench/gwsync-bench-stream
readonly PUBLIC=198.51.100.100 SERVER=203.0.113.10 VM=192.0.2.10

trap lab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

topology() {
  local n
  for n in vm lan wan gw-a gw-b srv; do lab_ns_add "$n"; done
  lab_bridge_add lan br0
  lab_bridge_add wan br0
  lab_switch_port vm eth0 lan br0 vm
  for n in gw-a gw-b; do
    lab_switch_port "$n" lan lan br0 "$n"
    lab_switch_port "$n" wan wan br0 "$n"
  done
  lab_switch_port srv eth0 wan br0 srv
  lab_addr vm eth0 "$VM/24"
  lab_addr gw-a lan 192.0.2.2/24
  lab_addr gw-a wan 203.0.113.2/24
  lab_addr gw-b lan 192.0.2.3/24
  lab_addr gw-b wan 203.0.113.3/24
  lab_addr srv eth0 "$SERVER/24"
  lab_gateway_firewall gw-a wan lan "$PUBLIC"
  lab_gateway_firewall gw-b wan lan "$PUBLIC"
  lab_veth gw-a sync gw-b sync
  lab_addr gw-a sync 198.51.100.253/30
  lab_addr gw-b sync 198.51.100.254/30
  lab_wait_up 3000 vm eth0 gw-a lan gw-a wan gw-b lan gw-b wan srv eth0 gw-a sync gw-b sync
  ip -n "$(lab_ns vm)" route add default via 192.0.2.2
  ip -n "$(lab_ns srv)" route add "$PUBLIC/32" via 203.0.113.2
}

addr_of() { [[ $1 == gw-a ]] && echo 198.51.100.253 || echo 198.51.100.254; }
peer_of() { [[ $1 == gw-a ]] && echo gw-b || echo gw-a; }
id_of() { [[ $1 == gw-a ]] && echo 1 || echo 2; }

daemon_start() {  # daemon_start IMPL GW
  local impl=$1 gw=$2 dir="$LAB_TMP/$2" peer
  peer=$(peer_of "$gw")
  mkdir -p "$dir"
  if [[ $impl == gwsync ]]; then
    cat >"$dir/gwsync.toml" <<EOT
[node]
id = $(id_of "$gw")
state_dir = "$dir/state"
mode = "hot"
[sync]
listen = "$(addr_of "$gw"):7801"
peer = "$(addr_of "$peer"):7801"
peer_id = $(id_of "$peer")
insecure_plaintext = true
[filter]
include = ["192.0.2.0/24"]
[control]
socket = "$dir/gwsyncd.sock"
EOT
    lab_spawn "$dir/gwsyncd.log" ip netns exec "$(lab_ns "$gw")" "$build/syncd/app/gwsyncd" \
      --config "$dir/gwsync.toml"
  else
    sed -e "s|@DISABLE_EXTERNAL_CACHE@|$([[ $impl == conntrackd-hot ]] && echo yes || echo no)|" \
      -e "s|@NETLINK_BUFFER@|33554432|" -e "s|@NETLINK_BUFFER_MAX@|33554432|" \
      -e "s|@UDP_BUFFER@|1249280|" -e "s|@LOCAL_ADDR@|$(addr_of "$gw")|" \
      -e "s|@PEER_ADDR@|$(addr_of "$peer")|" -e "s|@SYNC_IF@|sync|" \
      -e "s|@HASH_LIMIT@|$((2 * (sessions + tcp) + 1024))|" -e "s|@DIR@|$dir|g" \
      -e "s|^\(\t*\)TCP$|\1TCP\n\1UDP|" "$here/conntrackd.conf.in" >"$dir/conntrackd.conf"
    lab_spawn "$dir/conntrackd.out" ip netns exec "$(lab_ns "$gw")" conntrackd -C "$dir/conntrackd.conf"
  fi
  echo "$LAB_LAST_PID" >"$dir/pid"
}

ctd() { lab_exec "$1" conntrackd -C "$LAB_TMP/$1/conntrackd.conf" "${@:2}"; }
gws() { "$build/syncd/app/gwsyncctl" --socket "$LAB_TMP/$1/gwsyncd.sock" status 2>/dev/null | sed -n "s/^$2: //p"; }

# shellcheck disable=SC2317  # runs from wait_for
ready() {
  if [[ $impl == gwsync ]]; then
    [[ "$(gws gw-a ready)" == yes && "$(gws gw-b ready)" == yes && "$(gws gw-a peer)" == "2 connected" ]]
  else
    [[ -S "$LAB_TMP/gw-a/conntrackd.ctl" && -S "$LAB_TMP/gw-b/conntrackd.ctl" ]]
  fi
}

# shellcheck disable=SC2317  # runs from wait_for
synced() {  # gw-b holds all of the VM's sessions: total = N + real TCP + 2 streams
  local want=$((sessions + tcp + 2)) have
  case $impl in
    gwsync) have=$(gws gw-b sessions_peer); (($(lab_ct_count gw-b) >= want)) || return 1 ;;
    conntrackd-hot) have=$(lab_ct_count gw-b) ;;
    conntrackd) have=$(ctd gw-b -s cache 2>/dev/null | awk -F'\t' '/^cache:external/ { gsub(/ /, "", $NF); print $NF }') ;;
  esac
  ((${have:-0} >= want))
}

# shellcheck disable=SC2317  # runs from wait_for
server_ready() { grep -q '^listening' "$LAB_TMP/server.log" 2>/dev/null && lab_pid_alive "$server_pid"; }
# shellcheck disable=SC2317  # runs from wait_for
client_ready() { grep -q '^ready ' "$LAB_TMP/client.out" 2>/dev/null; }
# shellcheck disable=SC2317  # runs from wait_for
probed() { grep -q '^probe ' "$LAB_TMP/client.out" || lab_pid_gone "$client_pid"; }

declare -A R
keys="fwd_ms fwd_after_routes_ms gap_ms udp_fwd_ms udp_fwd_after_routes_ms udp_gap_ms probe_ms routes_ms actions_ms"

run_once() {
  local fd t0 t1 res ures probe pfd
  lab_init gwfo
  topology
  daemon_start "$impl" gw-a
  daemon_start "$impl" gw-b
  wait_for 20000 ready || lab_die "$impl not ready"
  if ((sessions > 0)); then
    "$build/test/bench/gwsync-bench-host-load" --netns "$(lab_ns gw-a)" --host "$VM" \
      --server "$SERVER" --public "$PUBLIC" --ports "1024-$((1024 + sessions - 1))" \
      --count "$sessions" >"$LAB_TMP/load.log" || lab_die "injection: $(cat "$LAB_TMP/load.log")"
  fi
  lab_spawn "$LAB_TMP/server.log" "$build/test/tools/gwsync-traffic" server --listen "$SERVER:7000" \
    --netns "$(lab_ns srv)"
  server_pid=$LAB_LAST_PID
  wait_for 5000 server_ready || lab_die "server: $(tail -n 3 "$LAB_TMP/server.log")"
  mkfifo "$LAB_TMP/client.in"
  exec {fd}<>"$LAB_TMP/client.in"
  "$build/test/tools/gwsync-traffic" client --server "$SERVER:7000" --tcp "$tcp" --udp 0 \
    --netns "$(lab_ns vm)" --timeout-ms 5000 <"$LAB_TMP/client.in" >"$LAB_TMP/client.out" \
    2>"$LAB_TMP/client.err" &
  client_pid=$!
  lab_track_pid "$client_pid"
  wait_for 15000 client_ready || lab_die "client: $(tail -n 3 "$LAB_TMP/client.err")"
  bs_start tcp --client-ns "$(lab_ns vm)" --server-ns "$(lab_ns srv)" --server "$SERVER:7100" \
    --proto tcp --interval-us "$interval_us" --fwd "$(lab_ns gw-b):wan" --deadline-ms 5000
  bs_start udp --client-ns "$(lab_ns vm)" --server-ns "$(lab_ns srv)" --server "$SERVER:7101" \
    --proto udp --interval-us "$interval_us" --fwd "$(lab_ns gw-b):wan" --deadline-ms 5000
  wait_for 20000 synced || lab_die "$impl: gw-b did not get all sessions"
  # The failure and the takeover, as one sequence from time zero.
  bs_send tcp arm
  bs_send udp arm
  t0=${EPOCHREALTIME//[!0-9]/}
  kill -KILL "$(<"$LAB_TMP/gw-a/pid")"
  wait "$(<"$LAB_TMP/gw-a/pid")" 2>/dev/null || true
  ip -n "$(lab_ns gw-a)" link set lan down
  ip -n "$(lab_ns gw-a)" link set wan down
  ip -n "$(lab_ns gw-a)" link set sync down
  ip -n "$(lab_ns vm)" route replace default via 192.0.2.3
  ip -n "$(lab_ns vm)" neigh flush dev eth0
  ip -n "$(lab_ns srv)" route replace "$PUBLIC/32" via 203.0.113.3
  t_routes=${EPOCHREALTIME//[!0-9]/}
  [[ $impl == conntrackd ]] && { ctd gw-b -c >"$LAB_TMP/commit.log" 2>&1 || lab_die "conntrackd -c failed"; }
  echo probe >&"$fd"
  t1=${EPOCHREALTIME//[!0-9]/}
  res=$(bs_cmd tcp report '^RESULT' 8000)
  ures=$(bs_cmd udp report '^RESULT' 8000)
  wait_for 10000 probed || lab_die "the probe did not end"
  probe=$(grep -m 1 '^probe ' "$LAB_TMP/client.out") || lab_die "client: $(tail -n 3 "$LAB_TMP/client.err")"
  # The probe line's time: the client's output file was last written when it printed it.
  pfd=$(stat -c %.6Y "$LAB_TMP/client.out")
  res+=" udp_fwd_ms=$(kv "$ures" fwd_ms) udp_gap_ms=$(kv "$ures" gap_ms)"
  res+=" probe_ms=$(awk -v p="$pfd" -v t="$t0" 'BEGIN {printf "%.1f", p * 1000 - t / 1000}')"
  res+=" routes_ms=$(((t_routes - t0) / 1000))"
  res+=" fwd_after_routes_ms=$(awk -v f="$(kv "$res" fwd_ms)" -v r="$(((t_routes - t0) / 1000))" 'BEGIN {if (f == "-") print "-"; else printf "%.1f", f - r}')"
  res+=" udp_fwd_after_routes_ms=$(awk -v f="$(kv "$ures" fwd_ms)" -v r="$(((t_routes - t0) / 1000))" 'BEGIN {if (f == "-") print "-"; else printf "%.1f", f - r}')"
  res+=" actions_ms=$(((t1 - t0) / 1000)) probe_tcp_ok=$(kv "$probe" tcp_ok) same_peer=$(kv "$probe" same_peer)"
  echo "run $impl: $res" >&2
  (($(kv "$probe" tcp_ok) == tcp && $(kv "$probe" same_peer) == tcp)) ||
    lab_die "$impl: after the failover only: $probe"
  for k in $keys; do R[$impl,$k]+=" $(kv "$res" "$k")"; done
  # shellcheck disable=SC2086  # the keys, one word each
  [[ -z "$raw" ]] || raw_append "$raw" "$impl" "$run" "$res" $keys
  bs_stop tcp
  bs_stop udp
  exec {fd}>&-
  lab_cleanup
}

for ((run = 1; run <= runs; run++)); do
  for impl in "${impl_list[@]}"; do run_once; done
done

label() {
  case $1 in
    fwd_ms) echo "TCP stream: first packet forwarded by gw-b with the synced state" ;;
    fwd_after_routes_ms) echo "TCP stream: the same, counted from the moment the routes pointed to gw-b" ;;
    gap_ms) echo "TCP stream: longest pause between two echoes at the VM (the outage)" ;;
    udp_fwd_ms) echo "UDP flow: first packet forwarded by gw-b with the synced state" ;;
    udp_fwd_after_routes_ms) echo "UDP flow: the same, counted from the moment the routes pointed to gw-b" ;;
    udp_gap_ms) echo "UDP flow: longest pause between two echoes at the VM (the outage)" ;;
    probe_ms) echo "all $tcp real TCP sessions carried data both ways again (probe sent after the takeover)" ;;
    routes_ms) echo "context: failure → the VM's and srv's routes moved to gw-b (the kill, links and routes commands)" ;;
    actions_ms) echo "context: the failure and takeover commands themselves (kill, links, routes; conntrackd: -c)" ;;
  esac
}
table() {
  local k i ref=${impl_list[0]}
  echo "Failover of gw-a, $((sessions + tcp + 2)) sessions of the VM ($sessions idle TCP, $tcp real TCP, a TCP stream and a UDP flow every ${interval_us} µs), medians of $runs runs, ms after the failure, $(date -u +%F)"
  echo
  printf '| figure |'; for i in "${impl_list[@]}"; do printf ' %s |' "$i"; done
  for i in "${impl_list[@]:1}"; do printf ' %s/%s |' "$ref" "$i"; done; echo
  printf '|---|'; for i in "${impl_list[@]}" "${impl_list[@]:1}"; do printf -- '---:|'; done; echo
  for k in $keys; do
    printf '| %s |' "$(label "$k")"
    # shellcheck disable=SC2086  # the runs' values, one word each
    for i in "${impl_list[@]}"; do printf ' %s |' "$(median ${R[$i,$k]})"; done
    # shellcheck disable=SC2086
    for i in "${impl_list[@]:1}"; do printf ' %s |' "$(ratio "$(median ${R[$ref,$k]})" "$(median ${R[$i,$k]})")"; done
    echo
  done
  echo
  for i in "${impl_list[@]}"; do
    echo "- $i per run: fwd ${R[$i,fwd_ms]# }; probe ${R[$i,probe_ms]# }"
  done
}
table | tee ${out:+"$out"}
