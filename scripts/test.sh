#!/usr/bin/env bash
# Runs every test gwsync has, on a fresh Debian 12 machine as on a developer's: installs the
# packages, builds the dev (g++) and ASan+UBSan (clang) trees, and runs unit, netns (real
# kernel, root) and benchmark-smoke tests in both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
status=0
for preset in dev asan; do
  echo "== build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
done
for preset in dev asan; do
  echo "== test: $preset"
  ctest --preset "$preset" || status=1
done
exit "$status"
