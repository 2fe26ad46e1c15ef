#!/usr/bin/env bash
# gwsyncd between two gateway namespaces joined by a sync link, driven by a netlink injector
# (gwsync-ct inject) on gw-a. Each scenario ends with gw-b's kernel table (hot) or cache (cold)
# equal to gw-a's, compared by normalised dumps.
#
#   usage: sync_scenarios.sh BUILD_DIR SCENARIO [SESSIONS]
#   convergence  SESSIONS at A reach B; then a fifth of them deleted at A, and gone at B
#   cold         B in cold mode holds them in memory only, until `gwsyncctl commit`
#   restart      B stopped while A changes (deletes included), restarted; then A killed with
#                SIGKILL in the middle of its bulk and restarted, with deletes meanwhile
#   loss         5 % of the sync link's packets dropped at random (nftables numgen)
#   wan          the sync link through gwsync-wanem: 20 ms delay, 5 ms jitter, 5 % loss, 10 %
#                reordered by another 15 ms, 1 % duplicated
#   hostile      with gw-a's daemon away, gw-b's listener gets plaintext garbage, a TLS client
#                with an unpinned certificate, an oversized frame and a replay of an older
#                epoch's stream under gw-a's own key: all refused or ignored, nothing written
#                into gw-b's kernel, and gw-b syncs with the real gw-a afterwards
#   ready        sd_notify READY: A alone waits ready_wait_ms for its absent peer; B, started
#                next to a running A, is ready after the first bulk exchange (before the wait)
#   hostile_sessions  the real gw-a sends sessions gw-b must refuse (outside gw-b's narrower
#                filter, beyond its peer_sessions_max) and timeouts above gw-b's ceiling: none of
#                the refused reach gw-b's kernel, the valid arrive capped, the refusals are
#                counted and logged, the quota refusals arrive by a resync once there is room;
#                gw-b's certificate (10 days left) shows in /metrics and is warned about;
#                the hostile inputs leave gw-b's memory bounded (VmRSS, VmPeak)
#   partition    the sync link cut at both ends for 30 s while gw-a creates and deletes (SESSIONS/5
#                sizes): both sides detect the dead peer, gw-b keeps its copies, and after the
#                heal one reconnect (no resync storm: at most one bulk each way) brings exactly
#                gw-a's table, the partition's deletes included
#   overrun      both daemons with the smallest event buffer (1 MiB) and SESSIONS created and
#                deleted at full speed: gw-a loses events (ENOBUFS), resyncs from a dump, and
#                both tables end exact and, after the deletes, empty
#   table_full   gw-b's conntrack table (nf_conntrack_max) filled by 192.0.2.64/26 entries it
#                does not sync, leaving room for half of gw-a's SESSIONS/5: the writes fail with
#                ENOMEM, counted, the daemon neither dies nor loops; once the filler is deleted
#                the refused copies arrive without operator action (retried at each refresh)
#   stale_state  gw-a restarted with its state directory from two starts ago: its epoch still
#                grows (wall-clock floor), gw-b follows the new stream, deletes made meanwhile
#                arrive
set -euo pipefail

build=$1
scenario=$2
sessions=${3:-50000}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ct="$build/syncd/app/gwsync-ct"
daemon="$build/syncd/app/gwsyncd"
ctl="$build/syncd/app/gwsyncctl"
((EUID == 0)) || { echo "needs root"; exit 77; }

# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
lab_init gwss
trap lab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*"
  local n
  for n in gw-a gw-b; do
    [[ -f "$LAB_TMP/$n/gwsyncd.log" ]] && { echo "--- $n gwsyncd log (tail)"; tail -n 15 "$LAB_TMP/$n/gwsyncd.log"; }
  done
  exit 1
}

setup() {
  lab_tls_keys gw-a gw-b mallory  # TLS 1.3, each side pinning the other; mallory is pinned by none
  lab_ns_add gw-a
  lab_ns_add gw-b
  if [[ $scenario == wan ]]; then
    # gw-a:sync - wan:to-a [gwsync-wanem] wan:to-b - gw-b:sync
    lab_ns_add wan
    lab_veth gw-a sync wan to-a
    lab_veth gw-b sync wan to-b
    local n
    for n in gw-a gw-b; do
      # MTU-sized frames only: the emulator relays frames, not GSO super-packets.
      ip -n "$(lab_ns "$n")" link set dev sync gso_max_segs 1 gso_max_size 1500
    done
    lab_spawn "$LAB_TMP/wanem.log" "$build/test/tools/gwsync-wanem" --netns "$(lab_ns wan)" \
      --a to-a --b to-b --delay-ms 20 --jitter-ms 5 --loss 5 --dup 1 --reorder 10 --reorder-ms 15 --seed 7
    wanem_pid=$LAB_LAST_PID
  else
    lab_veth gw-a sync gw-b sync
  fi
  lab_addr gw-a sync 198.51.100.253/30
  lab_addr gw-b sync 198.51.100.254/30
  local n
  for n in gw-a gw-b; do
    # NAT bindings can only be created where the nat hooks are in use.
    lab_exec "$n" nft add table ip gwtest
    lab_exec "$n" nft add chain ip gwtest post '{ type nat hook postrouting priority 100; }'
  done
  lab_wait_up 3000 gw-a sync gw-b sync
}

write_config() {  # write_config NAME ID PEER_ID OWN PEER MODE PEER_NAME
  mkdir -p "$LAB_TMP/$1"
  cat >"$LAB_TMP/$1/gwsync.toml" <<EOT
[node]
id = $2
state_dir = "$LAB_TMP/$1/state"
mode = "$6"

[sync]
listen = "$4:7801"
peer = "$5:7801"
peer_id = $3
heartbeat_ms = 200
dead_after_ms = 1500
retransmit_ms = 500
ready_wait_ms = ${READY_WAIT_MS:-2000}

[filter]
include = ["192.0.2.0/24"]
${FILTER_EXTRA[$1]:-}

[kernel]
refresh_interval_ms = 5000
${KERNEL_EXTRA[$1]:-}

[control]
socket = "$LAB_TMP/$1/gwsyncd.sock"
$(lab_tls_toml "$1" "$7")
${EXTRA_TOML[$1]:-}
EOT
}

declare -A PID
# Per-gateway additions to the config: lines of [filter] and [kernel], and whole tables after
# [tls].
declare -A FILTER_EXTRA=() EXTRA_TOML=() KERNEL_EXTRA=()
start() {  # start NAME [MODE]  (NOTIFY_SOCKET in the environment reaches the daemon)
  local mode=${2:-hot}
  if [[ $1 == gw-a ]]; then
    write_config gw-a 1 2 198.51.100.253 198.51.100.254 "$mode" gw-b
  else
    write_config gw-b 2 1 198.51.100.254 198.51.100.253 "$mode" gw-a
  fi
  "$daemon" --config "$LAB_TMP/$1/gwsync.toml" --check-config >/dev/null || fail "$1: bad config"
  lab_spawn "$LAB_TMP/$1/gwsyncd.log.new" ip netns exec "$(lab_ns "$1")" \
    "$daemon" --config "$LAB_TMP/$1/gwsync.toml"
  PID[$1]=$LAB_LAST_PID
}

stop() {  # stop NAME [KILL]
  if [[ ${2:-} == KILL ]]; then
    kill -KILL "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
  else
    lab_stop_pid "${PID[$1]}" 5000
  fi
  cat "$LAB_TMP/$1/gwsyncd.log.new" >>"$LAB_TMP/$1/gwsyncd.log" 2>/dev/null || true
}

# A daemon busy with a burst (a dump after an overrun, in the sanitizer build) may take longer
# than gwsyncctl's default 5 s to answer: a timeout must not read as a figure.
ctl_timeout=60
status() {
  "$ctl" --socket "$LAB_TMP/$1/gwsyncd.sock" --timeout "$ctl_timeout" status 2>/dev/null |
    sed -n "s/^$2: //p"
}

# shellcheck disable=SC2317  # runs from wait_for
ready() { [[ "$(status gw-a ready)" == yes && "$(status gw-b ready)" == yes && "$(status gw-a peer)" == "2 connected" ]]; }

wait_ready() { wait_for 15000 ready || fail "daemons not ready and connected"; }

inject() {  # inject FIRST COUNT [--delete]
  lab_exec gw-a "$ct" inject --count "$2" --first "$1" ${3:+"$3"} >/dev/null || fail "inject $*"
}

# The LAN sessions of a gateway's kernel table, normalised (the peer-copy mark bit cleared).
table() { "$ct" dump --netns "$(lab_ns "$1")" --strip-mark 0x80000000 2>/dev/null | { grep 'src=192\.0\.2\.' || true; } | sort; }

# shellcheck disable=SC2317  # runs from wait_for
same_tables() {
  table gw-a >"$LAB_TMP/a.txt"
  table gw-b >"$LAB_TMP/b.txt"
  cmp -s "$LAB_TMP/a.txt" "$LAB_TMP/b.txt"
}

converge() {  # converge WHAT EXPECTED_COUNT
  local t0 n
  t0=$(lab_now_ms)
  if ! wait_for 60000 same_tables; then
    fail "$1: gw-b differs from gw-a: $(wc -l <"$LAB_TMP/a.txt") vs $(wc -l <"$LAB_TMP/b.txt") entries; first differences: $(diff "$LAB_TMP/a.txt" "$LAB_TMP/b.txt" | head -n 4)"
  fi
  n=$(wc -l <"$LAB_TMP/a.txt")
  ((n == $2)) || fail "$1: gw-a holds $n sessions, expected $2"
  echo "ok: $1: gw-b's table equals gw-a's ($n sessions, $(($(lab_now_ms) - t0)) ms)"
}

scenario_convergence() {
  start gw-a; start gw-b; wait_ready
  inject 0 "$sessions"
  converge "$sessions sessions created at gw-a" "$sessions"
  inject 0 $((sessions / 5)) --delete
  converge "$((sessions / 5)) of them deleted at gw-a" $((sessions - sessions / 5))
  [[ "$(status gw-b sessions_peer)" == $((sessions - sessions / 5)) ]] ||
    fail "gw-b's daemon holds $(status gw-b sessions_peer) peer sessions"
}

scenario_cold() {
  start gw-a; start gw-b cold; wait_ready
  inject 0 "$sessions"
  # shellcheck disable=SC2317
  cached() { [[ "$(status gw-b sessions_peer)" == "$sessions" ]]; }
  wait_for 60000 cached || fail "cold gw-b caches $(status gw-b sessions_peer) of $sessions"
  local in_kernel
  in_kernel=$(table gw-b | wc -l)
  ((in_kernel == 0)) || fail "cold gw-b wrote $in_kernel sessions into its kernel before a commit"
  echo "ok: cold gw-b holds $sessions sessions in memory, none in its kernel"
  "$ctl" --socket "$LAB_TMP/gw-b/gwsyncd.sock" commit | tr '\n' ' '
  echo
  converge "commit on cold gw-b" "$sessions"
}

scenario_restart() {
  local third=$((sessions / 3))
  start gw-a; start gw-b; wait_ready
  inject 0 "$third"
  converge "$third sessions created" "$third"
  stop gw-b
  inject 0 $((third / 2)) --delete               # deleted while gw-b is away
  inject "$third" "$third"                        # and new ones
  start gw-b; wait_ready
  converge "gw-b restarted: deletes made while it was down are gone, new ones there" \
    $((2 * third - third / 2))
  inject $((2 * third)) "$third"
  converge "more sessions" $((3 * third - third / 2))
  stop gw-a KILL
  start gw-a
  # Kill gw-a again while its bulk to gw-b is under way: the new stream's items are flowing.
  # shellcheck disable=SC2317
  bulk_started() { [[ -n "$(status gw-a next_seq)" && "$(status gw-a next_seq)" -gt 1 ]]; }
  wait_for 10000 bulk_started || fail "gw-a did not start its bulk"
  stop gw-a KILL
  inject $((third / 2)) $((third / 2)) --delete  # deleted while gw-a's daemon is down
  start gw-a; wait_ready
  converge "gw-a killed mid-bulk and restarted, with deletes meanwhile" $((3 * third - 2 * (third / 2)))
  # And the receiving side: gw-b killed while gw-a's bulk to the restarted gw-b is under way.
  stop gw-b KILL
  start gw-b
  # Mid-bulk: gw-b holds some of gw-a's sessions again, not yet all.
  local held expect=$((3 * third - 2 * (third / 2)))
  # shellcheck disable=SC2317
  bulk_to_b() { held=$(status gw-b sessions_peer); [[ -n "$held" ]] && ((held > 0 && held < expect)); }
  wait_for 10000 bulk_to_b || fail "never saw gw-b part-way through gw-a's bulk (held ${held:-?} of $expect)"
  echo "ok: gw-b killed while receiving gw-a's bulk ($held of $expect sessions in)"
  stop gw-b KILL
  inject "$third" $((third / 2)) --delete        # deleted while gw-b's daemon is down
  start gw-b; wait_ready
  converge "gw-b killed while receiving a bulk and restarted, with deletes meanwhile" \
    $((3 * third - 3 * (third / 2)))
}

scenario_loss() {
  local n
  for n in gw-a gw-b; do
    # One MTU-sized packet per segment (no GSO super-packets), so 5 % means many drops.
    ip -n "$(lab_ns "$n")" link set dev sync gso_max_segs 1 gso_max_size 1500
    lab_exec "$n" nft add table inet lossy
    lab_exec "$n" nft add chain inet lossy in '{ type filter hook input priority -300; }'
    lab_exec "$n" nft add rule inet lossy in iifname sync numgen random mod 100 '<' 5 counter drop
  done
  start gw-a; start gw-b; wait_ready
  inject 0 "$sessions"
  converge "$sessions sessions over a link losing 5 % of its packets" "$sessions"
  inject 0 $((sessions / 5)) --delete
  converge "deletes over the lossy link" $((sessions - sessions / 5))
  local dropped
  dropped=$(lab_exec gw-b nft list chain inet lossy in | sed -n 's/.*packets \([0-9]*\).*/\1/p')
  ((dropped > 0)) || fail "the loss rule dropped nothing"
  echo "ok: gw-b's loss rule dropped $dropped packets"
}

scenario_ready() {
  local n t_a t_b
  notify="$build/test/tools/gwsync-notify-listen"
  for n in gw-a gw-b; do
    mkdir -p "$LAB_TMP/$n"
    lab_spawn "$LAB_TMP/$n/notify.out" "$notify" "$LAB_TMP/$n/notify.sock"
  done
  # shellcheck disable=SC2317
  listening() { grep -q listening "$LAB_TMP/gw-a/notify.out" && grep -q listening "$LAB_TMP/gw-b/notify.out"; }
  wait_for 5000 listening || fail "notify listeners did not start"
  NOTIFY_SOCKET="$LAB_TMP/gw-a/notify.sock" start gw-a
  # shellcheck disable=SC2317
  notified() { grep -q 'READY=1' "$LAB_TMP/$1/notify.out"; }
  wait_for 10000 notified gw-a || fail "gw-a never signalled READY"
  t_a=$(sed -n 's/^\([0-9]*\) READY=1.*/\1/p' "$LAB_TMP/gw-a/notify.out")
  ((t_a >= 2000)) || fail "gw-a signalled READY after $t_a ms, before its 2000 ms wait for the peer"
  grep -q 'peer absent' "$LAB_TMP/gw-a/gwsyncd.log.new" || fail "gw-a's log does not say the peer was absent"
  echo "ok: gw-a alone signalled READY after ${t_a} ms (ready_wait_ms 2000, peer absent)"
  inject 0 "$sessions"
  local t0
  t0=$(lab_now_ms)
  # A long wait for B: its READY must come from the bulk exchange, not from giving up.
  READY_WAIT_MS=60000 NOTIFY_SOCKET="$LAB_TMP/gw-b/notify.sock" start gw-b
  wait_for 60000 notified gw-b || fail "gw-b never signalled READY"
  t_b=$(($(lab_now_ms) - t0))
  grep -q 'first bulk exchange done' "$LAB_TMP/gw-b/gwsyncd.log.new" ||
    fail "gw-b signalled READY without the bulk exchange: $(grep ready "$LAB_TMP/gw-b/gwsyncd.log.new")"
  converge "gw-b after READY" "$sessions"
  echo "ok: gw-b signalled READY within ${t_b} ms, after the first bulk exchange"
}

scenario_wan() {
  start gw-a; start gw-b; wait_ready
  inject 0 "$sessions"
  converge "$sessions sessions over a WAN with 20 ms delay, jitter, 5 % loss and reordering" "$sessions"
  inject 0 $((sessions / 5)) --delete
  converge "deletes over that WAN" $((sessions - sessions / 5))
  lab_stop_pid "$wanem_pid"
  grep '^frames' "$LAB_TMP/wanem.log" | sed 's/^/ok: wanem: /'
  local dropped
  dropped=$(sed -n 's/.* dropped \([0-9]*\).*/\1/p' "$LAB_TMP/wanem.log")
  ((dropped > 0)) || fail "the WAN emulator dropped nothing"
}

scenario_hostile() {
  # gw-a's daemon starts at an epoch above 19 (the wall clock's seconds, epoch_store.h), so a
  # recorded stream of epoch 7 is a replay.
  mkdir -p "$LAB_TMP/gw-a/state"
  echo 19 >"$LAB_TMP/gw-a/state/epoch"
  start gw-a; start gw-b; wait_ready
  inject 0 1000
  converge "1000 sessions from the real gw-a" 1000
  stop gw-a
  table gw-b >"$LAB_TMP/before.txt"
  local b=198.51.100.254 tls="$LAB_TMP/tls"
  # gw-b's memory before the hostile inputs (kB): resident, and the peak of its address space,
  # which a buffer sized by a 4 GiB length prefix would raise even if never touched.
  mem() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/${PID[gw-b]}/status"; }
  local rss0 peak0
  rss0=$(mem VmRSS); peak0=$(mem VmPeak)
  # shellcheck disable=SC2317
  refused() { "$ctl" --socket "$LAB_TMP/gw-b/gwsyncd.sock" peers 2>/dev/null | grep -q "last_down: .*$1"; }

  lab_exec gw-a bash -c "head -c 4096 /dev/urandom >/dev/tcp/$b/7801" 2>/dev/null || true
  wait_for 10000 refused not_tls || fail "plaintext garbage was not refused as not_tls"
  echo "ok: plaintext garbage refused (not_tls)"

  lab_exec gw-a timeout 10 openssl s_client -connect "$b:7801" -tls1_3 -quiet \
    -cert "$tls/mallory.crt" -key "$tls/mallory.key" </dev/null >/dev/null 2>&1 || true
  wait_for 10000 refused fingerprint_mismatch || fail "an unpinned certificate was not refused"
  grep -q 'refused in the handshake: .*CN=mallory .* is not in peer_fingerprints' \
    "$LAB_TMP/gw-b/gwsyncd.log.new" || fail "gw-b did not log the refused handshake with its reason"
  echo "ok: a TLS client with an unpinned certificate refused (fingerprint_mismatch) and logged"

  # A length prefix of 4 GiB - 1, three times.
  local _
  for _ in 1 2 3; do
    { printf '\xff\xff\xff\xff'; head -c 64 /dev/urandom; } |
      lab_exec gw-a timeout 10 openssl s_client -connect "$b:7801" -tls1_3 -quiet \
        -cert "$tls/gw-a.crt" -key "$tls/gw-a.key" >/dev/null 2>&1 || true
  done
  wait_for 10000 refused frame_too_large || fail "an oversized frame did not close the connection"
  # shellcheck disable=SC2317  # runs from wait_for
  three_refused() { [[ "$("$ctl" --socket "$LAB_TMP/gw-b/gwsyncd.sock" stats | sed -n 's/^frame_rejected{frame_too_large}: //p')" == 3 ]]; }
  wait_for 10000 three_refused || fail "not all 3 frames of 4 GiB were counted as frame_too_large"
  echo "ok: 3 frames announcing 4 GiB under gw-a's key closed their connections (frame_too_large: 3)"

  # Hello and a bulk of sessions of epoch 7 under gw-a's valid key: gw-b follows epoch 20.
  lab_exec gw-a timeout 5 openssl s_client -connect "$b:7801" -tls1_3 -quiet \
    -cert "$tls/gw-a.crt" -key "$tls/gw-a.key" <"$here/../fuzz/corpus/peer_apply/stream" \
    >/dev/null 2>&1 || true
  table gw-b >"$LAB_TMP/after.txt"
  cmp -s "$LAB_TMP/before.txt" "$LAB_TMP/after.txt" ||
    fail "the replayed stream changed gw-b's table: $(diff "$LAB_TMP/before.txt" "$LAB_TMP/after.txt" | head -n 3)"
  local held
  held=$("$ctl" --socket "$LAB_TMP/gw-b/gwsyncd.sock" sessions 192.0.2.10) || fail "gwsyncctl sessions failed"
  [[ "$held" == *"sessions: 0"* ]] || fail "gw-b took sessions of 192.0.2.10 from the replayed stream: $held"
  echo "ok: a replayed stream of an older epoch wrote nothing into gw-b's kernel"

  local stats
  stats=$("$ctl" --socket "$LAB_TMP/gw-b/gwsyncd.sock" stats) || fail "gwsyncctl stats failed"
  for counter in 'tls_refused{not_tls}' 'tls_refused{fingerprint_mismatch}' \
    'frame_rejected{frame_too_large}'; do
    grep -qF "$counter: " <<<"$stats" || fail "gw-b did not count $counter: $stats"
  done
  echo "ok: gw-b counted $(grep -E '^(tls_refused|frame_rejected)' <<<"$stats" | tr '\n' ' ')"
  lab_pid_alive "${PID[gw-b]}" || fail "gw-b's daemon died"
  local rss1 peak1
  rss1=$(mem VmRSS); peak1=$(mem VmPeak)
  ((rss1 - rss0 < 8192)) || fail "gw-b's resident memory grew by $(((rss1 - rss0) / 1024)) MiB across the hostile inputs"
  ((peak1 - peak0 < 262144)) || fail "gw-b's address space peaked $(((peak1 - peak0) / 1024)) MiB higher: a buffer for a 4 GiB frame?"
  echo "ok: gw-b's memory bounded across the hostile inputs: resident $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, peak address space +$(((peak1 - peak0) / 1024)) MiB"
  start gw-a; wait_ready
  inject 1000 1000
  converge "gw-b still syncs with the real gw-a" 2000
}

scenario_hostile_sessions() {
  # gw-b syncs 192.0.2.0/24 without 192.0.2.2 (gw-a all of it), keeps at most 1500 peer
  # sessions and TCP timeouts up to 600 s; its certificate has 10 days left.
  FILTER_EXTRA[gw-b]='exclude = ["192.0.2.2/32"]'
  EXTRA_TOML[gw-b]=$(printf '[limits]\npeer_sessions_max = 1500\npeer_timeout_max_tcp_s = 600\n[metrics]\nlisten = "198.51.100.254:9465"\n')
  # shellcheck disable=SC2034  # read by lab_tls_toml (scripts/lab/lib.sh)
  LAB_FP[gw-b]=$(bash "$here/../../scripts/gwsync-keygen" --days 10 --force gw-b "$LAB_TMP/tls" 2>/dev/null) ||
    fail "gwsync-keygen --days 10 gw-b failed"
  start gw-a; start gw-b; wait_ready
  local sock="$LAB_TMP/gw-b/gwsyncd.sock" log="$LAB_TMP/gw-b/gwsyncd.log.new"
  stat_b() { "$ctl" --socket "$sock" stats 2>/dev/null | sed -n "s/^$1: //p"; }
  own_table() { table "$1" | { grep -F 'src=192.0.2.1 ' || true; }; }
  # shellcheck disable=SC2317  # runs from wait_for
  valid_arrived() {
    own_table gw-a >"$LAB_TMP/a.txt"
    own_table gw-b >"$LAB_TMP/b.txt"
    [[ -s "$LAB_TMP/a.txt" ]] && cmp -s "$LAB_TMP/a.txt" "$LAB_TMP/b.txt" &&
      [[ "$(stat_b 'peer_rejected{address_not_synced}')" -ge "$2" ]] &&
      (($(wc -l <"$LAB_TMP/b.txt") == $1))
  }
  # Sessions 0..999 come from 192.0.2.1, 64000..64199 from 192.0.2.2 (gwsync-ct's blocks).
  inject 0 1000
  inject 64000 200
  wait_for 30000 valid_arrived 1000 200 ||
    fail "gw-b: $(wc -l <"$LAB_TMP/b.txt") of 1000 valid sessions, refused: $(stat_b 'peer_rejected{address_not_synced}') of 200"
  local outside
  outside=$(table gw-b | grep -cF 'src=192.0.2.2 ' || true)
  ((outside == 0)) || fail "gw-b's kernel holds $outside sessions from outside its filter"
  [[ "$(table gw-a | grep -cF 'src=192.0.2.2 ')" == 200 ]] || fail "gw-a does not hold the 200 sessions of 192.0.2.2"
  [[ "$(status gw-b sessions_peer)" == 1000 ]] ||
    fail "gw-b's daemon keeps $(status gw-b sessions_peer) peer sessions, expected 1000 (refused ones must not stay in memory)"
  echo "ok: 1000 valid sessions at gw-b; 200 outside its filter refused: $(stat_b 'peer_rejected{address_not_synced}') counted, none in its kernel or its memory"
  grep -q 'refusing peer session (address_not_synced): .*src=192.0.2.2 ' "$log" ||
    fail "gw-b did not log the refusal"
  local logged
  logged=$(grep -c 'refusing peer session' "$log" || true)
  ((logged <= 11)) || fail "gw-b logged $logged refusals: not rate-limited"
  echo "ok: refusals logged rate-limited ($logged lines for $(stat_b 'peer_rejected{address_not_synced}') refusals)"

  # Timeouts: gw-a's kernel has 3600 s, gw-b's copies at most 600 s.
  local max_timeout
  max_timeout=$(lab_exec gw-b conntrack -L -s 192.0.2.1 2>/dev/null | awk '{print $3}' | sort -n | tail -n 1)
  if [[ -z "$max_timeout" ]] || ((max_timeout > 600)); then
    fail "gw-b's copies have timeouts up to ${max_timeout:-?} s, ceiling 600"
  fi
  (($(stat_b peer_timeouts_capped) >= 1000)) || fail "timeouts capped: $(stat_b peer_timeouts_capped)"
  echo "ok: gw-b's copies expire within 600 s (longest $max_timeout s), $(stat_b peer_timeouts_capped) timeouts capped"

  # Quota: 600 more valid sessions, room for 500 of them.
  inject 1000 600
  # shellcheck disable=SC2317  # runs from wait_for
  quota_hit() { [[ "$(status gw-b sessions_peer)" == 1500 && "$(stat_b 'peer_rejected{quota}')" -ge 100 ]]; }
  wait_for 30000 quota_hit ||
    fail "gw-b keeps $(status gw-b sessions_peer) sessions, quota refusals $(stat_b 'peer_rejected{quota}')"
  [[ "$(own_table gw-b | wc -l)" == 1500 ]] || fail "gw-b's kernel holds $(own_table gw-b | wc -l) copies, quota 1500"
  echo "ok: gw-b stopped at peer_sessions_max 1500: $(stat_b 'peer_rejected{quota}') new sessions refused (quota)"
  # 300 deleted at gw-a: gw-b is below 90 % and asks for a bulk, which brings the 100 refused.
  inject 0 300 --delete
  wait_for 30000 valid_arrived 1300 400 ||
    fail "after room returned gw-b holds $(wc -l <"$LAB_TMP/b.txt") of 1300: $(diff "$LAB_TMP/a.txt" "$LAB_TMP/b.txt" | head -n 3)"
  (($(stat_b peer_quota_resyncs) >= 1)) || fail "gw-b did not ask for a resync after its quota refusals"
  echo "ok: room returned, gw-b asked for a resync and holds all 1300 of gw-a's valid sessions ($(stat_b peer_quota_resyncs) resync)"

  # The certificate expiry: metric and start-up warning.
  local prom expiry
  prom=$(lab_exec gw-b curl -sSf --max-time 2 "http://198.51.100.254:9465/metrics") || fail "scrape of gw-b failed"
  expiry=$(sed -n 's/^gwsync_tls_certificate_expiry_seconds{cert="local"} //p' <<<"$prom")
  [[ -n "$expiry" ]] || fail "no gwsync_tls_certificate_expiry_seconds{cert=\"local\"} in gw-b's /metrics"
  awk -v e="$expiry" 'BEGIN { exit !(e > 9 * 86400 && e <= 10 * 86400) }' ||
    fail "gw-b's certificate expiry $expiry s, expected 9..10 days"
  grep -q 'tls: certificate CN=gw-b expires in 9 days' "$log" || fail "no expiry warning in gw-b's log"
  grep -q '^gwsync_peer_sessions_rejected_total{reason="address_not_synced"} [1-9]' <<<"$prom" ||
    fail "gwsync_peer_sessions_rejected_total{reason=\"address_not_synced\"} missing or 0"
  echo "ok: gwsync_tls_certificate_expiry_seconds{cert=\"local\"} $expiry (10-day certificate), warned at start; rejections in /metrics"
  lab_pid_alive "${PID[gw-b]}" || fail "gw-b's daemon died"
}

# A counter of `gwsyncctl stats` (0 when the daemon does not list it).
counter() {  # counter NODE KEY: a stats figure, 0 when the daemon has not counted it yet
  local out v
  if ! out=$("$ctl" --socket "$LAB_TMP/$1/gwsyncd.sock" --timeout "$ctl_timeout" stats 2>&1); then
    echo "counter: gwsyncctl stats at $1 failed: $out" >&2
    return 1  # empty output: the caller's check fails instead of reading 0
  fi
  v=$(sed -n "s/^$2: //p" <<<"$out")
  echo "${v:-0}"
}

# Lines a daemon logged since its last start.
log_lines() { wc -l <"$LAB_TMP/$1/gwsyncd.log.new"; }

partition() {  # partition on|off: every packet arriving over the sync link dropped at both ends
  local n
  for n in gw-a gw-b; do
    if [[ $1 == on ]]; then
      lab_exec "$n" nft add table inet partition
      lab_exec "$n" nft add chain inet partition in '{ type filter hook input priority -300; }'
      lab_exec "$n" nft add rule inet partition in iifname sync counter drop
    else
      lab_exec "$n" nft delete table inet partition
    fi
  done
}

scenario_partition() {
  # Sizes: a fifth of SESSIONS before the cut, as many created and half of the first ones
  # deleted during it, and a tenth created and deleted again before the heal.
  local n=$((sessions / 5)) cut_ms=30000
  start gw-a; start gw-b; wait_ready
  inject 0 "$n"
  converge "$n sessions before the partition" "$n"
  local a_bulks b_bulks b_bulks_sent a_streams a_resumes a_connects
  a_bulks=$(counter gw-a bulks_sent); b_bulks=$(counter gw-b bulks_received)
  b_bulks_sent=$(counter gw-b bulks_sent)
  a_streams=$(counter gw-a streams_started); a_resumes=$(counter gw-a resumes)
  partition on
  local t_cut
  t_cut=$(lab_now_ms)
  # shellcheck disable=SC2317  # runs from wait_for
  both_down() { [[ "$(status gw-a peer)" == "2 disconnected" && "$(status gw-b peer)" == "1 disconnected" ]]; }
  wait_for 10000 both_down || fail "the partition was not detected: gw-a: $(status gw-a peer), gw-b: $(status gw-b peer)"
  local n2
  for n2 in gw-a gw-b; do
    grep -q 'silent for 1500 ms' "$LAB_TMP/$n2/gwsyncd.log.new" || fail "$n2 did not log its dead-peer detection"
  done
  echo "ok: dead-peer detection at both ends $(($(lab_now_ms) - t_cut)) ms after the cut (dead_after_ms 1500)"
  inject "$n" "$n"                       # created during the partition
  inject 0 $((n / 2)) --delete           # deleted during it: gw-b must lose them after the heal
  inject $((2 * n)) $((n / 10))          # created and deleted again: gw-b must never get them
  inject $((2 * n)) $((n / 10)) --delete
  # The link stays cut for cut_ms; meanwhile neither side may see its peer.
  # shellcheck disable=SC2317  # runs from wait_for
  cut_over() {
    both_down || fail "a daemon saw its peer through the partition: gw-a: $(status gw-a peer), gw-b: $(status gw-b peer)"
    (($(lab_now_ms) - t_cut >= cut_ms))
  }
  wait_for $((cut_ms + 5000)) cut_over || fail "partition timing"
  local held
  held=$(table gw-b | wc -l)
  ((held == n)) || fail "gw-b holds $held sessions at the end of the partition, expected the $n from before"
  echo "ok: link cut for $((cut_ms / 1000)) s; gw-b kept its $n copies, gw-a meanwhile created $((n + n / 10)) and deleted $((n / 2 + n / 10))"
  a_connects=$(grep -c 'peer 2 connected' "$LAB_TMP/gw-a/gwsyncd.log.new" || true)
  partition off
  converge "healed: the partition's creates and deletes at gw-b" $((2 * n - n / 2))
  local d_bulks d_bulks_recv d_bulks_sent d_streams d_resumes d_connects
  d_bulks=$(($(counter gw-a bulks_sent) - a_bulks))
  d_bulks_recv=$(($(counter gw-b bulks_received) - b_bulks))
  d_bulks_sent=$(($(counter gw-b bulks_sent) - b_bulks_sent))
  d_streams=$(($(counter gw-a streams_started) - a_streams))
  d_resumes=$(($(counter gw-a resumes) - a_resumes))
  d_connects=$(($(grep -c 'peer 2 connected' "$LAB_TMP/gw-a/gwsyncd.log.new" || true) - a_connects))
  ((d_connects == 1)) || fail "gw-a connected $d_connects times after the heal, expected once"
  ((d_streams + d_resumes == 1)) || fail "the heal took $d_streams new streams and $d_resumes resumes, expected one of them"
  ((d_bulks <= 1 && d_bulks_recv <= 1 && d_bulks_sent <= 1)) ||
    fail "resync storm: gw-a sent $d_bulks bulks, gw-b received $d_bulks_recv and sent $d_bulks_sent"
  echo "ok: one reconnect ($d_resumes resumed, $d_streams new streams), bulks gw-a->gw-b $d_bulks, gw-b->gw-a $d_bulks_sent"
}

scenario_overrun() {
  # The smallest event buffer the configuration allows, at both gateways; gw-a's events come
  # from the injector as fast as the kernel creates the entries.
  KERNEL_EXTRA[gw-a]='event_buffer_bytes = 1048576'
  KERNEL_EXTRA[gw-b]='event_buffer_bytes = 1048576'
  start gw-a; start gw-b; wait_ready
  local a_bulks round
  a_bulks=$(counter gw-a bulks_sent)
  # Until gw-a loses events: creates, and deletes of all of them, each burst at full speed.
  for round in 1 2 3 4 5; do
    inject 0 "$sessions"
    (($(counter gw-a events_overruns) > 0)) && break
    inject 0 "$sessions" --delete
    (($(counter gw-a events_overruns) > 0)) && { inject 0 "$sessions"; break; }
  done
  local overruns
  overruns=$(counter gw-a events_overruns)
  ((overruns > 0)) || fail "gw-a lost no events in $round rounds of $sessions creates and deletes"
  echo "ok: gw-a's 1 MiB event buffer overran $overruns times (round $round; gw-b: $(counter gw-b events_overruns))"
  converge "after the overruns, $sessions sessions" "$sessions"
  (($(counter gw-a bulks_sent) > a_bulks)) || fail "gw-a repaired its lost events without a bulk to gw-b"
  grep -q 'conntrack events lost (ENOBUFS): resyncing from a dump' "$LAB_TMP/gw-a/gwsyncd.log.new" ||
    fail "gw-a did not log the lost events"
  echo "ok: gw-a resynced from a dump ($(counter gw-a snapshots) dumps, $(($(counter gw-a bulks_sent) - a_bulks)) bulks to gw-b)"
  inject 0 "$sessions" --delete
  converge "all deleted: no entry stuck at either gateway" 0
  [[ "$(status gw-b sessions_peer)" == 0 && "$(status gw-a sessions_owned)" == 0 ]] ||
    fail "daemons still hold sessions: gw-a owns $(status gw-a sessions_owned), gw-b $(status gw-b sessions_peer) of gw-a's"
  echo "ok: both daemons hold 0 sessions; overruns gw-a $(counter gw-a events_overruns), gw-b $(counter gw-b events_overruns)"
}

scenario_table_full() {
  # gw-b's conntrack table (nf_conntrack_max, read-only in a namespace) filled by its own
  # entries from 192.0.2.64/26, which gw-b does not sync, leaving room for half of what gw-a
  # sends. Only gw-a's sessions (192.0.2.1) are compared.
  local n=$((sessions / 5)) filler_first=$((64000 * 70))
  FILTER_EXTRA[gw-b]='exclude = ["192.0.2.64/26"]'
  EXTRA_TOML[gw-b]=$(printf '[metrics]\nlisten = "198.51.100.254:9465"\n')
  own_table() { table "$1" | { grep -F 'src=192.0.2.1 ' || true; }; }
  # shellcheck disable=SC2317  # runs from wait_for
  same_own() {
    own_table gw-a >"$LAB_TMP/a.txt"
    own_table gw-b >"$LAB_TMP/b.txt"
    cmp -s "$LAB_TMP/a.txt" "$LAB_TMP/b.txt"
  }
  start gw-a; start gw-b; wait_ready
  local max count filler t0
  max=$(lab_exec gw-b cat /proc/sys/net/netfilter/nf_conntrack_max)
  count=$(lab_exec gw-b cat /proc/sys/net/netfilter/nf_conntrack_count)
  filler=$((max - count - n / 2))
  t0=$(lab_now_ms)
  lab_exec gw-b "$ct" inject --count "$filler" --first "$filler_first" >/dev/null || fail "filling gw-b's table"
  echo "ok: gw-b's table filled with $filler entries in $(($(lab_now_ms) - t0)) ms (nf_conntrack_max $max, room left $((max - $(lab_exec gw-b cat /proc/sys/net/netfilter/nf_conntrack_count))))"
  inject 0 "$n"
  local errno_key='kernel_write_errors{Cannot allocate memory}'
  # shellcheck disable=SC2317  # runs from wait_for
  refused() { (($(counter gw-b "$errno_key") > 0 && $(status gw-b sessions_peer) == n)); }
  wait_for 60000 refused ||
    fail "gw-b: $(status gw-b sessions_peer) of $n peer sessions, write errors: $("$ctl" --socket "$LAB_TMP/gw-b/gwsyncd.sock" stats | grep kernel_write_errors)"
  local written
  written=$(own_table gw-b | wc -l)
  ((written < n)) || fail "gw-b wrote all $n sessions into a full table"
  echo "ok: gw-b's kernel took $written of $n sessions; $errno_key: $(counter gw-b "$errno_key")"
  # While the table stays full: the daemon lives, and neither loops nor floods its log.
  local pid=${PID[gw-b]} lines0 cpu0 cpu1 t_start
  lines0=$(log_lines gw-b)
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  t_start=$(lab_now_ms)
  # shellcheck disable=SC2317  # runs from wait_for
  observed() {
    lab_pid_alive "$pid" || fail "gw-b's daemon died with its table full"
    (($(lab_now_ms) - t_start >= 10000))
  }
  wait_for 15000 observed || fail "observation window"
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local logged=$(($(log_lines gw-b) - lines0)) ticks=$((cpu1 - cpu0)) hz
  hz=$(getconf CLK_TCK)
  ((logged <= 30)) || fail "gw-b logged $logged lines in 10 s with its table full: $(tail -n 3 "$LAB_TMP/gw-b/gwsyncd.log.new")"
  # A loop would take a core; the refresh's dumps of the full table take about an eighth.
  ((ticks <= 6 * hz)) || fail "gw-b used $((ticks * 100 / hz)) % of a core over 10 s with its table full"
  echo "ok: table full for 10 s: gw-b alive, $logged log lines, $((ticks * 10 / hz)) % of a core"
  # Room returns: the filler goes, and the refused sessions must arrive without operator action.
  t0=$(lab_now_ms)
  lab_exec gw-b "$ct" inject --count "$filler" --first "$filler_first" --delete >/dev/null ||
    fail "deleting gw-b's filler"
  wait_for 60000 same_own ||
    fail "room returned, gw-b holds $(wc -l <"$LAB_TMP/b.txt") of gw-a's $(wc -l <"$LAB_TMP/a.txt") sessions"
  (($(wc -l <"$LAB_TMP/a.txt") == n)) || fail "gw-a holds $(wc -l <"$LAB_TMP/a.txt") sessions, expected $n"
  local retried metric
  retried=$(counter gw-b write_retries)
  ((retried > 0)) || fail "room returned, but gw-b counts no retried writes"
  # shellcheck disable=SC2317  # runs from wait_for
  scraped() {  # /metrics is refreshed every tick of the daemon: poll until it caught up
    metric=$(lab_exec gw-b curl -sSf --max-time 2 "http://198.51.100.254:9465/metrics" |
      awk '$1 == "gwsync_kernel_write_retries_total" { print $2 }') || return 1
    [[ "$metric" == "$retried" ]]
  }
  wait_for 5000 scraped ||
    fail "gwsync_kernel_write_retries_total is '${metric:-}', gwsyncctl stats says $retried"
  echo "ok: room returned, gw-b's table equals gw-a's ($n sessions) $(($(lab_now_ms) - t0)) ms later, $retried writes retried (gwsync_kernel_write_retries_total $metric)"
  inject 0 $((n / 5)) --delete
  wait_for 60000 same_own || fail "deletes after the table was full: $(diff "$LAB_TMP/a.txt" "$LAB_TMP/b.txt" | head -n 3)"
  echo "ok: and later deletes still arrive ($((n - n / 5)) sessions)"
}

scenario_stale_state() {
  # gw-a's state directory goes back to a copy from two starts ago (a restored backup or VM
  # snapshot): its epoch file then holds an older number than the stream gw-b follows.
  local n=$((sessions / 5)) e1 e3 e4
  start gw-a; start gw-b; wait_ready
  inject 0 "$n"
  converge "$n sessions (gw-a's first start)" "$n"
  e1=$(status gw-a epoch)
  cp -a "$LAB_TMP/gw-a/state" "$LAB_TMP/state.old"
  local run
  for run in 2 3; do
    stop gw-a; start gw-a; wait_ready
    inject $(((run - 1) * n)) "$n"
    converge "gw-a's start $run" $((run * n))
  done
  e3=$(status gw-a epoch)
  stop gw-a
  # Epochs are at least the wall clock's seconds (epoch_store.h): three starts within a second
  # or two run ahead of it, which a real restored copy (hours or days old) never is.
  # shellcheck disable=SC2317  # runs from wait_for
  clock_past() { (($(date +%s) > e3)); }
  wait_for 10000 clock_past || fail "the wall clock did not pass gw-a's last epoch $e3"
  rm -rf "$LAB_TMP/gw-a/state"
  cp -a "$LAB_TMP/state.old" "$LAB_TMP/gw-a/state"
  inject 0 $((n / 2)) --delete   # while gw-a's daemon is away: gw-b must lose them too
  start gw-a; wait_ready
  e4=$(status gw-a epoch)
  ((e4 > e3)) || fail "gw-a restarted from an old state directory with epoch $e4, not above its last epoch $e3 (first $e1)"
  [[ "$(status gw-b peer_epoch)" == "$e4" ]] || fail "gw-b follows epoch $(status gw-b peer_epoch), gw-a's is $e4"
  converge "gw-a restarted with its state directory from two starts ago" $((3 * n - n / 2))
  inject $((3 * n)) "$n"
  inject $((n / 2)) $((n / 2)) --delete
  converge "and its changes after that restart" $((3 * n))
  echo "ok: epochs $e1 (first start), $e3 (third), $e4 after the restore: no roll-back; gw-b follows $e4"
}

setup
"scenario_$scenario"
for n in gw-a gw-b; do stop "$n"; done
echo "PASS: $scenario"
