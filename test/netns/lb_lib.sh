# shellcheck shell=bash
# Shared by the LB namespace tests (lb_maglev.sh, lb_daemon.sh): the topology, the operator's
# firewall, the [lb] config, the backends' server and the client of lb_traffic.py driven through a
# fifo, the table's predictions and the comparisons. Source scripts/lab/lib.sh first, set
# LB_BUILD to the build tree and LB_NAME to the test's name, then call lb_tools and lab_init.
#
#   cli 203.0.113.50 (lo) ── via-a 203.0.113.1/30 ── wan 203.0.113.2/30 gw-a lan 192.0.2.2 ──┐
#                        └── via-b 203.0.113.5/30 ── wan 203.0.113.6/30 gw-b lan 192.0.2.3 ──┤
#                                              [lan: br0] ── be eth0 192.0.2.20/.21/.22 :8080
#   lb_sync_link: gw-a sync 198.51.100.253/30 ── gw-b sync 198.51.100.254/30
#   VIP 198.51.100.80:80/tcp, service "web", table_size 401, seed 0x5eed1234.

readonly LB_VIP=198.51.100.80 LB_CLIENT=203.0.113.50
readonly LB_B1=192.0.2.20 LB_B2=192.0.2.21 LB_B3=192.0.2.22
declare -gA LB_GW_LAN=([gw-a]=192.0.2.2 [gw-b]=192.0.2.3)
declare -gA LB_GW_WAN=([gw-a]=203.0.113.2 [gw-b]=203.0.113.6)
declare -gA LB_GW_SYNC=([gw-a]=198.51.100.253 [gw-b]=198.51.100.254)

lb_tools() {  # lb_tools TOOL...: checks the build tree; sets LB_TOOL, LB_TRAFFIC
  local here t
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  LB_TOOL="$LB_BUILD/lb/gwsync-lb"
  LB_TRAFFIC=(python3 "$here/lb_traffic.py")
  for t in "$LB_TOOL" "$@"; do
    [[ -x "$t" ]] || { echo "missing $t (build it first)" >&2; exit 2; }
  done
  command -v python3 >/dev/null || { echo "python3 missing (scripts/install-deps.sh)" >&2; exit 2; }
}

LB_RESULT_PRINTED=0
result() {
  echo "RESULT: $1 - $2"
  LB_RESULT_PRINTED=1
}
# fail TEXT: the verdict, with the tail of every daemon log of this run (if any).
fail() {
  local log
  for log in "$LAB_TMP"/*/gwsyncd.log; do
    [[ -f "$log" ]] || continue
    echo "--- $log (tail)"
    tail -n 15 "$log"
  done
  result FAIL "$*"
  exit 1
}
# shellcheck disable=SC2317  # runs from the EXIT trap
lb_on_exit() {
  local rc=$?
  if ((!LB_RESULT_PRINTED)); then
    result FAIL "aborted (exit $rc)"
    rc=1
  fi
  lab_cleanup
  exit "$rc"
}

# lb_toml BACKEND...: the [lb] table; each BACKEND is "ADDRESS WEIGHT".
lb_toml() {
  local b addr weight
  cat <<EOT
[lb]
seed = 0x5eed1234

[[lb.service]]
name = "web"
vip = "$LB_VIP"
protocol = "tcp"
port = 80
table_size = 401
EOT
  for b in "$@"; do
    read -r addr weight <<<"$b"
    printf '\n[[lb.service.backend]]\naddress = "%s"\nport = 8080\nweight = %s\n' "$addr" "$weight"
  done
}

# lb_config FILE BACKEND...: a config with only [node] and [lb], for gwsync-lb.
lb_config() {
  local file=$1
  shift
  { printf '[node]\nid = 1\n\n'; lb_toml "$@"; } >"$file"
}

# The operator's stateful filter: inbound only when the LB translated it, strict TCP tracking.
# Counter "invalid" counts packets conntrack could not place, where they enter (an unsynced
# connection's packets to the VIP never reach forward: without an entry nothing translates them
# and the blackhole drops them).
lb_gateway() {
  lab_exec "$1" nft -f - <<'EOT' || lab_die "cannot install the operator firewall in $1"
table inet operator_fw {
  counter est {}
  counter invalid {}
  counter new_lb {}
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    ct state invalid counter name "invalid"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related counter name "est" accept
    ct state invalid drop
    iifname "wan" ct state new ct status dnat counter name "new_lb" accept
  }
}
EOT
  lab_sysctl "$1" net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_tcp_loose=0
  ip -n "$(lab_ns "$1")" route add blackhole 198.51.100.0/24
}

lb_build_topology() {
  local n b
  for n in cli gw-a gw-b lan be; do lab_ns_add "$n"; done
  lab_bridge_add lan br0
  lab_switch_port gw-a lan lan br0 gw-a
  lab_switch_port gw-b lan lan br0 gw-b
  lab_switch_port be eth0 lan br0 be
  lab_veth gw-a wan cli via-a
  lab_veth gw-b wan cli via-b
  for n in gw-a gw-b; do
    lab_addr "$n" lan "${LB_GW_LAN[$n]}/24"
    lab_addr "$n" wan "${LB_GW_WAN[$n]}/30"
  done
  lab_addr cli via-a 203.0.113.1/30
  lab_addr cli via-b 203.0.113.5/30
  lab_addr cli lo "$LB_CLIENT/32"
  for b in "$LB_B1" "$LB_B2" "$LB_B3"; do lab_addr be eth0 "$b/24"; done
  lab_wait_up 3000 gw-a lan gw-b lan be eth0 gw-a wan gw-b wan cli via-a cli via-b
  ip -n "$(lab_ns gw-a)" route add "$LB_CLIENT/32" via 203.0.113.1
  ip -n "$(lab_ns gw-b)" route add "$LB_CLIENT/32" via 203.0.113.5
  ip -n "$(lab_ns cli)" route add "$LB_VIP/32" via 203.0.113.6
  ip -n "$(lab_ns be)" route add default via 192.0.2.3
  lb_gateway gw-a
  lb_gateway gw-b
}

lb_sync_link() {  # the gateways' own link for gwsyncd
  lab_veth gw-a sync gw-b sync
  lab_addr gw-a sync "${LB_GW_SYNC[gw-a]}/30"
  lab_addr gw-b sync "${LB_GW_SYNC[gw-b]}/30"
  lab_wait_up 3000 gw-a sync gw-b sync
}

# lb_use GW: the client's route to the VIP and the backends' default route both through GW, with
# the neighbours known at once (as gratuitous ARP would tell them after a failover).
lb_mac() { ip -n "$(lab_ns "$1")" -br link show dev "$2" | awk '{print $3}'; }
lb_use() {
  ip -n "$(lab_ns cli)" route replace "$LB_VIP/32" via "${LB_GW_WAN[$1]}"
  ip -n "$(lab_ns be)" route replace default via "${LB_GW_LAN[$1]}"
  ip -n "$(lab_ns be)" neigh replace "${LB_GW_LAN[$1]}" lladdr "$(lb_mac "$1" lan)" dev eth0 \
    nud reachable
}

# lb_fail_gateway GW: its links go down (its daemon, if any, is the caller's to stop).
lb_fail_gateway() {
  ip -n "$(lab_ns "$1")" link set lan down
  ip -n "$(lab_ns "$1")" link set wan down
}

lb_server_start() {  # the three backends, one process in namespace be
  lab_spawn "$LAB_TMP/server.log" ip netns exec "$(lab_ns be)" "${LB_TRAFFIC[@]}" server \
    "$LB_B1:8080" "$LB_B2:8080" "$LB_B3:8080"
  wait_for 5000 grep -q '^listening' "$LAB_TMP/server.log" || fail "server: $(cat "$LAB_TMP/server.log")"
  lab_pid_alive "$LAB_LAST_PID" || fail "server: $(cat "$LAB_TMP/server.log")"
}

# The client reads commands from a fifo held open read-write here.
lb_client_start() {
  mkfifo "$LAB_TMP/cli.in"
  : >"$LAB_TMP/cli.out"
  exec {LB_CLI_FD}<>"$LAB_TMP/cli.in"
  ip netns exec "$(lab_ns cli)" "${LB_TRAFFIC[@]}" client --vip "$LB_VIP:80" --source "$LB_CLIENT" \
    --timeout-ms 3000 <"$LAB_TMP/cli.in" >>"$LAB_TMP/cli.out" 2>"$LAB_TMP/cli.err" &
  LB_CLI_PID=$!
  lab_track_pid "$LB_CLI_PID"
  wait_for 10000 grep -q '^ready' "$LAB_TMP/cli.out" || fail "client did not start: $(cat "$LAB_TMP/cli.err")"
}

# shellcheck disable=SC2317  # runs from wait_for
lb_answered() { grep -q "^$1 $2 ok=" "$LAB_TMP/cli.out" || lab_pid_gone "$LB_CLI_PID"; }

# cmd VERB GROUP [ARGS]: one client command, waited for; its per-socket lines ("SPORT BACKEND")
# go to $LAB_TMP/GROUP.VERB, its ok/fail counts to OK and FAILED.
# shellcheck disable=SC2034  # OK and FAILED are the caller's to read
cmd() {
  local verb=$1 group=$2 kind=conn summary
  [[ $verb == probe ]] && kind=pconn
  : >"$LAB_TMP/cli.out"  # the client appends (O_APPEND): truncating is safe between commands
  echo "$*" >&"$LB_CLI_FD"
  wait_for 20000 lb_answered "$verb" "$group" || fail "client did not answer '$*': $(tail -n 3 "$LAB_TMP/cli.err")"
  summary=$(grep "^$verb $group ok=" "$LAB_TMP/cli.out") || fail "client died in '$*': $(tail -n 3 "$LAB_TMP/cli.err")"
  awk -v k="$kind" -v g="$group" '$1 == k && $2 == g {print $3, $4}' "$LAB_TMP/cli.out" >"$LAB_TMP/$group.$verb"
  OK=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$summary")
  FAILED=$(sed -n 's/.* fail=\([0-9]*\).*/\1/p' <<<"$summary")
}

# predict CONFIG FIRST N > FILE: "SPORT BACKEND" for client ports FIRST.. per the table
predict() {
  local p
  for ((p = $2; p < $2 + $3; p++)); do echo "$LB_CLIENT $p"; done |
    "$LB_TOOL" lookup --config "$1" --service web | sed 's/^[^ ]* \([0-9]*\) bucket=[0-9]* backend=/\1 /'
}

# same FILE_A FILE_B WHAT: identical "SPORT BACKEND" lists, or fail naming the first difference
same() {
  local d
  d=$(diff "$1" "$2" | grep '^[<>]' | head -n 4 | tr '\n' ' ') || true
  [[ -z "$d" ]] || fail "$3: $d"
}

per_backend() { awk '{print $2}' "$1" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'; }

# on_backend FILE ADDR: how many "SPORT BACKEND" lines of FILE are on ADDR:8080
on_backend() { grep -c " $2:8080$" "$1" || true; }

counter() { lab_exec "$1" nft list counter inet operator_fw "$2" | sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'; }

# lb_ct_vip GW [STATE]: the gateway's conntrack entries to the VIP (in a TCP state, if given)
lb_ct_vip() {
  local n
  n=$(lab_exec "$1" conntrack -L -p tcp -d "$LB_VIP" ${2:+--state "$2"} 2>/dev/null | grep -c dport=80) || true
  echo "${n:-0}"
}
