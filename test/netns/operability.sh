#!/usr/bin/env bash
# gwsyncd as operators run it: the /metrics endpoint, the systemd watchdog and reload, the log
# format. Two gateway namespaces joined by a sync link, as in sync_scenarios.sh.
#
#   usage: operability.sh BUILD_DIR SCENARIO [SESSIONS]
#   metrics  SESSIONS injected at gw-a reach gw-b; both endpoints pass `promtool check metrics`
#            and report the peer up, ready, and the session counts; a real Prometheus server in
#            gw-b's namespace scrapes both until its API returns gwsync_peer_up 1 for each
#   service  gwsyncd as gwsyncd.service runs it (uid 65534, CAP_NET_ADMIN and CAP_NET_RAW
#            only) and sd_notify as systemd sees it: READY, then WATCHDOG=1 at half of WATCHDOG_USEC;
#            SIGHUP re-reads the unchanged file and changes nothing; every log line has a
#            journald priority prefix; a metrics address already in use fails the start with a
#            line naming metrics.listen; SIGTERM stops with STOPPING=1 and status 0
set -euo pipefail

build=$1
scenario=$2
sessions=${3:-2000}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ct="$build/syncd/app/gwsync-ct"
daemon="$build/syncd/app/gwsyncd"
ctl="$build/syncd/app/gwsyncctl"
notify="$build/test/tools/gwsync-notify-listen"
((EUID == 0)) || { echo "needs root"; exit 77; }
for tool in curl promtool prometheus; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (bash scripts/install-deps.sh)"; exit 77; }
done

# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
lab_init gwop
trap lab_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

A=198.51.100.253
B=198.51.100.254

fail() {
  echo "FAIL: $*"
  local f
  for f in "$LAB_TMP"/*/gwsyncd.log "$LAB_TMP"/prometheus.log; do
    [[ -f "$f" ]] && { echo "--- $f (tail)"; tail -n 15 "$f"; }
  done
  exit 1
}

setup() {
  lab_ns_add gw-a
  lab_ns_add gw-b
  lab_veth gw-a sync gw-b sync
  lab_addr gw-a sync $A/30
  lab_addr gw-b sync $B/30
  local n
  for n in gw-a gw-b; do
    # NAT bindings can only be created where the nat hooks are in use.
    lab_exec "$n" nft add table ip gwtest
    lab_exec "$n" nft add chain ip gwtest post '{ type nat hook postrouting priority 100; }'
  done
  lab_wait_up 3000 gw-a sync gw-b sync
}

write_config() {  # write_config DIR ID PEER_ID PEER METRICS [LISTEN]
  mkdir -p "$LAB_TMP/$1"
  {
    printf '[node]\nid = %s\nstate_dir = "%s"\n' "$2" "$LAB_TMP/$1/state"
    printf '[sync]\npeer = "%s:7801"\npeer_id = %s\n' "$4" "$3"
    [[ -n "${6:-}" ]] && printf 'listen = "%s:7801"\n' "$6"
    printf 'heartbeat_ms = 200\ndead_after_ms = 1500\nready_wait_ms = 500\n'
    # Plaintext on purpose: this test checks the insecure-mode gauge and runs as nobody.
    printf 'insecure_plaintext = true\n'
    printf '[filter]\ninclude = ["192.0.2.0/24"]\n'
    printf '[control]\nsocket = "%s"\n' "$LAB_TMP/$1/gwsyncd.sock"
    printf '[metrics]\nlisten = "%s:9465"\n' "$5"
  } >"$LAB_TMP/$1/gwsync.toml"
  "$daemon" --config "$LAB_TMP/$1/gwsync.toml" --check-config >/dev/null || fail "$1: bad config"
}

# As gwsyncd.service runs it: an unprivileged user with CAP_NET_ADMIN and CAP_NET_RAW only.
caps=-all,+net_admin,+net_raw
as_service_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$caps"
  --ambient-caps="$caps" --bounding-set="$caps")

declare -A PID
start() {  # start NAME [AS_USER]  (NOTIFY_SOCKET, WATCHDOG_USEC in the environment reach it)
  local run=()
  if [[ $1 == gw-a ]]; then write_config gw-a 1 2 $B $A $A; else write_config gw-b 2 1 $A $B $B; fi
  if [[ -n "${2:-}" ]]; then
    chmod 0711 "$LAB_TMP"
    chown -R 65534:65534 "$LAB_TMP/$1"
    run=("${as_service_user[@]}")
  fi
  lab_spawn "$LAB_TMP/$1/gwsyncd.log" ip netns exec "$(lab_ns "$1")" \
    "${run[@]}" "$daemon" --config "$LAB_TMP/$1/gwsync.toml"
  PID[$1]=$LAB_LAST_PID
}

status() { "$ctl" --socket "$LAB_TMP/$1/gwsyncd.sock" status 2>/dev/null | sed -n "s/^$2: //p"; }

scrape() {  # scrape NAME: the metrics text of NAME's daemon, fetched inside its namespace
  local addr=$A
  [[ $1 == gw-b ]] && addr=$B
  lab_exec "$1" curl -sSf --max-time 2 "http://$addr:9465/metrics"
}

metric() {  # metric NAME SERIES: the value of one series, e.g. 'gwsync_sessions{table="peer"}'
  scrape "$1" 2>/dev/null | awk -v s="$2" '$1 == s { print $2 }'
}

at_least() {  # at_least NAME SERIES MIN: fails unless the series is there and >= MIN
  local v
  v=$(metric "$1" "$2")
  awk -v v="$v" -v min="$3" 'BEGIN { exit !(v != "" && v + 0 >= min + 0) }' ||
    fail "$1: $2 is '$v', expected at least $3"
}

# shellcheck disable=SC2317  # runs from wait_for
metric_is() { [[ "$(metric "$1" "$2")" == "$3" ]]; }

scenario_metrics() {
  start gw-a
  start gw-b
  wait_for 15000 metric_is gw-a gwsync_peer_up 1 || fail "gw-a's gwsync_peer_up is not 1"
  wait_for 15000 metric_is gw-b gwsync_ready 1 || fail "gw-b's gwsync_ready is not 1"
  lab_exec gw-a "$ct" inject --count "$sessions" >/dev/null || fail "inject"
  wait_for 30000 metric_is gw-b 'gwsync_sessions{table="peer"}' "$sessions" ||
    fail "gw-b's gwsync_sessions{table=\"peer\"} is $(metric gw-b 'gwsync_sessions{table="peer"}'), expected $sessions"
  echo "ok: gw-b reports gwsync_sessions{table=\"peer\"} $sessions after the injection at gw-a"
  wait_for 10000 metric_is gw-a 'gwsync_unacked_items' 0 || fail "gw-a still has unacked items"

  local n v
  for n in gw-a gw-b; do
    scrape "$n" >"$LAB_TMP/$n.prom" || fail "cannot scrape $n"
    promtool check metrics <"$LAB_TMP/$n.prom" >"$LAB_TMP/$n.lint" 2>&1 ||
      fail "promtool check metrics on $n: $(cat "$LAB_TMP/$n.lint")"
    [[ "$(grep -c '^gwsync_' "$LAB_TMP/$n.prom")" -gt 100 ]] || fail "$n: too few gwsync_ series"
    grep -q "^gwsync_node_info{.*mode=\"hot\"" "$LAB_TMP/$n.prom" || fail "$n: no gwsync_node_info"
  done
  echo "ok: promtool check metrics passes on both endpoints ($(grep -c '^gwsync_' "$LAB_TMP/gw-a.prom") gwsync_ series at gw-a)"
  v=$(metric gw-a 'gwsync_sessions{table="owned"}')
  [[ "$v" == "$sessions" ]] || fail "gw-a owns $v sessions, expected $sessions"
  at_least gw-b gwsync_items_applied_total "$sessions"
  at_least gw-a gwsync_replication_lag_seconds_count 1
  at_least gw-a 'gwsync_messages_total{direction="out",type="items"}' 1
  at_least gw-b 'gwsync_messages_total{direction="in",type="items"}' 1
  at_least gw-a gwsync_event_receive_buffer_bytes 1048576
  v=$(metric gw-b gwsync_epoch)
  # First start: the epoch is the wall clock's Unix seconds at start (epoch_store.h).
  awk -v v="$v" -v t="$(date +%s)" 'BEGIN { exit !(v >= t - 600 && v <= t) }' ||
    fail "gw-b's gwsync_epoch is $v, expected the Unix time of its first start"
  echo "ok: owned $sessions at gw-a, applied at gw-b, replication lag observed ($(metric gw-a gwsync_replication_lag_seconds_count) batches, sum $(metric gw-a gwsync_replication_lag_seconds_sum) s)"

  # A real Prometheus server in gw-b's namespace scrapes both daemons and evaluates the alert
  # rules docs/operations.md recommends.
  mkdir -p "$LAB_TMP/prom-data"
  awk '/gwsync-alerts.yml begin/ { f = 1; next } /gwsync-alerts.yml end/ { f = 0 } f && !/^```/' \
    "$here/../../docs/operations.md" >"$LAB_TMP/gwsync-alerts.yml"
  local rules
  rules=$(grep -c -- '- alert:' "$LAB_TMP/gwsync-alerts.yml" || true)
  ((rules > 0)) || fail "no alert rules found in docs/operations.md"
  promtool check rules "$LAB_TMP/gwsync-alerts.yml" >/dev/null ||
    fail "docs/operations.md's alert rules: $(promtool check rules "$LAB_TMP/gwsync-alerts.yml" 2>&1)"
  cat >"$LAB_TMP/prometheus.yml" <<EOT
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ["$LAB_TMP/gwsync-alerts.yml"]
scrape_configs:
  - job_name: gwsync
    static_configs:
      - targets: ["$A:9465", "$B:9465"]
EOT
  promtool check config "$LAB_TMP/prometheus.yml" >/dev/null || fail "bad prometheus.yml"
  lab_spawn "$LAB_TMP/prometheus.log" ip netns exec "$(lab_ns gw-b)" prometheus \
    --config.file="$LAB_TMP/prometheus.yml" --storage.tsdb.path="$LAB_TMP/prom-data" \
    --web.listen-address="$B:9090"
  local prom_pid=$LAB_LAST_PID
  # shellcheck disable=SC2317  # runs from wait_for
  both_up() {
    lab_exec gw-b curl -sSf --max-time 2 -G "http://$B:9090/api/v1/query" \
      --data-urlencode 'query=count(gwsync_peer_up == 1)' 2>/dev/null >"$LAB_TMP/query.json" &&
      grep -q '"value":\[[0-9.]*,"2"\]' "$LAB_TMP/query.json"
  }
  wait_for 40000 both_up || fail "Prometheus never saw gwsync_peer_up 1 on both: $(cat "$LAB_TMP/query.json" 2>/dev/null)"
  echo "ok: Prometheus scraped both daemons: count(gwsync_peer_up == 1) = 2"
  # shellcheck disable=SC2317  # runs from wait_for
  rules_ok() {
    lab_exec gw-b curl -sSf --max-time 2 "http://$B:9090/api/v1/rules" 2>/dev/null >"$LAB_TMP/rules.json" &&
      (($(grep -o '"health":"ok"' "$LAB_TMP/rules.json" | wc -l) == rules))
  }
  wait_for 20000 rules_ok || fail "the alert rules did not all evaluate: $(cat "$LAB_TMP/rules.json" 2>/dev/null)"
  grep -q '"state":"firing"' "$LAB_TMP/rules.json" && fail "alerts firing on a healthy pair: $(cat "$LAB_TMP/rules.json")"
  echo "ok: Prometheus evaluates the $rules alert rules of docs/operations.md; none fires"
  lab_stop_pid "$prom_pid" 10000
}

scenario_service() {
  local n
  lab_spawn "$LAB_TMP/notify.out" "$notify" "$LAB_TMP/notify.sock"
  # shellcheck disable=SC2317
  listening() { grep -q listening "$LAB_TMP/notify.out"; }
  wait_for 5000 listening || fail "notify listener did not start"
  chmod 0666 "$LAB_TMP/notify.sock"
  NOTIFY_SOCKET="$LAB_TMP/notify.sock" WATCHDOG_USEC=1000000 start gw-a AS_USER
  lab_exec gw-a "$ct" inject --count 100 >/dev/null || fail "inject"
  wait_for 5000 metric_is gw-a 'gwsync_sessions{table="owned"}' 100 ||
    fail "gw-a, running as an unprivileged user, does not see the injected sessions"
  at_least gw-a gwsync_event_receive_buffer_bytes 67108864  # forced past rmem_max: CAP_NET_ADMIN
  echo "ok: gwsyncd runs as uid 65534 with CAP_NET_ADMIN and CAP_NET_RAW only: 100 sessions seen, 64 MiB event buffer"
  # shellcheck disable=SC2317
  pings() { (($(grep -c 'WATCHDOG=1' "$LAB_TMP/notify.out") >= $1)); }
  wait_for 10000 pings 5 || fail "fewer than 5 WATCHDOG=1 pings: $(cat "$LAB_TMP/notify.out")"
  grep -q 'READY=1' "$LAB_TMP/notify.out" || fail "no READY=1"
  # Pings every 500 ms (half of WATCHDOG_USEC), within the 20 ms tick and a loaded machine.
  local gaps
  gaps=$(awk '/WATCHDOG=1/ { if (t != "") print $1 - t; t = $1 }' "$LAB_TMP/notify.out" | tr '\n' ' ')
  for n in $gaps; do
    ((n >= 450 && n <= 900)) || fail "watchdog pings $gaps ms apart, expected about 500"
  done
  echo "ok: READY, then WATCHDOG=1 every ${gaps% } ms (WATCHDOG_USEC 1 s)"

  # shellcheck disable=SC2317
  reloaded() { (($(grep -c '^<6>reload: nothing applied (ok)$' "$LAB_TMP/gw-a/gwsyncd.log") == $1)); }
  # One at a time: two signals sent at once may arrive as one.
  for n in 1 2; do
    kill -HUP "${PID[gw-a]}"
    wait_for 5000 reloaded "$n" || fail "SIGHUP $n did not log the reload notice"
  done
  lab_pid_alive "${PID[gw-a]}" || fail "SIGHUP killed gwsyncd"
  [[ "$(status gw-a node)" == 1 ]] || fail "gwsyncctl does not answer after SIGHUP"
  echo "ok: SIGHUP re-reads the unchanged file as the service user: '<6>reload: nothing applied (ok)'; the daemon runs on"

  # Another daemon whose metrics address is taken: it must refuse to start, naming the key.
  write_config gw-x 3 4 $B $A
  if lab_exec gw-a "$daemon" --config "$LAB_TMP/gw-x/gwsync.toml" >"$LAB_TMP/gw-x/gwsyncd.log" 2>&1; then
    fail "a second daemon started on a metrics address in use"
  fi
  grep -q "^<3>gwsyncd: metrics.listen = \"$A:9465\": cannot listen" "$LAB_TMP/gw-x/gwsyncd.log" ||
    fail "the start failure does not name metrics.listen: $(cat "$LAB_TMP/gw-x/gwsyncd.log")"
  echo "ok: $(grep metrics.listen "$LAB_TMP/gw-x/gwsyncd.log")"

  kill -TERM "${PID[gw-a]}"
  wait_for 5000 lab_pid_gone "${PID[gw-a]}" || fail "gwsyncd did not stop on SIGTERM"
  local rc=0
  wait "${PID[gw-a]}" || rc=$?
  ((rc == 0)) || fail "gwsyncd exited with status $rc on SIGTERM"
  grep -q 'STOPPING=1' "$LAB_TMP/notify.out" || fail "no STOPPING=1"
  local bad
  bad=$(cat "$LAB_TMP"/gw-*/gwsyncd.log | grep -v '^<[0-7]>' || true)
  [[ -z "$bad" ]] || fail "log lines without a priority prefix: $bad"
  echo "ok: SIGTERM: STOPPING=1 and status 0; every log line has a priority prefix ($(cat "$LAB_TMP"/gw-*/gwsyncd.log | wc -l) lines)"
}

setup
"scenario_$scenario"
echo "PASS: $scenario"
