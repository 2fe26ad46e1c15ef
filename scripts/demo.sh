#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs the two-gateway failover demo on
# network namespaces. Prints a timeline and a one-line RESULT; exits non-zero if it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target gwsyncd gwsyncctl gwsync-ct gwsync-traffic
exec bash scripts/lab/failover-demo.sh --build-dir build/dev "$@"
