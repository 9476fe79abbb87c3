#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) in build/fuzz and runs them (docs/fuzzing.md). Not part
# of scripts/test.sh or CI: run it by hand after changing code that parses untrusted input.
#   scripts/fuzz.sh                 build, then run every target for 60 s
#   scripts/fuzz.sh fuzz_text 300   build, then run one target for 300 s
#   FUZZ_JOBS=2 scripts/fuzz.sh     build with 2 jobs (default 1)
# Needs clang and libFuzzer: scripts/setup.sh --fuzz. New inputs go to build/fuzz/corpus/<target>
# (the seeds in tests/fuzz/corpus/<target> are read, never written); a crash leaves
# build/fuzz/crash-* to turn into a unit test and a seed.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(fuzz_text fuzz_scan fuzz_stream fuzz_events fuzz_mcp_session fuzz_translate)
if [[ $# -ge 1 ]]; then targets=("$1"); fi
seconds=${2:-60}

if [[ ! -f build/fuzz/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DGATEHOUSE_FUZZ=ON -DGATEHOUSE_BUILD_TESTS=OFF \
    -DCMAKE_CXX_FLAGS="-g -O1"
fi
cmake --build build/fuzz -j "${FUZZ_JOBS:-1}" --target "${targets[@]}"

for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/corpus/$t"
  echo "fuzz: $t for ${seconds}s"
  (cd build/fuzz && "tests/fuzz/$t" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
     "corpus/$t" "../../tests/fuzz/corpus/$t")
done
