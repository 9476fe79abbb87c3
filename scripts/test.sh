#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (GoogleTest) and the
# end-to-end tests (Node + the official SDKs against real gatehouse and mockllm processes).
#   scripts/test.sh            the dev build, then the same suite under ASan+UBSan
#   scripts/test.sh dev|asan   one preset only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

presets=("$@")
if ((${#presets[@]} == 0)); then presets=(dev asan); fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths relative to the checkout, so a fresh clone elsewhere (as CI makes) reuses the cache.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
for preset in "${presets[@]}"; do
  echo "=== ${preset}: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== ${preset}: test"
  ctest --preset "$preset"
done
