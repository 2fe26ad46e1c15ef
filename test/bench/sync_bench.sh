#!/usr/bin/env bash
# sync_bench.sh: gwsyncd side by side with conntrackd (Debian's, FTFW over UDP) on the same
# topology in the same run: two gateway namespaces joined by a sync link (veth,
# 198.51.100.253/30 <-> .254). Each run measures, for conntrackd and then for gwsyncd:
#   live    N sessions injected at gw-a: start of the injection until gw-b's kernel holds all N
#           (both nodes hot: gwsyncd mode "hot", conntrackd DisableExternalCache yes)
#   cpu     utime+stime of each daemon over the live phase, divided by N
#   bulk    with gw-a holding N, gw-b's daemon started fresh on an empty kernel table: start
#           until gw-b's kernel holds all N (conntrackd: StartupResync; gwsyncd: its bulk)
#   lag     gw-a driven at a steady --lag-rate new sessions/s: per-session time from its batch's
#           injection to its appearance in gw-b's kernel, p50 and p99 (gwsync-bench-load lag)
#   commit  gw-b cold (gwsyncd mode "cold", conntrackd with its external cache) holding N: the
#           commit command until gw-b's kernel holds all N
#   memory  gw-b's VmRSS holding the N sessions minus before, divided by N (cold, so the daemon
#           holds them)
# Then once: conntrackd's live and bulk phases with the Debian example's netlink buffers (2 MiB
# growing to 8 MiB), reported whether or not they complete.
# Then the failover and VM handoff figures, with the same --runs, each on its own lab:
#   failover  failover_bench.sh (gwsyncd hot, conntrackd hot, conntrackd with its cache committed
#             by `conntrackd -c`): --failover-sessions idle TCP sessions + --failover-tcp real
#             ones; ms from gw-a's failure (its daemon killed, then its links down and the routes
#             moved to gw-b) until gw-b forwards the first packet with the synced state, and until
#             every real TCP session answers again
#   handoff   migration_handoff.sh (gwsync only: conntrackd has no VM mobility; two-site lab with
#             BIRD), --handoff-sessions sessions of the moving VM, --handoff-modes: ms from the
#             VM's RARP at gw-b until gw-b forwards its first packet with the synced state
#             (negative in hot mode: gw-b already holds the state and forwards before the RARP)
# Their per-run figures (--raw) join this benchmark's; their full tables are written beside it.
# A phase whose gw-b never holds all N within the deadline fails the run: no figure from an
# incomplete run. gw-b's table is compared with gw-a's after each phase (TCP flags aside:
# conntrackd sets be-liberal on what it writes). Prints a Markdown table of medians and
# ratios, writes it to OUT/sync-bench.md and plots OUT/sync-bench.png (gnuplot).
#
#   usage: sync_bench.sh --build-dir DIR [--sessions N] [--runs R] [--out DIR] [--no-plot]
#                        [--lag-seconds S] [--lag-rate R] [--lag-batch-ms M] [--deadline S]
#                        [--no-example-buffers] [--failover-sessions N] [--failover-tcp T]
#                        [--handoff-sessions N] [--handoff-modes hot,cold] [--no-failover]
#                        [--no-handoff]
set -euo pipefail

usage() {
  sed -n 's/^#   usage: //p; s/^#                        /    /p' "${BASH_SOURCE[0]}" >&2
  exit 2
}
opt_name() {  # opt_name VAR: the option that sets VAR
  case $1 in
    fo_*) echo "failover-${1#fo_}" ;;
    ho_*) echo "handoff-${1#ho_}" ;;
    *) echo "${1//_/-}" ;;
  esac
}

cmdline="bash test/bench/sync_bench.sh $*"
build="" sessions=100000 runs=3 out=docs/bench plot=1 lag_seconds=3 lag_rate=50000
lag_batch_ms=2 deadline_s=60 example=1
failover=1 fo_sessions=10000 fo_tcp=100 handoff=1 ho_sessions=10000 ho_modes=hot
while (($#)); do
  case $1 in
    --build-dir) build=${2:?}; shift 2 ;;
    --sessions) sessions=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --no-plot) plot=0; shift ;;
    --lag-seconds) lag_seconds=${2:?}; shift 2 ;;
    --lag-rate) lag_rate=${2:?}; shift 2 ;;
    --lag-batch-ms) lag_batch_ms=${2:?}; shift 2 ;;
    --deadline) deadline_s=${2:?}; shift 2 ;;
    --no-example-buffers) example=0; shift ;;
    --failover-sessions) fo_sessions=${2:?}; shift 2 ;;
    --failover-tcp) fo_tcp=${2:?}; shift 2 ;;
    --handoff-sessions) ho_sessions=${2:?}; shift 2 ;;
    --handoff-modes) ho_modes=${2:?}; shift 2 ;;
    --no-failover) failover=0; shift ;;
    --no-handoff) handoff=0; shift ;;
    *) usage ;;
  esac
done
[[ -n "$build" ]] || usage
for v in sessions runs lag_seconds lag_rate lag_batch_ms deadline_s fo_sessions fo_tcp ho_sessions; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "sync_bench: --$(opt_name "$v") '${!v}' is not a number" >&2; exit 2; }
done
((sessions >= 1000 && sessions <= 250000)) || { echo "sync_bench: --sessions: 1000..250000" >&2; exit 2; }
((runs >= 1)) || { echo "sync_bench: --runs: at least 1" >&2; exit 2; }
# The sibling benchmarks' own limits, checked here rather than after the long runs above.
((fo_sessions <= 60000)) || { echo "sync_bench: --failover-sessions: 0..60000" >&2; exit 2; }
((fo_tcp >= 1)) || { echo "sync_bench: --failover-tcp: at least 1" >&2; exit 2; }
((ho_sessions >= 2 && ho_sessions <= 31746)) ||
  { echo "sync_bench: --handoff-sessions: 2..31746 (gw-a's port partition)" >&2; exit 2; }
IFS=, read -ra ho_mode_list <<<"$ho_modes"
((${#ho_mode_list[@]} >= 1)) || { echo "sync_bench: --handoff-modes: hot and/or cold" >&2; exit 2; }
for m in "${ho_mode_list[@]}"; do
  [[ $m == hot || $m == cold ]] || { echo "sync_bench: --handoff-modes: hot and/or cold, not '$m'" >&2; exit 2; }
done
[[ ${#ho_mode_list[@]} == "$(printf '%s\n' "${ho_mode_list[@]}" | sort -u | wc -l)" ]] ||
  { echo "sync_bench: --handoff-modes: each mode once" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
daemon="$build/syncd/app/gwsyncd"
ctl="$build/syncd/app/gwsyncctl"
ct="$build/syncd/app/gwsync-ct"
load="$build/test/bench/gwsync-bench-load"
need=("$daemon" "$ctl" "$ct" "$load")
# What the failover and handoff benchmarks run, checked now rather than after the phases above.
((failover || handoff)) && need+=("$build/test/bench/gwsync-bench-stream" "$build/test/bench/gwsync-bench-host-load")
((failover)) && need+=("$build/test/tools/gwsync-traffic")
((handoff)) && need+=("$build/test/tools/gwsync-announce" "$build/nat/gwsync-nat")
for b in "${need[@]}"; do
  [[ -x "$b" ]] || { echo "sync_bench: $b missing: build first (cmake --build --preset release)" >&2; exit 1; }
done
if ((EUID != 0)); then
  echo "sync_bench: needs root (network namespaces, ctnetlink); skipped"
  exit 77
fi
for tool in conntrackd conntrack nft; do
  command -v "$tool" >/dev/null ||
    { echo "sync_bench: $tool not installed (bash scripts/install-deps.sh); skipped"; exit 77; }
done
conntrackd_version=$(conntrackd -v 2>&1 | sed -n 's/.*daemon \(v[0-9.]*[0-9]\).*/\1/p' | head -n 1)
lag_sessions=$((lag_rate * lag_seconds))
((lag_sessions <= 250000)) ||
  { echo "sync_bench: --lag-rate x --lag-seconds: at most 250000 sessions (nf_conntrack_max)" >&2; exit 2; }
# conntrackd stops caching (and so syncing) beyond HashLimit; conntrackd.conf(5) asks for twice
# the entries.
hash_limit=$((2 * (sessions > lag_sessions ? sessions : lag_sessions)))
((hash_limit >= 131072)) || hash_limit=131072
clk_tck=$(getconf CLK_TCK)
deadline_ms=$((deadline_s * 1000))

# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
lab_init gwsb
SUB_PID=""  # a sibling benchmark running (sub_bench)
# An interrupted sibling benchmark gets the time to delete its own namespaces.
on_exit() {
  if [[ -n "$SUB_PID" ]]; then lab_stop_pid "$SUB_PID" 30000; untrack_pid "$SUB_PID"; fi
  lab_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

results="$LAB_TMP/results.tsv"  # impl run figure value
notes="$LAB_TMP/notes.txt"
: >"$results"
: >"$notes"
declare -A PID
impl=""

fail() {
  echo "FAIL ($impl): $*" >&2
  local n f
  for n in gw-a gw-b; do
    for f in "$LAB_TMP/$impl/$n"/*.log; do
      [[ -f "$f" ]] && { echo "--- $f (tail)" >&2; tail -n 12 "$f" >&2; }
    done
  done
  exit 1
}

# Forget a PID once its process is reaped, so that lab_cleanup never signals a reused PID.
untrack_pid() {
  local keep=() p
  for p in "${LAB_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  LAB_PIDS=("${keep[@]}")
}

now_us() { printf '%s\n' "${EPOCHREALTIME//[!0-9]/}"; }

setup() {
  lab_ns_add gw-a
  lab_ns_add gw-b
  lab_veth gw-a sync gw-b sync
  lab_addr gw-a sync 198.51.100.253/30
  lab_addr gw-b sync 198.51.100.254/30
  local n
  for n in gw-a gw-b; do
    # A nat hook (ctnetlink creates NAT bindings only where nat is in use), and no tracking of
    # the sync link's own packets, so the table holds the synced sessions only.
    lab_exec "$n" nft -f - <<'NFT' || lab_die "cannot install the nftables table in $n"
table ip gwbench {
  chain post { type nat hook postrouting priority srcnat; policy accept; }
  chain raw_in { type filter hook prerouting priority raw; policy accept; iifname "sync" notrack; }
  chain raw_out { type filter hook output priority raw; policy accept; oifname "sync" notrack; }
}
NFT
  done
  lab_wait_up 3000 gw-a sync gw-b sync
}

ct_count() { lab_exec "$1" sysctl -n net.netfilter.nf_conntrack_count; }

# shellcheck disable=SC2317  # runs from wait_for
table_empty() { [[ "$(ct_count "$1")" == 0 ]]; }

flush() {  # flush NODE...: empties kernel tables (their daemons stopped)
  local n
  for n in "$@"; do
    lab_exec "$n" conntrack -F >/dev/null 2>&1 || true
    wait_for 10000 table_empty "$n" || fail "$n's table does not empty: $(ct_count "$n")"
  done
}

# --- the two daemons behind one interface: d_start NODE hot|cold [example], d_ready NODE,
# --- d_cached NODE (sessions held in memory), d_commit NODE, d_stop NODE

node_addr() { [[ $1 == gw-a ]] && echo 198.51.100.253 || echo 198.51.100.254; }
peer_addr() { [[ $1 == gw-a ]] && echo 198.51.100.254 || echo 198.51.100.253; }
node_id() { [[ $1 == gw-a ]] && echo 1 || echo 2; }
peer_id() { [[ $1 == gw-a ]] && echo 2 || echo 1; }

ctd_conf() {  # ctd_conf NODE MODE BUFFERS
  local dir="$LAB_TMP/$impl/$1" dec=yes nl=33554432 nl_max=33554432
  [[ $2 == cold ]] && dec=no
  [[ $3 == example ]] && nl=2097152 nl_max=8388608
  sed -e "s|@DISABLE_EXTERNAL_CACHE@|$dec|" -e "s|@NETLINK_BUFFER@|$nl|" \
    -e "s|@NETLINK_BUFFER_MAX@|$nl_max|" -e "s|@UDP_BUFFER@|1249280|" \
    -e "s|@LOCAL_ADDR@|$(node_addr "$1")|" -e "s|@PEER_ADDR@|$(peer_addr "$1")|" \
    -e "s|@SYNC_IF@|sync|" -e "s|@HASH_LIMIT@|$hash_limit|" \
    -e "s|@DIR@|$dir|g" "$here/conntrackd.conf.in" >"$dir/conntrackd.conf"
}

gws_conf() {  # gws_conf NODE MODE
  cat >"$LAB_TMP/$impl/$1/gwsync.toml" <<EOT
[node]
id = $(node_id "$1")
state_dir = "$LAB_TMP/$impl/$1/state"
mode = "$2"

[sync]
listen = "$(node_addr "$1"):7801"
peer = "$(peer_addr "$1"):7801"
peer_id = $(peer_id "$1")
# Plaintext, as conntrackd's FTFW over UDP is: the comparison is of the sync engines.
insecure_plaintext = true

[filter]
include = ["192.0.2.0/24"]
protocols = ["tcp"]

[control]
socket = "$LAB_TMP/$impl/$1/gwsyncd.sock"
EOT
}

d_start() {  # d_start NODE MODE [example]
  local dir="$LAB_TMP/$impl/$1"
  mkdir -p "$dir"
  if [[ $impl == conntrackd ]]; then
    ctd_conf "$1" "$2" "${3:-tuned}"
    rm -f "$dir/conntrackd.lock" "$dir/conntrackd.ctl"
    lab_spawn "$dir/stdout.log" ip netns exec "$(lab_ns "$1")" conntrackd -C "$dir/conntrackd.conf"
  else
    gws_conf "$1" "$2"
    "$daemon" --config "$dir/gwsync.toml" --check-config >/dev/null || fail "$1: bad config"
    lab_spawn "$dir/gwsyncd.log" ip netns exec "$(lab_ns "$1")" "$daemon" --config "$dir/gwsync.toml"
  fi
  PID[$1]=$LAB_LAST_PID
}

d_stop() {
  local n
  for n in "$@"; do
    [[ -n "${PID[$n]:-}" ]] || continue
    lab_stop_pid "${PID[$n]}" 5000
    untrack_pid "${PID[$n]}"
    PID[$n]=""
  done
}

ctd() { local n=$1; shift; lab_exec "$n" conntrackd -C "$LAB_TMP/$impl/$n/conntrackd.conf" "$@"; }
gws_status() { "$ctl" --socket "$LAB_TMP/$impl/$1/gwsyncd.sock" status 2>/dev/null | sed -n "s/^$2: //p"; }

# shellcheck disable=SC2317  # runs from wait_for
d_ready() {
  lab_pid_alive "${PID[$1]}" || fail "$1's daemon exited"
  if [[ $impl == conntrackd ]]; then
    [[ -S "$LAB_TMP/$impl/$1/conntrackd.ctl" ]] && ctd "$1" -s runtime >/dev/null 2>&1
  else
    [[ "$(gws_status "$1" ready)" == yes && "$(gws_status "$1" peer)" == "$(peer_id "$1") connected" ]]
  fi
}

wait_ready() {
  local n
  for n in "$@"; do wait_for 20000 d_ready "$n" || fail "$n's daemon not ready"; done
}

d_cached() {
  if [[ $impl == conntrackd ]]; then
    ctd "$1" -s cache 2>/dev/null | awk -F'\t' '/^cache:external/ { gsub(/ /, "", $NF); print $NF }'
  else
    gws_status "$1" sessions_peer
  fi
}

d_commit() {
  if [[ $impl == conntrackd ]]; then
    ctd "$1" -c >"$LAB_TMP/commit.out" 2>&1
  else
    "$ctl" --socket "$LAB_TMP/$impl/$1/gwsyncd.sock" --timeout 600 commit >"$LAB_TMP/commit.out" 2>&1 &&
      grep -q '^failed: 0$' "$LAB_TMP/commit.out"
  fi
}

# --- measurements

cpu_ticks() {  # utime + stime of a process (all its threads), in clock ticks
  local stat f
  stat=$(<"/proc/$1/stat")
  read -ra f <<<"${stat##*) }"
  echo $((f[11] + f[12]))
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# poll_start NODE ge|le TARGET: a poller in NODE's namespace; returns once it polls.
POLL_PID="" POLL_OUT=""
poll_start() {
  POLL_OUT="$LAB_TMP/poll.out"
  rm -f "$LAB_TMP/poll.started"
  lab_spawn "$POLL_OUT" ip netns exec "$(lab_ns "$1")" \
    bash "$here/ct_count_wait.sh" "$2" "$3" "$deadline_ms" "$LAB_TMP/poll.started"
  POLL_PID=$LAB_LAST_PID
  wait_for 5000 test -e "$LAB_TMP/poll.started" || fail "the table poller did not start"
}

# poll_end T0_US WHAT: waits for the poller; POLL_US is the time from T0_US until it saw the
# target. Fails the run when the deadline passed first.
POLL_US=0
poll_end() {
  local rc=0 word="" t=""
  wait "$POLL_PID" || rc=$?
  untrack_pid "$POLL_PID"
  read -r word t _ <"$POLL_OUT" || true
  if ((rc != 0)) || [[ $word != REACHED ]]; then
    fail "$2: gw-b's table did not reach the target within ${deadline_s} s (last count: ${t:-?})"
  fi
  POLL_US=$((t - $1))
}

inject() {  # inject COUNT FIRST: at gw-a, through the batched netlink writer
  "$load" inject --netns "$(lab_ns gw-a)" --count "$1" --first "$2" >"$LAB_TMP/inject.out" 2>&1 ||
    fail "inject: $(cat "$LAB_TMP/inject.out")"
}

# gw-b's copy of the load equals gw-a's, field by field (mark bit of gwsyncd's copies and TCP
# flags aside: conntrackd writes its copies with the be-liberal flag).
table() {
  "$ct" dump --netns "$(lab_ns "$1")" --strip-mark 0x80000000 2>/dev/null |
    { grep 'src=192\.0\.2\.' || true; } |
    sed 's| tcp=\([0-9]*\)/\([0-9]*\)/\([0-9]*\)/[0-9]*/[0-9]*| tcp=\1/\2/\3|' | sort
}

check_tables() {  # check_tables WHAT EXPECTED
  table gw-a >"$LAB_TMP/a.txt"
  table gw-b >"$LAB_TMP/b.txt"
  local na nb
  na=$(wc -l <"$LAB_TMP/a.txt")
  nb=$(wc -l <"$LAB_TMP/b.txt")
  ((na == $2)) || fail "$1: gw-a holds $na sessions, expected $2"
  cmp -s "$LAB_TMP/a.txt" "$LAB_TMP/b.txt" ||
    fail "$1: gw-b's table ($nb) differs from gw-a's ($na): $(diff "$LAB_TMP/a.txt" "$LAB_TMP/b.txt" | head -n 3)"
}

record() { printf '%s\t%s\t%s\t%s\n' "$impl" "$run" "$1" "$2" >>"$results"; }

div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6g\n", a / b }'; }

phase_live() {
  d_start gw-a hot
  d_start gw-b hot
  wait_ready gw-a gw-b
  local ca cb t0 us
  ca=$(cpu_ticks "${PID[gw-a]}")
  cb=$(cpu_ticks "${PID[gw-b]}")
  poll_start gw-b ge "$sessions"
  t0=$(now_us)
  inject "$sessions" 0
  poll_end "$t0" "live replication"
  us=$POLL_US
  local da db
  da=$(($(cpu_ticks "${PID[gw-a]}") - ca))
  db=$(($(cpu_ticks "${PID[gw-b]}") - cb))
  record live_rate "$(div $((sessions * 1000000)) "$us")"
  record cpu_a "$(div $((da * 1000000)) $((clk_tck * sessions)))"
  record cpu_b "$(div $((db * 1000000)) $((clk_tck * sessions)))"
  record inject_rate "$(sed -n 's/.*(\([0-9]*\)\/s)$/\1/p' "$LAB_TMP/inject.out")"
  lab_log "$impl run $run: live $sessions in $((us / 1000)) ms ($(sed 's/^created //' "$LAB_TMP/inject.out")), CPU ticks A $da B $db"
  check_tables "live replication" "$sessions"
}

phase_bulk() {
  d_stop gw-b
  flush gw-b
  local t0 us
  poll_start gw-b ge "$sessions"
  t0=$(now_us)
  d_start gw-b hot
  poll_end "$t0" "bulk resync"
  us=$POLL_US
  record bulk_s "$(div "$us" 1000000)"
  lab_log "$impl run $run: bulk $sessions into a fresh gw-b in $((us / 1000)) ms"
  check_tables "bulk resync" "$sessions"
}

phase_lag() {
  d_stop gw-a gw-b
  flush gw-a gw-b
  d_start gw-a hot
  d_start gw-b hot
  wait_ready gw-a gw-b
  local rc=0 line
  # The load runs at nice -10: on a shared 2-core machine a writer at nice 0 misses its schedule
  # whenever a compiler runs; a gateway's real connections come from softirq, which preempts
  # both daemons anyway. The daemons are treated alike.
  timeout $((lag_seconds + deadline_s + 30)) nice -n -10 "$load" lag --from "$(lab_ns gw-a)" --to "$(lab_ns gw-b)" \
    --rate "$lag_rate" --seconds "$lag_seconds" --batch-ms "$lag_batch_ms" --first 4000000 \
    --deadline-ms "$deadline_ms" >"$LAB_TMP/lag.out" 2>&1 || rc=$?
  line=$(grep '^RESULT' "$LAB_TMP/lag.out" || true)
  if ((rc == 3)); then
    # Every session arrived, but the machine did not let the writer keep a steady rate.
    echo "$impl run $run: no lag figure, the load generator fell behind its schedule ($line)" >>"$notes"
    lab_log "$impl run $run: lag: no figure, load off schedule: $line"
    return 0
  fi
  ((rc == 0)) || fail "lag: $(cat "$LAB_TMP/lag.out")"
  record lag_p50 "$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  record lag_p99 "$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  record lag_write "$(sed -n 's/.* write_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  lab_log "$impl run $run: lag $(head -n 1 "$LAB_TMP/lag.out"); $line"
}

phase_cold() {
  d_stop gw-a gw-b
  flush gw-a gw-b
  d_start gw-a hot
  d_start gw-b cold
  wait_ready gw-a gw-b
  local rss0 rss1 t0 us
  rss0=$(rss_kb "${PID[gw-b]}")
  inject "$sessions" 0
  # shellcheck disable=SC2317  # runs from wait_for
  cached() { [[ "$(d_cached gw-b)" == "$sessions" ]]; }
  wait_for "$deadline_ms" cached || fail "cold gw-b caches $(d_cached gw-b) of $sessions"
  rss1=$(rss_kb "${PID[gw-b]}")
  record mem_b "$(div $(((rss1 - rss0) * 1024)) "$sessions")"
  [[ "$(ct_count gw-b)" == 0 ]] || fail "cold gw-b wrote $(ct_count gw-b) entries before a commit"
  poll_start gw-b ge "$sessions"
  t0=$(now_us)
  d_commit gw-b || fail "commit: $(cat "$LAB_TMP/commit.out")"
  poll_end "$t0" "commit"
  us=$POLL_US
  record commit_rate "$(div $((sessions * 1000000)) "$us")"
  lab_log "$impl run $run: cold gw-b RSS $rss0 -> $rss1 kB; commit $sessions in $((us / 1000)) ms"
  check_tables "commit" "$sessions"
  d_stop gw-a gw-b
}

# Facts the table alone would hide: counters of gwsyncd's own, conntrackd's overrun warnings.
collect_notes() {
  local n
  for n in gw-a gw-b; do
    if [[ $impl == gwsync ]]; then
      [[ -n "${PID[$n]:-}" ]] || continue
      echo "gwsync run $run $n: $("$ctl" --socket "$LAB_TMP/$impl/$n/gwsyncd.sock" stats 2>/dev/null |
        grep -E '^(events_overruns|items_resent|duplicates|gaps|snapshots|refreshes|bulks_sent|bulks_received|purged): ' |
        tr '\n' ' ')" >>"$notes"
    fi
  done
}

bench_run() {  # one run of every phase for $impl
  flush gw-a gw-b
  phase_live
  phase_bulk
  collect_notes
  if ((lag_seconds > 0)); then phase_lag; fi
  phase_cold
  if [[ $impl == conntrackd ]]; then ctd_notes; fi
}

# conntrackd's own account of its event socket buffer and of lost events, per run.
ctd_notes() {
  local f n size limit line
  for f in "$LAB_TMP/$impl"/gw-*/conntrackd.log; do
    n=$(basename "$(dirname "$f")")
    size=$(sed -n 's/.*buffer size has been \(set\|doubled\) to \([0-9]*\) bytes.*/\2/p' "$f" | tail -n 1)
    limit=$(grep -c 'cannot be doubled further' "$f" || true)
    line="conntrackd run $run $n: event socket buffer ${size:-?} bytes at the end"
    ((limit == 0)) || line+="; logged $limit times that it cannot grow further and is likely losing events"
    echo "$line" >>"$notes"
    : >"$f"
  done
}

# conntrackd's live and bulk phases once with Debian's example buffers. Reported as they come
# out, complete or not: this is the configuration people start from.
example_buffers() {
  impl=conntrackd run=example
  flush gw-a gw-b
  d_start gw-a hot example
  d_start gw-b hot example
  wait_ready gw-a gw-b
  local t0
  poll_start gw-b ge "$sessions"
  t0=$(now_us)
  inject "$sessions" 0
  example_wait "$t0"
  example_result="live replication: $EXAMPLE_WAIT"
  d_stop gw-b
  flush gw-b
  poll_start gw-b ge "$sessions"
  t0=$(now_us)
  d_start gw-b hot example
  example_wait "$t0"
  example_result+="; bulk resync into a fresh gw-b: $EXAMPLE_WAIT"
  lab_log "conntrackd with the example's buffers: $example_result"
  d_stop gw-a gw-b
  ctd_notes
}

# example_wait T0_US: EXAMPLE_WAIT says how the poller's wait ended (not a failure either way).
EXAMPLE_WAIT=""
example_wait() {
  local rc=0 word="" t=""
  wait "$POLL_PID" || rc=$?
  untrack_pid "$POLL_PID"
  read -r word t _ <"$POLL_OUT" || true
  if ((rc == 0)) && [[ $word == REACHED ]]; then
    EXAMPLE_WAIT="all $sessions in gw-b's kernel after $(div "$((t - $1))" 1000000) s"
  else
    EXAMPLE_WAIT="**did not complete**: gw-b's kernel held ${t:-?} of $sessions after ${deadline_s} s"
  fi
}

# --- failover and VM handoff: the sibling benchmarks, each on its own lab

# sub_bench NAME SCRIPT VARIANTS ARGS...: runs test/bench/SCRIPT with this benchmark's --runs;
# merges its per-run figures (--raw) into $results as NAME_FIGURE, and sets SUB_STATE: "measured",
# or why it did not run (exit 77: something it needs is missing). A failed run fails the
# benchmark, as a phase here does, and so do figures missing for any run of its VARIANTS
# (implementations or modes).
SUB_STATE=""
sub_bench() {
  local name=$1 script=$2 variants=$3 rc=0 have
  shift 3
  lab_log "$name: bash test/bench/$script --runs $runs $*"
  : >"$LAB_TMP/$name.raw"
  lab_spawn "$LAB_TMP/$name.log" bash "$here/$script" --build-dir "$build" --runs "$runs" \
    --raw "$LAB_TMP/$name.raw" --out "$LAB_TMP/$name.md" "$@"
  SUB_PID=$LAB_LAST_PID
  wait "$SUB_PID" || rc=$?
  untrack_pid "$SUB_PID"
  SUB_PID=""
  if ((rc == 77)); then
    SUB_STATE="skipped: $(tail -n 1 "$LAB_TMP/$name.log")"
    echo "$name not measured, $SUB_STATE" >>"$notes"
    lab_log "$name: $SUB_STATE"
    return 0
  fi
  if ((rc != 0)); then
    echo "FAIL ($name): test/bench/$script exited with $rc" >&2
    tail -n 20 "$LAB_TMP/$name.log" >&2
    exit 1
  fi
  sed -n "s/^run /$name run: /p" "$LAB_TMP/$name.log" | while IFS= read -r line; do lab_log "$line"; done
  have=$(cut -f 1,2 "$LAB_TMP/$name.raw" | sort -u | wc -l)
  ((have == runs * variants)) ||
    { echo "FAIL ($name): figures of $have runs in its --raw output, expected $((runs * variants))" >&2; exit 1; }
  # failover_bench.sh's "conntrackd" is the one committed at failover; migration_handoff.sh's
  # impl is gwsync-MODE: its figures become gwsync's handoff_MODE_FIGURE.
  awk -F'\t' -v OFS='\t' -v p="$name" '{
      impl = $1; fig = p "_" $3
      if (impl == "conntrackd") impl = "conntrackd-commit"
      else if (impl ~ /^gwsync-/) { fig = p "_" substr(impl, 8) "_" $3; impl = "gwsync" }
      print impl, $2, fig, $4 }' "$LAB_TMP/$name.raw" >>"$results"
  SUB_STATE=measured
}

failover_state="not run (--no-failover)" handoff_state="not run (--no-handoff)"
failover_handoff() {
  if ((failover)); then
    sub_bench failover failover_bench.sh 3 --sessions "$fo_sessions" --tcp "$fo_tcp" \
      --impls gwsync,conntrackd-hot,conntrackd
    failover_state=$SUB_STATE
  fi
  if ((handoff)); then
    sub_bench handoff migration_handoff.sh "${#ho_mode_list[@]}" --sessions "$ho_sessions" \
      --modes "$ho_modes"
    handoff_state=$SUB_STATE
  fi
}

# --- report

median() {  # median IMPL FIGURE
  awk -F'\t' -v i="$1" -v f="$2" '$1 == i && $3 == f && $2 != "example" { print $4 }' "$results" |
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
values() {  # values IMPL FIGURE DECIMALS: every run's value ("—" when none)
  awk -F'\t' -v i="$1" -v f="$2" -v d="$3" \
    '$1 == i && $3 == f && $2 != "example" { printf "%s%.*f", s, d, $4; s = ", " }
     END { if (s == "") printf "—" }' "$results"
}
count_runs() {
  awk -F'\t' -v f="$1" '$1 == "gwsync" && $3 == f { n++ } END { print n + 0 }' "$results"
}
fmt() {  # fmt VALUE DECIMALS
  [[ -n "$1" ]] || { echo "—"; return; }
  awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f\n", d, v }'
}

# key | label | unit | better (higher, lower, or context: no ratio) | decimals | goal (op value) |
# short label for the plot | the conntrackd whose figure the row compares with (results' impl:
# conntrackd when empty, none for gwsync-only figures). The bulk goal (0.6 s for 100k) scales
# with N. A label's words before " (" name the figure in the goal and per-run lists.
figures() {
  cat <<EOF
inject_rate|context: the injector's rate at A during the live phase (entries/s)|entries/s|context|0||
live_rate|live replication, $sessions sessions injected at A (entries/s)|entries/s|higher|0|>= 200000|live replication
cpu_a|CPU per replicated entry, A's daemon (µs)|µs|lower|2|<= 5|CPU per entry, A
cpu_b|CPU per replicated entry, B's daemon (µs)|µs|lower|2|<= 5|CPU per entry, B
bulk_s|bulk resync of $sessions into a fresh B's kernel (s)|s|lower|3|<= $(awk -v n="$sessions" 'BEGIN { printf "%.4g", 0.6 * n / 100000 }')|bulk resync
commit_rate|commit of $sessions from a cold B's memory (entries/s)|entries/s|higher|0|>= 250000|commit
mem_b|memory per session cached by a cold B (bytes)|B|lower|0|<= 150|memory per session
lag_write|context: a lag batch's own write at A, included in every lag (ms)|ms|context|2||
lag_p50|replication lag p50 at $lag_rate new sessions/s (ms)|ms|lower|2||lag p50
lag_p99|replication lag p99 at $lag_rate new sessions/s (ms)|ms|lower|2|<= 5|lag p99
EOF
  if [[ $failover_state == measured ]]; then
    cat <<EOF
failover_fwd_ms|failover: first packet forwarded by B with the synced state, vs conntrackd hot (ms after A's failure: its daemon killed, then its links down and the routes moved to B)|ms|lower|1||failover: first packet, vs hot|conntrackd-hot
failover_fwd_ms|failover: first packet forwarded by B with the synced state, vs conntrackd + commit (ms after A's failure; conntrackd with its external cache, committed by conntrackd -c at B in the takeover)|ms|lower|1||failover: first packet, vs commit|conntrackd-commit
failover_probe_ms|failover: all $fo_tcp real TCP sessions answering again, vs conntrackd hot (ms after A's failure; one probe each, sent after the takeover)|ms|lower|1||failover: all TCP back, vs hot|conntrackd-hot
failover_probe_ms|failover: all $fo_tcp real TCP sessions answering again, vs conntrackd + commit (ms after A's failure)|ms|lower|1||failover: all TCP back, vs commit|conntrackd-commit
failover_routes_ms|context: failover: A's failure until the routes point to B, vs conntrackd hot (ms; the same kill, links and routes commands for both)|ms|context|0|||conntrackd-hot
EOF
  fi
  if [[ $handoff_state == measured ]]; then
    local m why
    for m in "${ho_mode_list[@]}"; do
      why="negative: B, already holding the state, forwarded before the RARP arrived"
      [[ $m == cold ]] && why="cold: B writes the sessions into its kernel on its claim"
      echo "handoff_${m}_fwd_ms|VM handoff, $m: first packet forwarded at the new site with the synced state (ms after the VM's RARP at B; gwsync only, conntrackd has no VM mobility; $why)|ms|lower|1|<= 50|VM handoff ($m), the VM's RARP at B → first packet forwarded at the new site|none"
    done
  fi
}

report() {
  local md="$LAB_TMP/sync-bench.md" plotdata="$LAB_TMP/plot.dat"
  : >"$plotdata"
  {
    echo "gwsyncd vs conntrackd $conntrackd_version (FTFW over UDP), $sessions sessions, medians of $runs runs, $(date -u +%F)"
    echo "($(nproc) cores, kernel $(uname -r); \`$cmdline\`)"
    [[ $failover_state != measured ]] ||
      echo "failover: test/bench/failover_bench.sh, two gateways (LAN, WAN, strict tracking, SNAT), $fo_sessions idle TCP + $fo_tcp real TCP sessions + a TCP stream and a UDP flow of the VM, fresh lab per run and implementation"
    [[ $handoff_state != measured ]] ||
      echo "VM handoff: test/bench/migration_handoff.sh, the two-site lab (BIRD, return path redirect), $ho_sessions sessions of the moving VM, mode ${ho_modes//,/ and }"
    echo
    echo "| figure | better | conntrackd median | gwsync median | ratio gwsync/conntrackd | runs |"
    echo "|---|---|---:|---:|---:|---:|"
    local key label unit better dec goal short cimpl c g ratio adv
    gwsync_only=""
    while IFS='|' read -r key label unit better dec goal short cimpl; do
      c=$(median "${cimpl:-conntrackd}" "$key")
      g=$(median gwsync "$key")
      ratio="—"
      if [[ $better != context && -n "$c" && -n "$g" ]] && awk -v c="$c" 'BEGIN { exit !(c > 0) }'; then
        ratio=$(awk -v c="$c" -v g="$g" 'BEGIN { printf "%.3g\n", g / c }')
        adv=$(awk -v c="$c" -v g="$g" -v b="$better" 'BEGIN { if (g <= 0) exit; printf "%.4g\n", b == "higher" ? g / c : c / g }')
        [[ -n "$adv" ]] && printf '"%s" %s\n' "$short" "$adv" >>"$plotdata"
      elif [[ $cimpl == none && -n "$g" ]]; then
        # No ratio to plot: the plot names these figures and gwsync's value in a line of text.
        gwsync_only+="${gwsync_only:+\\n}$short: $(fmt "$g" "$dec") $unit${goal:+ (goal ${goal/<=/≤} $unit)}"
      fi
      echo "| $label | $better | $(fmt "$c" "$dec") | $(fmt "$g" "$dec") | $ratio | $(count_runs "$key") |"
    done < <(figures)
    ((lag_seconds > 0)) || echo "| replication lag | — | skipped (--lag-seconds 0) | skipped | — | 0 |"
    [[ $failover_state == measured ]] || echo "| failover | — | ${failover_state%%:*} | ${failover_state%%:*} | — | 0 |"
    [[ $handoff_state == measured ]] || echo "| VM handoff | — | — | ${handoff_state%%:*} | — | 0 |"
    echo
    echo "Goals (from the issue), against gwsync's medians:"
    echo
    echo "| goal | gwsync median | met |"
    echo "|---|---:|---|"
    local met
    while IFS='|' read -r key label unit better dec goal short cimpl; do
      [[ -n "$goal" ]] || continue
      g=$(median gwsync "$key")
      if [[ -z "$g" ]]; then met="not measured"
      elif awk -v g="$g" -v op="${goal%% *}" -v x="${goal##* }" \
        'BEGIN { exit !(op == ">=" ? g >= x : g <= x) }'; then met="yes"
      else met="**no**"; fi
      goal=${goal/>=/≥}
      echo "| ${label%% (*} ${goal/<=/≤} $unit | $(fmt "$g" "$dec") | $met |"
    done < <(figures)
    echo
    echo "Per run (conntrackd; gwsync):"
    echo
    while IFS='|' read -r key label unit better dec goal short cimpl; do
      echo "- ${label%% (*}: $(values "${cimpl:-conntrackd}" "$key" "$dec"); $(values gwsync "$key" "$dec")"
    done < <(figures)
    echo
    if [[ -n "${example_result:-}" ]]; then
      echo "conntrackd with the Debian example's buffers (netlink 2 MiB growing to 8 MiB, UDP 1249280 B), $sessions sessions, once: $example_result. Every conntrackd figure above uses 32 MiB netlink buffers (NetlinkBufferSize/NetlinkBufferSizeMaxGrowth, which 1.4.7 also reads as SocketBufferSize/SocketBufferSizeMaxGrown) and the example's UDP buffers."
      echo
    fi
    echo "Notes:"
    echo
    sed 's/^/- /' "$notes"
  } >"$md"
  mkdir -p "$out"
  cp "$md" "$out/sync-bench.md"
  cat "$md"
  echo
  echo "written: $out/sync-bench.md"
  local name
  for name in failover handoff; do
    if [[ -s "$LAB_TMP/$name.md" ]]; then
      cp "$LAB_TMP/$name.md" "$out/sync-bench-$name.md"
      echo "written: $out/sync-bench-$name.md (every figure of the $name benchmark)"
    fi
  done
  if ((plot == 0)); then
    echo "plot skipped (--no-plot)"
  elif ! command -v gnuplot >/dev/null; then
    echo "plot skipped: gnuplot not installed (gnuplot-nox)"
  elif [[ -s "$plotdata" ]]; then
    plot_png "$plotdata" "$out/sync-bench.png" "$gwsync_only" && echo "written: $out/sync-bench.png"
  fi
}

# plot_png DATA PNG [TEXT]: one bar per figure, how many times better gwsync is; TEXT, the
# gwsync-only figures (no ratio), in a line below the bars.
plot_png() {
  local lo hi extra="" lines sizes=""
  [[ $failover_state != measured ]] || sizes+=", failover $fo_sessions + $fo_tcp TCP"
  [[ $handoff_state != measured ]] || sizes+=", VM handoff $ho_sessions"
  if [[ -n "${3:-}" ]]; then
    lines=$(($(grep -o '\\n' <<<"$3" | wc -l) + 2))
    extra="set label \"gwsync only, no ratio (conntrackd has no VM mobility):\\n$3\" at screen 0.01, screen $(awk -v l="$lines" 'BEGIN { print 0.02 * l + 0.01 }') noenhanced
set bmargin $((6 + lines))"
  fi
  read -r lo hi < <(awk 'NR == 1 || $NF < lo { lo = $NF } NR == 1 || $NF > hi { hi = $NF }
    END { l = 10 ^ int(log(lo) / log(10) - (lo < 1 ? 1 : 0)); h = 10 ^ int(log(hi) / log(10) + 1)
          if (l > 0.1) l = 0.1; if (h < 10) h = 10; print l, h }' "$1")
  gnuplot <<EOF
set encoding utf8
set terminal pngcairo size 1100,600 font "sans,10"
set rmargin 26
set output "$2"
set title "gwsyncd vs conntrackd $conntrackd_version: $sessions sessions$sizes, medians of $runs runs ($(date -u +%F))"
set ylabel "gwsync advantage: × better than conntrackd (log scale)"
set logscale y
set yrange [$lo:$hi]
set grid ytics
set style fill solid 0.85 border -1
set boxwidth 0.6
set xtics rotate by -20 left noenhanced
set key off
set label "above 1: gwsync better; below 1: conntrackd better" at graph 0.02, graph 0.95
$extra
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb "black"
plot "$1" using 0:2:(\$2 >= 1 ? 0x4477aa : 0xcc6677):xtic(1) with boxes lc rgb variable, \\
     "" using 0:2:(sprintf("%.3g×", \$2)) with labels offset 0,0.8
EOF
}

setup
lab_log "topology up: $(lab_ns gw-a) <-> $(lab_ns gw-b); $sessions sessions, $runs runs"
for ((run = 1; run <= runs; run++)); do
  for impl in conntrackd gwsync; do
    bench_run
  done
done
example_result=""
if ((example)); then example_buffers; fi
failover_handoff
report
