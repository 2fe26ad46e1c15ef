#!/usr/bin/env bash
# Two-gateway failover on network namespaces. A VM holds TCP and UDP sessions to a server
# through gw-a's stateful firewall and SNAT; gwsyncd runs on both gateways and replicates gw-a's
# sessions to gw-b over a sync link; gw-a fails (daemon killed, links down) and both routes move
# to gw-b. Every session carries on and the server sees the same public IP:port. With
# --sync copy the table is copied once with gwsync-ct instead of the daemons; with --no-sync (the
# negative control) gw-b's strict tracking drops the TCP sessions' mid-stream packets as invalid.
#
#   vm 192.0.2.10 ── [lan: br0] ──┬── gw-a 192.0.2.2 | 203.0.113.2 ──┬── [wan: br0] ── srv 203.0.113.10
#                                 └── gw-b 192.0.2.3 | 203.0.113.3 ──┘
#   both gateways SNAT to 198.51.100.100; srv routes 198.51.100.100/32 via the active gateway;
#   sync link gw-a 198.51.100.253/30 <-> gw-b 198.51.100.254/30 (gwsyncd, TCP port 7801).
#
# Prints a timeline and one RESULT line; exits 0 on PASS (or NEGATIVE CONTROL OK), 1 otherwise,
# 2 on usage errors. Every namespace and process it made is removed on exit, Ctrl-C included.
set -euo pipefail

readonly PUBLIC_IP=198.51.100.100
readonly SERVER_IP=203.0.113.10
readonly SERVER_PORT=7000
readonly PROBE_TIMEOUT_MS=2000

usage() {
  cat <<EOF
usage: failover-demo.sh [--build-dir DIR] [--tcp N] [--udp M] [--sync gwsyncd|copy|none]
  --build-dir DIR  build tree with syncd/gwsyncd, syncd/gwsync-ct and test/tools/gwsync-traffic
                   (default: build/dev in the repository)
  --tcp N          TCP sessions (default 100)
  --udp M          UDP sessions (default 20)
  --sync MODE      gwsyncd (default): both daemons replicate continuously;
                   copy: one gwsync-ct copy of gw-a's table to gw-b before the failure;
                   none: negative control, no state sync; the TCP sessions must die
  --no-sync        the same as --sync none
EOF
}

usage_error() {
  printf 'failover-demo: %s\n' "$1" >&2
  usage >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$here/../../build/dev"
tcp=100
udp=20
sync=1
mode=gwsyncd
while (($#)); do
  case $1 in
    --build-dir | --tcp | --udp | --sync)
      (($# >= 2)) || usage_error "option $1 needs a value"
      case $1 in
        --build-dir) build_dir=$2 ;;
        --tcp) tcp=$2 ;;
        --udp) udp=$2 ;;
        --sync) mode=$2 ;;
      esac
      shift 2
      ;;
    --no-sync) mode=none; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
done
for opt in tcp udp; do
  if [[ ! "${!opt}" =~ ^[0-9]{1,5}$ ]] || ((10#${!opt} > 50000)); then
    usage_error "--$opt: '${!opt}' is not a count 0..50000"
  fi
done
tcp=$((10#$tcp))
udp=$((10#$udp))
case $mode in
  gwsyncd | copy) sync=1 ;;
  none) sync=0 ;;
  *) usage_error "--sync: '$mode' is not gwsyncd, copy or none" ;;
esac
((tcp + udp > 0)) || usage_error "--tcp and --udp are both 0: nothing to fail over"
((sync == 1 || tcp > 0)) || usage_error "--no-sync needs TCP sessions (--tcp N, N > 0)"
ct_tool="$build_dir/syncd/app/gwsync-ct"
daemon="$build_dir/syncd/app/gwsyncd"
ctl="$build_dir/syncd/app/gwsyncctl"
traffic="$build_dir/test/tools/gwsync-traffic"
[[ -x "$ct_tool" ]] || usage_error "--build-dir: $ct_tool is missing (build target gwsync-ct)"
if [[ $mode == gwsyncd ]]; then
  [[ -x "$daemon" && -x "$ctl" ]] ||
    usage_error "--build-dir: $daemon or $ctl is missing (build targets gwsyncd gwsyncctl)"
fi
[[ -x "$traffic" ]] || usage_error "--build-dir: $traffic is missing (build target gwsync-traffic)"
((EUID == 0)) || { echo "failover-demo: needs root (network namespaces, nftables)" >&2; exit 1; }

# shellcheck source=scripts/lab/lib.sh
. "$here/lib.sh"

result_printed=0
result() {  # result OK|FAIL TEXT: the verdict line, in the wording of the mode
  local kind=$1 text=$2 verdict
  if ((sync)); then
    verdict=FAIL
    [[ "$kind" == OK ]] && verdict=PASS
  else
    verdict="NEGATIVE CONTROL FAILED"
    [[ "$kind" == OK ]] && verdict="NEGATIVE CONTROL OK"
  fi
  echo "RESULT: $verdict - $text"
  result_printed=1
}

fail() {
  result FAIL "$1"
  exit 1
}

# shellcheck disable=SC2317  # runs from the EXIT trap
on_exit() {
  local rc=$?
  if ((!result_printed)); then
    if ((rc == 130 || rc == 143)); then
      result FAIL "interrupted"
    else
      result FAIL "aborted (exit $rc)"
    fi
    rc=1
  fi
  if [[ -n "${client_fd:-}" ]]; then exec {client_fd}>&-; fi
  lab_cleanup
  exit "$rc"
}

lab_init gwsd
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_topology() {
  local n
  for n in vm lan wan gw-a gw-b srv; do lab_ns_add "$n"; done
  lab_bridge_add lan br0
  lab_bridge_add wan br0
  lab_switch_port vm eth0 lan br0 vm
  lab_switch_port gw-a lan lan br0 gw-a
  lab_switch_port gw-b lan lan br0 gw-b
  lab_switch_port gw-a wan wan br0 gw-a
  lab_switch_port gw-b wan wan br0 gw-b
  lab_switch_port srv eth0 wan br0 srv
  lab_addr vm eth0 192.0.2.10/24
  lab_addr gw-a lan 192.0.2.2/24
  lab_addr gw-a wan 203.0.113.2/24
  lab_addr gw-b lan 192.0.2.3/24
  lab_addr gw-b wan 203.0.113.3/24
  lab_addr srv eth0 "$SERVER_IP/24"
  lab_gateway_firewall gw-a wan lan "$PUBLIC_IP"
  lab_gateway_firewall gw-b wan lan "$PUBLIC_IP"
  lab_wait_up 3000 vm eth0 gw-a lan gw-a wan gw-b lan gw-b wan srv eth0
  ip -n "$(lab_ns vm)" route add default via 192.0.2.2
  ip -n "$(lab_ns srv)" route add "$PUBLIC_IP/32" via 203.0.113.2
  lab_veth gw-a sync gw-b sync
  lab_addr gw-a sync 198.51.100.253/30
  lab_addr gw-b sync 198.51.100.254/30
}

# write_config NAME ID PEER_ID OWN_ADDR PEER_ADDR PEER_NAME: a gwsyncd configuration for one
# gateway; the sync channel runs over TLS 1.3, each side pinning the other's certificate.
write_config() {
  mkdir -p "$LAB_TMP/$1"
  cat >"$LAB_TMP/$1/gwsync.toml" <<EOT
[node]
id = $2
site = "$1"
state_dir = "$LAB_TMP/$1/state"
mode = "hot"

[sync]
listen = "$4:7801"
peer = "$5:7801"
peer_id = $3
heartbeat_ms = 200
dead_after_ms = 1000
ready_wait_ms = 3000

[filter]
include = ["192.0.2.0/24"]   # the LAN's flows; the sync link's own connection stays out

[kernel]
refresh_interval_ms = 2000

[control]
socket = "$LAB_TMP/$1/gwsyncd.sock"
$(lab_tls_toml "$1" "$6")
EOT
}

ctl_status() {  # ctl_status NAME KEY: one value of `gwsyncctl status`
  "$ctl" --socket "$LAB_TMP/$1/gwsyncd.sock" status 2>/dev/null | sed -n "s/^$2: //p"
}

# shellcheck disable=SC2317  # runs from wait_for
daemons_ready() {
  [[ "$(ctl_status gw-a ready)" == yes && "$(ctl_status gw-b ready)" == yes &&
     "$(ctl_status gw-a peer)" == "2 connected" ]]
}

start_daemons() {
  local n
  lab_tls_keys gw-a gw-b
  write_config gw-a 1 2 198.51.100.253 198.51.100.254 gw-b
  write_config gw-b 2 1 198.51.100.254 198.51.100.253 gw-a
  for n in gw-a gw-b; do
    lab_spawn "$LAB_TMP/$n/gwsyncd.log" ip netns exec "$(lab_ns "$n")" \
      "$daemon" --config "$LAB_TMP/$n/gwsync.toml"
    [[ $n == gw-a ]] && pid_gw_a=$LAB_LAST_PID
  done
  wait_for 10000 daemons_ready || fail "gwsyncd did not get ready: $(tail -n 3 "$LAB_TMP/gw-a/gwsyncd.log" "$LAB_TMP/gw-b/gwsyncd.log")"
}

# shellcheck disable=SC2317  # runs from wait_for
synced() {  # gw-b holds a copy of every session of gw-a
  (($(ctl_status gw-b sessions_peer) >= tcp + udp && $(lab_ct_count gw-b) >= tcp + udp))
}

wait_synced() {
  local t0
  t0=$(lab_now_ms)
  wait_for 10000 synced || fail "gw-b did not receive gw-a's sessions: status $(ctl_status gw-b sessions_peer)"
  lab_log "gwsyncd: gw-b holds $(ctl_status gw-b sessions_peer) sessions of gw-a in its kernel table" \
    "(checked $(($(lab_now_ms) - t0)) ms after probe 1); gw-b: $(gateway_state gw-b)"
}

# shellcheck disable=SC2317  # runs from wait_for
server_ready() {
  grep -q '^listening' "$LAB_TMP/server.log" || lab_pid_gone "$server_pid"
}

start_server() {
  lab_spawn "$LAB_TMP/server.log" "$traffic" server --listen "$SERVER_IP:$SERVER_PORT" \
    --netns "$(lab_ns srv)"
  server_pid=$LAB_LAST_PID
  wait_for 5000 server_ready || fail "server did not start within 5 s"
  lab_pid_alive "$server_pid" || fail "server: $(tail -n 3 "$LAB_TMP/server.log")"
}

# The client reads commands from a fifo held open read-write here, so neither side blocks on
# open and the client sees EOF only when this script closes it.
client_lines() {
  local n
  n=$(grep -c "^$1" "$LAB_TMP/client.out" 2>/dev/null) || true
  echo "${n:-0}"
}

# shellcheck disable=SC2317  # runs from wait_for
client_answered() {  # client_answered PATTERN COUNT: enough lines, or the client is gone
  (($(client_lines "$1") >= $2)) || lab_pid_gone "$client_pid"
}

start_client() {
  mkfifo "$LAB_TMP/client.in"
  : >"$LAB_TMP/client.out"
  exec {client_fd}<>"$LAB_TMP/client.in"
  "$traffic" client --server "$SERVER_IP:$SERVER_PORT" --tcp "$tcp" --udp "$udp" \
    --netns "$(lab_ns vm)" --timeout-ms "$PROBE_TIMEOUT_MS" \
    <"$LAB_TMP/client.in" >"$LAB_TMP/client.out" 2>"$LAB_TMP/client.err" &
  client_pid=$!
  lab_track_pid "$client_pid"
  wait_for $((PROBE_TIMEOUT_MS + 5000)) client_answered ready 1 || fail "client did not start"
  (($(client_lines ready) == 1)) || fail "client: $(tail -n 3 "$LAB_TMP/client.err")"
}

# probe: one probe; leaves the counts in the associative array P.
declare -A P
probes=0
probe() {
  local line kv fields
  echo probe >&"$client_fd"
  probes=$((probes + 1))
  wait_for $((PROBE_TIMEOUT_MS + 5000)) client_answered probe "$probes" ||
    fail "client did not answer probe $probes"
  line=$(grep '^probe ' "$LAB_TMP/client.out" | sed -n "${probes}p")
  [[ -n "$line" ]] || fail "client died during probe $probes: $(tail -n 3 "$LAB_TMP/client.err")"
  P=()
  read -ra fields <<<"${line#probe }"
  for kv in "${fields[@]}"; do P[${kv%%=*}]=${kv#*=}; done
}

probe_summary() {
  printf 'TCP %d/%d ok, UDP %d/%d ok, server saw the same public IP:port for %d, a new one for %d' \
    "${P[tcp_ok]}" "$tcp" "${P[udp_ok]}" "$udp" "${P[same_peer]}" "${P[changed_peer]}"
}

gateway_state() {  # gateway_state NAME: its conntrack count and nftables counters
  local c out
  out="conntrack entries $(lab_ct_count "$1"), nft packets:"
  for c in new_lan lan_snat est invalid dropped; do out+=" $c=$(lab_nft_counter "$1" "$c")"; done
  echo "$out"
}

copy_state() {
  local t0 out rc=0
  t0=$(lab_now_ms)
  out=$("$ct_tool" copy --from "$(lab_ns gw-a)" --to "$(lab_ns gw-b)" 2>&1) || rc=$?
  lab_log "gwsync-ct ($(($(lab_now_ms) - t0)) ms): $out"
  ((rc == 0)) || fail "gwsync-ct copy failed (exit $rc)"
  lab_log "gw-b: $(gateway_state gw-b)"
}

fail_gateway_a() {
  local t0
  t0=$(lab_now_ms)
  if [[ $mode == gwsyncd ]]; then
    kill -KILL "$pid_gw_a" 2>/dev/null || true
    wait "$pid_gw_a" 2>/dev/null || true
  fi
  ip -n "$(lab_ns gw-a)" link set lan down
  ip -n "$(lab_ns gw-a)" link set wan down
  ip -n "$(lab_ns vm)" route replace default via 192.0.2.3
  ip -n "$(lab_ns vm)" neigh flush dev eth0
  ip -n "$(lab_ns srv)" route replace "$PUBLIC_IP/32" via 203.0.113.3
  lab_log "gw-a failed: $([[ $mode == gwsyncd ]] && echo 'gwsyncd killed, ')links down;" \
    "vm default via 192.0.2.3 (gw-b), srv routes" \
    "$PUBLIC_IP/32 via 203.0.113.3 ($(($(lab_now_ms) - t0)) ms)"
}

lab_log "lab $LAB_PREFIX: $tcp TCP + $udp UDP sessions, state sync: $mode"
build_topology
lab_log "topology up: vm - lan - gw-a/gw-b - wan - srv; gateways: stateful forward," \
  "SNAT to $PUBLIC_IP, nf_conntrack_tcp_loose=0"
if [[ $mode == gwsyncd ]]; then
  start_daemons
  lab_log "gwsyncd running on gw-a (node 1) and gw-b (node 2), hot mode, TLS 1.3 with pinned" \
    "certificates, connected and ready"
fi
start_server
lab_log "server listening on $SERVER_IP:$SERVER_PORT (TCP + UDP echo)"
start_client
lab_log "client in vm: $tcp TCP connected, $udp UDP sessions open"

probe
lab_log "probe 1 via gw-a: $(probe_summary)"
((P[tcp_ok] == tcp && P[udp_ok] == udp)) || fail "sessions failed before the failover: $(probe_summary)"
lab_log "gw-a: $(gateway_state gw-a)"
(($(lab_ct_count gw-a) >= tcp + udp && $(lab_nft_counter gw-a lan_snat) >= tcp + udp)) ||
  fail "gw-a does not show the sessions in conntrack and its snat counter"

if [[ $mode == gwsyncd ]]; then
  wait_synced
elif [[ $mode == copy ]]; then
  copy_state
else
  lab_log "state copy skipped (--no-sync); gw-b: $(gateway_state gw-b)"
fi

fail_gateway_a
probe
lab_log "probe 2 via gw-b: $(probe_summary)"
lab_log "gw-b: $(gateway_state gw-b)"
lab_log "done in $(lab_elapsed_ms) ms"

if ((sync)); then
  if ((P[tcp_ok] == tcp && P[udp_ok] == udp && P[same_peer] == tcp + udp)); then
    result OK "$tcp/$tcp TCP and $udp/$udp UDP sessions survived the failover of gw-a; the server saw the same public IP:port for all of them"
    exit 0
  fi
  fail "$(probe_summary) after the failover of gw-a"
fi
died=${P[tcp_fail]}
if ((died * 10 >= tcp * 9)); then
  result OK "$died/$tcp TCP sessions died without state sync"
  exit 0
fi
fail "only $died/$tcp TCP sessions died without state sync (expected at least 90%)"
