# shellcheck shell=bash
# The two-site migration lab (docs/lab.md): an Internet side, a WAN router and two gateways
# speaking BGP (BIRD 2), one LAN bridge per site joined by a DCI link that keeps the anycast
# first-hop gateway local, and two VMs at site A. Functions only: source scripts/lab/lib.sh,
# then this file, call lab_init and ts_up. scripts/lab/gwsync-lab, the demo and the namespace
# tests drive it.
#
#                 inet: server 203.0.113.10 (the Internet-side client runs here too)
#                   | eth0 203.0.113.10/29 -- inet0 203.0.113.9/29
#                 wan: WAN router, BIRD AS 64500, learns the gateways' routes by BGP
#        gwa0 203.0.113.17/30 |                      | gwb0 203.0.113.21/30
#        wan0 203.0.113.18/30 |                      | wan0 203.0.113.22/30
#   gw-a AS 65001 (preferred) ======== sync0 ======== gw-b AS 65002 (public /24 prepended)
#        lan0 192.0.2.2/24    | 203.0.113.25/30 .26  | lan0 192.0.2.3/24
#        vgw0 192.0.2.1 02:00:5e:00:01:01 (anycast)  | vgw0 192.0.2.1 02:00:5e:00:01:01
#   dci:   br-a [gwa vm vm2 dci-a] ==== DCI veth ==== [dci-b gwb] br-b
#          (table bridge gwlab_dci drops the virtual MAC and ARP for 192.0.2.1 on the DCI)
#   vm 192.0.2.10/24 and vm2 192.0.2.11/24 at site A, default via 192.0.2.1
#
# Public 198.51.100.0/24: shared PAT address 198.51.100.1 (gwsync's inet gwsync_nat, partitions
# node 1 1024-32767, node 2 32768-65535), the VM's 1:1 address 198.51.100.10 (TS_VM_NAT=static),
# an LB VIP 198.51.100.80:80 -> vm:7080 (plain DNAT in table inet gwlab_lb until the LB module
# renders its own). Each gateway routes the /24 to a blackhole; gw-a announces it, gw-b with a
# prepend, so the PAT address stays at site A while gw-a is up (issue 10's return path).

# shellcheck source=scripts/lab/two-site-checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/two-site-checks.sh"
# shellcheck source=scripts/lab/two-site-gwsyncd.sh
. "$(dirname "${BASH_SOURCE[0]}")/two-site-gwsyncd.sh"

readonly TS_ANYCAST=192.0.2.1 TS_VMAC=02:00:5e:00:01:01
readonly TS_VM_IP=192.0.2.10 TS_VM2_IP=192.0.2.11 TS_VM_MAC=02:00:00:00:0a:10
readonly TS_PAT=198.51.100.1 TS_VM_PUBLIC=198.51.100.10 TS_VIP=198.51.100.80 TS_VIP_PORT=80
readonly TS_VM_SERVICE_PORT=7080 TS_PUBLIC4=198.51.100.0/24
readonly TS_SERVER=203.0.113.10 TS_SERVER_PORT=7000
readonly TS_ROUTE_TABLE=100 TS_ROUTE_PROTO=200
readonly TS_PART_A=1024-32767 TS_PART_B=32768-65535
declare -gA TS_WAN_IP=([gw-a]=203.0.113.18 [gw-b]=203.0.113.22)   # gateway side of the WAN link
declare -gA TS_WAN_PEER=([gw-a]=203.0.113.17 [gw-b]=203.0.113.21) # WAN router side
declare -gA TS_LAN_IP=([gw-a]=192.0.2.2 [gw-b]=192.0.2.3)
declare -gA TS_SYNC_IP=([gw-a]=203.0.113.25 [gw-b]=203.0.113.26)
declare -gA TS_AS=([gw-a]=65001 [gw-b]=65002)
declare -gA TS_PREPEND=([gw-a]=0 [gw-b]=1)
declare -gA TS_NODE=([gw-a]=1 [gw-b]=2)
declare -gA TS_PEER=([gw-a]=gw-b [gw-b]=gw-a)
declare -gA TS_BR_PORT=([gw-a]=gwa [gw-b]=gwb)
declare -gA TS_SITE_BR=([gw-a]=br-a [gw-b]=br-b [a]=br-a [b]=br-b)
declare -gA TS_BIRD_PID
TS_VM_NAT=${TS_VM_NAT:-pat}  # pat: the VM's flows use the shared PAT address; static: its 1:1
TS_BUILD=${TS_BUILD:-}       # build tree with the tools (gwsync-nat, gwsync-traffic, ...)
TS_BIRD_CONF_SRC="$LAB_REPO/systemd/bird-gwsync.conf"

ts_tool() {  # ts_tool NAME: path of a built tool, or dies naming the build target
  local p
  for p in "$TS_BUILD/test/tools/$1" "$TS_BUILD/syncd/app/$1" "$TS_BUILD/nat/$1"; do
    [[ -x "$p" ]] && { echo "$p"; return 0; }
  done
  lab_die "$1 is not built in '${TS_BUILD:-<TS_BUILD unset>}' (cmake --build DIR --target $1)"
}

ts_need() {  # ts_need: root, and the commands the lab runs
  local c
  ((EUID == 0)) || lab_die "the lab needs root (network namespaces, nftables)"
  for c in ip nft bird birdc conntrack sysctl; do
    command -v "$c" >/dev/null || lab_die "$c is missing (bash scripts/install-deps.sh)"
  done
}

# ts_up: the whole topology with BIRD running and both BGP sessions established.
ts_up() {
  ts_need
  ts_links
  ts_gateway gw-a
  ts_gateway gw-b
  ts_dci_filter
  ts_bird_start
  ts_bgp_wait 15000 || lab_die "BGP did not come up within 15 s: $(ts_bgp_state)"
  wait_for 10000 ts_wan_route_via "$TS_PUBLIC4" gw-a ||
    lab_die "the WAN router did not learn $TS_PUBLIC4 via gw-a: $(ts_wan_routes)"
}

ts_links() {
  local n
  for n in inet wan gw-a gw-b dci vm vm2; do lab_ns_add "$n"; done
  lab_veth inet eth0 wan inet0
  lab_veth wan gwa0 gw-a wan0
  lab_veth wan gwb0 gw-b wan0
  lab_veth gw-a sync0 gw-b sync0
  lab_bridge_add dci br-a
  lab_bridge_add dci br-b
  lab_veth dci dci-a dci dci-b
  ip -n "$(lab_ns dci)" link set dci-a master br-a
  ip -n "$(lab_ns dci)" link set dci-b master br-b
  lab_switch_port gw-a lan0 dci br-a gwa
  lab_switch_port gw-b lan0 dci br-b gwb
  ip -n "$(lab_ns vm)" link add eth0 type veth peer name vm netns "$(lab_ns dci)"
  ip -n "$(lab_ns vm)" link set eth0 address "$TS_VM_MAC" up
  ip -n "$(lab_ns dci)" link set vm master br-a up
  lab_switch_port vm2 eth0 dci br-a vm2
  lab_addr inet eth0 "$TS_SERVER/29"
  lab_addr wan inet0 203.0.113.9/29
  lab_addr wan gwa0 "${TS_WAN_PEER[gw-a]}/30"
  lab_addr wan gwb0 "${TS_WAN_PEER[gw-b]}/30"
  lab_addr vm eth0 "$TS_VM_IP/24"
  lab_addr vm2 eth0 "$TS_VM2_IP/24"
  lab_wait_up 3000 inet eth0 wan inet0 wan gwa0 wan gwb0 gw-a wan0 gw-b wan0 gw-a sync0 \
    gw-b sync0 gw-a lan0 gw-b lan0 vm eth0 vm2 eth0 dci dci-a dci dci-b
  ip -n "$(lab_ns inet)" route add default via 203.0.113.9
  ip -n "$(lab_ns vm)" route add default via "$TS_ANYCAST"
  ip -n "$(lab_ns vm2)" route add default via "$TS_ANYCAST"
  lab_sysctl wan net.ipv4.ip_forward=1
}

# ts_gateway GW: addresses, the anycast first hop, strict tracking, firewall, NAT and LB DNAT.
ts_gateway() {
  local gw=$1 ns
  ns=$(lab_ns "$gw")
  lab_addr "$gw" wan0 "${TS_WAN_IP[$gw]}/30"
  lab_addr "$gw" lan0 "${TS_LAN_IP[$gw]}/24"
  lab_addr "$gw" sync0 "${TS_SYNC_IP[$gw]}/30"
  # The anycast gateway on a macvlan: the virtual MAC answers for 192.0.2.1 only, lan0 keeps
  # its own MAC for the gateway's own traffic to VMs at either site (DESIGN.md, addressing).
  ip -n "$ns" link add vgw0 link lan0 address "$TS_VMAC" type macvlan mode bridge ||
    lab_die "cannot create the anycast macvlan in $gw"
  ip -n "$ns" addr add "$TS_ANYCAST/24" dev vgw0 noprefixroute
  ip -n "$ns" link set vgw0 up
  ip -n "$ns" route add default via "${TS_WAN_PEER[$gw]}"
  ip -n "$ns" route add blackhole "$TS_PUBLIC4"
  # VM packets arrive on vgw0 while the connected route is on lan0: no reverse-path filter.
  lab_sysctl "$gw" net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lan0.rp_filter=0 \
    net.ipv4.conf.vgw0.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
    net.ipv4.conf.all.arp_announce=2
  ts_gateway_firewall "$gw"
  lab_sysctl "$gw" net.netfilter.nf_conntrack_tcp_loose=0 net.netfilter.nf_conntrack_tcp_be_liberal=0 \
    net.netfilter.nf_conntrack_udp_timeout=300
  ts_nat_config "$gw" >"$LAB_TMP/$gw.nat.toml"
  "$(ts_tool gwsync-nat)" apply --config "$LAB_TMP/$gw.nat.toml" --netns "$ns" >/dev/null ||
    lab_die "gwsync-nat apply in $gw failed"
}

# Table inet gwlab_fw: the operator's stateful filter (forward policy drop; invalid dropped,
# which is what makes lost state visible) with per-gateway counters of the VMs' forwarded
# packets. Table inet gwlab_lb: the VIP as a plain DNAT to the VM.
ts_gateway_firewall() {
  lab_exec "$1" nft -f - <<EOF || lab_die "cannot install the firewall in $1"
table inet gwlab_fw {
  counter est {}
  counter invalid {}
  counter new_lan {}
  counter new_dnat {}
  counter dropped {}
  counter vm_out {}
  counter vm_in {}
  counter vm2_out {}
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state invalid counter name "invalid" drop
    ip saddr $TS_VM_IP counter name "vm_out"
    ip daddr $TS_VM_IP counter name "vm_in"
    ip saddr $TS_VM2_IP counter name "vm2_out"
    ct state established,related counter name "est" accept
    iifname { "lan0", "vgw0" } ct state new counter name "new_lan" accept
    iifname "wan0" ct state new ct status dnat counter name "new_dnat" accept
    counter name "dropped"
  }
}
table inet gwlab_lb {
  counter vip {}
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" ip daddr $TS_VIP tcp dport $TS_VIP_PORT counter name "vip" dnat ip to $TS_VM_IP:$TS_VM_SERVICE_PORT
  }
}
EOF
}

# ts_nat_config GW: the [nat] table (with [node] and [sync] ids) of a gateway; gwsync-nat applies
# it before gwsyncd runs, gwsyncd renders the same table from its gwsync.toml.
ts_nat_config() {
  local gw=$1
  cat <<EOF
[node]
id = ${TS_NODE[$gw]}

[sync]
peer = "${TS_SYNC_IP[${TS_PEER[$gw]}]}:7801"
peer_id = ${TS_NODE[${TS_PEER[$gw]}]}

EOF
  ts_nat_section
}

ts_nat_section() {
  cat <<EOF
[nat]
inside = ["192.0.2.0/24"]
outside_interface = "wan0"

[[nat.pool]]
name = "shared"
addresses = ["$TS_PAT"]
ports = "1024-65535"
partitions = { 1 = "$TS_PART_A", 2 = "$TS_PART_B" }
EOF
  if [[ $TS_VM_NAT == static ]]; then
    printf '\n[[nat.static]]\ninside = "%s"\npublic = "%s"\n' "$TS_VM_IP" "$TS_VM_PUBLIC"
  fi
}

# The DCI keeps the first hop local: frames from or to the virtual MAC and ARP for the anycast
# address never cross it (as DCI overlays filter the first-hop gateway's MAC and ARP/ND).
ts_dci_filter() {
  lab_exec dci nft -f - <<EOF || lab_die "cannot install the DCI filter"
table bridge gwlab_dci {
  counter vmac {}
  counter arp_gw {}
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname { "dci-a", "dci-b" } jump dci
    oifname { "dci-a", "dci-b" } jump dci
  }
  chain dci {
    ether saddr $TS_VMAC counter name "vmac" drop
    ether daddr $TS_VMAC counter name "vmac" drop
    ether type arp arp saddr ip $TS_ANYCAST counter name "arp_gw" drop
    ether type arp arp daddr ip $TS_ANYCAST counter name "arp_gw" drop
  }
}
EOF
}

# ts_bird_conf GW: the gateway's BIRD configuration, made from the product file by replacing its
# site settings (each replacement is checked, so a renamed define fails loudly).
ts_bird_conf() {
  local gw=$1 key val text
  text=$(<"$TS_BIRD_CONF_SRC")
  local -A set=([GWSYNC_ROUTER_ID]=${TS_LAN_IP[$gw]} [GWSYNC_LOCAL_AS]=${TS_AS[$gw]}
    [GWSYNC_PEER]=${TS_WAN_PEER[$gw]} [GWSYNC_PEER_AS]=64500 [GWSYNC_PUBLIC4]=$TS_PUBLIC4
    [GWSYNC_PREPEND]=${TS_PREPEND[$gw]} [GWSYNC_TABLE]=$TS_ROUTE_TABLE
    [GWSYNC_RTPROTO]=$TS_ROUTE_PROTO [GWSYNC_HOLD_TIME]=3 [GWSYNC_CONNECT_DELAY]=1
    [GWSYNC_CONNECT_RETRY]=1 [GWSYNC_SCAN_TIME]=10)
  for key in "${!set[@]}"; do
    val=${set[$key]}
    grep -q "^define $key = " <<<"$text" || lab_die "$TS_BIRD_CONF_SRC: no 'define $key'"
    # shellcheck disable=SC2001  # an anchored regex: no ${text//...} equivalent
    text=$(sed "s|^define $key = [^;]*;|define $key = $val;|" <<<"$text")
  done
  printf '%s\n' "${text/log syslog all;/log \"$LAB_TMP/$gw/bird.log\" all;}"
}

ts_bird_conf_wan() {
  cat <<EOF
log "$LAB_TMP/wan/bird.log" all;
router id 203.0.113.9;
protocol device { scan time 10; }
# Every BGP route goes into the kernel's main table at once.
protocol kernel {
  scan time 10;
  ipv4 { import none; export all; };
}
template bgp gwlab_gateway {
  local as 64500;
  hold time 3;
  keepalive time 1;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  ipv4 {
    import where net ~ [ 192.0.2.0/24{32,32}, 198.51.100.0/24{24,32} ];
    export none;
  };
}
protocol bgp gw_a from gwlab_gateway { neighbor ${TS_WAN_IP[gw-a]} as ${TS_AS[gw-a]}; }
protocol bgp gw_b from gwlab_gateway { neighbor ${TS_WAN_IP[gw-b]} as ${TS_AS[gw-b]}; }
EOF
}

# ts_bird_run NS: starts BIRD in the namespace with its own control socket and PID file, in the
# foreground so its PID is ours; the configuration is checked first.
ts_bird_run() {
  local n=$1 dir="$LAB_TMP/$1"
  bird -p -c "$dir/bird.conf" 2>"$dir/bird.check" ||
    lab_die "bird rejected $dir/bird.conf: $(cat "$dir/bird.check")"
  lab_spawn "$dir/bird.out" ip netns exec "$(lab_ns "$n")" \
    bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid"
  TS_BIRD_PID[$n]=$LAB_LAST_PID
}

ts_bird_start() {
  local n
  for n in wan gw-a gw-b; do mkdir -p "$LAB_TMP/$n"; done
  ts_bird_conf_wan >"$LAB_TMP/wan/bird.conf"
  ts_bird_conf gw-a >"$LAB_TMP/gw-a/bird.conf"
  ts_bird_conf gw-b >"$LAB_TMP/gw-b/bird.conf"
  for n in wan gw-a gw-b; do ts_bird_run "$n"; done
}

ts_birdc() {  # ts_birdc NS CMD...: birdc on the namespace's BIRD
  birdc -s "$LAB_TMP/$1/bird.ctl" "${@:2}"
}

ts_bgp_state() {  # one line: each WAN-side session's state
  ts_birdc wan show protocols 2>/dev/null | awk '$2 == "BGP" {printf "%s=%s/%s ", $1, $4, $6}'
}

# shellcheck disable=SC2317  # runs from wait_for
ts_bgp_established() {
  [[ "$(ts_birdc wan show protocols 2>/dev/null | awk '$2 == "BGP" && $6 == "Established"' |
    wc -l)" == 2 ]]
}

ts_bgp_wait() { wait_for "$1" ts_bgp_established; }

ts_wan_routes() {  # the WAN router's kernel routes learnt from BIRD
  ip -n "$(lab_ns wan)" -o route show proto bird
}

# ts_wan_route_via PREFIX GW: the WAN router's kernel route to PREFIX points to GW.
# shellcheck disable=SC2317  # runs from wait_for
ts_wan_route_via() {
  local p=${1%/32}
  ip -n "$(lab_ns wan)" route show "$p" | grep -q "via ${TS_WAN_IP[$2]} "
}

# shellcheck disable=SC2317  # runs from wait_for
ts_wan_route_absent() {
  [[ -z "$(ip -n "$(lab_ns wan)" route show "${1%/32}" proto bird)" ]]
}

# ts_host_route add|del GW ADDR: what gwsyncd's mobility does, by hand: a host route in table
# 100 with route protocol 200 that BIRD announces.
ts_host_route() {
  ip -n "$(lab_ns "$2")" route "$1" "$3/32" dev lan0 table "$TS_ROUTE_TABLE" proto "$TS_ROUTE_PROTO"
}

# ts_vm_site VM: a or b, the site bridge the VM's port is on.
ts_vm_site() {
  local master
  master=$(ip -n "$(lab_ns dci)" -o link show dev "$1" | sed -n 's/.* master \([^ ]*\) .*/\1/p')
  case $master in br-a) echo a ;; br-b) echo b ;; *) echo "?" ;; esac
}

# ts_migrate VM SITE: moves the VM's port to the other site's bridge as vMotion does (the guest
# keeps its MAC, addresses and ARP cache), then sends RARP and a gratuitous ARP from the VM.
# Leaves the time of the port move (lab_now_ms) in TS_MOVE_MS, for the caller's timeline.
export TS_MOVE_MS=0
ts_migrate() {
  local vm=$1 site=$2 dci ip
  dci=$(lab_ns dci)
  [[ -n "${TS_SITE_BR[$site]:-}" ]] || lab_die "ts_migrate: site '$site' is not a or b"
  ip=$(ip -n "$(lab_ns "$vm")" -o -4 addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
  [[ -n "$ip" ]] || lab_die "ts_migrate: $vm has no IPv4 address"
  ip -n "$dci" link set "$vm" nomaster
  ip -n "$dci" link set "$vm" master "${TS_SITE_BR[$site]}"
  TS_MOVE_MS=$(lab_now_ms)
  lab_exec "$vm" "$(ts_tool gwsync-announce)" --dev eth0 --rarp --garp "$ip" ||
    lab_die "gwsync-announce in $vm failed"
}

# ts_bird_pid NS: the PID of the namespace's BIRD (also from another shell: its PID file), or
# nothing when it is not running.
ts_bird_pid() {
  local pid=${TS_BIRD_PID[$1]:-}
  [[ -z "$pid" && -s "$LAB_TMP/$1/bird.pid" ]] && pid=$(<"$LAB_TMP/$1/bird.pid")
  [[ -n "$pid" ]] && lab_pid_alive "$pid" && echo "$pid"
  return 0
}

# ts_fail GW: the gateway dies: BIRD stopped, every link down (WAN, LAN port, sync).
ts_fail() {
  local gw=$1 pid
  ts_gwsyncd_stop "$gw" KILL
  pid=$(ts_bird_pid "$gw")
  [[ -n "$pid" ]] && lab_stop_pid "$pid" 3000
  TS_BIRD_PID[$gw]=""
  rm -f "$LAB_TMP/$gw/bird.pid"
  ip -n "$(lab_ns "$gw")" link set wan0 down
  ip -n "$(lab_ns "$gw")" link set sync0 down
  ip -n "$(lab_ns dci)" link set "${TS_BR_PORT[$gw]}" down
}

# ts_heal: every gateway's links up and BIRD running again.
ts_heal() {
  local gw
  for gw in gw-a gw-b; do
    ip -n "$(lab_ns "$gw")" link set wan0 up
    ip -n "$(lab_ns "$gw")" link set sync0 up
    ip -n "$(lab_ns dci)" link set "${TS_BR_PORT[$gw]}" up
    [[ -n "$(ts_bird_pid "$gw")" ]] || ts_bird_run "$gw"
    if [[ -s "$LAB_TMP/$gw/gwsync.toml" && -z "$(ts_gwsyncd_pid "$gw")" ]]; then
      ts_gwsyncd_run "$gw"
    fi
  done
  lab_wait_up 3000 gw-a wan0 gw-b wan0 gw-a sync0 gw-b sync0
  ts_bgp_wait 15000 || lab_die "BGP did not come back within 15 s: $(ts_bgp_state)"
}
