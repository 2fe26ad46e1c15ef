# shellcheck shell=bash
# Helpers for network-namespace topologies: the lab, the demo and the namespace tests build on
# them. Source this file, call lab_init, and install lab_cleanup as the trap:
#
#   . scripts/lab/lib.sh
#   lab_init gwsd
#   trap lab_cleanup EXIT
#   trap 'exit 130' INT
#   trap 'exit 143' TERM
#   lab_ns_add gw-a            # creates "${LAB_PREFIX}gw-a"; $(lab_ns gw-a) is its full name
#
# Every namespace carries the run's unique prefix, so lab_cleanup removes exactly what this
# run made. Nothing here touches the root namespace: links are made between lab namespaces
# only, and sysctls are set inside them.

LAB_PREFIX=""  # set by lab_init: "<tag><pid>x<random>-"
LAB_TMP=""     # per-run scratch directory (logs, fifos), removed by lab_cleanup
LAB_PIDS=()    # background processes this run started, killed by lab_cleanup
LAB_T0_MS=0    # lab_init time, for lab_elapsed_ms

lab_now_ms() {
  local us=${EPOCHREALTIME//[!0-9]/}
  echo $((10#$us / 1000))
}

lab_elapsed_ms() {
  echo $(($(lab_now_ms) - LAB_T0_MS))
}

lab_log() {
  printf '[%6d ms] %s\n' "$(lab_elapsed_ms)" "$*"
}

lab_die() {
  printf 'lab: %s\n' "$*" >&2
  exit 1
}

# lab_init [TAG]: starts a run with a unique namespace prefix and a scratch directory.
lab_init() {
  local tag=${1:-gwlab}
  LAB_PREFIX="${tag}$$x${RANDOM}-"
  LAB_PIDS=()
  LAB_T0_MS=$(lab_now_ms)
  LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/${LAB_PREFIX}XXXXXX")
}

# lab_ns NAME: the full name of a lab namespace.
lab_ns() {
  printf '%s%s\n' "$LAB_PREFIX" "$1"
}

# lab_ns_add NAME: creates the namespace and brings its loopback up.
lab_ns_add() {
  [[ -n "$LAB_PREFIX" ]] || lab_die "lab_ns_add: call lab_init first"
  local ns
  ns=$(lab_ns "$1")
  ip netns add "$ns" || lab_die "cannot create namespace $ns"
  ip -n "$ns" link set lo up
}

# lab_exec NAME CMD...: runs a command inside a lab namespace.
lab_exec() {
  local ns
  ns=$(lab_ns "$1")
  shift
  ip netns exec "$ns" "$@"
}

# lab_sysctl NAME KEY=VALUE...: sets sysctls inside a lab namespace (never the root one).
lab_sysctl() {
  local name=$1
  shift
  lab_exec "$name" sysctl -qw "$@" >/dev/null
}

# lab_spawn LOG CMD...: starts CMD in the background with stdout and stderr in LOG, records
# its PID for lab_cleanup and leaves it in LAB_LAST_PID.
LAB_LAST_PID=""
lab_spawn() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_track_pid PID: lets lab_cleanup kill a process started some other way.
lab_track_pid() {
  LAB_PIDS+=("$1")
}

# wait_for TIMEOUT_MS CMD...: polls CMD every 50 ms until it succeeds (returns 0) or the
# deadline passes (returns 1).
wait_for() {
  local timeout_ms=$1
  shift
  local deadline=$(($(lab_now_ms) + timeout_ms))
  while true; do
    "$@" && return 0
    (($(lab_now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

lab_pid_alive() {
  kill -0 "$1" 2>/dev/null
}

lab_pid_gone() {
  ! kill -0 "$1" 2>/dev/null
}

# lab_stop_pid PID [TIMEOUT_MS]: SIGTERM, then SIGKILL if it outlives the timeout; reaps it.
lab_stop_pid() {
  local pid=$1 timeout_ms=${2:-2000}
  lab_pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for "$timeout_ms" lab_pid_gone "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# lab_namespaces: every namespace of this run.
lab_namespaces() {
  [[ -n "$LAB_PREFIX" ]] || return 0
  ip netns list 2>/dev/null | awk '{print $1}' | grep -F -- "$LAB_PREFIX" |
    while read -r ns; do [[ "$ns" == "$LAB_PREFIX"* ]] && echo "$ns"; done
  return 0
}

# lab_cleanup: kills the recorded processes, then anything still running inside this run's
# namespaces (all started by this run), deletes the namespaces and the scratch directory.
# Safe to call more than once; keeps the exit status of the caller.
lab_cleanup() {
  local rc=$? pid ns
  trap "" INT TERM  # a second Ctrl-C must not cut the cleanup short
  for pid in "${LAB_PIDS[@]}"; do lab_stop_pid "$pid" 1000; done
  LAB_PIDS=()
  for ns in $(lab_namespaces); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || printf 'lab: could not delete namespace %s\n' "$ns" >&2
  done
  if [[ -n "$LAB_TMP" && -d "$LAB_TMP" && "$LAB_TMP" == *"$LAB_PREFIX"* ]]; then
    rm -rf -- "$LAB_TMP"
  fi
  LAB_TMP=""
  return "$rc"
}

# lab_veth NS_A IF_A NS_B IF_B: a veth pair between two lab namespaces, both ends up.
lab_veth() {
  local a b
  a=$(lab_ns "$1")
  b=$(lab_ns "$3")
  ip -n "$a" link add "$2" type veth peer name "$4" netns "$b" ||
    lab_die "cannot create veth $1:$2 <-> $3:$4"
  ip -n "$a" link set "$2" up
  ip -n "$b" link set "$4" up
}

# lab_bridge_add NS BRIDGE: a bridge (no STP, so ports forward at once) in a switch
# namespace. Bridged frames skip the IP hooks there, so the switch never tracks connections.
lab_bridge_add() {
  local ns
  ns=$(lab_ns "$1")
  ip -n "$ns" link add "$2" type bridge stp_state 0 || lab_die "cannot create bridge $1:$2"
  ip -n "$ns" link set "$2" up
  if lab_exec "$1" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
    lab_sysctl "$1" net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
      net.bridge.bridge-nf-call-arptables=0
  fi
}

# lab_switch_port HOST_NS HOST_IF SWITCH_NS BRIDGE PORT: plugs HOST_NS into a switch with a
# veth pair whose switch end PORT joins BRIDGE.
lab_switch_port() {
  lab_veth "$1" "$2" "$3" "$5"
  ip -n "$(lab_ns "$3")" link set "$5" master "$4" up
}

# lab_addr NS IF CIDR: adds an address to an interface.
lab_addr() {
  ip -n "$(lab_ns "$1")" addr add "$3" dev "$2" || lab_die "cannot add $3 to $1:$2"
}

lab_link_is_up() {
  ip -n "$(lab_ns "$1")" -o link show dev "$2" 2>/dev/null | grep -q 'state UP'
}

# lab_wait_up TIMEOUT_MS NS IF [NS IF]...: waits until every listed link has carrier.
lab_wait_up() {
  local timeout_ms=$1
  shift
  while (($# >= 2)); do
    wait_for "$timeout_ms" lab_link_is_up "$1" "$2" || lab_die "link $1:$2 did not come up"
    shift 2
  done
}

# lab_gateway_firewall NS WAN_IF LAN_IF [PUBLIC_IP]: a stateful NAT gateway in namespace NS.
# Table inet gwlab: forward chain with policy drop that accepts established/related, drops
# invalid (counted) and accepts new connections from the LAN only; postrouting SNATs LAN
# traffic leaving the WAN interface to PUBLIC_IP (without PUBLIC_IP, no NAT chain at all: another
# table, such as gwsync's own, translates). Named counters, for exact checks:
#   est (established/related accepted), invalid (dropped), new_lan (new from the LAN
#   accepted), dropped (hit the policy), lan_snat (connections translated).
# Strict TCP tracking: nf_conntrack_tcp_loose=0, so a mid-stream packet without a conntrack
# entry is invalid instead of starting a new connection.
lab_gateway_firewall() {
  local name=$1 wan=$2 lan=$3 public=${4:-} family=ip nat=""
  [[ "$public" == *:* ]] && family=ip6
  if [[ -n "$public" ]]; then
    nat="chain postrouting { type nat hook postrouting priority srcnat; policy accept;
      iifname \"$lan\" oifname \"$wan\" counter name \"lan_snat\" snat $family to $public; }"
  fi
  lab_exec "$name" nft -f - <<EOF || lab_die "cannot install the firewall in $name"
table inet gwlab {
  counter est {}
  counter invalid {}
  counter new_lan {}
  counter dropped {}
  counter lan_snat {}
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related counter name "est" accept
    ct state invalid counter name "invalid" drop
    iifname "$lan" ct state new counter name "new_lan" accept
    counter name "dropped"
  }
  $nat
}
EOF
  # After the table: its ct expressions load conntrack, which owns the second sysctl.
  lab_sysctl "$name" net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_tcp_loose=0
  if [[ "$family" == ip6 ]]; then lab_sysctl "$name" net.ipv6.conf.all.forwarding=1; fi
}

# lab_nft_counter NS COUNTER [TABLE]: packets of a named counter in table inet TABLE (gwlab).
lab_nft_counter() {
  lab_exec "$1" nft list counter inet "${3:-gwlab}" "$2" |
    sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

# lab_ct_count NS: number of conntrack entries in the namespace.
lab_ct_count() {
  lab_exec "$1" sysctl -n net.netfilter.nf_conntrack_count
}

# The repository this lab script belongs to (for scripts/gwsync-keygen).
LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# lab_tls_keys NAME...: a key pair and a self-signed certificate per gateway, in $LAB_TMP/tls;
# LAB_FP[NAME] holds its SHA-256 fingerprint, what the peer pins.
declare -gA LAB_FP
lab_tls_keys() {
  local n dir="$LAB_TMP/tls"
  mkdir -p "$dir"
  for n in "$@"; do
    LAB_FP[$n]=$(bash "$LAB_REPO/scripts/gwsync-keygen" "$n" "$dir" 2>"$dir/$n.log") ||
      lab_die "gwsync-keygen $n failed: $(cat "$dir/$n.log")"
  done
}

# lab_tls_toml NAME PEER: the [tls] table of gateway NAME, pinning PEER's certificate.
lab_tls_toml() {
  printf '[tls]\nkey = "%s"\ncert = "%s"\npeer_fingerprints = ["%s"]\n' \
    "$LAB_TMP/tls/$1.key" "$LAB_TMP/tls/$1.crt" "${LAB_FP[$2]}"
}
