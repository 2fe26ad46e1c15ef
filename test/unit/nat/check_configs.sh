#!/usr/bin/env bash
# Runs `gwsync-nat check` on every example in configs/: each invalid one must exit 1 with the
# message on its "# expect:" line (prefixed by the file name), the valid one (expect: OK) must
# exit 0. No root needed: check reads the file only.
set -u
tool=$1
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/configs" && pwd)
failures=0
count=0
for f in "$dir"/*.toml; do
  count=$((count + 1))
  expect=$(sed -n '1s/^# expect: //p' "$f")
  err=$("$tool" check --config "$f" 2>&1 >/dev/null)
  rc=$?
  name=$(basename "$f")
  if [[ "$expect" == OK ]]; then
    if ((rc != 0)); then
      echo "FAIL $name: exit $rc, expected 0: $err"
      failures=$((failures + 1))
    else
      echo "ok   $name"
    fi
    continue
  fi
  want="gwsync-nat: $f: $expect"
  if ((rc != 1)) || [[ "$err" != "$want" ]]; then
    printf 'FAIL %s: exit %d\n  want: %s\n  got:  %s\n' "$name" "$rc" "$want" "$err"
    failures=$((failures + 1))
  else
    echo "ok   $name: $expect"
  fi
done
echo "$((count - failures))/$count config examples behaved"
((count > 0 && failures == 0))
