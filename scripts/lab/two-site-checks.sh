# shellcheck shell=bash
# Traffic and checks of the two-site lab (sourced by two-site.sh): gwsync-traffic servers and
# clients driven through fifos, the gateways' nftables counters, the NAT bindings in conntrack
# and the WAN router's routes. See docs/lab.md for the scenario these add up to.

TS_PROBE_TIMEOUT_MS=${TS_PROBE_TIMEOUT_MS:-3000}
declare -gA TS_CLIENT_FD TS_CLIENT_PID TS_CLIENT_PROBES TS_CLIENT_TCP TS_CLIENT_UDP TS_P
declare -gA TS_SERVER_PID

# shellcheck disable=SC2317  # runs from wait_for
ts_server_ready() { grep -q '^listening' "$LAB_TMP/server-$1.log" || lab_pid_gone "${TS_SERVER_PID[$1]}"; }

# ts_server_start NAME NS IP:PORT: a gwsync-traffic echo server (TCP and UDP).
ts_server_start() {
  lab_spawn "$LAB_TMP/server-$1.log" "$(ts_tool gwsync-traffic)" server --listen "$3" \
    --netns "$(lab_ns "$2")"
  TS_SERVER_PID[$1]=$LAB_LAST_PID
  wait_for 5000 ts_server_ready "$1" || lab_die "server $1 did not start within 5 s"
  lab_pid_alive "${TS_SERVER_PID[$1]}" || lab_die "server $1: $(tail -n 3 "$LAB_TMP/server-$1.log")"
}

# ts_servers_start: the Internet server (203.0.113.10:7000) and the VM's service behind the VIP.
ts_servers_start() {
  ts_server_start inet inet "$TS_SERVER:$TS_SERVER_PORT"
  ts_server_start vm vm "$TS_VM_IP:$TS_VM_SERVICE_PORT"
}

# ts_client_start NAME NS IP:PORT TCP UDP: a client holding TCP and UDP sessions open, probed on
# command through a fifo this shell holds open read-write (neither side blocks on open).
ts_client_start() {
  local name=$1 fd
  mkfifo "$LAB_TMP/client-$name.in"
  : >"$LAB_TMP/client-$name.out"
  exec {fd}<>"$LAB_TMP/client-$name.in"
  "$(ts_tool gwsync-traffic)" client --server "$3" --tcp "$4" --udp "$5" --netns "$(lab_ns "$2")" \
    --timeout-ms "$TS_PROBE_TIMEOUT_MS" <"$LAB_TMP/client-$name.in" \
    >"$LAB_TMP/client-$name.out" 2>"$LAB_TMP/client-$name.err" &
  TS_CLIENT_PID[$name]=$!
  lab_track_pid "$!"
  TS_CLIENT_FD[$name]=$fd
  TS_CLIENT_PROBES[$name]=0
  TS_CLIENT_TCP[$name]=$4
  TS_CLIENT_UDP[$name]=$5
}

ts_client_lines() {  # ts_client_lines NAME PREFIX
  local n
  n=$(grep -c "^$2" "$LAB_TMP/client-$1.out" 2>/dev/null) || true
  echo "${n:-0}"
}

# shellcheck disable=SC2317  # runs from wait_for
ts_client_answered() {  # enough lines, or the client is gone
  (($(ts_client_lines "$1" "$2") >= $3)) || lab_pid_gone "${TS_CLIENT_PID[$1]}"
}

ts_client_ready() {  # ts_client_ready NAME: waits until every session is open
  wait_for $((TS_PROBE_TIMEOUT_MS + 15000)) ts_client_answered "$1" ready 1 ||
    lab_die "client $1 did not open its sessions"
  (($(ts_client_lines "$1" ready) == 1)) || lab_die "client $1: $(tail -n 3 "$LAB_TMP/client-$1.err")"
}

# ts_traffic_start [TCP UDP IN]: from the VM TCP (200) sessions and UDP (20) flows to the server
# through SNAT (client "out"), from the Internet IN (50) connections to the VIP (client "in"),
# and 20 TCP + 5 UDP from vm2, which stays at site A (client "stay"). Waits until all are open.
ts_traffic_start() {
  local tcp=${1:-200} udp=${2:-20} in=${3:-50}
  ts_client_start out vm "$TS_SERVER:$TS_SERVER_PORT" "$tcp" "$udp"
  ((in > 0)) && ts_client_start in inet "$TS_VIP:$TS_VIP_PORT" "$in" 0
  ts_client_start stay vm2 "$TS_SERVER:$TS_SERVER_PORT" 20 5
  ts_client_ready out
  ((in > 0)) && ts_client_ready in
  ts_client_ready stay
}

# ts_probe NAME: every session of the client sends a token and reads its echo (data both ways);
# the counts land in TS_P (tcp_ok tcp_fail udp_ok udp_fail same_peer changed_peer). same_peer
# counts sessions whose server saw the same peer IP:port as at their first probe.
ts_probe() {
  local name=$1 n line kv fields
  echo probe >&"${TS_CLIENT_FD[$name]}"
  n=$((TS_CLIENT_PROBES[$name] + 1))
  TS_CLIENT_PROBES[$name]=$n
  wait_for $((TS_PROBE_TIMEOUT_MS + 15000)) ts_client_answered "$name" probe "$n" ||
    lab_die "client $name did not answer probe $n"
  line=$(grep '^probe ' "$LAB_TMP/client-$name.out" | sed -n "${n}p")
  [[ -n "$line" ]] || lab_die "client $name died in probe $n: $(tail -n 3 "$LAB_TMP/client-$name.err")"
  TS_P=()
  read -ra fields <<<"${line#probe }"
  for kv in "${fields[@]}"; do TS_P[${kv%%=*}]=${kv#*=}; done
}

ts_probe_text() {  # the last probe, in words
  printf 'TCP %d/%d ok, UDP %d/%d ok, server saw the same peer IP:port for %d, a new one for %d' \
    "${TS_P[tcp_ok]}" "$((TS_P[tcp_ok] + TS_P[tcp_fail]))" "${TS_P[udp_ok]}" \
    "$((TS_P[udp_ok] + TS_P[udp_fail]))" "${TS_P[same_peer]}" "${TS_P[changed_peer]}"
}

# ts_all_alive NAME: the last probe of NAME reached every session, each seen by the server with
# the peer IP:port of its first probe (for the VM's clients: the public IP:port is unchanged).
ts_all_alive() {
  local name=$1
  ((TS_P[tcp_ok] == TS_CLIENT_TCP[$name] && TS_P[udp_ok] == TS_CLIENT_UDP[$name] &&
    TS_P[same_peer] == TS_CLIENT_TCP[$name] + TS_CLIENT_UDP[$name]))
}

# ts_counter GW NAME: packets of a counter of table inet gwlab_fw (vm_out, vm_in, vm2_out: the
# VMs' forwarded packets; est, invalid, new_lan, new_dnat, dropped) or "lb:vip" of gwlab_lb.
ts_counter() {
  local table=gwlab_fw name=$2
  [[ $name == lb:* ]] && { table=gwlab_lb; name=${name#lb:}; }
  lab_exec "$1" nft list counter inet "$table" "$name" | sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

ts_counters_text() {  # ts_counters_text GW: the counters on one line
  local c out="$1:"
  for c in vm_out vm_in vm2_out est new_lan new_dnat invalid dropped; do
    out+=" $c=$(ts_counter "$1" "$c")"
  done
  echo "$out ct=$(lab_ct_count "$1")"
}

# ts_snat_ports GW INSIDE_IP [PROTO [DPORT]]: the public ports of INSIDE_IP's translated sessions
# in GW's conntrack table (the reply tuple's destination port), one per line.
ts_snat_ports() {
  lab_exec "$1" conntrack -L -s "$2" ${3:+-p "$3"} ${4:+--dport "$4"} 2>/dev/null |
    sed -n "s/.* src=[^ ]* dst=$TS_PAT sport=[0-9]* dport=\([0-9]*\).*/\1/p"
}

# ts_ports_within LO-HI: every port on stdin lies in the range (and there is at least one).
ts_ports_within() {
  local lo=${1%-*} hi=${1#*-}
  awk -v lo="$lo" -v hi="$hi" '{n++; if ($1 < lo || $1 > hi) bad++} END {exit !(n > 0 && !bad)}'
}

# ts_dci_drops: packets the DCI filter dropped (virtual MAC, ARP for the anycast address).
ts_dci_drops() {
  local c out=""
  for c in vmac arp_gw; do
    out+="$c=$(lab_exec dci nft list counter bridge gwlab_dci "$c" |
      sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p') "
  done
  echo "${out% }"
}
