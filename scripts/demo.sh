#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs the two-site VM migration demo on
# network namespaces (scripts/lab/migration-demo.sh, docs/lab.md): a VM with 200 TCP + 20 UDP
# sessions through SNAT and 50 inbound connections through a VIP moves from site A to site B
# with strict TCP tracking on both gateways. Prints the steps, a timeline of the move and one
# RESULT line; exits non-zero if any session is lost. Options go to migration-demo.sh, e.g.
# --return-path liberal. The gateway-failover demo: bash scripts/lab/failover-demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" \
  --target gwsyncd gwsyncctl gwsync-ct gwsync-traffic gwsync-nat gwsync-announce gwsync-first-packet
exec bash scripts/lab/migration-demo.sh build/dev "$@"
