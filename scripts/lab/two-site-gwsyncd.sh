# shellcheck shell=bash
# gwsyncd on both gateways of the two-site lab (sourced by two-site.sh): configuration with
# [nat] and [mobility], start, readiness, stop. See docs/lab.md.
# TS_RETURN_PATH: [mobility] return_path (redirect | liberal | none).
TS_RETURN_PATH=${TS_RETURN_PATH:-redirect}
# TS_NODE_MODE: [node] mode (hot: the peer's sessions live in the kernel as they come; cold: in
# memory until a claim or a commit writes them).
TS_NODE_MODE=${TS_NODE_MODE:-hot}

# ts_gwsyncd_config GW: the gateway's gwsync.toml: hot sync over TLS on sync0, the LAN's flows,
# [nat] as applied by ts_gateway, [mobility] on lan0 with host routes in table 100 / proto 200.
ts_gwsyncd_config() {
  local gw=$1 peer=${TS_PEER[$1]}
  cat <<EOF2
[node]
id = ${TS_NODE[$gw]}
site = "$gw"
state_dir = "$LAB_TMP/$gw/state"
mode = "$TS_NODE_MODE"

[sync]
listen = "${TS_SYNC_IP[$gw]}:7801"
peer = "${TS_SYNC_IP[$peer]}:7801"
peer_id = ${TS_NODE[$peer]}
heartbeat_ms = 200
dead_after_ms = 1000
ready_wait_ms = 3000

[filter]
include = ["192.0.2.0/24"]   # the LAN's flows; BGP and the sync channel stay out

[kernel]
refresh_interval_ms = 2000

[control]
socket = "$LAB_TMP/$gw/gwsyncd.sock"

[metrics]
listen = "127.0.0.1:9810"   # inside the gateway's namespace

$(ts_nat_section)

# The VIP as a Maglev service of gwsync's own (table inet gwsync_lb), same at both gateways.
[lb]
[[lb.service]]
name = "vm-web"
vip = "$TS_VIP"
protocol = "tcp"
port = $TS_VIP_PORT
[[lb.service.backend]]
address = "$TS_VM_IP"
port = $TS_VM_SERVICE_PORT

[mobility]
lan_interfaces = ["lan0"]
mobile_prefixes = ["192.0.2.0/24"]
anycast_ipv4 = "$TS_ANYCAST"
anycast_mac = "$TS_VMAC"
route_table = $TS_ROUTE_TABLE
route_protocol = $TS_ROUTE_PROTO
route_device = "lan0"
debounce_ms = 200
return_path = "$TS_RETURN_PATH"
redirect_ingress = ["wan0"]
redirect_device = "sync0"
redirect_next_hop = "${TS_SYNC_IP[$peer]}"

$(lab_tls_toml "$gw" "$peer")
EOF2
}

ts_gwsyncctl() {  # ts_gwsyncctl GW ARGS...: gwsyncctl on the gateway's control socket
  "$(ts_tool gwsyncctl)" --socket "$LAB_TMP/$1/gwsyncd.sock" "${@:2}"
}

ts_gwsyncd_status() {  # ts_gwsyncd_status GW KEY: one value of `gwsyncctl status`
  ts_gwsyncctl "$1" status 2>/dev/null | sed -n "s/^$2: //p"
}

ts_gwsyncd_pid() {  # ts_gwsyncd_pid GW: the running gwsyncd's PID, or nothing
  local pid=""
  [[ -s "$LAB_TMP/$1/gwsyncd.pid" ]] && pid=$(<"$LAB_TMP/$1/gwsyncd.pid")
  [[ -n "$pid" ]] && lab_pid_alive "$pid" && echo "$pid"
  return 0
}

# shellcheck disable=SC2317  # runs from wait_for
ts_gwsyncd_ready() {
  [[ -n "$(ts_gwsyncd_pid gw-a)" && -n "$(ts_gwsyncd_pid gw-b)" &&
     "$(ts_gwsyncd_status gw-a ready)" == yes && "$(ts_gwsyncd_status gw-b ready)" == yes &&
     "$(ts_gwsyncd_status gw-a peer)" == "2 connected" ]]
}

ts_gwsyncd_run() {  # ts_gwsyncd_run GW: starts the gateway's gwsyncd (config already written)
  local gw=$1 daemon
  daemon=$(ts_tool gwsyncd)
  "$daemon" --config "$LAB_TMP/$gw/gwsync.toml" --check-config >"$LAB_TMP/$gw/check.log" 2>&1 ||
    lab_die "$gw: gwsyncd --check-config refused $LAB_TMP/$gw/gwsync.toml: $(cat "$LAB_TMP/$gw/check.log")"
  lab_spawn "$LAB_TMP/$gw/gwsyncd.log" ip netns exec "$(lab_ns "$gw")" \
    "$daemon" --config "$LAB_TMP/$gw/gwsync.toml"
  echo "$LAB_LAST_PID" >"$LAB_TMP/$gw/gwsyncd.pid"
}

# ts_gwsyncd_start: TLS keys, configs and gwsyncd in both gateways; waits until both are ready
# and connected. gwsyncd then owns table inet gwsync_nat (the same rules gwsync-nat applied).
ts_gwsyncd_start() {
  local gw
  lab_tls_keys gw-a gw-b
  for gw in gw-a gw-b; do
    mkdir -p "$LAB_TMP/$gw"
    ts_gwsyncd_config "$gw" >"$LAB_TMP/$gw/gwsync.toml"
  done
  for gw in gw-a gw-b; do
    # gwsyncd's [lb] table takes the VIP over from the lab's stand-in DNAT.
    lab_exec "$gw" nft delete table inet gwlab_lb 2>/dev/null || true
    ts_gwsyncd_run "$gw"
  done
  wait_for 15000 ts_gwsyncd_ready_or_dead || true
  for gw in gw-a gw-b; do
    [[ -n "$(ts_gwsyncd_pid "$gw")" ]] ||
      lab_die "gwsyncd in $gw exited: $(tail -n 5 "$LAB_TMP/$gw/gwsyncd.log")"
  done
  ts_gwsyncd_ready ||
    lab_die "gwsyncd did not get ready: $(tail -n 3 "$LAB_TMP/gw-a/gwsyncd.log" "$LAB_TMP/gw-b/gwsyncd.log")"
}

# shellcheck disable=SC2317  # runs from wait_for
ts_gwsyncd_ready_or_dead() {
  [[ -z "$(ts_gwsyncd_pid gw-a)" || -z "$(ts_gwsyncd_pid gw-b)" ]] || ts_gwsyncd_ready
}

ts_gwsyncd_stop() {  # ts_gwsyncd_stop GW [KILL]: SIGTERM (or SIGKILL with KILL) by PID
  local pid
  pid=$(ts_gwsyncd_pid "$1")
  [[ -n "$pid" ]] || return 0
  if [[ "${2:-}" == KILL ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 3000 lab_pid_gone "$pid" || true
  else
    lab_stop_pid "$pid" 5000
  fi
  rm -f "$LAB_TMP/$1/gwsyncd.pid"
}
