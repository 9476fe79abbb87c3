#!/usr/bin/env bash
# Guardrails, whole requests, on vs off in one run (docs/benchmarks.md#guardrails). One mockllm and
# one Gatehouse (workers: 1) with two models on the same provider: `plain` (no guardrails) and
# `guarded` (input [secrets, dlp, injection, pii], output [pii, dlp], the issue's guardrail set).
#
#   bench/guard_bench.sh [--streams N] [--stream-rounds N] [--concurrency N] [--inter-token-ms MS]
#                        [--scenarios LIST] [--duration S] [--warmup S] [--rounds N] [--conns N]
#                        [--no-streams] [--no-load] [--nice N | --no-nice] [--out FILE]
#
# (a) Streams (bench/guard_ttft.mjs, Node's fetch): time to the first non-empty content delta
#     and to the end of the stream, p50/p90, `--streams` (200) per model and scenario, rounds
#     alternating the models, `--concurrency` (10) at a time, `inter_token_ms` 20; scenarios
#     `tokens` (mockllm's words, `alpha `), `words` (prose, a word and the space after it per
#     delta), `lead` (the same words with the space before them, ` quarterly`, as OpenAI's and
#     Anthropic's tokenizers cut text), `bytes3` (prose in 3-byte deltas), `bytes3-hit` (with an
#     email that is masked); the gateway's CPU per stream.
# (b) Load: wrk (bench/guard_post.lua) with 1 KB and 100 KB prompts, non-streaming, `--conns`
#     (16) connections, `--rounds` (3) rounds alternating plain and guarded, each a `--warmup`
#     (1 s) then `--duration` (5 s) measured: req/s, latency, and the gateway's CPU µs per
#     request (/proc/PID/stat utime+stime over the measured interval ÷ requests).
#
# Layout (2 cores): the gateway on core 1, mockllm + the load (wrk or node) on core 0. As root,
# the script re-executes itself under setsid with its session's autogroup at nice -10, as run.sh
# does (see its header). Everything listens on loopback, on ports the kernel picks; every process
# started is stopped at exit. Needs release binaries (cmake --preset release && cmake --build
# --preset release), wrk (scripts/setup.sh --bench) and node; GATEHOUSE_BIN / MOCKLLM_BIN override
# the binaries. Prints Markdown and writes it to bench/results/guard-latest.md (or --out).
set -Eeuo pipefail
trap 'echo "guard_bench.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

orig_args=("$@")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

streams=200
stream_rounds=10
concurrency=10
itm=20
scenarios="tokens,words,lead,bytes3,bytes3-hit"
duration=5
warmup=1
rounds=3
conns=16
do_streams=1
do_load=1
nice_level=""
[[ $(id -u) == 0 ]] && nice_level=-10
out="$here/results/guard-latest.md"

while (($#)); do
  case $1 in
    --streams) streams=$2; shift 2 ;;
    --stream-rounds) stream_rounds=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --inter-token-ms) itm=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --no-streams) do_streams=0; shift ;;
    --no-load) do_load=0; shift ;;
    --nice) nice_level=$2; shift 2 ;;
    --no-nice) nice_level=""; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "guard_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# Own session, so its own scheduler autogroup (run.sh explains why), re-executed once.
if [[ -n $nice_level && $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null) == 1 ]] &&
   [[ -z ${GATEHOUSE_BENCH_INNER:-} ]] && command -v setsid >/dev/null; then
  pidfile=$(mktemp /tmp/gatehouse-guard-bench-pid.XXXXXX)
  GATEHOUSE_BENCH_INNER=$pidfile setsid -w bash "$0" "${orig_args[@]+"${orig_args[@]}"}" &
  outer_child=$!
  forward() { local p; p=$(cat "$pidfile" 2>/dev/null); [[ -n $p ]] && kill -TERM "$p" 2>/dev/null; }
  trap 'forward' INT TERM
  rc=0
  while :; do
    wait "$outer_child" && rc=0 || rc=$?
    kill -0 "$outer_child" 2>/dev/null || break
  done
  rm -f "$pidfile"
  exit "$rc"
fi
if [[ -n ${GATEHOUSE_BENCH_INNER:-} ]]; then
  echo $$ >"$GATEHOUSE_BENCH_INNER"
  echo "$nice_level" >/proc/self/autogroup 2>/dev/null || echo "guard_bench.sh: cannot set the autogroup nice" >&2
fi

for tool in wrk node taskset ss curl sha256sum; do
  command -v "$tool" >/dev/null || { echo "guard_bench.sh: $tool not found (scripts/setup.sh --bench)" >&2; exit 1; }
done
gh_src=${GATEHOUSE_BIN:-$root/build/release/gatehouse}
mock_src=${MOCKLLM_BIN:-$root/build/release/tools/mockllm/mockllm}
for b in "$gh_src" "$mock_src"; do
  [[ -x $b ]] || { echo "guard_bench.sh: $b missing: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
done
(($(nproc) >= 2)) || { echo "guard_bench.sh: needs 2 cores" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

tmp=$(mktemp -d /tmp/gatehouse-guard-bench.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$gh_src" "$tmp/gatehouse"
cp "$mock_src" "$tmp/mockllm"
upstream_token="bench-upstream-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
gateway_key="gh-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
gateway_sha=$(printf %s "$gateway_key" | sha256sum | cut -d' ' -f1)
clk_tck=$(getconf CLK_TCK)
log() { echo "guard_bench.sh: $*" >&2; }
P0=(taskset -c 0); P1=(taskset -c 1)
if [[ -n $nice_level ]]; then P0=(nice -n "$nice_level" "${P0[@]}"); P1=(nice -n "$nice_level" "${P1[@]}"); fi

wait_line() { # FILE REGEX PID
  local file=$1 re=$2 pid=$3 line
  for _ in $(seq 200); do
    if line=$(grep -m1 -E "$re" "$file" 2>/dev/null); then echo "$line"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "process $pid exited:"; cat "$file" >&2; return 1; }
    sleep 0.05
  done
  log "timed out waiting for /$re/ in $file"; cat "$file" >&2; return 1
}
owned_by_only() { # PORT PID: nothing else listens on PORT (SO_REUSEPORT)
  local p
  for p in $(ss -Htlnp "sport = :$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    [[ $p == "$2" ]] || { log "port $1 is also held by pid $p — refusing to measure"; return 1; }
  done
}
cpu_ticks() { # PID: utime+stime, clock ticks
  local s f
  s=$(cat /proc/"$1"/stat); s=${s##*) }; read -ra f <<<"$s"; echo $((f[11] + f[12]))
}
sched_ns() { # PID: its threads' run time, ns (schedstat)
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}
others_busy() { # busy ticks of the whole machine (/proc/stat)
  awk '$1 == "cpu" {print $2+$3+$4+$7+$8; exit}' /proc/stat
}

# ---------------------------------------------------------------------------------------------
"${P0[@]}" "$tmp/mockllm" --listen 127.0.0.1:0 --threads 1 --no-record --quiet \
  --require-token "$upstream_token" >"$tmp/mock.log" 2>&1 &
mock_pid=$!; pids+=("$mock_pid")
line=$(wait_line "$tmp/mock.log" 'mockllm listening on' "$mock_pid")
mock_port=${line##*:}
owned_by_only "$mock_port" "$mock_pid"

cat >"$tmp/gatehouse.yaml" <<EOF
server: {listen: "127.0.0.1:0", workers: 1}
providers:
  local:
    kind: openai-compatible
    base_url: "http://127.0.0.1:$mock_port/v1"
    auth: {token: "$upstream_token"}
    pool: {max_idle: 512}
guardrails:
  pii:
    kind: pii
    entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS]
    action: mask
  dlp:
    kind: regex
    patterns:
      - {name: databricks-pat, regex: 'dapi[a-f0-9]{32}', action: block}
      - {name: jdbc-connection-string, regex: 'jdbc:databricks://[^\s]+', action: mask}
  secrets: {kind: secrets, action: block}
  injection: {kind: prompt_injection, action: block}
models:
  plain: {provider: local, upstream_model: "gpt-x"}
  guarded: {provider: local, upstream_model: "gpt-x", guardrails: {input: [secrets, dlp, injection, pii], output: [pii, dlp]}}
keys:
  - {name: bench, sha256: "$gateway_sha"}
log: {access_log: false}
EOF
"${P1[@]}" "$tmp/gatehouse" serve --config "$tmp/gatehouse.yaml" >"$tmp/gatehouse.log" 2>&1 &
gh_pid=$!; pids+=("$gh_pid")
line=$(wait_line "$tmp/gatehouse.log" 'listening on [^ ]+:[0-9]+ \(' "$gh_pid")
gh_port=$(sed -E 's/.*listening on [^ ]+:([0-9]+) \(.*/\1/' <<<"$line")
owned_by_only "$gh_port" "$gh_pid"
base="http://127.0.0.1:$gh_port"

# Sanity: the guarded model blocks a Databricks token, the plain one lets it through.
probe() { # MODEL → HTTP status
  curl -s -o "$tmp/probe.json" -w '%{http_code}' "$base/v1/chat/completions" \
    -H "authorization: Bearer $gateway_key" -H 'content-type: application/json' \
    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"token dapi0123456789abcdef0123456789abcdef\"}]}"
}
s_plain=$(probe plain); s_guarded=$(probe guarded)
if [[ $s_plain != 200 || $s_guarded != 400 ]] || ! grep -q guardrail_blocked "$tmp/probe.json"; then
  log "sanity check failed: plain $s_plain (want 200), guarded $s_guarded (want 400 guardrail_blocked)"; exit 1
fi

report=()
report+=("Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average at start $(cut -d' ' -f1-3 /proc/loadavg).")
report+=("")

if ((do_streams)); then
  log "streams: $scenarios, $streams per model and scenario"
  "${P0[@]}" node "$here/guard_ttft.mjs" --url "$base" --key "$gateway_key" --pid "$gh_pid" \
    --streams "$streams" --rounds "$stream_rounds" --concurrency "$concurrency" \
    --inter-token-ms "$itm" --scenarios "$scenarios" --json "$tmp/ttft.json" >"$tmp/ttft.md" &
  node_pid=$!; pids+=("$node_pid")
  wait "$node_pid" || { log "guard_ttft.mjs failed"; exit 1; }
  keep=(); for p in "${pids[@]}"; do [[ $p == "$node_pid" ]] || keep+=("$p"); done; pids=("${keep[@]}")
  report+=("### Streams" "" "$(cat "$tmp/ttft.md")" "")
fi

if ((do_load)); then
  node "$here/guard_ttft.mjs" --bodies "$tmp"
  declare -A rps=() cpr=() sch=()
  rows=()
  sizes=(1k 100k)
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2 == 1)); then order=(plain guarded); else order=(guarded plain); fi
    for size in "${sizes[@]}"; do
      for model in "${order[@]}"; do
        body="$tmp/body-$size-$model.json"
        log "load: round $r, $size, $model"
        BENCH_KEY=$gateway_key BENCH_BODY=$body "${P0[@]}" wrk -t1 -c"$conns" -d"${warmup}s" \
          -s "$here/guard_post.lua" "$base/v1/chat/completions" >/dev/null 2>&1 || true
        t0=$(cpu_ticks "$gh_pid"); n0=$(sched_ns "$gh_pid"); b0=$(others_busy)
        BENCH_KEY=$gateway_key BENCH_BODY=$body "${P0[@]}" wrk -t1 -c"$conns" -d"${duration}s" --latency \
          -s "$here/guard_post.lua" "$base/v1/chat/completions" >"$tmp/wrk.out" 2>&1 || true
        t1=$(cpu_ticks "$gh_pid"); n1=$(sched_ns "$gh_pid"); b1=$(others_busy)
        bline=$(grep '^BENCH ' "$tmp/wrk.out") || { log "wrk failed:"; cat "$tmp/wrk.out" >&2; exit 1; }
        declare -A w=()
        for kv in ${bline#BENCH }; do w[${kv%%=*}]=${kv#*=}; done
        errs=$((w[err_connect] + w[err_read] + w[err_write] + w[err_status] + w[err_timeout]))
        req=${w[requests]}
        read -r rate cpu sched p50 p99 busy ghpct < <(awk -v n="$req" -v d="${w[duration_us]}" -v t="$((t1 - t0))" \
          -v hz="$clk_tck" -v ns="$((n1 - n0))" -v p50="${w[p50_us]}" -v p99="${w[p99_us]}" -v b="$((b1 - b0))" \
          'BEGIN { printf "%.0f %.1f %.1f %.2f %.2f %.0f %.0f\n", n / (d / 1e6), t / hz * 1e6 / n, ns / 1e3 / n,
                   p50 / 1e3, p99 / 1e3, b / hz / (d / 1e6) * 100, ns / 1e9 / (d / 1e6) * 100 }')
        rps[$r,$size,$model]=$rate; cpr[$r,$size,$model]=$cpu; sch[$r,$size,$model]=$sched
        rows+=("| $r | $size | $model | $rate | $p50 | $p99 | $cpu | $sched | $ghpct% | $busy% | $errs |")
      done
    done
  done
  report+=("### Non-streaming load" ""
    "wrk -t1 -c$conns, ${warmup} s warm-up + ${duration} s measured per row, $rounds rounds alternating the models; bodies from \`guard_ttft.mjs --bodies\` (prose, a system prompt and 3 or 9 turns, 8 answer tokens)." ""
    "| round | prompt | model | req/s | p50 ms | p99 ms | gateway CPU µs/req (stat) | (schedstat) | gateway CPU | machine busy (of 200%) | errors |"
    "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" "${rows[@]}" "")
  # Per round, guarded ÷ plain; then the medians.
  report+=("| prompt | CPU µs/req plain → guarded, per round (schedstat) | added µs/req, per round | median added | median req/s guarded ÷ plain |" "|---|---|---|---:|---:|")
  for size in "${sizes[@]}"; do
    pairs=""; adds=""; addl=(); ratl=()
    for ((r = 1; r <= rounds; r++)); do
      pairs+="${pairs:+, }${sch[$r,$size,plain]} → ${sch[$r,$size,guarded]}"
      a=$(awk -v g="${sch[$r,$size,guarded]}" -v p="${sch[$r,$size,plain]}" 'BEGIN {printf "%.1f", g - p}')
      adds+="${adds:+, }$a"; addl+=("$a")
      ratl+=("$(awk -v g="${rps[$r,$size,guarded]}" -v p="${rps[$r,$size,plain]}" 'BEGIN {printf "%.2f", g / p}')")
    done
    med_add=$(printf '%s\n' "${addl[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    med_rat=$(printf '%s\n' "${ratl[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    report+=("| $size | $pairs | $adds | $med_add | ${med_rat}× |")
  done
  report+=("")
fi

# Stop the gateway now, to see that it exits 0 on SIGTERM.
kill -TERM "$gh_pid" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$gh_pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$gh_pid" 2>/dev/null || true
gh_rc=0; wait "$gh_pid" 2>/dev/null || gh_rc=$?
keep=(); for p in "${pids[@]}"; do [[ $p == "$gh_pid" ]] || keep+=("$p"); done; pids=("${keep[@]}")
report+=("Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); the gateway exited with status $gh_rc on SIGTERM.")
((gh_rc == 0)) || { log "the gateway exited with status $gh_rc; its log:"; tail -20 "$tmp/gatehouse.log" >&2; }
mkdir -p "$(dirname "$out")"
printf '%s\n' "${report[@]}" | tee "$out"
