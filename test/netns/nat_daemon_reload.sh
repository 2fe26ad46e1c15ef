#!/usr/bin/env bash
# SIGHUP (systemctl reload) of gwsyncd with [nat], on two gateways synced over TLS:
#   1. a valid edit on both gateways (gw-a's partition moves from 1024-32767 to 40000-49999, a
#      1:1 mapping 192.0.2.20 = 198.51.100.20 is added; gw-b's moves to 50000-65535) is applied while a probe of live TCP and
#      UDP sessions is on the wire: every session keeps working with its public IP:port, table
#      inet gwsync_nat holds the new partition and the mapping and no longer the old partition,
#      new sessions take ports of the new partition, the mapped host leaves as its public address;
#      gwsync_config_reloads_total{result="ok"} counts it;
#   2. a binding in gw-a's partition from before the reload is still accepted by gw-b (sessions
#      keep their ports), while one in gw-b's own partition is still dropped;
#   3. an invalid edit (overlapping partitions) leaves the running table exactly as it was, logs
#      one error line naming the key and counts result="invalid"; the sessions carry on;
#   4. an edit of a key that needs a restart (sync.heartbeat_ms) is logged as such, keeps the
#      running value and counts result="restart_needed".
#
#   vm-a 192.0.2.10, vm-s 192.0.2.20 (both via gw-a); two-gateway topology of nat_topology.sh.
#
# usage: nat_daemon_reload.sh BUILD_DIR. Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAT_BUILD=${1:?usage: nat_daemon_reload.sh BUILD_DIR}
((EUID == 0)) || { echo "nat_daemon_reload: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/nat_lib.sh
. "$here/nat_lib.sh"
# shellcheck source=test/netns/nat_topology.sh
. "$here/nat_topology.sh"
nat_tools
nat_daemon_tools

readonly TCP=50 UDP=10 TCP2=20 UDP2=5
readonly OLD='{ 1 = "1024-32767", 2 = "32768-65535" }'
readonly NEW='{ 1 = "40000-49999", 2 = "50000-65535" }'
readonly OVERLAP='{ 1 = "40000-55000", 2 = "50000-65535" }'
readonly STATIC_IN=192.0.2.20 STATIC_PUB=198.51.100.20

lab_init gwnh
trap nat_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { nat_daemon_fail "$@"; }
reloads() { nat_metric "$1" "gwsync_config_reloads_total{result=\"$2\"}"; }
# shellcheck disable=SC2317  # runs from wait_for
logged() { (($(grep -cF -- "$2" "$LAB_TMP/$1/gwsyncd.log") >= ${3:-1})); }
table_has() { local t; t=$(nat_table "$1") && grep -qF -- "$2" <<<"$t"; }
# The table without counters, which traffic moves.
rules() { lab_exec "$1" nft -s list table inet gwsync_nat; }
field() { nat_field "$(nat_ctl "$1" nat)" "$2" "$3"; }

# shellcheck disable=SC2317  # runs from wait_for
reloads_counted() {  # reloads_counted GW N: the reload counters add up to N
  local r sum=0 v
  for r in ok invalid restart_needed failed; do
    v=$(reloads "$1" "$r")
    [[ -n "$v" ]] || return 1
    sum=$((sum + v))
  done
  ((sum == $2))
}

# reload GW... WHAT: SIGHUP to each gateway, then waits until its metrics count the reload (the
# log lines are written before the counter moves)
declare -A RELOADS=([gw-a]=0 [gw-b]=0)
reload() {
  local gw
  for gw in "${@:1:$#-1}"; do
    RELOADS[$gw]=$((RELOADS[$gw] + 1))
    kill -HUP "${NAT_DPID[$gw]}"
  done
  for gw in "${@:1:$#-1}"; do
    wait_for 5000 reloads_counted "$gw" "${RELOADS[$gw]}" ||
      fail "$gw: reload ${RELOADS[$gw]} (${*: -1}) not counted: $(grep reload "$LAB_TMP/$gw/gwsyncd.log")"
  done
}

lab_log "lab $LAB_PREFIX: gwsyncd reload of [nat] under live sessions"
nat_two_gateways vm-a:192.0.2.10:gw-a vm-s:$STATIC_IN:gw-a
nat_route_public "$NAT_PUBLIC" gw-a
nat_route_public "$STATIC_PUB" gw-a
nat_daemon_keys
NAT_METRICS=1 NAT_REFRESH_MS=1000
for gw in gw-a gw-b; do
  nat_daemon_config "$gw" "$(nat_toml_nat "$OLD")"
  nat_daemon_start "$gw"
done
wait_for 15000 nat_daemons_ready || fail "the daemons did not become ready and connected"
table_has gw-a "snat ip to $NAT_PUBLIC:1024-32767 " || fail "gw-a: no table with 1024-32767"
! table_has gw-a "$STATIC_PUB" || fail "gw-a: a 1:1 rule before it was configured"
lab_log "both gwsyncd ready; gw-a translates to $NAT_PUBLIC:1024-32767"

nat_server_start srv
nat_client_start c1 vm-a "$TCP" "$UDP"
nat_client_ready c1
nat_probe c1
nat_expect_all c1 "$TCP" "$UDP" "before the reload"

# 1. A valid edit, on both gateways (their [nat] must agree), during a probe.
for gw in gw-a gw-b; do
  nat_daemon_config "$gw" "$(nat_toml_nat "$NEW" "$STATIC_IN=$STATIC_PUB")"
done
nat_probe_send c1
reload gw-a gw-b "valid edit"
nat_probe_wait c1
nat_expect_all c1 "$TCP" "$UDP" "across the reload"
for gw in gw-a gw-b; do
  logged "$gw" "<6>reload: nat (ok)" || fail "$gw: the reload did not apply nat: $(grep reload "$LAB_TMP/$gw/gwsyncd.log")"
  [[ "$(reloads "$gw" ok)" == 1 ]] || fail "$gw: reloads{ok} is '$(reloads "$gw" ok)', not 1"
  { table_has "$gw" "dnat ip to $STATIC_IN" && table_has "$gw" "snat ip to $STATIC_PUB"; } ||
    fail "$gw: the 1:1 mapping is not in the table: $(nat_table "$gw")"
done
table_has gw-a "snat ip to $NAT_PUBLIC:40000-49999 " || fail "gw-a: the new partition is not in the table"
! table_has gw-a "1024-32767" || fail "gw-a: the old partition is still in the table"
lab_log "SIGHUP during probe 2: $(nat_probe_text); table now 40000-49999 plus the 1:1 mapping"

nat_client_start c2 vm-a "$TCP2" "$UDP2"
nat_client_start c3 vm-s 3 1
nat_client_ready c2
nat_client_ready c3
nat_probe c2
nat_expect_all c2 "$TCP2" "$UDP2" "new sessions after the reload"
nat_probe c3
nat_expect_all c3 3 1 "the 1:1 host after the reload"
nat_probe c1
nat_expect_all c1 "$TCP" "$UDP" "old sessions after the new ones"
[[ "$(field gw-a 'partition pool=shared node=1' bindings)" == $((TCP2 + UDP2)) &&
   "$(field gw-a 'pool_extra pool=shared' outside_partitions)" == $((TCP + UDP)) &&
   "$(field gw-a "static inside=$STATIC_IN" bindings)" == 4 ]] ||
  fail "gw-a: expected $((TCP2 + UDP2)) bindings in 40000-49999, the $((TCP + UDP)) old ones outside, 4 static: $(nat_ctl gw-a nat)"
lab_log "new sessions in 40000-49999, the 1:1 host's 4 through $STATIC_PUB, the old ones keep their ports"

# 2. Bindings as the peer's receiver sees them after the reload: 198.51.100.100:20000 is in
#    gw-a's partition from before (kept), :55000 is in gw-b's, before and after (dropped).
rejected() { field gw-b 'rejected reason=outside_partition' count; }
injected() { lab_exec "$1" conntrack -L -p tcp -s 192.0.2.1 2>/dev/null | grep -c "dport=$2 " || true; }
"$NAT_CT" inject --netns "$(lab_ns gw-a)" --count 1 --first $((20000 - 1024)) >/dev/null ||
  fail "inject at gw-a failed"
# shellcheck disable=SC2317  # runs from wait_for
copied() { (($(injected gw-b 20000) == 1)); }
wait_for 5000 copied || fail "gw-b did not take gw-a's binding from before the reload (rejected $(rejected))"
[[ "$(rejected)" == 0 ]] || fail "gw-b rejected $(rejected) bindings"
"$NAT_CT" inject --netns "$(lab_ns gw-a)" --count 1 --first $((55000 - 1024)) >/dev/null ||
  fail "inject at gw-a failed"
# shellcheck disable=SC2317  # runs from wait_for
dropped() { [[ "$(rejected)" == 1 ]]; }
wait_for 5000 dropped || fail "gw-b: rejected is $(rejected), not 1, for a port in its own partition"
(($(injected gw-b 55000) == 0)) || fail "gw-b wrote the rejected binding"
lab_log "gw-b keeps accepting gw-a's old partition (port 20000) and still drops its own (55000)"

# 3. An invalid edit: the running table stays, one error line names the key.
rules gw-a >"$LAB_TMP/rules.before"
nat_daemon_config gw-a "$(nat_toml_nat "$OVERLAP" "$STATIC_IN=$STATIC_PUB")"
nat_probe_send c1
reload gw-a "invalid edit"
nat_probe_wait c1
nat_expect_all c1 "$TCP" "$UDP" "after the invalid edit"
line=$(grep '^<3>reload: invalid configuration, keeping the running one: ' "$LAB_TMP/gw-a/gwsyncd.log") ||
  fail "gw-a logged no error line for the invalid edit"
{ (($(wc -l <<<"$line") == 1)) && grep -qF 'gwsync.toml: nat.pool[0].partitions' <<<"$line"; } ||
  fail "gw-a: the error line does not name the key: $line"
[[ "$(reloads gw-a invalid)" == 1 && "$(reloads gw-a ok)" == 1 ]] ||
  fail "gw-a: reloads invalid '$(reloads gw-a invalid)' ok '$(reloads gw-a ok)', want 1 and 1"
rules gw-a >"$LAB_TMP/rules.after"
diff -u "$LAB_TMP/rules.before" "$LAB_TMP/rules.after" >&2 || fail "gw-a: the invalid edit changed the table"
lab_log "invalid edit: table unchanged, probe $(nat_probe_text); logged: ${line#<3>}"

# 4. A key that needs a restart.
nat_daemon_config gw-a "$(nat_toml_nat "$NEW" "$STATIC_IN=$STATIC_PUB")"
sed -i 's/^heartbeat_ms = 200$/heartbeat_ms = 300/' "$LAB_TMP/gw-a/gwsync.toml"
reload gw-a "restart-only edit"
logged gw-a "<4>reload: sync.heartbeat_ms: needs a restart; keeping the running values" ||
  fail "gw-a: no 'needs a restart' line: $(grep reload "$LAB_TMP/gw-a/gwsyncd.log")"
[[ "$(reloads gw-a restart_needed)" == 1 ]] || fail "gw-a: reloads{restart_needed} is '$(reloads gw-a restart_needed)'"
rules gw-a >"$LAB_TMP/rules.after"
diff -u "$LAB_TMP/rules.before" "$LAB_TMP/rules.after" >&2 || fail "gw-a: a restart-only edit changed the table"
nat_daemons_ready || fail "the daemons are no longer ready and connected"
nat_probe c1
nat_expect_all c1 "$TCP" "$UDP" "at the end"
(($(nat_insert_failed gw-a) == 0 && $(lab_nft_counter gw-a invalid) == 0)) ||
  fail "gw-a: insert_failed $(nat_insert_failed gw-a), invalid $(lab_nft_counter gw-a invalid)"
lab_log "restart-only edit: logged and counted, table unchanged; $(nat_probe_text)"

nat_result PASS "SIGHUP replaced inet gwsync_nat (new partition, 1:1 mapping) under $((TCP + UDP)) live sessions, all kept their public IP:port; old-partition bindings still accepted by the peer; an invalid edit kept the table and was logged with its key and counted; a restart-only key was reported and counted"
