#!/usr/bin/env bash
# The two-site lab's routing plumbing without gwsyncd (scripts/lab/two-site.sh, docs/lab.md):
#   - BIRD 2 on the WAN router and both gateways, configured from systemd/bird-gwsync.conf:
#     both BGP sessions come up, gw-a's public /24 is preferred (gw-b prepends);
#   - a host route in gw-b's kernel table 100 with route protocol 200 (what gwsyncd's mobility
#     writes) reaches the WAN router's kernel via gw-b; deleting it withdraws it;
#   - routes BIRD must not announce stay out: another route protocol in table 100, a /24 there;
#   - a /32 moved from gw-a to gw-b (deleted at A, added at B) switches the WAN router's route:
#     the time is measured RUNS times (alternating directions) and the median printed. The
#     kernel protocol's scan time is 10 s, so a move well below that shows BIRD learnt the change
#     from its netlink notifications.
#
# usage: migration_bgp.sh BUILD_DIR [RUNS]  (default 7, 1..50)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root or no BIRD).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TS_BUILD=${1:?usage: migration_bgp.sh BUILD_DIR [RUNS]}
runs=${2:-7}
if [[ ! "$runs" =~ ^[0-9]{1,2}$ ]] || ((runs < 1 || runs > 50)); then
  echo "RUNS: '$runs' is not 1..50" >&2
  exit 2
fi
((EUID == 0)) || { echo "migration_bgp: needs root (namespaces); skipped"; exit 77; }
command -v bird >/dev/null || { echo "migration_bgp: bird (Debian bird2) missing; skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=scripts/lab/two-site.sh
. "$here/../../scripts/lab/two-site.sh"

result_printed=0
result() { echo "RESULT: $1 - $2"; result_printed=1; }
fail() {
  result FAIL "$*"
  exit 1
}
# shellcheck disable=SC2317  # runs from the EXIT trap
on_exit() {
  local rc=$?
  if ((!result_printed)); then result FAIL "aborted (exit $rc)"; rc=1; fi
  lab_cleanup
  exit "$rc"
}
lab_init gwmb
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ms_until_route_via PREFIX GW TIMEOUT_MS: polls the WAN router's kernel route every ~2 ms;
# prints the milliseconds since T_START when it points to GW, returns 1 at the deadline.
ms_until_route_via() {
  local deadline=$(($(lab_now_ms) + $3))
  while ! ts_wan_route_via "$1" "$2"; do
    (($(lab_now_ms) < deadline)) || return 1
    sleep 0.002
  done
  echo $(($(lab_now_ms) - T_START))
}

t0=$(lab_now_ms)
ts_up
lab_log "lab $LAB_PREFIX up in $(($(lab_now_ms) - t0)) ms: BGP $(ts_bgp_state)"
ts_wan_route_via "$TS_PUBLIC4" gw-a || fail "the WAN router prefers gw-b for $TS_PUBLIC4: $(ts_wan_routes)"

# Routes that must stay out go in first: BIRD learns table 100 in order, so once the host route
# added after them has arrived, they would have arrived too.
ip -n "$(lab_ns gw-b)" route add 192.0.2.77/32 dev lan0 table "$TS_ROUTE_TABLE" proto static
ip -n "$(lab_ns gw-b)" route add 198.51.100.0/25 dev lan0 table "$TS_ROUTE_TABLE" proto "$TS_ROUTE_PROTO"
ts_host_route add gw-b "$TS_VM_IP"
wait_for 5000 ts_wan_route_via "$TS_VM_IP" gw-b ||
  fail "the WAN router did not learn $TS_VM_IP/32 via gw-b: $(ts_wan_routes)"
ts_wan_route_absent 192.0.2.77 || fail "a table-100 route of another protocol was announced"
ts_wan_route_absent 198.51.100.0/25 || fail "a /25 in table 100 was announced"
lab_log "host route $TS_VM_IP/32 in gw-b table $TS_ROUTE_TABLE proto $TS_ROUTE_PROTO: the WAN" \
  "router routes it via gw-b (other protocols and non-host routes stay out)"
ts_host_route del gw-b "$TS_VM_IP"
wait_for 5000 ts_wan_route_absent "$TS_VM_IP" || fail "deleting the host route did not withdraw it"
lab_log "deleted: withdrawn from the WAN router"

# Moves: the old site deletes, the new site adds (as the handoff does); time until the WAN
# router's kernel route points to the new site.
ts_host_route add gw-a "$TS_VM_IP"
wait_for 5000 ts_wan_route_via "$TS_VM_IP" gw-a || fail "$TS_VM_IP/32 via gw-a was not learnt"
times=()
from="gw-a"
for ((i = 1; i <= runs; i++)); do
  to=${TS_PEER[$from]}
  T_START=$(lab_now_ms)
  ts_host_route del "$from" "$TS_VM_IP"
  ts_host_route add "$to" "$TS_VM_IP"
  ms=$(ms_until_route_via "$TS_VM_IP" "$to" 5000) ||
    fail "move $i ($from -> $to): the WAN router still routes $TS_VM_IP elsewhere: $(ts_wan_routes)"
  times+=("$ms")
  lab_log "move $i: $TS_VM_IP/32 $from -> $to in $ms ms"
  from=$to
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
max=$(printf '%s\n' "${times[@]}" | sort -n | tail -n 1)
((max < 5000)) || fail "a move took $max ms"
result PASS "host routes in table $TS_ROUTE_TABLE proto $TS_ROUTE_PROTO are announced and withdrawn by BIRD; a /32 moved between the gateways through BGP in median $median ms (max $max, $runs runs: ${times[*]})"
