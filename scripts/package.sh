#!/usr/bin/env bash
# Builds the Debian package gwsync_<version>_<arch>.deb: an optimised build configured for the
# /usr prefix (so the unit names /usr/bin/gwsyncd), packed by CPack's DEB generator, with its
# library dependencies from dpkg-shlibdeps (package dpkg-dev). Prints the package's control
# fields and contents.
#
#   usage: bash scripts/package.sh [BUILD_DIR]     (default: build/package)
#   JOBS=N limits the build's parallelism (default: all cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/package}
command -v dpkg-shlibdeps >/dev/null || { echo "package.sh: needs dpkg-dev (dpkg-shlibdeps)" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_INSTALL_PREFIX=/usr -DGWSYNC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}"
rm -f "$build"/gwsync_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(find "$build" -maxdepth 1 -name 'gwsync_*.deb' -print -quit)
[[ -n "$deb" ]] || { echo "package.sh: cpack made no gwsync_*.deb" >&2; exit 1; }
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
echo "$deb"
