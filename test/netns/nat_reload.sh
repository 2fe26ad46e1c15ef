#!/usr/bin/env bash
# The NAT table's life on a real kernel, next to the operator's own tables:
#   1. gwsync-nat apply creates table inet gwsync_nat and nothing else: the operator's tables
#      (inet gwlab, and ip gwsync, a name close to ours) keep their rules and handles;
#   2. TCP and UDP sessions from the VM are translated into this node's partition;
#   3. a reload with a changed partition (applied while a probe is in flight) replaces the table
#      in one transaction: every established session keeps working with its public IP:port and
#      new sessions get ports of the new partition;
#   4. gwsync-nat remove deletes only our table — and with it the kernel's NAT hooks, so the
#      translated sessions stop: why gwsyncd keeps the table across its own restarts.
#
#   vm 192.0.2.10 ── [lan: br0] ── gw (lan 192.0.2.1 | wan 203.0.113.2) ── srv 203.0.113.10
#
# usage: nat_reload.sh BUILD_DIR. Exit 0 pass, 1 fail, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAT_BUILD=${1:?usage: nat_reload.sh BUILD_DIR}
((EUID == 0)) || { echo "nat_reload: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/nat_lib.sh
. "$here/nat_lib.sh"
nat_tools

readonly TCP=50 UDP=10 TCP2=20 UDP2=5

lab_init gwnr
trap nat_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_topology() {
  local n
  for n in vm lan gw srv; do lab_ns_add "$n"; done
  lab_bridge_add lan br0
  lab_switch_port vm eth0 lan br0 vm
  lab_switch_port gw lan lan br0 gw
  lab_veth gw wan srv eth0
  lab_addr vm eth0 192.0.2.10/24
  lab_addr gw lan 192.0.2.1/24
  lab_addr gw wan 203.0.113.2/24
  lab_addr srv eth0 "$NAT_SERVER/24"
  lab_wait_up 3000 vm eth0 gw lan gw wan srv eth0
  ip -n "$(lab_ns vm)" route add default via 192.0.2.1
  ip -n "$(lab_ns srv)" route add "$NAT_PUBLIC/32" via 203.0.113.2
  nat_gateway gw
  lab_exec gw nft 'table ip gwsync { chain out { type filter hook output priority 0; policy accept; }; }'
}

# The operator's tables as the kernel holds them: rules, and handles (which a re-created table
# would not keep); counters left out because traffic moves them.
other_tables() {
  lab_exec gw nft -s -a list table inet gwlab
  lab_exec gw nft -s -a list table ip gwsync
}

tables() { lab_exec gw nft list tables | tr '\n' ';'; }

# Into a variable first: with pipefail, `nft | grep -q` fails when grep quits early (SIGPIPE).
nat_table_has() {
  local table
  table=$(lab_exec gw nft list table inet gwsync_nat)
  grep -qF -- "$1" <<<"$table"
}

lab_log "lab $LAB_PREFIX: NAT table apply, reload and removal in one gateway"
build_topology
other_tables >"$LAB_TMP/other.before"
[[ "$(tables)" == "table inet gwlab;table ip gwsync;" ]] || nat_fail "unexpected tables: $(tables)"

nat_config "$LAB_TMP/derived.toml" 1 2
nat_config "$LAB_TMP/moved.toml" 1 2 '{ 1 = "40000-49999", 2 = "50000-65535" }'
nat_apply gw "$LAB_TMP/derived.toml"
[[ "$(tables)" == "table inet gwlab;table ip gwsync;table inet gwsync_nat;" ]] ||
  nat_fail "after apply: tables $(tables)"
nat_table_has "snat ip to $NAT_PUBLIC:1024-33279" || nat_fail "our table lacks node 1's partition"
lab_log "applied: node 1 of 2 translates $NAT_PUBLIC to ports 1024-33279 (derived partition)"

nat_server_start srv
nat_client_start c1 vm "$TCP" "$UDP"
nat_client_ready c1
nat_probe c1
nat_expect_all c1 "$TCP" "$UDP" "before the reload"
show=$(nat_show gw "$LAB_TMP/derived.toml")
[[ "$(nat_field "$show" 'partition pool=shared node=1' bindings)" == $((TCP + UDP)) &&
   "$(nat_field "$show" 'partition pool=shared node=2' bindings)" == 0 &&
   "$(nat_field "$show" 'pool_extra pool=shared' outside_partitions)" == 0 ]] ||
  nat_fail "bindings not all in node 1's partition: $show"
lab_log "probe 1: $(nat_probe_text); all $((TCP + UDP)) bindings in 1024-33279"

# The reload runs while the client's probe is on the wire.
nat_probe_send c1
nat_apply gw "$LAB_TMP/moved.toml"
nat_probe_wait c1
nat_expect_all c1 "$TCP" "$UDP" "across the reload"
nat_table_has "snat ip to $NAT_PUBLIC:40000-49999" || nat_fail "reload did not change the partition"
! nat_table_has "1024-33279" || nat_fail "old partition still in the table"
lab_log "reload to 40000-49999 during probe 2: $(nat_probe_text)"

nat_client_start c2 vm "$TCP2" "$UDP2"
nat_client_ready c2
nat_probe c2
nat_expect_all c2 "$TCP2" "$UDP2" "new sessions after the reload"
nat_probe c1
nat_expect_all c1 "$TCP" "$UDP" "old sessions after the new ones"
show=$(nat_show gw "$LAB_TMP/moved.toml")
[[ "$(nat_field "$show" 'partition pool=shared node=1' bindings)" == $((TCP2 + UDP2)) &&
   "$(nat_field "$show" 'pool_extra pool=shared' outside_partitions)" == $((TCP + UDP)) ]] ||
  nat_fail "expected $((TCP2 + UDP2)) new bindings in 40000-49999 and the $((TCP + UDP)) old ones kept: $show"
lab_log "new sessions: $((TCP2 + UDP2)) in 40000-49999; the $((TCP + UDP)) old ones keep their ports"
other_tables >"$LAB_TMP/other.after"
diff -u "$LAB_TMP/other.before" "$LAB_TMP/other.after" >&2 ||
  nat_fail "the operator's tables changed"
(($(lab_nft_counter gw est) > 0 && $(lab_nft_counter gw invalid) == 0)) ||
  nat_fail "gwlab: est $(lab_nft_counter gw est), invalid $(lab_nft_counter gw invalid)"
(($(nat_insert_failed gw) == 0)) || nat_fail "conntrack insert_failed $(nat_insert_failed gw)"
lab_log "operator tables unchanged (rules and handles), their counters still counting"

"$NAT_TOOL" remove --netns "$(lab_ns gw)" || nat_fail "gwsync-nat remove failed"
"$NAT_TOOL" remove --netns "$(lab_ns gw)" || nat_fail "a second remove failed"
[[ "$(tables)" == "table inet gwlab;table ip gwsync;" ]] || nat_fail "after remove: $(tables)"
other_tables >"$LAB_TMP/other.removed"
diff -u "$LAB_TMP/other.before" "$LAB_TMP/other.removed" >&2 ||
  nat_fail "remove changed the operator's tables"
nat_probe c1
((P[tcp_ok] == 0)) || nat_fail "sessions still translated without any NAT chain: $(nat_probe_text)"
lab_log "removed: only our table went; without a NAT chain the kernel stops translating: $(nat_probe_text)"

nat_result PASS "table applied beside the operator's, replaced atomically under $((TCP + UDP)) live sessions (all kept their public IP:port), new sessions in the new partition, removal touched nothing else"
