#!/usr/bin/env bash
# gwsyncd with [nat] on both gateways (hot, TLS), NAT done by gwsync's own table inet gwsync_nat,
# strict TCP tracking (nf_conntrack_tcp_loose=0 in each gateway's namespace). Scenarios:
#   static    1:1 NAT through either gateway: vm-s 192.0.2.20 = 198.51.100.20. Through gw-a,
#             then through gw-b: its outbound sessions reach the server from 198.51.100.20 (the
#             server counts by ingress link; nothing arrives from the inside address), and
#             sessions opened from the server to 198.51.100.20 reach it. The sessions opened
#             through gw-a carry on through gw-b after the switch.
#   failover  vm-a's TCP and UDP sessions, SNATed to 198.51.100.100 in gw-a's partition by gw-a's
#             table and synced to gw-b, keep working through gw-b after gw-a fails (daemon
#             killed, links down, routes switched); the server sees the same public IP:port.
#   nosync    negative control of failover: the same, with the sync link down from the start
#             (both daemons run and apply their tables, but sync nothing): every TCP session
#             dies at the switch and every UDP flow reaches the server from a new port.
#
#   vm-a 192.0.2.10, vm-s 192.0.2.20 (both via gw-a first); topology of nat_topology.sh.
#
# usage: nat_gateways.sh BUILD_DIR static|failover|nosync [TCP]  (default 100)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAT_BUILD=${1:?usage: nat_gateways.sh BUILD_DIR static|failover|nosync [TCP]}
scenario=${2:?usage: nat_gateways.sh BUILD_DIR static|failover|nosync [TCP]}
tcp=${3:-100}
[[ $scenario =~ ^(static|failover|nosync)$ ]] || { echo "unknown scenario '$scenario'" >&2; exit 2; }
if [[ ! "$tcp" =~ ^[0-9]{1,4}$ ]] || ((tcp < 1)); then echo "TCP: '$tcp' is not 1..9999" >&2; exit 2; fi
((EUID == 0)) || { echo "nat_gateways: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/nat_lib.sh
. "$here/nat_lib.sh"
# shellcheck source=test/netns/nat_topology.sh
. "$here/nat_topology.sh"
nat_tools
nat_daemon_tools

readonly TCP=$tcp UDP=$(((tcp + 4) / 5))
readonly STATIC_IN=192.0.2.20 STATIC_PUB=198.51.100.20
readonly PARTITIONS='{ 1 = "1024-32767", 2 = "32768-65535" }'
NAT_PROBE_TIMEOUT_MS=$((3000 + 10 * tcp))

lab_init gwng
trap nat_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { nat_daemon_fail "$@"; }

# The server counts what arrives from the 1:1 public address per ingress link, and anything
# that arrives untranslated from the inside network.
server_check_table() {
  lab_exec srv nft -f - <<EOT || lab_die "cannot install the server's check table"
table inet srvcheck {
  counter static_a {}
  counter static_b {}
  counter untranslated {}
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "via-a" ip saddr $STATIC_PUB counter name "static_a"
    iifname "via-b" ip saddr $STATIC_PUB counter name "static_b"
    ip saddr 192.0.2.0/24 counter name "untranslated"
  }
}
EOT
}

# rule_packets GW TEXT: packets counted by the rule of table inet gwsync_nat that contains TEXT
rule_packets() {
  nat_table "$1" | grep -F -- "$2" | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | head -n 1
}

start_daemons() {
  local gw
  nat_daemon_keys
  for gw in gw-a gw-b; do
    nat_daemon_config "$gw" "$(nat_toml_nat "$PARTITIONS" "$STATIC_IN=$STATIC_PUB")"
    nat_daemon_start "$gw"
  done
}

# shellcheck disable=SC2317  # runs from wait_for
alone_ready() {  # both daemons ready without a peer (negative control)
  [[ "$(nat_status gw-a ready)" == yes && "$(nat_status gw-b ready)" == yes ]]
}

# shellcheck disable=SC2317  # runs from wait_for
synced() {  # synced COUNT PATTERN: gw-b's kernel holds COUNT of gw-a's bindings (gwsync-nat show)
  local show
  show=$(nat_show gw-b "$LAB_TMP/gw-b/gwsync.toml" 2>/dev/null) || return 1
  [[ "$(nat_field "$show" "$2" bindings)" == "$1" ]]
}

# probe_all NAME...: one probe of each client, sent together; each must reach all its sessions
# with their first public IP:port
probe_all() {
  local c
  for c in "$@"; do nat_probe_send "$c"; done
  for c in "$@"; do
    nat_probe_wait "$c"
    PROBE_TEXT[$c]=$(nat_probe_text)
    nat_expect_all "$c" "${TCP_OF[$c]}" "${UDP_OF[$c]}" "probe of $c"
  done
}

declare -A TCP_OF UDP_OF PROBE_TEXT
client() {  # client NAME NS TCP UDP [SERVER]
  TCP_OF[$1]=$3
  UDP_OF[$1]=$4
  nat_client_start "$@"
  nat_client_ready "$1"
}

scenario_static() {
  local small=$((TCP / 10 + 2)) gw
  nat_route_public "$STATIC_PUB" gw-a
  server_check_table
  # The operator's filter lets new connections in to the 1:1 host (after gwsync's DNAT).
  for gw in gw-a gw-b; do
    lab_exec "$gw" nft insert rule inet gwlab forward iifname wan ip daddr "$STATIC_IN" \
      ct status dnat ct state new accept
  done
  # The filter also matches the reply's source (the inside host of a DNATed flow), so including
  # the LAN covers inbound 1:1 sessions: the public address need not be listed.
  NAT_INCLUDE="\"192.0.2.0/24\""
  start_daemons
  wait_for 15000 nat_daemons_ready || fail "the daemons did not become ready and connected"
  nat_server_start srv
  nat_server_start vm-s "$STATIC_IN"

  client out1 vm-s "$small" 2
  client in1 srv "$small" 2 "$STATIC_PUB"
  probe_all out1 in1
  (($(lab_nft_counter srv static_a srvcheck) > 0 && $(lab_nft_counter srv static_b srvcheck) == 0)) ||
    fail "server: from $STATIC_PUB via gw-a $(lab_nft_counter srv static_a srvcheck), via gw-b $(lab_nft_counter srv static_b srvcheck)"
  (($(rule_packets gw-a "dnat ip to $STATIC_IN") > 0 && $(rule_packets gw-a "snat ip to $STATIC_PUB") > 0)) ||
    fail "gw-a: its 1:1 rules counted nothing: $(nat_table gw-a)"
  lab_log "through gw-a: $small TCP + 2 UDP out from $STATIC_PUB, $small + 2 in to it, all answered"

  # gw-a's 1:1 sessions reach gw-b through the daemons: 2 x (small + 2) static bindings.
  # shellcheck disable=SC2317  # runs from wait_for
  statics_synced() { synced $((2 * (small + 2))) "static inside=$STATIC_IN"; }
  wait_for 10000 statics_synced || fail "gw-b did not receive gw-a's 1:1 sessions: $(nat_show gw-b "$LAB_TMP/gw-b/gwsync.toml")"
  nat_move_vm vm-s gw-b
  nat_route_public "$STATIC_PUB" gw-b
  local before_b
  before_b=$(lab_nft_counter srv static_b srvcheck)
  client out2 vm-s "$small" 2
  client in2 srv "$small" 2 "$STATIC_PUB"
  probe_all out2 in2 out1 in1
  (($(lab_nft_counter srv static_b srvcheck) > before_b)) || fail "server: nothing from $STATIC_PUB via gw-b"
  (($(rule_packets gw-b "dnat ip to $STATIC_IN") > 0 && $(rule_packets gw-b "snat ip to $STATIC_PUB") > 0)) ||
    fail "gw-b: its 1:1 rules counted nothing: $(nat_table gw-b)"
  (($(lab_nft_counter srv untranslated srvcheck) == 0)) ||
    fail "server: $(lab_nft_counter srv untranslated srvcheck) packets arrived from the inside network"
  lab_log "through gw-b: new sessions out from and in to $STATIC_PUB all answered; the sessions" \
    "opened through gw-a carry on through gw-b; nothing reached the server untranslated"
  nat_result PASS "1:1 NAT $STATIC_IN = $STATIC_PUB outbound and inbound through gw-a and through gw-b (gwsync's table on each, counted by its rules and by the server per link); gw-a's 1:1 sessions survived the switch"
}

# failover and its negative control
scenario_failover() {
  local sync=$1 gw v
  nat_route_public "$NAT_PUBLIC" gw-a
  ((sync)) || ip -n "$(lab_ns gw-a)" link set sync down
  start_daemons
  if ((sync)); then
    wait_for 15000 nat_daemons_ready || fail "the daemons did not become ready and connected"
  else
    wait_for 15000 alone_ready || fail "the daemons did not become ready"
  fi
  for gw in gw-a gw-b; do
    v=$(lab_exec "$gw" sysctl -n net.netfilter.nf_conntrack_tcp_loose)
    ((v == 0)) || fail "$gw: nf_conntrack_tcp_loose is $v"
  done
  nat_server_start srv
  client c1 vm-a "$TCP" "$UDP"
  probe_all c1
  local show
  show=$(nat_show gw-a "$LAB_TMP/gw-a/gwsync.toml")
  [[ "$(nat_field "$show" 'partition pool=shared node=1' bindings)" == $((TCP + UDP)) ]] ||
    fail "gw-a: the sessions are not all in its partition: $show"
  lab_log "probe via gw-a: ${PROBE_TEXT[c1]}; all $((TCP + UDP)) SNATed by gwsync_nat into 1024-32767"
  if ((sync)); then
    # shellcheck disable=SC2317  # runs from wait_for
    pool_synced() { synced $((TCP + UDP)) 'partition pool=shared node=1'; }
    wait_for 10000 pool_synced || fail "gw-b did not receive gw-a's bindings: $(nat_show gw-b "$LAB_TMP/gw-b/gwsync.toml")"
    lab_log "gw-b's kernel holds all $((TCP + UDP)) of gw-a's bindings"
  fi

  kill -KILL "${NAT_DPID[gw-a]}" 2>/dev/null || true
  wait "${NAT_DPID[gw-a]}" 2>/dev/null || true
  nat_fail_gateway gw-a
  nat_move_vm vm-a gw-b
  nat_route_public "$NAT_PUBLIC" gw-b
  nat_probe c1
  lab_log "gw-a failed (gwsyncd killed, links down, routes to gw-b); probe via gw-b: $(nat_probe_text)"
  lab_log "gw-b: est $(lab_nft_counter gw-b est), invalid $(lab_nft_counter gw-b invalid)," \
    "new_lan $(lab_nft_counter gw-b new_lan)"
  if ((sync)); then
    nat_expect_all c1 "$TCP" "$UDP" "through gw-b after gw-a failed"
    (($(lab_nft_counter gw-b est) > 0)) || fail "gw-b forwarded nothing as established"
    nat_result PASS "all $TCP TCP and $UDP UDP sessions SNATed by gw-a's gwsync_nat carried on through gw-b after gw-a failed, with the same public IP:port, under nf_conntrack_tcp_loose=0"
  else
    ((P[tcp_ok] == 0 && P[same_peer] == 0)) ||
      fail "negative control: without sync $(nat_probe_text), expected every TCP session dead and no UDP flow on its old public port"
    (($(lab_nft_counter gw-b invalid) > 0)) || fail "negative control: gw-b counted no invalid packet"
    nat_result PASS "negative control: without sync all $TCP TCP sessions died at the switch (gw-b: $(lab_nft_counter gw-b invalid) invalid packets dropped) and $((P[changed_peer])) UDP flows reached the server from a new public port"
  fi
}

lab_log "lab $LAB_PREFIX: NAT through two gateways, scenario $scenario"
nat_two_gateways vm-a:192.0.2.10:gw-a "vm-s:$STATIC_IN:gw-a"
case $scenario in
  static) scenario_static ;;
  failover) scenario_failover 1 ;;
  nosync) scenario_failover 0 ;;
esac
