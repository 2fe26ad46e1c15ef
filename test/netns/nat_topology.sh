# shellcheck shell=bash
# The two-gateway NAT lab shared by the NAT namespace tests (nat_active_active.sh, nat_daemon.sh,
# nat_daemon_reload.sh, nat_gateways.sh): the topology, gwsyncd's configuration, start and
# control. Source scripts/lab/lib.sh and nat_lib.sh first, call lab_init and nat_tools.
#
#   VM ... ─┐               ┌─ gw-a lan 192.0.2.2 | wan 203.0.113.2/30 ── via-a ─┐
#           ├─ [lan: br0] ──┤                                                   srv 203.0.113.10
#   VM ... ─┘               └─ gw-b lan 192.0.2.3 | wan 203.0.113.6/30 ── via-b ─┘
#   gw-a sync 198.51.100.253/30 ── gw-b sync 198.51.100.254/30 (gwsyncd over TLS 1.3)
#
# Each gateway runs the operator's stateful filter (nat_gateway: strict TCP tracking), and NAT
# comes from gwsync's own table. The server's routes to the public addresses are the test's to
# choose (nat_route_public, nat_route_partitions).

declare -gA NAT_GW_LAN=([gw-a]=192.0.2.2 [gw-b]=192.0.2.3)
declare -gA NAT_GW_WAN=([gw-a]=203.0.113.2 [gw-b]=203.0.113.6)
declare -gA NAT_GW_SYNC=([gw-a]=198.51.100.253 [gw-b]=198.51.100.254)

# nat_two_gateways VM:ADDR:GW...: the topology with the given VMs on the LAN, each with its
# default route via gateway GW (gw-a or gw-b).
nat_two_gateways() {
  local vm n name addr gw up=()
  for n in lan gw-a gw-b srv; do lab_ns_add "$n"; done
  lab_bridge_add lan br0
  for vm in "$@"; do
    IFS=: read -r name addr gw <<<"$vm"
    lab_ns_add "$name"
    lab_switch_port "$name" eth0 lan br0 "$name"
    lab_addr "$name" eth0 "$addr/24"
    up+=("$name" eth0)
  done
  lab_switch_port gw-a lan lan br0 gw-a
  lab_switch_port gw-b lan lan br0 gw-b
  lab_veth gw-a wan srv via-a
  lab_veth gw-b wan srv via-b
  lab_veth gw-a sync gw-b sync
  for n in gw-a gw-b; do
    lab_addr "$n" lan "${NAT_GW_LAN[$n]}/24"
    lab_addr "$n" wan "${NAT_GW_WAN[$n]}/30"
    lab_addr "$n" sync "${NAT_GW_SYNC[$n]}/30"
  done
  lab_addr srv via-a 203.0.113.1/30
  lab_addr srv via-b 203.0.113.5/30
  lab_addr srv lo "$NAT_SERVER/32"
  lab_wait_up 3000 "${up[@]}" gw-a lan gw-b lan gw-a wan gw-b wan gw-a sync gw-b sync \
    srv via-a srv via-b
  for vm in "$@"; do
    IFS=: read -r name addr gw <<<"$vm"
    ip -n "$(lab_ns "$name")" route add default via "${NAT_GW_LAN[$gw]}"
  done
  ip -n "$(lab_ns gw-a)" route add default via 203.0.113.1
  ip -n "$(lab_ns gw-b)" route add default via 203.0.113.5
  # The two directions of a flow may use different links (routes by port, failover): no
  # reverse-path filter on the server.
  lab_sysctl srv net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv4.conf.via-a.rp_filter=0 net.ipv4.conf.via-b.rp_filter=0
  nat_gateway gw-a
  nat_gateway gw-b
}

# nat_route_public ADDR GW [TABLE]: the server reaches public address ADDR through gateway GW.
nat_route_public() {
  ip -n "$(lab_ns srv)" route replace "$1/32" via "${NAT_GW_WAN[$2]}" ${3:+table "$3"}
}

# nat_route_partitions PART_A: the server's way back by port, as a routing design aware of the
# partitions would: gw-a's partition by an ip rule to table 101, the rest of $NAT_PUBLIC by the
# main table to gw-b. (A rule port range cannot end at 65535: the kernel refuses it,
# fib_rule_port_range_valid; so gw-b's partition must be the upper one.)
nat_route_partitions() {
  nat_route_public "$NAT_PUBLIC" gw-a 101
  ip -n "$(lab_ns srv)" rule add to "$NAT_PUBLIC/32" dport "$1" lookup 101
  nat_route_public "$NAT_PUBLIC" gw-b
}

# nat_move_vm VM GW: the VM's default route moves to gateway GW, and both know each other's MAC
# at once (as gratuitous ARP would tell them in a real failover), so a burst of first packets
# does not overflow the queue of an unresolved neighbour (unres_qlen).
nat_move_vm() {
  local vm=$1 gw=$2 addr
  addr=$(ip -n "$(lab_ns "$vm")" -4 -o addr show dev eth0 | awk '{print $4}')
  ip -n "$(lab_ns "$vm")" route replace default via "${NAT_GW_LAN[$gw]}"
  ip -n "$(lab_ns "$vm")" neigh replace "${NAT_GW_LAN[$gw]}" lladdr "$(nat_mac "$gw" lan)" \
    dev eth0 nud reachable
  ip -n "$(lab_ns "$gw")" neigh replace "${addr%/*}" lladdr "$(nat_mac "$vm" eth0)" dev lan \
    nud reachable
}

nat_mac() { ip -n "$(lab_ns "$1")" -br link show dev "$2" | awk '{print $3}'; }

# nat_fail_gateway GW: the gateway's links go down (its daemon, if any, is the caller's to stop).
nat_fail_gateway() {
  ip -n "$(lab_ns "$1")" link set lan down
  ip -n "$(lab_ns "$1")" link set wan down
}

# --- gwsyncd on both gateways ---

nat_daemon_tools() {  # sets NAT_DAEMON, NAT_CTL
  NAT_DAEMON="$NAT_BUILD/syncd/app/gwsyncd"
  NAT_CTL="$NAT_BUILD/syncd/app/gwsyncctl"
  local t
  for t in "$NAT_DAEMON" "$NAT_CTL"; do
    [[ -x "$t" ]] || { echo "missing $t (build targets gwsyncd gwsyncctl)" >&2; exit 2; }
  done
}

# nat_toml_nat PARTITIONS [STATICS...]: the [nat] table for both gateways: the shared pool of
# $NAT_PUBLIC with explicit PARTITIONS ('{ 1 = "A-B", 2 = "C-D" }'), and one [[nat.static]] per
# INSIDE=PUBLIC argument.
nat_toml_nat() {
  local partitions=$1 s
  shift
  printf '[nat]\ninside = ["192.0.2.0/24"]\noutside_interface = "wan"\n\n'
  printf '[[nat.pool]]\nname = "shared"\naddresses = ["%s"]\nports = "1024-65535"\n' "$NAT_PUBLIC"
  printf 'partitions = %s\n' "$partitions"
  for s in "$@"; do
    printf '\n[[nat.static]]\ninside = "%s"\npublic = "%s"\n' "${s%%=*}" "${s#*=}"
  done
}

# nat_daemon_config GW NAT_TOML: gwsyncd's configuration of gateway gw-a (node 1) or gw-b
# (node 2), hot, over TLS with pinned certificates (nat_daemon_keys first). NAT_REFRESH_MS sets
# kernel.refresh_interval_ms (default 10000); NAT_METRICS=1 adds [metrics] on the sync address;
# NAT_INCLUDE is filter.include's list (default "192.0.2.0/24").
nat_daemon_config() {
  local gw=$1 id=1 peer="gw-b" peer_id=2 include='"192.0.2.0/24"'
  [[ $gw == gw-b ]] && { id=2; peer="gw-a"; peer_id=1; }
  [[ -n "${NAT_INCLUDE:-}" ]] && include=$NAT_INCLUDE
  mkdir -p "$LAB_TMP/$gw"
  cat >"$LAB_TMP/$gw/gwsync.toml" <<EOT
[node]
id = $id
state_dir = "$LAB_TMP/$gw/state"

[sync]
listen = "${NAT_GW_SYNC[$gw]}:7801"
peer = "${NAT_GW_SYNC[$peer]}:7801"
peer_id = $peer_id
heartbeat_ms = 200
dead_after_ms = 1500
retransmit_ms = 500
ready_wait_ms = 2000

[filter]
include = [$include]

[kernel]
refresh_interval_ms = ${NAT_REFRESH_MS:-10000}

[control]
socket = "$LAB_TMP/$gw/gwsyncd.sock"
$( ((${NAT_METRICS:-0})) && printf '\n[metrics]\nlisten = "%s:9465"\n' "${NAT_GW_SYNC[$gw]}")

$2

$(lab_tls_toml "$gw" "$peer")
EOT
}

nat_daemon_keys() { lab_tls_keys gw-a gw-b; }

declare -gA NAT_DPID
nat_daemon_start() {  # nat_daemon_start GW
  "$NAT_DAEMON" --config "$LAB_TMP/$1/gwsync.toml" --check-config >"$LAB_TMP/$1/check.log" 2>&1 ||
    nat_daemon_fail "$1: --check-config refused the config: $(cat "$LAB_TMP/$1/check.log")"
  lab_spawn "$LAB_TMP/$1/gwsyncd.log" ip netns exec "$(lab_ns "$1")" \
    "$NAT_DAEMON" --config "$LAB_TMP/$1/gwsync.toml"
  NAT_DPID[$1]=$LAB_LAST_PID
}

nat_ctl() { "$NAT_CTL" --socket "$LAB_TMP/$1/gwsyncd.sock" "${@:2}"; }
nat_status() { nat_ctl "$1" status 2>/dev/null | sed -n "s/^$2: //p"; }
nat_stat() { nat_ctl "$1" stats 2>/dev/null | sed -n "s/^$2: //p"; }

# shellcheck disable=SC2317  # runs from wait_for
nat_daemons_ready() {
  lab_pid_alive "${NAT_DPID[gw-a]}" && lab_pid_alive "${NAT_DPID[gw-b]}" &&
    [[ "$(nat_status gw-a ready)" == yes && "$(nat_status gw-b ready)" == yes &&
       "$(nat_status gw-a peer)" == "2 connected" ]]
}

# nat_daemon_fail TEXT: the verdict, with the tail of each daemon's log.
nat_daemon_fail() {
  local n
  for n in gw-a gw-b; do
    if [[ -f "$LAB_TMP/$n/gwsyncd.log" ]]; then
      echo "--- $n gwsyncd log (tail)"
      tail -n 15 "$LAB_TMP/$n/gwsyncd.log"
    fi
  done
  nat_fail "$*"
}

# nat_table GW: table inet gwsync_nat as the kernel holds it (fails when there is none).
nat_table() { lab_exec "$1" nft list table inet gwsync_nat; }

# nat_metric GW SERIES: one series of the daemon's /metrics (NAT_METRICS=1), fetched inside its
# namespace, e.g. 'gwsync_config_reloads_total{result="ok"}'.
nat_metric() {
  lab_exec "$1" curl -sSf --max-time 2 "http://${NAT_GW_SYNC[$1]}:9465/metrics" 2>/dev/null |
    awk -v s="$2" '$1 == s { print $2 }'
}
