#!/usr/bin/env bash
# The migration scenario (issue 6; issue 10 for the return path) on the two-site lab with
# gwsyncd on both gateways, strict tracking on, the shared PAT address announced from site A:
#   before: the VM's TCP sessions and UDP flows to the server (PAT) and the Internet's
#   connections to the VIP all carry data through gw-a; gw-b holds copies of the sessions;
#   move: the VM's port goes to site B, it sends RARP and a gratuitous ARP;
#   after: every session carries data both ways, the server sees the same public IP:port, the
#   VM's packets cross gw-b (counters), not gw-a, the WAN router routes the VM's /32 (and its 1:1
#   address with --vm-nat static) via gw-b by BGP, new sessions take gw-b's port partition, vm2
#   at site A is unaffected. Prints a timeline and one RESULT line.
#
# usage: migration-demo.sh BUILD_DIR [--return-path redirect|liberal|none] [--vm-nat pat|static]
#                              [--tcp N] [--udp M] [--in K]
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root or no BIRD).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n 's/^# usage: /usage: /p; s/^#  \{2,\}\(.*\)/    \1/p' "$0" | head -n 2 >&2; exit 2; }
TS_BUILD=${1:-}
[[ -n "$TS_BUILD" && "$TS_BUILD" != -* ]] || usage
shift
tcp=200 udp=20 in=50
TS_RETURN_PATH=redirect
TS_VM_NAT=pat
while (($#)); do
  (($# >= 2)) || usage
  case $1 in
    --return-path) TS_RETURN_PATH=$2 ;;
    --vm-nat) TS_VM_NAT=$2 ;;
    --tcp) tcp=$2 ;;
    --udp) udp=$2 ;;
    --in) in=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[[ $TS_RETURN_PATH == redirect || $TS_RETURN_PATH == liberal || $TS_RETURN_PATH == none ]] || usage
[[ $TS_VM_NAT == pat || $TS_VM_NAT == static ]] || usage
for v in tcp udp in; do [[ "${!v}" =~ ^[0-9]{1,5}$ ]] || usage; done
((EUID == 0)) || { echo "migration-demo: needs root (namespaces); skipped"; exit 77; }
command -v bird >/dev/null || { echo "migration-demo: bird (Debian bird2) missing; skipped"; exit 77; }
# shellcheck source=./lib.sh
. "$here/lib.sh"
# shellcheck source=./two-site.sh
. "$here/two-site.sh"

result_printed=0
result() { echo "RESULT: $1 - $2"; result_printed=1; }
fail() {
  local gw
  for gw in gw-a gw-b; do
    [[ -f "$LAB_TMP/$gw/gwsyncd.log" ]] && { echo "--- $gw gwsyncd log (tail)"; tail -n 15 "$LAB_TMP/$gw/gwsyncd.log"; }
  done
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
lab_init gwms
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2317  # runs from wait_for
synced() { (($(ts_gwsyncd_status gw-b sessions_peer) >= tcp + udp + in + 25)); }

ts_up
lab_log "lab $LAB_PREFIX up: BGP $(ts_bgp_state)"
ts_gwsyncd_start
lab_log "gwsyncd ready on gw-a and gw-b (return path: $TS_RETURN_PATH, VM NAT: $TS_VM_NAT)"
ts_servers_start
ts_server_start new inet "$TS_SERVER:$((TS_SERVER_PORT + 1))"
ts_traffic_start "$tcp" "$udp" "$in"
for c in out in stay; do
  ts_probe "$c"
  ts_all_alive "$c" || fail "client $c before the move: $(ts_probe_text)"
done
lab_log "all sessions carry data through gw-a: $(ts_counters_text gw-a)"
# The inbound connections went through gwsync's Maglev service (table inet gwsync_lb).
lb_packets=$(lab_exec gw-a nft list table inet gwsync_lb | sed -n 's/.*counter packets \([0-9]*\) .*dnat.*/\1/p' | head -n 1)
((${lb_packets:-0} >= in)) || fail "gw-a's gwsync_lb rule counted ${lb_packets:-0} packets for $in inbound connections"
lb_sessions=$(ts_gwsyncctl gw-a sessions | grep -c 'service=vm-web' || true)
((lb_sessions == in)) || fail "gwsyncctl sessions at gw-a shows $lb_sessions sessions of service vm-web, not $in"
lab_log "the $in inbound connections went through gwsync's Maglev service vm-web at gw-a ($lb_sessions sessions)"
wait_for 15000 synced || fail "gw-b holds $(ts_gwsyncd_status gw-b sessions_peer) peer sessions"
lab_log "gw-b holds $(ts_gwsyncd_status gw-b sessions_peer) of gw-a's sessions"
vm_out_a=$(ts_counter gw-a vm_out)
vm_out_b=$(ts_counter gw-b vm_out)

# The kernel's timestamp of the first packet gw-b forwards for the VM: the first one leaving its
# WAN side from the VM's public address (the PAT address, or its 1:1 address).
public_src=$TS_PAT
[[ $TS_VM_NAT == static ]] && public_src=$TS_VM_PUBLIC
lab_spawn "$LAB_TMP/first_local" ip netns exec "$(lab_ns gw-b)" "$(ts_tool gwsync-first-packet)" \
  --dev wan0 --src "$public_src" --timeout-ms 20000
first_pid=$LAB_LAST_PID
# shellcheck disable=SC2317  # runs from wait_for
capturing() { grep -q '^ready' "$LAB_TMP/first_local"; }
wait_for 5000 capturing || fail "gwsync-first-packet did not start: $(cat "$LAB_TMP/first_local")"
ts_migrate vm b
# When the WAN router learns the VM's /32 via gw-b, timed while the VM already talks.
(wait_for 5000 ts_wan_route_via "$TS_VM_IP" gw-b && lab_now_ms >"$LAB_TMP/wan_route") &
wan_pid=$!
lab_track_pid "$wan_pid"
lab_log "vm moved to site B; RARP and gratuitous ARP sent"
first_data_ms=""
if [[ $TS_RETURN_PATH != none ]]; then
  # The VM talks at once, as a live VM does: its sessions must carry data right after the move.
  ts_probe out
  first_data_ms=$(($(lab_now_ms) - TS_MOVE_MS))
  lab_log "probe out after the move: $(ts_probe_text)"
  ts_all_alive out || fail "client out after the move: $(ts_probe_text)"
fi
if [[ $TS_RETURN_PATH != none ]]; then
  wait "$first_pid" || fail "gw-b forwarded no packet of the VM: $(cat "$LAB_TMP/first_local")"
  first_us=$(sed -n 2p "$LAB_TMP/first_local")
  first_local_ms=$(awk -v us="$first_us" -v move="$TS_MOVE_MS" 'BEGIN { printf "%.1f", us / 1000 - move }')
fi
wait "$wan_pid" || true
[[ -s $LAB_TMP/wan_route ]] || fail "the WAN router does not route $TS_VM_IP via gw-b: $(ts_wan_routes)"
wan_ms=$(($(<"$LAB_TMP/wan_route") - TS_MOVE_MS))
lab_log "WAN router: $TS_VM_IP/32 via gw-b ($wan_ms ms after the move)"
if [[ $TS_VM_NAT == static ]]; then
  wait_for 5000 ts_wan_route_via "$TS_VM_PUBLIC" gw-b ||
    fail "the WAN router does not route $TS_VM_PUBLIC via gw-b: $(ts_wan_routes)"
fi

if [[ $TS_RETURN_PATH == none ]]; then
  # Negative control (issue 10): gwsyncd hands the VM over, but nothing carries the replies that
  # still arrive at gw-a: strict tracking there marks them INVALID and the TCP sessions die.
  ts_probe out
  lab_log "probe out after the move: $(ts_probe_text)"
  ((TS_P[tcp_ok] == 0)) || fail "negative control: $((TS_P[tcp_ok])) TCP sessions survived without a return path"
  lab_log "$(ts_counters_text gw-a)"
  result PASS "negative control: with return_path = none all $tcp TCP sessions of the moved VM died (gw-a dropped their replies as INVALID under strict tracking)"
  exit 0
fi
for c in in stay; do
  ts_probe "$c"
  lab_log "probe $c after the move: $(ts_probe_text)"
  ts_all_alive "$c" || fail "client $c after the move: $(ts_probe_text)"
done
lab_log "$(ts_counters_text gw-a)"
lab_log "$(ts_counters_text gw-b)"
(($(ts_counter gw-b vm_out) >= vm_out_b + tcp + udp)) || fail "the VM's packets did not cross gw-b"
(($(ts_counter gw-a vm_out) == vm_out_a)) || fail "gw-a still forwarded the VM's packets"

# Issue 10: the replies to the VM's PAT sessions (and the inbound VIP flows) still arrive at
# gw-a, which keeps strict tracking: they must have reached gw-b through the redirect set, or
# gw-a must have forwarded them itself with its entries marked be-liberal.
for gw in gw-a gw-b; do
  for k in nf_conntrack_tcp_loose nf_conntrack_tcp_be_liberal; do
    [[ $(lab_exec "$gw" sysctl -n "net.netfilter.$k") == 0 ]] || fail "$gw: $k was relaxed"
  done
done
vm_a=$(ts_gwsyncctl gw-a vm)
vm_b=$(ts_gwsyncctl gw-b vm)
grep -q "^$TS_VM_IP .*owner=peer(2)" <<<"$vm_a" || fail "gw-a does not see gw-b as the VM's owner: $vm_a"
grep -q "^$TS_VM_IP .*owner=local(2)" <<<"$vm_b" || fail "gw-b does not own the VM: $vm_b"
if [[ $TS_RETURN_PATH == redirect ]]; then
  redirected=$(sed -n 's/^redirected_flows: //p' <<<"$vm_a")
  ((redirected >= tcp + udp + in)) || fail "gw-a's redirect set holds ${redirected:-0} flows"
  steered=$(lab_exec gw-a nft list counter netdev gwsync_redirect redirected4 |
    sed -n 's/.*packets \([0-9]*\) bytes \([0-9]*\).*/\1 packets, \2 bytes/p')
  lab_log "gw-a steers ${redirected} flows of the VM to gw-b (redirect set); forwarded so far: $steered"
  (($(ts_counter gw-b vm_in) > 0)) || fail "gw-b's conntrack saw no reply for the VM"
else
  liberal=$(sed -n 's/^liberal_marked: //p' <<<"$vm_a")
  ((liberal >= tcp + in)) || fail "gw-a marked only ${liberal:-0} entries be-liberal"
  lab_log "gw-a marked $liberal of the VM's TCP entries be-liberal; gw-b: $(sed -n 's/^liberal_marked: //p' <<<"$vm_b")"
fi

# The handoff as gw-b's daemon timed it (from the first sighting: RARP, GARP or neighbour).
handoff=$(grep "^$TS_VM_IP " <<<"$vm_b" | sed -n 's/.*last_handoff: //p')
[[ -n $handoff ]] || fail "gw-b reports no handoff for $TS_VM_IP: $vm_b"
lab_log "handoff at gw-b: $handoff"
# The same story in /metrics.
metric() {  # metric GW NAME: the sample's value (labels included in NAME)
  lab_exec "$1" curl -sf --max-time 5 http://127.0.0.1:9810/metrics | awk -v n="$2" '$1 == n {print $2}'
}
moves_in=$(metric gw-b 'gwsync_mobility_moves_total{direction="in"}')
moves_out=$(metric gw-a 'gwsync_mobility_moves_total{direction="out"}')
# shellcheck disable=SC2317  # runs from wait_for
metrics_caught_up() {
  moves_in=$(metric gw-b 'gwsync_mobility_moves_total{direction="in"}')
  moves_out=$(metric gw-a 'gwsync_mobility_moves_total{direction="out"}')
  [[ $moves_in == 1 && $moves_out == 1 ]]
}
wait_for 3000 metrics_caught_up ||
  fail "metrics: gw-b moves in '${moves_in:-}', gw-a moves out '${moves_out:-}' (expected 1 and 1)"
hosts_local_b=$(metric gw-b 'gwsync_mobility_hosts{owner="local"}')
lab_log "metrics: gw-b gwsync_mobility_moves_total{direction=\"in\"} $moves_in, gwsync_mobility_hosts{owner=\"local\"} $hosts_local_b; gw-a moves out $moves_out$([[ $TS_RETURN_PATH == redirect ]] && echo ", gwsync_redirect_flows $(metric gw-a gwsync_redirect_flows)")"

echo "--- timeline of the move: gw-b's steps from its first sighting of the VM, the rest from the"
echo "    moment the VM's port moved to site B and it sent RARP + GARP"
sed 's/^\([a-z_]*\) probe +\([0-9.]*\) ms claim +\([0-9.]*\) ms sessions +\([0-9.]*\) ms route +\([0-9.]*\) ms$/  gw-b saw the VM (\1); probe answered from site B at +\2 ms\n  claim won by gw-b at +\3 ms\n  sessions taken over and written into gw-b'"'"'s kernel at +\4 ms\n  host route installed for BIRD at +\5 ms/' <<<"$handoff"
echo "  first packet of the VM forwarded by gw-b with its synced state at +$first_local_ms ms (kernel timestamp)"
echo "  WAN router routes $TS_VM_IP/32 via gw-b (BGP) at +$wan_ms ms"
echo "  the VM's $tcp TCP + $udp UDP outbound sessions all carried data both ways by +$first_data_ms ms"
echo "  gw-b owns $(ts_gwsyncd_status gw-b sessions_owned) sessions (the VM's, taken over), gw-a keeps vm2's"

if [[ $TS_RETURN_PATH == redirect ]]; then
  # New sessions of the moved VM leave through gw-b with gw-b's ports; their replies still
  # arrive at gw-a (the PAT address stays announced there) and follow the redirect set. With
  # return_path = "liberal" gw-a forwards replies itself, which cannot carry a session gw-b
  # opened: gw-b never sees the SYN-ACK (docs/mobility.md), so this part needs the redirect.
  ts_client_start new vm "$TS_SERVER:$((TS_SERVER_PORT + 1))" 20 0
  ts_client_ready new
  ts_probe new
  ts_all_alive new || fail "new sessions after the move: $(ts_probe_text)"
  if [[ $TS_VM_NAT == pat ]]; then
    ts_snat_ports gw-b "$TS_VM_IP" tcp $((TS_SERVER_PORT + 1)) | ts_ports_within "$TS_PART_B" ||
      fail "new sessions did not take gw-b's partition $TS_PART_B: $(ts_snat_ports gw-b "$TS_VM_IP" tcp $((TS_SERVER_PORT + 1)) | tr '\n' ' ')"
  fi
  lab_log "20 new sessions from the VM go through gw-b$([[ $TS_VM_NAT == pat ]] && echo " with ports in $TS_PART_B")"

  # The owner restarts: gw-b's new gwsyncd knows no host, finds the VM in its neighbour table,
  # probes it, claims it again and re-installs its route; no session notices.
  ts_gwsyncd_stop gw-b
  ts_gwsyncd_run gw-b
  wait_for 15000 ts_gwsyncd_ready || fail "gw-b's gwsyncd did not come back: $(tail -n 5 "$LAB_TMP/gw-b/gwsyncd.log")"
  # shellcheck disable=SC2317  # runs from wait_for
  owned_by_b() { ts_gwsyncctl gw-b vm | grep -q "^$TS_VM_IP .*owner=local(2)"; }
  wait_for 5000 owned_by_b || fail "restarted gw-b did not claim the VM again: $(ts_gwsyncctl gw-b vm)"
  wait_for 5000 ts_wan_route_via "$TS_VM_IP" gw-b ||
    fail "after gw-b's restart the WAN router does not route $TS_VM_IP via gw-b: $(ts_wan_routes)"
  for c in out in new; do
    ts_probe "$c"
    ts_all_alive "$c" || fail "client $c after gw-b's restart: $(ts_probe_text)"
  done
  lab_log "gw-b's gwsyncd restarted: it found the VM in its neighbour table, claimed it again; every session carries data"
fi

# Back to site A: the flows return to gw-a, whose redirect set empties.
ts_migrate vm a
wait_for 5000 ts_wan_route_via "$TS_VM_IP" gw-a ||
  fail "after the move back the WAN router does not route $TS_VM_IP via gw-a: $(ts_wan_routes)"
# shellcheck disable=SC2317  # runs from wait_for
owned_by_a() { ts_gwsyncctl gw-a vm | grep -q "^$TS_VM_IP .*owner=local(1)"; }
wait_for 5000 owned_by_a || fail "gw-a did not take the VM back: $(ts_gwsyncctl gw-a vm)"
for c in out in stay; do
  ts_probe "$c"
  ts_all_alive "$c" || fail "client $c after the move back: $(ts_probe_text)"
done
if [[ $TS_RETURN_PATH == redirect ]]; then
  back=$(ts_gwsyncctl gw-a vm | sed -n 's/^redirected_flows: //p')
  ((back == 0)) || fail "gw-a's redirect set still holds $back flows after the move back"
  ! lab_exec gw-a nft list set netdev gwsync_redirect moved4 | grep -q 'elements = ' ||
    fail "gw-a's kernel set moved4 still holds elements: $(lab_exec gw-a nft list set netdev gwsync_redirect moved4 | head -c 300)"
fi
lab_log "moved back to site A: every session still carries data both ways$([[ $TS_RETURN_PATH == redirect ]] && echo "; gw-a's redirect set is empty")"
result PASS "$tcp TCP + $udp UDP outbound and $in inbound sessions carried data both ways after the move to site B and back (return path $TS_RETURN_PATH, strict tracking) with the same public IP:port; the VM's packets cross gw-b; $TS_VM_IP/32 via gw-b by BGP; vm2 unaffected"
