#!/usr/bin/env bash
# gwsyncd with [nat] on two gateways (nodes 1 and 2, partitions 1024-32767 / 32768-65535 of
# 198.51.100.100), synced over TLS on a dedicated link, both hot:
#   - each gwsyncd applied table inet gwsync_nat with its own partition;
#   - PER_SIDE flows (half TCP, half UDP) opened through each gateway at once reach the other
#     gateway's kernel through the daemons: insert_failed 0, no public IP:port twice, every
#     binding in its partition on both gateways;
#   - `gwsyncctl nat` reports the bindings per partition;
#   - a session injected at gw-a with an SNAT port in gw-b's partition (a forged or misconfigured
#     binding) is dropped by gw-b: not in its kernel, counted once as outside_partition.
#
#   vm-a 192.0.2.10 ─┐               ┌─ gw-a lan 192.0.2.2 | wan 203.0.113.2/30 ── via-a ─┐
#                    ├─ [lan: br0] ──┤                                                   srv 203.0.113.10
#   vm-b 192.0.2.11 ─┘               └─ gw-b lan 192.0.2.3 | wan 203.0.113.6/30 ── via-b ─┘
#   gw-a sync 198.51.100.253/30 ── gw-b sync 198.51.100.254/30 (gwsyncd over TLS 1.3)
#
# usage: nat_daemon.sh BUILD_DIR [PER_SIDE]  (default 300; even, 2..10000)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAT_BUILD=${1:?usage: nat_daemon.sh BUILD_DIR [PER_SIDE]}
per_side=${2:-300}
if [[ ! "$per_side" =~ ^[0-9]{1,5}$ ]] || ((per_side < 2 || per_side > 10000 || per_side % 2)); then
  echo "PER_SIDE: '$per_side' is not an even count 2..10000" >&2
  exit 2
fi
((EUID == 0)) || { echo "nat_daemon: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/nat_lib.sh
. "$here/nat_lib.sh"
# shellcheck source=test/netns/nat_topology.sh
. "$here/nat_topology.sh"
nat_tools
nat_daemon_tools

readonly TCP=$((per_side / 2)) UDP=$((per_side / 2))
readonly PART_A=1024-32767 PART_B=32768-65535
NAT_PROBE_TIMEOUT_MS=$((3000 + per_side))

lab_init gwnd
trap nat_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { nat_daemon_fail "$@"; }
ctl() { nat_ctl "$@"; }
stat_of() { nat_stat "$@"; }

build_topology() {
  nat_two_gateways vm-a:192.0.2.10:gw-a vm-b:192.0.2.11:gw-b
  nat_route_partitions "$PART_A"
}

# check_table GW PARTITION: gwsyncd applied its table with this node's partition
check_table() {
  local table
  table=$(lab_exec "$1" nft list table inet gwsync_nat 2>&1) ||
    fail "$1: no table inet gwsync_nat: $table"
  grep -q "snat ip to $NAT_PUBLIC:$2 " <<<"$table" ||
    fail "$1: table inet gwsync_nat without the partition $2: $table"
}

# shellcheck disable=SC2317  # runs from wait_for
synced() {  # synced GW: the gateway's kernel holds both sides' bindings
  local show
  show=$(nat_show "$1" "$LAB_TMP/$1/gwsync.toml" 2>/dev/null) || return 1
  [[ "$(nat_field "$show" 'partition pool=shared node=1' bindings)" == "$per_side" &&
     "$(nat_field "$show" 'partition pool=shared node=2' bindings)" == "$per_side" ]]
}

check_gateway() {  # check_gateway GW
  local show dups
  show=$(nat_show "$1" "$LAB_TMP/$1/gwsync.toml")
  [[ "$(nat_field "$show" 'pool_extra pool=shared' outside_partitions)" == 0 ]] ||
    fail "$1: bindings outside the partitions: $show"
  dups=$(nat_bindings "$1" | sort | uniq -d | wc -l)
  ((dups == 0)) || fail "$1: $dups public IP:port used twice"
  (($(nat_insert_failed "$1") == 0)) || fail "$1: conntrack insert_failed $(nat_insert_failed "$1")"
}

# shellcheck disable=SC2317  # runs from wait_for
rejected_once() { [[ "$(stat_of gw-b 'nat_binding_rejected{outside_partition}')" == 1 ]]; }
# shellcheck disable=SC2317  # runs from wait_for
injected_owned() { ctl gw-a sessions 192.0.2.1 2>/dev/null | grep -q '^own '; }

lab_log "lab $LAB_PREFIX: gwsyncd with [nat], $per_side flows per side ($TCP TCP + $UDP UDP)"
build_topology
nat_daemon_keys
# No refresh during the test: the rejection counter must count the injected session once.
NAT_REFRESH_MS=600000
for gw in gw-a gw-b; do
  nat_daemon_config "$gw" "$(nat_toml_nat "{ 1 = \"$PART_A\", 2 = \"$PART_B\" }")"
  nat_daemon_start "$gw"
done
wait_for 15000 nat_daemons_ready || fail "the daemons did not become ready and connected within 15 s"
check_table gw-a "$PART_A"
check_table gw-b "$PART_B"
lab_log "both gwsyncd ready; each applied table inet gwsync_nat with its partition"

nat_server_start srv
t0=$(lab_now_ms)
nat_client_start vm-a vm-a "$TCP" "$UDP"
nat_client_start vm-b vm-b "$TCP" "$UDP"
nat_client_ready vm-a
nat_client_ready vm-b
nat_probe_send vm-a
nat_probe_send vm-b
nat_probe_wait vm-a
nat_expect_all vm-a "$TCP" "$UDP" "through gw-a"
nat_probe_wait vm-b
nat_expect_all vm-b "$TCP" "$UDP" "through gw-b"
lab_log "$((2 * per_side)) flows opened through both gateways in $(($(lab_now_ms) - t0)) ms"

wait_for 20000 synced gw-a ||
  fail "gw-a: the bindings did not converge: $(nat_show gw-a "$LAB_TMP/gw-a/gwsync.toml")"
wait_for 20000 synced gw-b ||
  fail "gw-b: the bindings did not converge: $(nat_show gw-b "$LAB_TMP/gw-b/gwsync.toml")"
check_gateway gw-a
check_gateway gw-b
lab_log "each kernel holds $per_side + $per_side bindings through the daemons: insert_failed 0," \
  "none twice, none outside the partitions"

for gw in gw-a gw-b; do
  out=$(ctl "$gw" nat) || fail "$gw: gwsyncctl nat failed: $out"
  [[ "$(nat_field "$out" 'partition pool=shared node=1' bindings)" == "$per_side" &&
     "$(nat_field "$out" 'partition pool=shared node=2' bindings)" == "$per_side" &&
     "$(nat_field "$out" 'rejected reason=outside_partition' count)" == 0 ]] ||
    fail "$gw: gwsyncctl nat: $out"
done
lab_log "gwsyncctl nat reports $per_side bindings in each partition on both gateways"

# A binding gw-a cannot have made: 192.0.2.1:41024 -> 203.0.113.1:443 translated to
# 198.51.100.100:41024, in node 2's partition. gw-a (owner 1) syncs it; gw-b must drop it.
"$NAT_CT" inject --netns "$(lab_ns gw-a)" --count 1 --first 40000 >/dev/null ||
  fail "gwsync-ct inject at gw-a failed"
wait_for 5000 injected_owned || fail "gw-a did not pick up the injected session"
wait_for 5000 rejected_once ||
  fail "gw-b: nat_binding_rejected{outside_partition} is $(stat_of gw-b 'nat_binding_rejected{outside_partition}'), not 1"
sleep 0.5
rejected_once || fail "gw-b: the rejection was counted more than once"
injected() { lab_exec "$1" conntrack -L -s 192.0.2.1 2>/dev/null | grep -c 'dport=443' || true; }
(($(injected gw-a) == 1)) || fail "gw-a: the injected session is not in its kernel"
(($(injected gw-b) == 0)) || fail "gw-b: the rejected session is in its kernel ($(injected gw-b) entries)"
out=$(ctl gw-b nat)
[[ "$(nat_field "$out" 'rejected reason=outside_partition' count)" == 1 ]] ||
  fail "gw-b: gwsyncctl nat does not show the rejection: $out"
grep -q 'nat: dropping peer session with binding outside_partition' "$LAB_TMP/gw-b/gwsyncd.log" ||
  fail "gw-b logged no warning for the rejected binding"
lab_log "the injected session with a port in gw-b's partition was dropped by gw-b and counted once"

for gw in gw-a gw-b; do lab_stop_pid "${NAT_DPID[$gw]}" 5000; done
lab_exec gw-a nft list table inet gwsync_nat >/dev/null 2>&1 ||
  fail "gw-a: gwsyncd removed table inet gwsync_nat when it stopped"

nat_result PASS "gwsyncd applied inet gwsync_nat on both gateways; $per_side + $per_side flows synced through the daemons without collision; gwsyncctl nat reports them; a binding outside the owner's partition was dropped and counted"
