#!/usr/bin/env bash
# Checks systemd/ as systemd reads it, without starting anything (PID 1 need not be systemd):
#  1. `systemd-analyze verify` on gwsyncd.service inside a temporary root that holds the unit at
#     its installed place, the system's own units, and a stub at every path the Exec lines name
#     (/usr/bin/gwsyncd is not installed here); any message fails the check, and a deliberately
#     broken copy must produce one (so a check that sees nothing cannot pass);
#  2. `systemd-analyze security --offline=true`: the exposure score is printed and must not
#     exceed MAX_EXPOSURE (default 2.0);
#  3. as root: systemd-sysusers and systemd-tmpfiles --create on that root create the user the
#     unit runs as and the directories with the owners and modes they declare.
#
#   usage: check_units.sh SYSTEMD_DIR [MAX_EXPOSURE]
set -euo pipefail

dir=$1
max=${2:-2.0}
unit="$dir/gwsyncd.service"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze missing"; exit 77; }

root=$(mktemp -d "${TMPDIR:-/tmp}/gwsync-units.XXXXXX")
trap 'rm -rf -- "$root"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

# A filesystem root shaped like Debian 12's (merged /usr) with the system's units.
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/systemd/system" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
cp -a /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | sort -u | while read -r exe; do
  [[ "$exe" == /* ]] || fail "$exe: Exec paths must be absolute"
  mkdir -p "$root$(dirname "$exe")"
  printf '#!/bin/sh\n' >"$root$exe"
  chmod 0755 "$root$exe"
done

verify() {  # verify UNIT_FILE: systemd-analyze verify's messages about it, if any
  cp "$1" "$root/usr/lib/systemd/system/gwsyncd.service"
  systemd-analyze verify --root="$root" gwsyncd.service 2>&1 || echo "(exit status $?)"
}

out=$(verify "$unit")
[[ -z "$out" ]] || fail "systemd-analyze verify: $out"
sed 's/^WatchdogSec=.*/WatchdogSec=ten/' "$unit" >"$root/broken.service"
[[ -n "$(verify "$root/broken.service")" ]] || fail "verify did not notice WatchdogSec=ten"
echo "ok: systemd-analyze verify: no messages for gwsyncd.service (ExecStart=$(sed -n 's/^ExecStart=//p' "$unit"))"

report=$(systemd-analyze security --offline=true "$unit" 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for gwsyncd.service: \([0-9.]*\).*/\1/p' <<<"$report")
[[ -n "$score" ]] || fail "no exposure score: $report"
grep '✗' <<<"$report" || true
awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 <= m + 0) }' ||
  fail "systemd-analyze security: exposure $score is above $max"
echo "ok: systemd-analyze security --offline=true: exposure $score (threshold $max)"

if ((EUID != 0)); then
  echo "ok: sysusers/tmpfiles not checked (needs root to set owners)"
  exit 0
fi
user=$(sed -n 's/^User=//p' "$unit")
mkdir -p "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
cp "$dir/gwsync.sysusers" "$root/usr/lib/sysusers.d/gwsync.conf"
cp "$dir/gwsync.tmpfiles" "$root/usr/lib/tmpfiles.d/gwsync.conf"
systemd-sysusers --root="$root" gwsync.conf >/dev/null 2>&1 || fail "systemd-sysusers failed"
grep -q "^$user:x:[0-9]*:[0-9]*:.*:/var/lib/gwsync:/usr/sbin/nologin$" "$root/etc/passwd" ||
  fail "sysusers did not create user $user: $(cat "$root/etc/passwd")"
systemd-tmpfiles --root="$root" --create gwsync.conf || fail "systemd-tmpfiles --create failed"
uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$root/etc/passwd")
gid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$root/etc/group")
[[ "$(stat -c '%a %u %g' "$root/etc/gwsync")" == "750 0 $gid" ]] || fail "/etc/gwsync: $(stat -c '%a %u %g' "$root/etc/gwsync")"
[[ "$(stat -c '%a %u %g' "$root/var/lib/gwsync")" == "750 $uid $gid" ]] ||
  fail "/var/lib/gwsync: $(stat -c '%a %u %g' "$root/var/lib/gwsync")"
echo "ok: sysusers creates $user (uid $uid); tmpfiles creates /etc/gwsync and /var/lib/gwsync"
