#!/usr/bin/env bash
# Installs what is missing, builds a Release gatehouse, starts the bundled fake provider on
# 127.0.0.1:9911 and serves examples/quickstart.yaml on 127.0.0.1:8080. Ctrl-C stops both.
#   scripts/quickstart.sh [CONFIG]
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-examples/quickstart.yaml}

scripts/setup.sh --runtime
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
if [[ ! -f build/release/build.ninja ]]; then
  cmake --preset release -DGATEHOUSE_BUILD_TESTS=OFF >/dev/null
fi
cmake --build --preset release --target gatehouse mockllm

mock_pid=""
cleanup() { [[ -n $mock_pid ]] && kill "$mock_pid" 2>/dev/null || true; }
trap cleanup EXIT
if ! (exec 3<>/dev/tcp/127.0.0.1/9911) 2>/dev/null; then
  build/release/tools/mockllm/mockllm --listen 127.0.0.1:9911 --quiet &
  mock_pid=$!
fi

cat <<'MSG'

Gatehouse is starting on http://127.0.0.1:8080 (fake provider on :9911). Try:

  curl http://127.0.0.1:8080/v1/chat/completions \
    -H "Authorization: Bearer gh-quickstart-key" -H "Content-Type: application/json" \
    -d '{"model":"chat-small","messages":[{"role":"user","content":"Hello"}]}'

The admin console: http://127.0.0.1:8080/ui/ (sign in with gh-quickstart-admin).

MSG
build/release/gatehouse serve --config "$config" &
gw_pid=$!
trap 'kill -TERM $gw_pid 2>/dev/null; wait $gw_pid; cleanup' INT TERM
wait $gw_pid
