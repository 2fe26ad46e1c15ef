#!/usr/bin/env bash
# The migration scenario's negative control (issue 6, issue 10) on the two-site lab without
# gwsyncd: strict tracking on both gateways (nf_conntrack_tcp_loose=0, be_liberal=0), no state
# sync. The VM holds TCP sessions and UDP flows to the server through gw-a's SNAT, the Internet
# holds connections to the VM through the VIP, vm2 stays at site A. The VM migrates to site B
# (port moved to br-b, RARP + gratuitous ARP): its packets now reach gw-b, which has no state and
# drops the TCP sessions' mid-stream packets as invalid. Asserts:
#   - before the move every session carries data both ways, through gw-a (counters), none via gw-b;
#   - after the move at least 90 % of the VM's outbound TCP sessions and of the inbound VIP
#     sessions are dead, gw-b counted invalid packets, gw-a forwarded no more VM packets, and
#     the VM's UDP flows did not keep their public IP:port;
#   - vm2, which stayed at site A, is unaffected.
#
# usage: migration_negative.sh BUILD_DIR [TCP UDP IN]  (defaults 200 20 50)
# Exit 0 negative control ok, 1 fail, 2 usage, 77 skipped (not root or no BIRD).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TS_BUILD=${1:?usage: migration_negative.sh BUILD_DIR [TCP UDP IN]}
tcp=${2:-200} udp=${3:-20} in=${4:-50}
for v in tcp udp in; do
  [[ "${!v}" =~ ^[0-9]{1,4}$ ]] || { echo "$v: '${!v}' is not a count 0..9999" >&2; exit 2; }
done
((tcp > 0 && in > 0)) || { echo "TCP and IN must be > 0 (the sessions that must die)" >&2; exit 2; }
((EUID == 0)) || { echo "migration_negative: needs root (namespaces); skipped"; exit 77; }
command -v bird >/dev/null || { echo "migration_negative: bird (Debian bird2) missing; skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=scripts/lab/two-site.sh
. "$here/../../scripts/lab/two-site.sh"

result_printed=0
result() { echo "RESULT: $1 - $2"; result_printed=1; }
fail() {
  result "NEGATIVE CONTROL FAILED" "$*"
  exit 1
}
# shellcheck disable=SC2317  # runs from the EXIT trap
on_exit() {
  local rc=$?
  if ((!result_printed)); then result "NEGATIVE CONTROL FAILED" "aborted (exit $rc)"; rc=1; fi
  lab_cleanup
  exit "$rc"
}
lab_init gwmn
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ts_up
lab_log "lab $LAB_PREFIX up: BGP $(ts_bgp_state); no gwsyncd"
ts_servers_start
ts_traffic_start "$tcp" "$udp" "$in"
lab_log "sessions open: vm $tcp TCP + $udp UDP to $TS_SERVER, inet $in TCP to $TS_VIP, vm2 20 TCP + 5 UDP"

declare -A before
for c in out in stay; do
  ts_probe "$c"
  lab_log "probe $c before the move: $(ts_probe_text)"
  ts_all_alive "$c" || fail "client $c: sessions broken before the move: $(ts_probe_text)"
done
lab_log "$(ts_counters_text gw-a)"
lab_log "$(ts_counters_text gw-b)"
(($(ts_counter gw-a vm_out) >= tcp + udp + in)) || fail "gw-a did not forward the VM's packets"
(($(ts_counter gw-b vm_out) == 0)) || fail "gw-b forwarded VM packets before the move"
ts_snat_ports gw-a "$TS_VM_IP" | ts_ports_within "$TS_PART_A" ||
  fail "gw-a's bindings for the VM are not all in its partition $TS_PART_A"
for c in vm_out invalid; do before[$c]=$(ts_counter gw-a "$c"); done
before[invalid_b]=$(ts_counter gw-b invalid)

ts_migrate vm b
[[ "$(ts_vm_site vm)" == b ]] || fail "the VM's port is not on br-b after the move"
lab_log "vm migrated to site B (port on br-b, RARP + gratuitous ARP sent); DCI drops: $(ts_dci_drops)"

ts_probe out
out_text=$(ts_probe_text)
declare -A out=()
for k in "${!TS_P[@]}"; do out[$k]=${TS_P[$k]}; done
lab_log "probe out after the move: $out_text"
ts_probe in
in_text=$(ts_probe_text)
in_ok=${TS_P[tcp_ok]}
lab_log "probe in after the move: $in_text"
ts_probe stay
lab_log "probe stay after the move: $(ts_probe_text)"
ts_all_alive stay || fail "vm2, which stayed at site A, lost sessions: $(ts_probe_text)"
lab_log "$(ts_counters_text gw-a)"
lab_log "$(ts_counters_text gw-b)"

((out[tcp_fail] * 10 >= tcp * 9)) || fail "only ${out[tcp_fail]}/$tcp outbound TCP sessions died: $out_text"
(((in - in_ok) * 10 >= in * 9)) || fail "only $((in - in_ok))/$in inbound VIP sessions died: $in_text"
((out[same_peer] < udp)) || fail "all UDP flows kept their public IP:port without sync: $out_text"
(($(ts_counter gw-b invalid) > before[invalid_b])) || fail "gw-b counted no invalid packets"
(($(ts_counter gw-a vm_out) == before[vm_out])) ||
  fail "gw-a still forwarded VM packets after the move ($(ts_counter gw-a vm_out) > ${before[vm_out]})"
result "NEGATIVE CONTROL OK" "without state sync ${out[tcp_fail]}/$tcp outbound and $((in - in_ok))/$in inbound TCP sessions died after the move to site B (gw-b: $(ts_counter gw-b invalid) invalid); vm2 at site A unaffected"
