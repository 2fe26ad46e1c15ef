#!/usr/bin/env bash
# LB on a real kernel: one Maglev virtual service applied at two gateways (gwsync-lb apply,
# table inet gwsync_lb), real TCP from the Internet side to the VIP.
#   1. the two gateways hold the same ruleset byte for byte (nft -s list table);
#   2. COUNT connections through gw-b, then the same COUNT client ports through gw-a: every
#      connection lands on the backend gwsync-lb lookup predicts (the kernel's jhash, bucket for
#      bucket), so the same 5-tuple gets the same backend through either gateway; the split
#      follows the weights;
#   3. gw-a's table is copied into gw-b (gwsync-ct copy, what hot sync does), then gw-a fails
#      (links down, routes to gw-b) under strict tracking (nf_conntrack_tcp_loose=0): every
#      copied connection carries on through gw-b to the same backend; the negative control,
#      LATE connections opened after the copy, all break;
#   4. a backend is removed (config change + apply on gw-b): its established connections carry
#      on, COUNT new ones all avoid it, each on the backend the new table predicts, and every
#      new one whose bucket did not belong to the removed backend keeps its old backend.
#
#   cli 203.0.113.50 (lo) ── via-a 203.0.113.1/30 ── wan 203.0.113.2/30 gw-a lan 192.0.2.2 ──┐
#                        └── via-b 203.0.113.5/30 ── wan 203.0.113.6/30 gw-b lan 192.0.2.3 ──┤
#                                              [lan: br0] ── be eth0 192.0.2.20/.21/.22 :8080
#   VIP 198.51.100.80:80/tcp, backends weight 1, 1, 2, table_size 401, seed 0x5eed1234.
#
# usage: lb_maglev.sh BUILD_DIR [COUNT]  (default 200; 10..2000)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LB_BUILD=${1:?usage: lb_maglev.sh BUILD_DIR [COUNT]}
count=${2:-200}
if [[ ! "$count" =~ ^[0-9]{1,4}$ ]] || ((count < 10 || count > 2000)); then
  echo "COUNT: '$count' is not a number 10..2000" >&2
  exit 2
fi
((EUID == 0)) || { echo "lb_maglev: needs root (namespaces, nftables); skipped"; exit 77; }
# shellcheck source=scripts/lab/lib.sh
. "$here/../../scripts/lab/lib.sh"
# shellcheck source=test/netns/lb_lib.sh
. "$here/lb_lib.sh"

CT_TOOL="$LB_BUILD/syncd/app/gwsync-ct"
lb_tools "$CT_TOOL"

readonly LATE=$((count / 4))
readonly B1=$LB_B1 B2=$LB_B2 B3=$LB_B3 REMOVED=$LB_B2

lab_init gwlb
trap lb_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

apply() {  # apply GW CONFIG
  "$LB_TOOL" apply --config "$2" --netns "$(lab_ns "$1")" >/dev/null || fail "gwsync-lb apply in $1 failed"
}

lab_log "lab $LAB_PREFIX: $count connections, $LATE late ones for the negative control"
lb_build_topology
lb_config "$LAB_TMP/lb.toml" "$B1 1" "$B2 1" "$B3 2"
lb_config "$LAB_TMP/lb-removed.toml" "$B1 1" "$B3 2"
apply gw-a "$LAB_TMP/lb.toml"
apply gw-b "$LAB_TMP/lb.toml"
rules_a=$(lab_exec gw-a nft -s list table inet gwsync_lb)
rules_b=$(lab_exec gw-b nft -s list table inet gwsync_lb)
[[ "$rules_a" == "$rules_b" ]] || fail "gw-a and gw-b hold different gwsync_lb tables"
lab_log "gw-a and gw-b: identical table inet gwsync_lb ($(wc -l <<<"$rules_a") lines, $("$LB_TOOL" check --config "$LAB_TMP/lb.toml" | sed -n 's/.*\(checksum=[^ ]*\).*/\1/p'))"

lb_server_start
lb_client_start
predict "$LAB_TMP/lb.toml" 40000 "$count" >"$LAB_TMP/predicted"
predict "$LAB_TMP/lb.toml" 41000 "$LATE" >"$LAB_TMP/predicted-late"
predict "$LAB_TMP/lb-removed.toml" 42000 "$count" >"$LAB_TMP/predicted-new"
predict "$LAB_TMP/lb.toml" 42000 "$count" >"$LAB_TMP/predicted-new-before"

# 2. The same client ports through gw-b, then through gw-a.
lb_use gw-b
cmd open first 40000 "$count"
((OK == count)) || fail "through gw-b: $OK of $count connections answered"
same "$LAB_TMP/predicted" "$LAB_TMP/first.open" "through gw-b, backend differs from the table's (predicted < > seen)"
cmd reset first
lab_exec gw-b conntrack -F 2>/dev/null
lab_log "through gw-b: $count of $count connections on the predicted backend ($(per_backend "$LAB_TMP/first.open"))"
lb_use gw-a
cmd open est 40000 "$count"
((OK == count)) || fail "through gw-a: $OK of $count connections answered"
same "$LAB_TMP/first.open" "$LAB_TMP/est.open" "same 5-tuple, other backend through gw-a than through gw-b"
lab_log "through gw-a: the same $count client ports, each on the same backend as through gw-b"
for b in "$B1 1" "$B2 1" "$B3 2"; do
  read -r addr weight <<<"$b"
  got=$(grep -c " $addr:8080$" "$LAB_TMP/est.open") || true
  want=$((count * weight / 4))
  ((got * 10 >= want * 6 && got * 10 <= want * 14)) ||
    fail "backend $addr (weight $weight): $got of $count connections, want about $want"
done
lab_log "split by weight 1:1:2: $(per_backend "$LAB_TMP/est.open")(ideal $((count / 4)) / $((count / 4)) / $((count / 2)))"

# 3. Copy gw-a's sessions to gw-b, open the late ones (not copied), fail gw-a.
out=$("$CT_TOOL" copy --from "$(lab_ns gw-a)" --to "$(lab_ns gw-b)" 2>&1) || fail "gwsync-ct copy: $out"
lab_log "copy gw-a -> gw-b: $out"
cmd open late 41000 "$LATE"
((OK == LATE)) || fail "late connections through gw-a: $OK of $LATE answered"
same "$LAB_TMP/predicted-late" "$LAB_TMP/late.open" "late connections, backend differs from the table's"
lb_fail_gateway gw-a
lb_use gw-b
t0=$(lab_now_ms)
cmd probe est
((OK == count)) || fail "after gw-a failed: $OK of $count copied connections carried on ($FAILED broke)"
same "$LAB_TMP/est.open" "$LAB_TMP/est.probe" "a copied connection answered from another backend"
lab_log "gw-a failed: all $count copied connections carry on through gw-b, each to its backend ($(($(lab_now_ms) - t0)) ms)"
cmd probe late
((OK == 0)) || fail "negative control: $OK of $LATE uncopied connections survived gw-a's failure"
invalid=$(counter gw-b invalid)
((invalid > 0)) || fail "negative control: gw-b counted no invalid packet"
lab_log "negative control: 0 of $LATE uncopied connections survived (gw-b: $invalid invalid packets)"

# 4. Remove a backend at gw-b.
apply gw-b "$LAB_TMP/lb-removed.toml"
on_removed=$(grep -c " $REMOVED:8080$" "$LAB_TMP/est.open") || true
((on_removed > 0)) || fail "no established connection on $REMOVED to watch"
cmd probe est
((OK == count)) || fail "after removing $REMOVED: $OK of $count established connections answered"
same "$LAB_TMP/est.open" "$LAB_TMP/est.probe" "after the removal an established connection moved"
lab_log "$REMOVED removed: all $count established connections carry on, $on_removed of them on $REMOVED"
cmd open new 42000 "$count"
((OK == count)) || fail "new connections after the removal: $OK of $count answered"
on_gone=$(grep -c " $REMOVED:8080$" "$LAB_TMP/new.open") || true
((on_gone == 0)) || fail "$on_gone new connections went to the removed backend $REMOVED"
same "$LAB_TMP/predicted-new" "$LAB_TMP/new.open" "new connections, backend differs from the new table's"
kept=0 moved=0 collateral=0
while read -r _ before && read -r _ after <&3; do
  if [[ $before == "$REMOVED:8080" ]]; then moved=$((moved + 1))
  elif [[ $before == "$after" ]]; then kept=$((kept + 1))
  else collateral=$((collateral + 1)); fi
done <"$LAB_TMP/predicted-new-before" 3<"$LAB_TMP/new.open"
((collateral * 100 <= count * 5)) || fail "$collateral new connections changed between remaining backends"
lab_log "new after the removal: $count of $count on the predicted backend, none on $REMOVED; $moved left $REMOVED, $kept kept their backend, $collateral moved between the others"

result PASS "$count connections on the Maglev-predicted backend through both gateways; all survived gw-a's failure (copied), $LATE uncopied ones broke; $REMOVED removed: established kept, new ones avoid it"
