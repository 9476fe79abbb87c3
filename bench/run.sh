#!/usr/bin/env bash
# Whole-request benchmark: the fake provider directly, nginx proxy_pass, and Gatehouse, all in
# one run on this machine, so their ratios can be compared. See docs/benchmarks.md.
#
#   bench/run.sh [--duration S] [--warmup S] [--conns "64 256"] [--rounds N] [--quick]
#                [--nice N | --no-nice] [--no-unpinned] [--no-stream] [--no-access-log] [--no-records]
#                [--out FILE]
#
# Needs wrk, nginx (scripts/setup.sh --bench) and release binaries (cmake --preset release &&
# cmake --build --preset release); GATEHOUSE_BIN / MOCKLLM_BIN override the binaries.
# Prints a Markdown report and writes it to bench/results/latest.md (and a dated copy).
#
# Layout on a 2-core machine ("pinned" variant): wrk + mockllm share core 0, the proxy under
# test (nginx with 1 worker, or gatehouse with workers: 1) has core 1 to itself. The
# "unpinned" variant runs everything without taskset, proxies with one worker per core.
# --rounds N repeats the whole sequence N times (targets alternate within each round) and
# the summary uses the median of the rounds: on a shared, noisy machine that beats one long run.
# As root, the benchmark runs in its own session at nice -10 (--nice N to change, --no-nice to
# keep 0). With the kernel's scheduler autogroups on (the default), CPU is shared between
# sessions first, so a plain `nice` is useless against a compiler started from another
# terminal; the script re-executes itself under setsid and sets its session's autogroup nice
# instead. Other work on a shared machine then takes far less CPU from the measured processes,
# equally for nginx and gatehouse.
set -Eeuo pipefail
trap 'echo "run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

orig_args=("$@")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

duration=10
warmup=2
conns="64 256"
rounds=1
nice_level=""
[[ $(id -u) == 0 ]] && nice_level=-10
do_unpinned=1
do_stream=1
do_access_log=1
do_records=1
out="$here/results/latest.md"

while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --nice) nice_level=$2; shift 2 ;;
    --no-nice) nice_level=""; shift ;;
    --quick) duration=3; warmup=1; shift ;;
    --no-unpinned) do_unpinned=0; shift ;;
    --no-stream) do_stream=0; shift ;;
    --no-access-log) do_access_log=0; shift ;;
    --no-records) do_records=0; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# Own session (so its own scheduler autogroup), re-executed once; the outer copy only forwards
# signals to it and returns its status.
autogroup=0
if [[ -n $nice_level && $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null) == 1 ]]; then
  autogroup=1
fi
if ((autogroup)) && [[ -z ${GATEHOUSE_BENCH_INNER:-} ]] && command -v setsid >/dev/null; then
  pidfile=$(mktemp /tmp/gatehouse-bench-pid.XXXXXX)
  GATEHOUSE_BENCH_INNER=$pidfile setsid -w bash "$0" "${orig_args[@]+"${orig_args[@]}"}" &
  outer_child=$!
  forward() { local p; p=$(cat "$pidfile" 2>/dev/null); [[ -n $p ]] && kill -TERM "$p" 2>/dev/null; }
  trap 'forward' INT TERM
  rc=0
  while :; do
    wait "$outer_child" && rc=0 || rc=$?
    kill -0 "$outer_child" 2>/dev/null || break   # a trapped signal interrupts wait: wait again
  done
  rm -f "$pidfile"
  exit "$rc"
fi
if [[ -n ${GATEHOUSE_BENCH_INNER:-} ]]; then
  echo $$ >"$GATEHOUSE_BENCH_INNER"
  echo "$nice_level" >/proc/self/autogroup 2>/dev/null || echo "run.sh: cannot set the autogroup nice" >&2
fi

for tool in wrk nginx taskset ss curl sha256sum; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (scripts/setup.sh --bench)" >&2; exit 1; }
done
gh_src=${GATEHOUSE_BIN:-$root/build/release/gatehouse}
mock_src=${MOCKLLM_BIN:-$root/build/release/tools/mockllm/mockllm}
for b in "$gh_src" "$mock_src"; do
  [[ -x $b ]] || { echo "run.sh: $b missing: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
done
ncpu=$(nproc)
if ((ncpu < 2)); then echo "run.sh: needs at least 2 cores for the pinned layout" >&2; exit 1; fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
pids=()            # every long-running process this script started
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

# Private copies, so a rebuild by someone else during the run cannot swap binaries under us.
cp "$gh_src" "$tmp/gatehouse"
cp "$mock_src" "$tmp/mockllm"
gh="$tmp/gatehouse"
mock="$tmp/mockllm"

upstream_token="bench-upstream-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
gateway_key="gh-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
gateway_sha=$(printf %s "$gateway_key" | sha256sum | cut -d' ' -f1)
clk_tck=$(getconf CLK_TCK)

log() { echo "run.sh: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# helpers

# wait_line FILE REGEX PID: wait (10 s) for REGEX in FILE; print the matching line.
wait_line() {
  local file=$1 re=$2 pid=$3 line
  for _ in $(seq 200); do
    if line=$(grep -m1 -E "$re" "$file" 2>/dev/null); then echo "$line"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "process $pid exited:"; cat "$file" >&2; return 1; }
    sleep 0.05
  done
  log "timed out waiting for /$re/ in $file:"; cat "$file" >&2; return 1
}

# free_port: a loopback TCP port no socket uses (for nginx, which has no "port 0"). It is
# taken below the kernel's ephemeral range, where the benchmark's own hundreds of client and
# upstream connections get their local ports (a listener cannot bind a port a connection holds).
free_port() {
  local p lo hi
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  hi=$((lo > 12000 ? lo - 1 : 60999)); lo=$((lo > 12000 ? 10000 : 61000))
  ((hi > lo)) || hi=$((lo + 4000))
  for _ in $(seq 100); do
    p=$((lo + RANDOM % (hi - lo)))
    if [[ -z $(ss -Htan "sport = :$p") ]]; then echo "$p"; return 0; fi
  done
  log "no free port found"; return 1
}

# owned_by_only PORT PIDS...: fail if anything but PIDS listens on PORT (SO_REUSEPORT lets a
# second process silently join a port; another benchmark on this box must not share ours).
owned_by_only() {
  local port=$1; shift
  local listeners p ok
  listeners=$(ss -Htlnp "sport = :$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  for p in $listeners; do
    ok=0
    for q in "$@"; do [[ $p == "$q" ]] && ok=1; done
    if ((ok == 0)); then
      log "port $port is also held by pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)) — refusing to measure"
      return 1
    fi
  done
}

# stop_pid PID: SIGTERM, wait (5 s, then SIGKILL); sets stop_rc to its exit status.
stop_pid() {
  local pid=$1 p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  stop_rc=0
  wait "$pid" 2>/dev/null || stop_rc=$?
  local keep=()
  for p in "${pids[@]+"${pids[@]}"}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

# proc_family PID: PID and its children (nginx master + workers).
proc_family() {
  local pid=$1
  echo "$pid"
  cat /proc/"$pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+$' || true
}

# cpu_ticks PIDS...: summed utime+stime (clock ticks) of the processes.
cpu_ticks() {
  local total=0 s f p
  for p in "$@"; do
    s=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    s=${s##*) }
    read -ra f <<<"$s"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# mem_kb FIELD PIDS...: summed VmRSS / VmHWM in kB.
mem_kb() {
  local field=$1 total=0 v p; shift
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' /proc/"$p"/status 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# sys_ticks: "busy steal" ticks of the whole machine from /proc/stat.
sys_ticks() {
  awk '$1 == "cpu" {print $2+$3+$4+$7+$8, $9; exit}' /proc/stat
}

# child_cpu_ticks: CPU ticks of this shell's finished children (bash `times`, 2nd line).
# Must run in this shell, not in $(...): a forked subshell starts with zeroed child times.
# Sets child_ticks.
child_cpu_ticks() {
  local line u s
  times >"$tmp/times"
  line=$(sed -n 2p "$tmp/times")
  u=${line%% *}; s=${line##* }
  awk -v u="$u" -v s="$s" -v hz="$clk_tck" 'function sec(t,  m, r) {
      m = t; sub(/m.*/, "", m); r = t; sub(/^[0-9]+m/, "", r); sub(/s$/, "", r); return m * 60 + r }
    BEGIN { printf "%d\n", (sec(u) + sec(s)) * hz + 0.5 }' >"$tmp/times.ticks"
  child_ticks=$(<"$tmp/times.ticks")
}

# pin CPU: sets P to the command prefix: nice (if set), then taskset to CPU in the pinned
# variant. Use as "${P[@]}" cmd ... & — a plain command (no function), so $! is the process.
pin() {
  P=()
  if [[ -n $nice_level ]]; then P=(nice -n "$nice_level"); fi
  if [[ $variant == pinned ]]; then P+=(taskset -c "$1"); fi
}

# ---------------------------------------------------------------------------------------------
# targets

start_mock() { # start_mock THREADS → mock_pid, mock_port
  local threads=$1 line
  pin 0
  "${P[@]}" "$mock" --listen 127.0.0.1:0 --threads "$threads" --no-record --quiet \
    --require-token "$upstream_token" >"$tmp/mock.log" 2>&1 &
  mock_pid=$!; pids+=("$mock_pid")
  line=$(wait_line "$tmp/mock.log" 'mockllm listening on' "$mock_pid")
  mock_port=${line##*:}
  owned_by_only "$mock_port" "$mock_pid"
}

start_nginx() { # start_nginx WORKERS BUFFERING → proxy_pid, proxy_port (a few tries: port races)
  local attempt
  for attempt in 1 2 3 4 5; do
    if try_start_nginx "$@"; then return 0; fi
    log "nginx did not start (attempt $attempt); trying another port"
  done
  return 1
}

try_start_nginx() {
  local workers=$1 buffering=$2 dir="$tmp/nginx"
  rm -rf "$dir"; mkdir -p "$dir/logs"
  proxy_port=$(free_port) || return 1
  cat >"$dir/nginx.conf" <<EOF
# Generated by bench/run.sh: a tuned nginx reverse proxy in front of the same fake provider.
daemon off;
master_process on;
worker_processes $workers;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream mock {
    server 127.0.0.1:$mock_port;
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Gatehouse swaps the client's key for the provider's token; so does nginx here.
      proxy_set_header Authorization "Bearer $upstream_token";
      proxy_buffering $buffering;
    }
  }
}
EOF
  pin 1
  "${P[@]}" nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/logs/stdout.log" 2>&1 &
  proxy_pid=$!; pids+=("$proxy_pid")
  local up=0
  for _ in $(seq 100); do
    if [[ -n $(ss -Htln "sport = :$proxy_port") ]]; then up=1; break; fi
    if ! kill -0 "$proxy_pid" 2>/dev/null; then
      log "nginx exited: $(tail -1 "$dir/logs/error.log" 2>/dev/null)"
      stop_pid "$proxy_pid"
      return 1
    fi
    sleep 0.05
  done
  if ((up == 0)); then log "nginx is not listening after 5 s"; stop_pid "$proxy_pid"; return 1; fi
  sleep 0.2   # let the workers come up
  owned_by_only "$proxy_port" $(proc_family "$proxy_pid") || { stop_pid "$proxy_pid"; return 1; }
  bench_key=$upstream_token
}

start_gatehouse() { # start_gatehouse WORKERS ACCESS_LOG [records] → proxy_pid, proxy_port
  local workers=$1 access_log=$2 records=${3:-} line
  cat >"$tmp/gatehouse.yaml" <<EOF
server: {listen: "127.0.0.1:0", workers: $workers}
providers:
  local:
    kind: openai-compatible
    base_url: "http://127.0.0.1:$mock_port/v1"
    auth: {token: "$upstream_token"}
    pool: {max_idle: 512}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", price: {input_per_million: 1, output_per_million: 2}}
keys:
  - {name: bench, sha256: "$gateway_sha"}
log: {access_log: $access_log}
EOF
  if [[ $records == records ]]; then
    # Everything that records: usage rows, the inference log with bodies (every request), the
    # metrics registry — on a fresh store each run.
    rm -f "$tmp/records.db" "$tmp/records.db-wal" "$tmp/records.db-shm"
    cat >>"$tmp/gatehouse.yaml" <<EOF
store: {sqlite: "$tmp/records.db"}
records:
  inference_log: {models: ["*"], payloads: true, sample: 1.0}
metrics: {enabled: true}
EOF
  fi
  pin 1
  "${P[@]}" "$gh" serve --config "$tmp/gatehouse.yaml" >"$tmp/gatehouse.log" 2>&1 &
  proxy_pid=$!; pids+=("$proxy_pid")
  line=$(wait_line "$tmp/gatehouse.log" 'listening on [^ ]+:[0-9]+ \(' "$proxy_pid")
  proxy_port=$(sed -E 's/.*listening on [^ ]+:([0-9]+) \(.*/\1/' <<<"$line")
  owned_by_only "$proxy_port" "$proxy_pid"
  bench_key=$gateway_key
}

# ---------------------------------------------------------------------------------------------
# one measurement

# mock_requests: the mock's request counter (empty if it cannot be read).
mock_requests() {
  local body
  for _ in 1 2 3; do
    if body=$(curl -s --max-time 5 "http://127.0.0.1:$mock_port/__mock/stats"); then
      grep -o '"requests":[0-9]*' <<<"$body" | cut -d: -f2 && return 0
    fi
    sleep 0.2
  done
  return 0
}

rows=()     # one Markdown table row per measurement
problems=() # proxies that did not stop cleanly
declare -A rps   # "variant|kind|target|conns" → req/s
declare -A cpr   # same key → proxy CPU µs per request

# measure TARGET CONNS SCRIPT KIND: warm-up, then the measured wrk run against the target that
# is currently up (mock alone when TARGET=direct).
measure() {
  local target=$1 c=$2 script=$3 kind=$4
  local port fam=() url threads
  if [[ $target == direct ]]; then port=$mock_port; bench_key=$upstream_token
  else port=$proxy_port; fam=($(proc_family "$proxy_pid")); fi
  url="http://127.0.0.1:$port/v1/chat/completions"
  threads=$([[ $variant == pinned ]] && echo 1 || echo "$ncpu")

  # Sanity: one request must succeed through this target before we time anything.
  local body status
  body=$(BENCH_KEY=$bench_key wrk -t1 -c1 -d1s -s "$here/$script" "$url" 2>&1 || true)
  if ! grep -q 'BENCH requests=[1-9]' <<<"$body" || ! grep -q 'err_status=0 ' <<<"$body"; then
    log "sanity request through $target failed:"; echo "$body" >&2; return 1
  fi

  pin 0
  BENCH_KEY=$bench_key "${P[@]}" wrk -t"$threads" -c"$c" -d"${warmup}s" -s "$here/$script" "$url" >/dev/null 2>&1 || true

  local mock_req0 ticks0 sys0 child0 wrk_out
  mock_req0=$(mock_requests)
  ticks0=$( ((${#fam[@]})) && cpu_ticks "${fam[@]}" || echo 0)
  local mock0; mock0=$(cpu_ticks "$mock_pid")
  read -r sys0 steal0 < <(sys_ticks)
  child_cpu_ticks; child0=$child_ticks

  BENCH_KEY=$bench_key "${P[@]}" wrk -t"$threads" -c"$c" -d"${duration}s" --latency -s "$here/$script" "$url" >"$tmp/wrk.out" 2>&1 || true

  local child1 sys1 steal1 ticks1 mock1 mock_req1
  child_cpu_ticks; child1=$child_ticks
  read -r sys1 steal1 < <(sys_ticks)
  ticks1=$( ((${#fam[@]})) && cpu_ticks "${fam[@]}" || echo 0)
  mock1=$(cpu_ticks "$mock_pid")
  mock_req1=$(mock_requests)
  local rss=0 hwm=0
  if ((${#fam[@]})); then rss=$(mem_kb VmRSS "${fam[@]}"); hwm=$(mem_kb VmHWM "${fam[@]}"); fi
  cat "$tmp/wrk.out" >>"$tmp/wrk-all.log"

  local line; line=$(grep '^BENCH ' "$tmp/wrk.out") || { log "wrk failed:"; cat "$tmp/wrk.out" >&2; return 1; }
  local -A r=()
  local kv
  for kv in ${line#BENCH }; do r[${kv%%=*}]=${kv#*=}; done
  local errs=$((r[err_connect] + r[err_read] + r[err_write] + r[err_status] + r[err_timeout]))

  # The mock must have seen (at least) every request wrk counted: nothing was answered early.
  local note=""
  if [[ -n $mock_req0 && -n $mock_req1 ]]; then
    local upstream_seen=$((mock_req1 - mock_req0))
    if ((upstream_seen < r[requests])); then note="upstream saw $upstream_seen of ${r[requests]}!"; fi
  else
    note="(could not read the mock's request counter)"
  fi
  if ((errs)); then note="${note:+$note; }errors: connect ${r[err_connect]} read ${r[err_read]} write ${r[err_write]} status ${r[err_status]} timeout ${r[err_timeout]}"; fi

  awk -v req="${r[requests]}" -v dur="${r[duration_us]}" -v p50="${r[p50_us]}" -v p99="${r[p99_us]}" \
      -v pt=$((ticks1 - ticks0)) -v mt=$((mock1 - mock0)) -v wt=$((child1 - child0)) \
      -v st=$((sys1 - sys0)) -v stl=$((steal1 - steal0)) -v hz="$clk_tck" \
      -v rss="$rss" -v hwm="$hwm" -v proxy=$(( ${#fam[@]} > 0 )) \
      -v round="$round" -v variant="$variant" -v kind="$kind" -v target="$target_label" -v c="$c" -v note="$note" '
    BEGIN {
      secs = dur / 1e6; rate = req / secs
      others = (st - pt - mt - wt) / hz / secs * 100; if (others < 0) others = 0
      if (proxy) {
        cpu_us = sprintf("%.1f", pt / hz * 1e6 / req); cpu_pct = sprintf("%.0f%%", pt / hz / secs * 100)
        mem = sprintf("%.1f / %.1f", rss / 1024, hwm / 1024)
      } else { cpu_us = "–"; cpu_pct = "–"; mem = "–" }
      printf "| %s | %s | %s | %s | %d | %.0f | %.2f | %.2f | %s | %s | %s | %.0f%% | %.0f%% | %.0f%% | %s |\n",
        round, variant, kind, target, c, rate, p50 / 1000, p99 / 1000, cpu_us, cpu_pct, mem,
        (mt + wt) / hz / secs * 100, others, stl / hz / secs * 100, note
      printf "KEY %.3f %s\n", rate, (proxy ? pt / hz * 1e6 / req : 0)
    }' >"$tmp/row"
  rows+=("$(head -1 "$tmp/row")")
  local key="$variant|$kind|$target_label|$c" rate cpu
  read -r _ rate cpu < <(sed -n 2p "$tmp/row")
  rps[$key]="${rps[$key]:-} $rate"; cpr[$key]="${cpr[$key]:-} $cpu"
  log "$(head -1 "$tmp/row")"
}

# run_target TARGET KIND SCRIPT WORKERS: start the target fresh for each connection count.
run_target() {
  local target=$1 kind=$2 script=$3 workers=$4 c
  for c in $conns; do
    case $target in
      direct) target_label="direct (mockllm)" ;;
      nginx) target_label="nginx"
             start_nginx "$workers" "$([[ $kind == stream ]] && echo off || echo on)" ;;
      gatehouse) target_label="gatehouse"; start_gatehouse "$workers" false ;;
      gatehouse-log) target_label="gatehouse (access log on)"; start_gatehouse "$workers" true ;;
      gatehouse-records) target_label="gatehouse (records on)"; start_gatehouse "$workers" true records ;;
    esac
    measure "$target" "$c" "$script" "$kind"
    if [[ $target != direct ]]; then
      stop_pid "$proxy_pid"
      # A clean stop on SIGTERM exits 0; anything else (a crash at shutdown) is reported.
      if ((stop_rc != 0)); then
        local logf="$tmp/gatehouse.log"
        [[ $target == nginx ]] && logf="$tmp/nginx/logs/error.log"
        problems+=("round $round, $variant $kind $target_label c=$c: exit status $stop_rc after SIGTERM$( ((stop_rc > 128)) && echo " (signal $((stop_rc - 128)))"); last log line: \`$(tail -1 "$logf" 2>/dev/null | cut -c1-160)\`")
        log "${problems[-1]}"
      fi
    fi
  done
}

run_variant() { # run_variant pinned|unpinned
  variant=$1
  local workers mock_threads
  if [[ $variant == pinned ]]; then workers=1; mock_threads=1; else workers=$ncpu; mock_threads=$ncpu; fi
  start_mock "$mock_threads"
  run_target direct chat post.lua "$workers"
  run_target nginx chat post.lua "$workers"
  run_target gatehouse chat post.lua "$workers"
  if ((do_access_log)); then run_target gatehouse-log chat post.lua "$workers"; fi
  if ((do_records)); then run_target gatehouse-records chat post.lua "$workers"; fi
  if ((do_stream)) && [[ $variant == pinned ]]; then
    run_target direct stream stream.lua "$workers"
    run_target nginx stream stream.lua "$workers"
    run_target gatehouse stream stream.lua "$workers"
  fi
  stop_pid "$mock_pid"
}

# ---------------------------------------------------------------------------------------------
# run

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "started $started; ${duration}s runs after ${warmup}s warm-up; connections: $conns"
for ((round = 1; round <= rounds; round++)); do
  log "round $round of $rounds"
  run_variant pinned
  if ((do_unpinned)); then run_variant unpinned; fi
done

median() { # median "v1 v2 ..." → the median (mean of the middle two for an even count)
  tr ' ' '\n' <<<"$1" | { grep -v '^$' || true; } | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { # ratio NUM DEN → "0.87×" or "–"
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "–"; else printf "%.2f×\n", a / b }'
}

{
  rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=$(git -C "$root" status --porcelain -- src 2>/dev/null | head -1)
  echo "# Gatehouse benchmark — $started"
  echo
  echo "* machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r), load average (1/5/15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "* gatehouse: $gh_src built $(date -u -r "$gh_src" +%Y-%m-%dT%H:%M:%SZ); HEAD $rev${dirty:+ (src/ has uncommitted changes now)}; $(nginx -v 2>&1 | sed 's/^nginx version: //'); $( { wrk -v 2>&1 || true; } | head -1 | cut -d' ' -f1-2)"
  echo "* each row: ${warmup} s warm-up, then ${duration} s of \`wrk --latency\`; a fresh proxy process per row; $rounds round(s)"
  echo "* pinned: wrk -t1 + mockllm (1 thread) on core 0, proxy on core 1 (nginx 1 worker / gatehouse workers: 1)."
  echo "  unpinned: no taskset, wrk -t$ncpu, mockllm $ncpu threads, proxies with $ncpu workers."
  echo "  All started processes run at nice ${nice_level:-0}$( ((autogroup)) && echo " in their own session, scheduler autogroup nice ${nice_level}")."
  echo "* proxy CPU: utime+stime of the proxy's processes over the measured run (nginx: master + workers)"
  echo "  ÷ requests; \"proxy CPU %\" of one core. RSS / HWM: VmRSS after the run / peak VmHWM, MB."
  echo "  \"wrk+mock\": CPU of the load side; \"others\": the rest of the machine's busy time (noise)."
  echo
  echo "| round | variant | kind | target | conns | req/s | p50 ms | p99 ms | proxy CPU µs/req | proxy CPU % | RSS / HWM MB | wrk+mock CPU | others | steal | notes |"
  echo "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Ratios, gatehouse ÷ nginx (same run$( ((rounds > 1)) && echo ", medians of $rounds rounds")): throughput (≥ 0.8× is the target, ≥ 1.0× the aim), and CPU per request (lower is better)."
  echo
  echo "| variant | kind | conns | req/s ratio | req/s ratio, access log on | req/s ratio, records on | CPU/req ratio | CPU/req ratio, records on | nginx req/s | gatehouse req/s |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for v in pinned unpinned; do
    for kind in chat stream; do
      for c in $conns; do
        n="$v|$kind|nginx|$c"; g="$v|$kind|gatehouse|$c"; gl="$v|$kind|gatehouse (access log on)|$c"
        grec="$v|$kind|gatehouse (records on)|$c"
        [[ -n ${rps[$n]:-} && -n ${rps[$g]:-} ]] || continue
        nr=$(median "${rps[$n]}"); gr=$(median "${rps[$g]}"); glr=$(median "${rps[$gl]:-}")
        grr=$(median "${rps[$grec]:-}")
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f |\n' "$v" "$kind" "$c" \
          "$(ratio "$gr" "$nr")" "$(ratio "$glr" "$nr")" "$(ratio "$grr" "$nr")" \
          "$(ratio "$(median "${cpr[$g]}")" "$(median "${cpr[$n]}")")" \
          "$(ratio "$(median "${cpr[$grec]:-}")" "$(median "${cpr[$n]}")")" "$nr" "$gr"
      done
    done
  done
  if ((${#problems[@]})); then
    echo
    echo "Problems seen during the run:"
    echo
    printf -- '* %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

mkdir -p "$(dirname "$out")"
cp "$tmp/report.md" "$out"
if [[ $out == "$here/results/latest.md" ]]; then
  cp "$tmp/report.md" "$here/results/$(date -u +%Y%m%d-%H%M%S).md"
fi
cat "$tmp/report.md"
