#!/usr/bin/env bash
# Active/active SNAT to one shared public address, on a real kernel. Two gateways translate to
# 198.51.100.100 at the same time, gw-a from ports 1024-32767 (node 1) and gw-b from 32768-65535
# (node 2); a VM behind each opens PER_SIDE flows (half TCP, half UDP) to the same server
# concurrently. Then each gateway's table is copied into the other's (what hot sync does) and:
#   - conntrack insert_failed stays 0 on both gateways, and every copy is accepted;
#   - no public IP:port appears twice across both tables (per protocol);
#   - every source port the server saw lies in the partition of the gateway it came through
#     (the server counts by ingress link);
#   - every session still works, and after gw-a fails all of its sessions carry on through gw-b
#     with the same public IP:port.
#
#   vm-a 192.0.2.10 ─┐               ┌─ gw-a lan 192.0.2.2 | wan 203.0.113.2/30 ── via-a ─┐
#                    ├─ [lan: br0] ──┤                                                   srv 203.0.113.10
#   vm-b 192.0.2.11 ─┘               └─ gw-b lan 192.0.2.3 | wan 203.0.113.6/30 ── via-b ─┘
#   (srv's links are via-a 203.0.113.1/30 and via-b 203.0.113.5/30; 203.0.113.10 is on its lo)
#   srv returns traffic for 198.51.100.100 by destination port: 1024-32767 to gw-a (ip rule),
#   the rest to gw-b, as a routing design aware of the partitions would.
#
# usage: nat_active_active.sh BUILD_DIR [PER_SIDE]  (default 1000; even, 2..50000)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAT_BUILD=${1:?usage: nat_active_active.sh BUILD_DIR [PER_SIDE]}
per_side=${2:-1000}
if [[ ! "$per_side" =~ ^[0-9]{1,5}$ ]] || ((per_side < 2 || per_side > 50000 || per_side % 2)); then
  echo "PER_SIDE: '$per_side' is not an even count 2..50000" >&2
  exit 2
fi
((EUID == 0)) || { echo "nat_active_active: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/nat_lib.sh
. "$here/nat_lib.sh"
# shellcheck source=test/netns/nat_topology.sh
. "$here/nat_topology.sh"
nat_tools

readonly TCP=$((per_side / 2)) UDP=$((per_side / 2))
readonly PART_A=1024-32767 PART_B=32768-65535
NAT_PROBE_TIMEOUT_MS=$((3000 + per_side))

lab_init gwaa
trap nat_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server records every flow's source (address . protocol . port) per ingress link and counts
# packets whose port lies outside that gateway's partition.
server_check_table() {
  lab_exec srv nft -f - <<EOT || lab_die "cannot install the server's check table"
table inet srvcheck {
  set seen_a { type ipv4_addr . inet_proto . inet_service; size 131072; }
  set seen_b { type ipv4_addr . inet_proto . inet_service; size 131072; }
  counter outside_a {}
  counter outside_b {}
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "via-a" meta l4proto { tcp, udp } add @seen_a { ip saddr . meta l4proto . th sport }
    iifname "via-b" meta l4proto { tcp, udp } add @seen_b { ip saddr . meta l4proto . th sport }
    iifname "via-a" meta l4proto { tcp, udp } th sport != $PART_A counter name "outside_a"
    iifname "via-b" meta l4proto { tcp, udp } th sport != $PART_B counter name "outside_b"
  }
}
EOT
}

build_topology() {
  nat_two_gateways vm-a:192.0.2.10:gw-a vm-b:192.0.2.11:gw-b
  nat_route_partitions "$PART_A"
  server_check_table
}

# seen_ports LINK: "proto port" of every flow the server saw on that link
seen_ports() {
  lab_exec srv nft list set inet srvcheck "seen_$1" | tr ',{}' '\n' |
    sed -n "s/^[[:space:]]*$NAT_PUBLIC \. \([a-z]*\) \. \([0-9]*\)[[:space:]]*$/\1 \2/p"
}

# check_server_side LINK LO HI: exactly PER_SIDE flows, every port in LO..HI, nothing outside
check_server_side() {
  local flows bad
  flows=$(seen_ports "$1" | wc -l)
  bad=$(seen_ports "$1" | awk -v lo="$2" -v hi="$3" '$2 < lo || $2 > hi' | wc -l)
  ((flows == per_side && bad == 0 && $(lab_nft_counter srv "outside_$1" srvcheck) == 0)) ||
    nat_fail "server via $1: $flows flows (want $per_side), $bad ports outside $2-$3, counter outside_$1 $(lab_nft_counter srv "outside_$1" srvcheck)"
}

# check_bindings GW CONFIG N1 N2: the gateway's table holds N1 bindings in node 1's partition,
# N2 in node 2's, none elsewhere; no public IP:port twice.
check_bindings() {
  local show dups
  show=$(nat_show "$1" "$2")
  [[ "$(nat_field "$show" 'partition pool=shared node=1' bindings)" == "$3" &&
     "$(nat_field "$show" 'partition pool=shared node=2' bindings)" == "$4" &&
     "$(nat_field "$show" 'pool_extra pool=shared' outside_partitions)" == 0 ]] ||
    nat_fail "$1: expected $3 + $4 bindings in the partitions: $show"
  dups=$(nat_bindings "$1" | sort | uniq -d | wc -l)
  ((dups == 0)) || nat_fail "$1: $dups public IP:port used twice"
}

copy() {  # copy FROM TO: one gateway's table into the other's
  local out
  out=$("$NAT_CT" copy --from "$(lab_ns "$1")" --to "$(lab_ns "$2")" 2>&1) ||
    nat_fail "gwsync-ct copy $1 -> $2: $out"
  lab_log "copy $1 -> $2: $out"
}

lab_log "lab $LAB_PREFIX: $per_side flows per side ($TCP TCP + $UDP UDP), gw-a $PART_A, gw-b $PART_B"
build_topology
partitions="{ 1 = \"$PART_A\", 2 = \"$PART_B\" }"
nat_config "$LAB_TMP/gw-a.toml" 1 2 "$partitions"
nat_config "$LAB_TMP/gw-b.toml" 2 1 "$partitions"
nat_apply gw-a "$LAB_TMP/gw-a.toml"
nat_apply gw-b "$LAB_TMP/gw-b.toml"
nat_server_start srv

t0=$(lab_now_ms)
nat_client_start vm-a vm-a "$TCP" "$UDP"
nat_client_start vm-b vm-b "$TCP" "$UDP"
nat_client_ready vm-a
nat_client_ready vm-b
nat_probe_send vm-a  # the UDP flows start with this first probe, on both sides at once
nat_probe_send vm-b
nat_probe_wait vm-a
nat_expect_all vm-a "$TCP" "$UDP" "through gw-a"
nat_probe_wait vm-b
nat_expect_all vm-b "$TCP" "$UDP" "through gw-b"
lab_log "$((2 * per_side)) flows opened concurrently through both gateways in $(($(lab_now_ms) - t0)) ms"

check_server_side a 1024 32767
check_server_side b 32768 65535
lab_log "server: $per_side flows via gw-a all from $PART_A, $per_side via gw-b all from $PART_B"
check_bindings gw-a "$LAB_TMP/gw-a.toml" "$per_side" 0
check_bindings gw-b "$LAB_TMP/gw-b.toml" 0 "$per_side"
both=$( (nat_bindings gw-a; nat_bindings gw-b) | sort)
(($(wc -l <<<"$both") == 2 * per_side && $(uniq -d <<<"$both" | wc -l) == 0)) ||
  nat_fail "public IP:port collisions across the gateways: $(uniq -d <<<"$both" | head -n 3)"
lab_log "no public IP:port used twice across both tables ($((2 * per_side)) bindings)"

# What hot sync does, in one go each way. The second copy also carries gw-a's own entries back
# (copied into gw-b by the first): the kernel finds them identical and they are updated in
# place, which is no collision.
t0=$(lab_now_ms)
copy gw-a gw-b
copy gw-b gw-a
lab_log "both copies in $(($(lab_now_ms) - t0)) ms"
for gw in gw-a gw-b; do
  (($(nat_insert_failed "$gw") == 0)) || nat_fail "$gw: conntrack insert_failed $(nat_insert_failed "$gw")"
  check_bindings "$gw" "$LAB_TMP/$gw.toml" "$per_side" "$per_side"
done
lab_log "after the copies: insert_failed 0 on both; each table holds $per_side + $per_side bindings, none twice"

t0=$(lab_now_ms)
nat_probe_send vm-a
nat_probe_send vm-b
nat_probe_wait vm-a
nat_expect_all vm-a "$TCP" "$UDP" "gw-a after the copies"
nat_probe_wait vm-b
nat_expect_all vm-b "$TCP" "$UDP" "gw-b after the copies"
lab_log "every session of both VMs still works ($(($(lab_now_ms) - t0)) ms for both probes)"

# gw-a fails: its links go down, the VM and the server's route for gw-a's partition move to gw-b.
nat_fail_gateway gw-a
nat_move_vm vm-a gw-b
nat_route_public "$NAT_PUBLIC" gw-b 101
t0=$(lab_now_ms)
nat_probe vm-a
nat_expect_all vm-a "$TCP" "$UDP" "gw-a's sessions through gw-b after gw-a failed"
lab_log "gw-a failed: all $per_side of its sessions carry on through gw-b with the same public" \
  "IP:port (probe $(($(lab_now_ms) - t0)) ms)"
nat_probe vm-b
nat_expect_all vm-b "$TCP" "$UDP" "gw-b's own sessions after gw-a failed"
(($(nat_insert_failed gw-b) == 0 && $(lab_nft_counter gw-b invalid) == 0)) ||
  nat_fail "gw-b: insert_failed $(nat_insert_failed gw-b), invalid $(lab_nft_counter gw-b invalid)"

nat_result PASS "$per_side + $per_side concurrent flows to one public address, no collision (insert_failed 0, no IP:port twice), every port in its gateway's partition; gw-a's sessions survived its failure through gw-b"
