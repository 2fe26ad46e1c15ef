# shellcheck shell=bash
# Shared by the NAT namespace tests: the gateways' NAT configs and firewall, conntrack
# statistics, and gwsync-traffic clients driven through fifos (the two-gateway topology and
# gwsyncd are in nat_topology.sh). Source scripts/lab/lib.sh first and call lab_init; set
# NAT_BUILD to the build tree.

readonly NAT_PUBLIC=198.51.100.100
readonly NAT_SERVER=203.0.113.10
readonly NAT_SERVER_PORT=7000
NAT_PROBE_TIMEOUT_MS=${NAT_PROBE_TIMEOUT_MS:-3000}

nat_tools() {  # checks the build tree; sets NAT_TOOL, NAT_CT, NAT_TRAFFIC
  NAT_TOOL="$NAT_BUILD/nat/gwsync-nat"
  NAT_CT="$NAT_BUILD/syncd/app/gwsync-ct"
  NAT_TRAFFIC="$NAT_BUILD/test/tools/gwsync-traffic"
  local t
  for t in "$NAT_TOOL" "$NAT_CT" "$NAT_TRAFFIC"; do
    [[ -x "$t" ]] || { echo "missing $t (build targets gwsync-nat gwsync-ct gwsync-traffic)" >&2; exit 2; }
  done
}

NAT_RESULT_PRINTED=0
nat_result() {  # nat_result PASS|FAIL TEXT
  echo "RESULT: $1 - $2"
  NAT_RESULT_PRINTED=1
}

nat_fail() {
  nat_result FAIL "$*"
  exit 1
}

# shellcheck disable=SC2317  # runs from the EXIT trap
nat_on_exit() {
  local rc=$?
  if ((!NAT_RESULT_PRINTED)); then
    nat_result FAIL "aborted (exit $rc)"
    rc=1
  fi
  lab_cleanup
  exit "$rc"
}

# nat_config FILE NODE PEER [PARTITIONS]: a gwsync.toml for one gateway of the pair; PARTITIONS
# is a TOML inline table such as '{ 1 = "1024-32767", 2 = "32768-65535" }' (absent: derived).
nat_config() {
  local file=$1 node=$2 peer=$3 partitions=${4:-}
  cat >"$file" <<EOT
[node]
id = $node

[sync]
peer = "198.51.100.254:7801"
peer_id = $peer

[nat]
inside = ["192.0.2.0/24"]
outside_interface = "wan"

[[nat.pool]]
name = "shared"
addresses = ["$NAT_PUBLIC"]
ports = "1024-65535"
${partitions:+partitions = $partitions}
EOT
}

# nat_gateway NS: the operator's own stateful filter (lab_gateway_firewall without NAT: table
# inet gwlab, forward policy drop, established accepted, new only from the LAN; named counters
# est, invalid, new_lan, dropped; strict TCP tracking), a blackhole for the public prefix
# (untranslated replies are dropped, not looped) and UDP entries that outlive a slow test run.
nat_gateway() {
  lab_gateway_firewall "$1" wan lan
  lab_sysctl "$1" net.netfilter.nf_conntrack_udp_timeout=300
  ip -n "$(lab_ns "$1")" route add blackhole 198.51.100.0/24
}

nat_apply() {  # nat_apply NS CONFIG
  "$NAT_TOOL" apply --config "$2" --netns "$(lab_ns "$1")" >/dev/null ||
    nat_fail "gwsync-nat apply in $1 failed"
}

nat_insert_failed() {  # nat_insert_failed NS: conntrack insert_failed, summed over CPUs
  lab_exec "$1" conntrack -S | sed -n 's/.*insert_failed=\([0-9]*\).*/\1/p' |
    awk '{s += $1} END {print s + 0}'
}

# nat_show NS CONFIG: `gwsync-nat show` (partitions and the namespace's bindings in them)
nat_show() {
  "$NAT_TOOL" show --config "$2" --netns "$(lab_ns "$1")"
}

# nat_field TEXT LINE_PATTERN FIELD: the value of FIELD= on the first line matching the pattern
nat_field() {
  grep -m 1 -E -- "$2" <<<"$1" | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# nat_bindings NS: "proto addr port" of every entry's source translation to the public address,
# read off the reply tuple of `gwsync-ct dump` (reply dst = public address, dport = public port)
nat_bindings() {
  "$NAT_CT" dump --netns "$(lab_ns "$1")" 2>/dev/null |
    sed -n "s/.*reply\[proto=\([0-9]*\) src=[^ ]* dst=\($NAT_PUBLIC\) sport=[0-9]* dport=\([0-9]*\)\].*/\1 \2 \3/p"
}

# shellcheck disable=SC2317  # runs from wait_for
nat_server_ready() {  # nat_server_ready LOG PID
  grep -qs '^listening' "$1" || lab_pid_gone "$2"
}

# nat_server_start NS [ADDR]: an echo server on ADDR:$NAT_SERVER_PORT (default $NAT_SERVER) in NS
nat_server_start() {
  local addr=${2:-$NAT_SERVER} log="$LAB_TMP/server-$1.log"
  lab_spawn "$log" "$NAT_TRAFFIC" server --listen "$addr:$NAT_SERVER_PORT" --netns "$(lab_ns "$1")"
  wait_for 5000 nat_server_ready "$log" "$LAB_LAST_PID" || nat_fail "server in $1 did not start within 5 s"
  lab_pid_alive "$LAB_LAST_PID" || nat_fail "server in $1: $(tail -n 3 "$log")"
}

# Clients read commands from a fifo held open read-write here, so neither side blocks on open.
declare -A NAT_CLIENT_FD NAT_CLIENT_PID NAT_CLIENT_PROBES

# nat_client_start NAME NS TCP UDP [SERVER_ADDR]: a client of the echo server at SERVER_ADDR
# (default $NAT_SERVER); does not wait (see nat_client_ready)
nat_client_start() {
  local name=$1 ns=$2 fd
  mkfifo "$LAB_TMP/$name.in"
  : >"$LAB_TMP/$name.out"
  exec {fd}<>"$LAB_TMP/$name.in"
  "$NAT_TRAFFIC" client --server "${5:-$NAT_SERVER}:$NAT_SERVER_PORT" --tcp "$3" --udp "$4" \
    --netns "$(lab_ns "$ns")" --timeout-ms "$NAT_PROBE_TIMEOUT_MS" \
    <"$LAB_TMP/$name.in" >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err" &
  NAT_CLIENT_PID[$name]=$!
  lab_track_pid "$!"
  NAT_CLIENT_FD[$name]=$fd
  NAT_CLIENT_PROBES[$name]=0
}

nat_client_lines() {  # nat_client_lines NAME PREFIX
  local n
  n=$(grep -c "^$2" "$LAB_TMP/$1.out" 2>/dev/null) || true
  echo "${n:-0}"
}

# shellcheck disable=SC2317  # runs from wait_for
nat_client_answered() {  # nat_client_answered NAME PREFIX COUNT: enough lines, or it is gone
  (($(nat_client_lines "$1" "$2") >= $3)) || lab_pid_gone "${NAT_CLIENT_PID[$1]}"
}

nat_client_ready() {  # nat_client_ready NAME: waits for "ready"
  wait_for $((NAT_PROBE_TIMEOUT_MS + 10000)) nat_client_answered "$1" ready 1 ||
    nat_fail "client $1 did not start"
  (($(nat_client_lines "$1" ready) == 1)) || nat_fail "client $1: $(tail -n 3 "$LAB_TMP/$1.err")"
}

nat_probe_send() {  # nat_probe_send NAME: asks for a probe without waiting
  echo probe >&"${NAT_CLIENT_FD[$1]}"
  NAT_CLIENT_PROBES[$1]=$((NAT_CLIENT_PROBES[$1] + 1))
}

# nat_probe_wait NAME: waits for the last probe's line; leaves its counts in the array P
declare -A P
nat_probe_wait() {
  local name=$1 n=${NAT_CLIENT_PROBES[$1]} line kv fields
  wait_for $((NAT_PROBE_TIMEOUT_MS + 10000)) nat_client_answered "$name" probe "$n" ||
    nat_fail "client $name did not answer probe $n"
  line=$(grep '^probe ' "$LAB_TMP/$name.out" | sed -n "${n}p")
  [[ -n "$line" ]] || nat_fail "client $name died in probe $n: $(tail -n 3 "$LAB_TMP/$name.err")"
  P=()
  read -ra fields <<<"${line#probe }"
  for kv in "${fields[@]}"; do P[${kv%%=*}]=${kv#*=}; done
}

nat_probe() {  # nat_probe NAME: one probe, waited for
  nat_probe_send "$1"
  nat_probe_wait "$1"
}

nat_probe_text() {
  printf 'TCP %d ok %d failed, UDP %d ok %d failed, server saw the same public IP:port %d, a new one %d' \
    "${P[tcp_ok]}" "${P[tcp_fail]}" "${P[udp_ok]}" "${P[udp_fail]}" "${P[same_peer]}" \
    "${P[changed_peer]}"
}

# nat_expect_all NAME TCP UDP WHAT: the last probe reached every session with its first public
# IP:port
nat_expect_all() {
  ((P[tcp_ok] == $2 && P[udp_ok] == $3 && P[same_peer] == $2 + $3)) ||
    nat_fail "$4: client $1: $(nat_probe_text)"
}
