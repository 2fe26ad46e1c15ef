#!/usr/bin/env bash
# LB with gwsyncd on both gateways (what users run): each daemon applies table inet gwsync_lb from
# its own [lb] section, and the daemons sync the LB sessions over TLS 1.3. Topology: lb_lib.sh,
# plus the sync link; backends weight 1, 1, 2; strict TCP tracking (nf_conntrack_tcp_loose=0).
#
# MODE failover (default):
#   1. both daemons ready and connected; identical tables, applied by the daemons, with the
#      checksum gwsync-lb check prints; gwsync_lb_checksum_mismatch 0 at both;
#   2. COUNT connections from the Internet side to the VIP through gw-a, each on the backend the
#      table predicts; gw-b's daemon receives them: gw-b's kernel holds COUNT established copies,
#      each with the DNAT to the same backend; `gwsyncctl sessions` at gw-b names service=web on
#      each; /metrics gives gwsync_lb_sessions{service="web"} = COUNT at both and the right
#      gwsync_lb_backend_sessions per backend;
#   3. a backend is removed from both configs + SIGHUP: its established connections carry on,
#      COUNT new ones avoid it (each on the backend the new table predicts) and are synced too;
#   4. gw-a fails (its daemon SIGKILLed, links down, routes to gw-b): every synced connection,
#      those on the removed backend included, carries on through gw-b to the same backend; LATE
#      connections opened through gw-a after its daemon died (never synced) all break; new
#      connections through gw-b avoid the removed backend.
# MODE nosync (the negative control): gw-b's daemon is never started (gw-b gets the same table
#   from gwsync-lb apply); after the same failover none of the COUNT connections survives.
# MODE mismatch: gw-b starts with another weight; gwsync_lb_checksum_mismatch is 1 at both ends
#   and both log a warning; gw-b's config is made equal + SIGHUP: the mismatch is 0 at both ends.
#
# usage: lb_daemon.sh BUILD_DIR [MODE] [COUNT]  (failover|nosync|mismatch; COUNT 10..1000, 200)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LB_BUILD=${1:?usage: lb_daemon.sh BUILD_DIR [MODE] [COUNT]}
mode=${2:-failover}
count=${3:-200}
[[ $mode =~ ^(failover|nosync|mismatch)$ ]] || { echo "MODE: '$mode' is not failover, nosync or mismatch" >&2; exit 2; }
if [[ ! "$count" =~ ^[0-9]{1,4}$ ]] || ((count < 10 || count > 1000)); then
  echo "COUNT: '$count' is not a number 10..1000" >&2
  exit 2
fi
((EUID == 0)) || { echo "lb_daemon: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/lb_lib.sh
. "$here/lb_lib.sh"

DAEMON="$LB_BUILD/syncd/app/gwsyncd"
CTL="$LB_BUILD/syncd/app/gwsyncctl"
lb_tools "$DAEMON" "$CTL"
command -v curl >/dev/null || { echo "curl missing (scripts/install-deps.sh)" >&2; exit 2; }

readonly LATE=$((count / 4)) REMOVED=$LB_B2
readonly FULL=("$LB_B1 1" "$LB_B2 1" "$LB_B3 2") WITHOUT=("$LB_B1 1" "$LB_B3 2")
readonly OTHER=("$LB_B1 1" "$LB_B2 1" "$LB_B3 3")  # gw-b's first config in mode mismatch

lab_init gwlbd
trap lb_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- gwsyncd ---

# daemon_config GW BACKEND...: gwsyncd.toml of gw-a (node 1) or gw-b (node 2): hot, over TLS
# with pinned certificates, the VIP in filter.include (LB sessions are matched by their original
# tuple: client -> VIP), /metrics on the sync address, and the [lb] section.
daemon_config() {
  local gw=$1 id=1 peer=gw-b peer_id=2
  shift
  [[ $gw == gw-b ]] && { id=2; peer="gw-a"; peer_id=1; }
  mkdir -p "$LAB_TMP/$gw"
  cat >"$LAB_TMP/$gw/gwsync.toml.new" <<EOT
[node]
id = $id
state_dir = "$LAB_TMP/$gw/state"

[sync]
listen = "${LB_GW_SYNC[$gw]}:7801"
peer = "${LB_GW_SYNC[$peer]}:7801"
peer_id = $peer_id
heartbeat_ms = 200
dead_after_ms = 1500
retransmit_ms = 500
ready_wait_ms = 2000

[filter]
include = ["$LB_VIP/32"]

[control]
socket = "$LAB_TMP/$gw/gwsyncd.sock"

[metrics]
listen = "${LB_GW_SYNC[$gw]}:9465"

$(lb_toml "$@")

$(lab_tls_toml "$gw" "$peer")
EOT
  # A reload must never read a half-written file.
  mv "$LAB_TMP/$gw/gwsync.toml.new" "$LAB_TMP/$gw/gwsync.toml"
}

declare -A DPID
daemon_start() {  # daemon_start GW
  "$DAEMON" --config "$LAB_TMP/$1/gwsync.toml" --check-config >"$LAB_TMP/$1/check.log" 2>&1 ||
    fail "$1: --check-config refused the config: $(cat "$LAB_TMP/$1/check.log")"
  lab_spawn "$LAB_TMP/$1/gwsyncd.log" ip netns exec "$(lab_ns "$1")" \
    "$DAEMON" --config "$LAB_TMP/$1/gwsync.toml"
  DPID[$1]=$LAB_LAST_PID
}

ctl() { "$CTL" --socket "$LAB_TMP/$1/gwsyncd.sock" "${@:2}"; }
status() { ctl "$1" status 2>/dev/null | sed -n "s/^$2: //p"; }

# shellcheck disable=SC2317  # runs from wait_for
pair_ready() {
  lab_pid_alive "${DPID[gw-a]}" && lab_pid_alive "${DPID[gw-b]}" &&
    [[ "$(status gw-a ready)" == yes && "$(status gw-b ready)" == yes &&
       "$(status gw-a peer)" == "2 connected" && "$(status gw-b peer)" == "1 connected" ]]
}

# shellcheck disable=SC2317  # runs from wait_for
one_ready() { lab_pid_alive "${DPID[$1]}" && [[ "$(status "$1" ready)" == yes ]]; }

# metric GW SERIES: one series of the daemon's /metrics, e.g. 'gwsync_lb_sessions{service="web"}'
metric() {
  lab_exec "$1" curl -sSf --max-time 2 "http://${LB_GW_SYNC[$1]}:9465/metrics" 2>/dev/null |
    awk -v s="$2" '$1 == s { print $2 }'
}
# shellcheck disable=SC2317  # runs from wait_for
metric_is() { [[ "$(metric "$1" "$2")" == "$3" ]]; }

# checksum CONFIG: the table checksum gwsync-lb check prints
checksum() { "$LB_TOOL" check --config "$1" | sed -n 's/.*checksum=\([^ ]*\).*/\1/p' | head -n 1; }

# ct_backends GW: "SPORT BACKEND" of the gateway's entries to the VIP (the DNAT their reply
# tuple carries), sorted by port
ct_backends() {
  lab_exec "$1" conntrack -L -p tcp -d "$LB_VIP" 2>/dev/null |
    sed -n "s/.* dst=$LB_VIP sport=\([0-9]*\) dport=80 src=\([0-9.]*\) dst=$LB_CLIENT sport=\([0-9]*\) .*/\1 \2:\3/p" |
    sort -n
}

# shellcheck disable=SC2317  # runs from wait_for
synced() {  # synced GW N: N established entries to the VIP in the gateway's kernel
  (($(lb_ct_vip "$1" ESTABLISHED) == $2))
}

table_of() { lab_exec "$1" nft -s list table inet gwsync_lb; }

# shellcheck disable=SC2317  # runs from wait_for
table_without() {  # (the table whole first: grep -q would cut nft's output short)
  local t
  t=$(table_of "$1") && [[ $t != *"$2 "* ]]
}

# --- the three modes ---

start_pair() {  # start_pair CONFIG_B...: gw-a with FULL, gw-b with the given backends
  lab_tls_keys gw-a gw-b
  daemon_config gw-a "${FULL[@]}"
  daemon_config gw-b "$@"
  daemon_start gw-a
  daemon_start gw-b
  wait_for 15000 pair_ready || fail "the daemons did not become ready and connected within 15 s"
}

# open_through GW GROUP FIRST N PREDICTED WHAT: N connections through GW, all answered, each on
# the predicted backend
open_through() {
  cmd open "$2" "$3" "$4"
  ((OK == $4)) || fail "$6: $OK of $4 connections answered"
  same "$5" "$LAB_TMP/$2.open" "$6, backend differs from the table's (predicted < > seen)"
}

mode_mismatch() {
  local sum_a sum_b t0
  lb_config "$LAB_TMP/lb.toml" "${FULL[@]}"
  lb_config "$LAB_TMP/lb-other.toml" "${OTHER[@]}"
  sum_a=$(checksum "$LAB_TMP/lb.toml")
  sum_b=$(checksum "$LAB_TMP/lb-other.toml")
  [[ -n $sum_a && -n $sum_b && $sum_a != "$sum_b" ]] || fail "gwsync-lb check: checksums '$sum_a' '$sum_b'"
  start_pair "${OTHER[@]}"
  for gw in gw-a gw-b; do
    wait_for 5000 metric_is "$gw" gwsync_lb_checksum_mismatch 1 ||
      fail "$gw: gwsync_lb_checksum_mismatch is '$(metric "$gw" gwsync_lb_checksum_mismatch)', not 1"
  done
  grep -q "lb: peer 2 announced LB table checksum $sum_b, ours is $sum_a" "$LAB_TMP/gw-a/gwsyncd.log" ||
    fail "gw-a logged no checksum warning naming $sum_b and $sum_a"
  grep -q "lb: peer 1 announced LB table checksum $sum_a, ours is $sum_b" "$LAB_TMP/gw-b/gwsyncd.log" ||
    fail "gw-b logged no checksum warning naming $sum_a and $sum_b"
  lab_log "weight 3 at gw-b: gwsync_lb_checksum_mismatch 1 at both ends, both warn ($sum_a vs $sum_b)"

  daemon_config gw-b "${FULL[@]}"
  t0=$(lab_now_ms)
  kill -HUP "${DPID[gw-b]}"
  for gw in gw-b gw-a; do
    wait_for 5000 metric_is "$gw" gwsync_lb_checksum_mismatch 0 ||
      fail "$gw: gwsync_lb_checksum_mismatch still '$(metric "$gw" gwsync_lb_checksum_mismatch)' 5 s after gw-b's reload"
  done
  lab_log "gw-b's config made equal, SIGHUP: gwsync_lb_checksum_mismatch 0 at both ends within $(($(lab_now_ms) - t0)) ms"
  [[ "$(table_of gw-a)" == "$(table_of gw-b)" ]] || fail "after the reload gw-a and gw-b hold different tables"
  metric_is gw-b 'gwsync_config_reloads_total{result="ok"}' 1 ||
    fail "gw-b: gwsync_config_reloads_total{result=\"ok\"} is '$(metric gw-b 'gwsync_config_reloads_total{result="ok"}')'"
  grep -q "lb: peer 2 has the same LB table (checksum $sum_a)" "$LAB_TMP/gw-a/gwsyncd.log" ||
    fail "gw-a did not log that the peer now has the same table"
  grep -q "lb: peer 1 has the same LB table (checksum $sum_a)" "$LAB_TMP/gw-b/gwsyncd.log" ||
    fail "gw-b did not log that it now has the peer's table"
  for gw in gw-a gw-b; do lab_pid_alive "${DPID[$gw]}" || fail "$gw's daemon died"; done
  result PASS "different [lb] weights: mismatch 1 and a warning at both ends; equal config + SIGHUP at gw-b: mismatch 0 at both ends, identical tables"
}

mode_nosync() {
  lb_config "$LAB_TMP/lb.toml" "${FULL[@]}"
  lab_tls_keys gw-a gw-b
  daemon_config gw-a "${FULL[@]}"
  daemon_start gw-a
  wait_for 15000 one_ready gw-a || fail "gw-a's daemon did not become ready"
  "$LB_TOOL" apply --config "$LAB_TMP/lb.toml" --netns "$(lab_ns gw-b)" >/dev/null ||
    fail "gwsync-lb apply in gw-b failed"
  [[ "$(table_of gw-a)" == "$(table_of gw-b)" ]] || fail "gw-a (gwsyncd) and gw-b (gwsync-lb) hold different tables"
  lab_log "gw-a: gwsyncd; gw-b: no daemon, the same table from gwsync-lb apply"
  lb_server_start
  lb_client_start
  predict "$LAB_TMP/lb.toml" 40000 "$count" >"$LAB_TMP/predicted"
  lb_use gw-a
  open_through gw-a est 40000 "$count" "$LAB_TMP/predicted" "through gw-a"
  (($(lb_ct_vip gw-b) == 0)) || fail "gw-b holds $(lb_ct_vip gw-b) entries to the VIP without a daemon"
  kill -KILL "${DPID[gw-a]}"
  wait "${DPID[gw-a]}" 2>/dev/null || true
  lb_fail_gateway gw-a
  lb_use gw-b
  cmd probe est
  ((OK == 0)) || fail "negative control: $OK of $count unsynced connections survived gw-a's failure"
  invalid=$(counter gw-b invalid)
  ((invalid > 0)) || fail "negative control: gw-b counted no invalid packet"
  result PASS "without gw-b's daemon, 0 of $count connections survived gw-a's failure (gw-b: $invalid invalid packets)"
}

mode_failover() {
  local sum t0 gw want on_removed b addr weight got new2
  lb_config "$LAB_TMP/lb.toml" "${FULL[@]}"
  lb_config "$LAB_TMP/lb-removed.toml" "${WITHOUT[@]}"
  sum=$(checksum "$LAB_TMP/lb.toml")
  start_pair "${FULL[@]}"
  [[ "$(table_of gw-a)" == "$(table_of gw-b)" ]] || fail "gw-a and gw-b hold different gwsync_lb tables"
  for gw in gw-a gw-b; do
    grep -q "lb: table inet gwsync_lb applied (1 services, checksum $sum)" "$LAB_TMP/$gw/gwsyncd.log" ||
      fail "$gw: gwsyncd did not log the table applied with checksum $sum"
    wait_for 3000 metric_is "$gw" gwsync_lb_checksum_mismatch 0 || fail "$gw: gwsync_lb_checksum_mismatch not 0"
  done
  lab_log "both daemons ready over TLS; each applied inet gwsync_lb (checksum $sum, mismatch 0)"

  lb_server_start
  lb_client_start
  predict "$LAB_TMP/lb.toml" 40000 "$count" >"$LAB_TMP/predicted"
  predict "$LAB_TMP/lb-removed.toml" 42000 "$count" >"$LAB_TMP/predicted-new"
  predict "$LAB_TMP/lb-removed.toml" 41000 "$LATE" >"$LAB_TMP/predicted-late"
  predict "$LAB_TMP/lb-removed.toml" 43000 "$count" >"$LAB_TMP/predicted-new2"

  # 2. Through gw-a; gw-b's daemon gets them.
  lb_use gw-a
  t0=$(lab_now_ms)
  open_through gw-a est 40000 "$count" "$LAB_TMP/predicted" "through gw-a"
  wait_for 10000 synced gw-b "$count" ||
    fail "gw-b: $(lb_ct_vip gw-b ESTABLISHED) of $count established entries to the VIP after 10 s"
  lab_log "$count connections through gw-a on the predicted backend ($(per_backend "$LAB_TMP/est.open")); in gw-b's kernel, established, $(($(lab_now_ms) - t0)) ms after the first SYN"
  ct_backends gw-b >"$LAB_TMP/gw-b.ct"
  same "$LAB_TMP/est.open" "$LAB_TMP/gw-b.ct" "gw-b's copies: DNAT differs from the backend the connection reached"
  ctl gw-b sessions "$LB_VIP" >"$LAB_TMP/gw-b.sessions" || fail "gwsyncctl sessions at gw-b failed"
  got=$(grep -c "^peer .* service=web$" "$LAB_TMP/gw-b.sessions") || true
  ((got == count)) || fail "gwsyncctl sessions at gw-b: $got of $count peer sessions with service=web: $(head -n 3 "$LAB_TMP/gw-b.sessions")"
  for gw in gw-a gw-b; do
    wait_for 3000 metric_is "$gw" 'gwsync_lb_sessions{service="web"}' "$count" ||
      fail "$gw: gwsync_lb_sessions{service=\"web\"} is '$(metric "$gw" 'gwsync_lb_sessions{service="web"}')', not $count"
    for b in "${FULL[@]}"; do
      read -r addr weight <<<"$b"
      want=$(on_backend "$LAB_TMP/est.open" "$addr")
      metric_is "$gw" "gwsync_lb_backend_sessions{backend=\"$addr:8080\",service=\"web\"}" "$want" ||
        fail "$gw: gwsync_lb_backend_sessions for $addr:8080 is '$(metric "$gw" "gwsync_lb_backend_sessions{backend=\"$addr:8080\",service=\"web\"}")', not $want"
    done
  done
  lab_log "gw-b: each copy carries the DNAT to its backend; gwsyncctl sessions names service=web on $got; gwsync_lb_sessions{service=\"web\"} $count at both, per backend as seen"

  # 3. Remove a backend at both gateways.
  for gw in gw-a gw-b; do
    daemon_config "$gw" "${WITHOUT[@]}"
    kill -HUP "${DPID[$gw]}"
  done
  for gw in gw-a gw-b; do
    wait_for 5000 table_without "$gw" "$REMOVED" || fail "$gw: $REMOVED still in inet gwsync_lb 5 s after SIGHUP"
    wait_for 3000 grep -q '^<6>reload: lb (ok)$' "$LAB_TMP/$gw/gwsyncd.log" ||
      fail "$gw: the reload did not log 'reload: lb (ok)'"
  done
  [[ "$(table_of gw-a)" == "$(table_of gw-b)" ]] || fail "after the removal gw-a and gw-b hold different tables"
  on_removed=$(on_backend "$LAB_TMP/est.open" "$REMOVED")
  ((on_removed > 0)) || fail "no established connection on $REMOVED to watch"
  cmd probe est
  ((OK == count)) || fail "after removing $REMOVED: $OK of $count established connections answered"
  same "$LAB_TMP/est.open" "$LAB_TMP/est.probe" "after the removal an established connection moved"
  open_through gw-a new 42000 "$count" "$LAB_TMP/predicted-new" "new connections through gw-a after the removal"
  (($(on_backend "$LAB_TMP/new.open" "$REMOVED") == 0)) || fail "new connections went to the removed $REMOVED"
  wait_for 10000 synced gw-b $((2 * count)) ||
    fail "gw-b: $(lb_ct_vip gw-b ESTABLISHED) of $((2 * count)) established entries to the VIP after 10 s"
  for gw in gw-a gw-b; do
    wait_for 3000 metric_is "$gw" gwsync_lb_checksum_mismatch 0 || fail "$gw: mismatch after both reloaded"
  done
  lab_log "$REMOVED removed at both (SIGHUP): its $on_removed established connections carry on; $count new ones avoid it, on the predicted backend, synced to gw-b"

  # 4. gw-a fails. Its daemon dies first: LATE connections opened then are never synced.
  kill -KILL "${DPID[gw-a]}"
  wait "${DPID[gw-a]}" 2>/dev/null || true
  open_through gw-a late 41000 "$LATE" "$LAB_TMP/predicted-late" "late connections through gw-a"
  lb_fail_gateway gw-a
  lb_use gw-b
  t0=$(lab_now_ms)
  cmd probe est
  ((OK == count)) || fail "after gw-a failed: $OK of $count synced connections carried on ($FAILED broke)"
  same "$LAB_TMP/est.open" "$LAB_TMP/est.probe" "a synced connection answered from another backend"
  cmd probe new
  ((OK == count)) || fail "after gw-a failed: $OK of $count synced new connections carried on ($FAILED broke)"
  same "$LAB_TMP/new.open" "$LAB_TMP/new.probe" "a synced new connection answered from another backend"
  lab_log "gw-a failed: all $((2 * count)) synced connections carry on through gw-b, each to its backend, $on_removed on the removed $REMOVED ($(($(lab_now_ms) - t0)) ms)"
  cmd probe late
  ((OK == 0)) || fail "negative control: $OK of $LATE unsynced connections survived gw-a's failure"
  invalid=$(counter gw-b invalid)
  ((invalid > 0)) || fail "negative control: gw-b counted no invalid packet"
  lab_log "negative control: 0 of $LATE connections opened after gw-a's daemon died survived (gw-b: $invalid invalid packets)"
  open_through gw-b new2 43000 "$count" "$LAB_TMP/predicted-new2" "new connections through gw-b"
  new2=$(on_backend "$LAB_TMP/new2.open" "$REMOVED")
  ((new2 == 0)) || fail "$new2 new connections through gw-b went to the removed $REMOVED"
  lab_pid_alive "${DPID[gw-b]}" || fail "gw-b's daemon died"
  result PASS "gwsyncd on both: $count connections through gw-a on the predicted backend, synced (service=web, gwsync_lb_sessions $count); $REMOVED removed by SIGHUP: established kept, new avoid it; gw-a failed: all $((2 * count)) synced connections carried on through gw-b to the same backend, $LATE unsynced broke"
}

lab_log "lab $LAB_PREFIX: mode $mode, $count connections"
lb_build_topology
lb_sync_link
"mode_$mode"
