#!/usr/bin/env bash
# The admin API on a large store (docs/benchmarks.md, "Admin API on a large store"): a SQLite
# store with USAGE_ROWS usage rows and INFERENCE_ROWS inference log rows over DAYS days, its
# rollups built by schema step 6's backfill (timed), then every record endpoint called N times
# against a running gatehouse; prints the median and the slowest call per endpoint (ms).
#
#   bench/admin_queries.sh [--usage N] [--inference N] [--days D] [--calls N] [--keep DIR]
#
# Needs the sqlite3 shell and curl; GATEHOUSE_BIN overrides the binary (default build/me,
# then build/release). It is a benchmark, not a test: it fails only when a call fails.
set -Eeuo pipefail
trap 'echo "admin_queries.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

usage_rows=2000000 inference_rows=1000000 days=30 calls=21 keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --usage) usage_rows=$2; shift 2 ;;
    --inference) inference_rows=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${GATEHOUSE_BIN:-}
if [[ -z "$bin" ]]; then
  for b in "$root/build/me/gatehouse" "$root/build/release/gatehouse"; do [[ -x "$b" ]] && { bin=$b; break; }; done
fi
[[ -x "$bin" ]] || { echo "no gatehouse binary (set GATEHOUSE_BIN)" >&2; exit 1; }
dir=${keep:-$(mktemp -d /tmp/gh-admin-bench-XXXXXX)}
mkdir -p "$dir"
db="$dir/gh.db"
admin_key="gh-bench-admin-key-000000000000"
key_sha=$(printf '%s' "$admin_key" | sha256sum | cut -d' ' -f1)
cat > "$dir/gh.yaml" <<YAML
server: {listen: "127.0.0.1:0", workers: 2}
providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", auth: {token: "x"}}
models:
  chat-small: {provider: local}
keys:
  - {name: admin, sha256: "$key_sha", role: ops}
roles:
  ops: {models: ["*"], admin: true}
store: {sqlite: "$db"}
records:
  inference_log: {models: ["*"], payloads: true, retention_days: 0}
YAML

now_ms=$(( $(date +%s) * 1000 ))
start_ms=$(( now_ms - days * 86400000 ))
if [[ ! -s "$db" ]]; then
  echo "creating $db: $usage_rows usage rows, $inference_rows inference rows over $days days" >&2
  "$bin" usage --config "$dir/gh.yaml" --since 1h > /dev/null   # creates the schema
  t0=$(date +%s.%N)
  # Back to schema version 5 (no rollups, no step-6 indexes), rows in, then step 6 runs at the
  # next open: the backfill a store upgraded in place goes through.
  sqlite3 "$db" > /dev/null <<SQL
PRAGMA journal_mode=WAL;
DROP TABLE usage_rollup; DROP TABLE usage_latency; DROP TABLE latency_bins;
DROP INDEX inference_by_request; DROP INDEX inference_by_model; DROP INDEX inference_by_key;
DROP INDEX inference_by_status; DROP INDEX inference_by_class; DROP INDEX mcp_calls_by_server;
DROP INDEX mcp_calls_by_tool; DROP INDEX mcp_calls_by_outcome; DROP INDEX audit_by_kind;
UPDATE meta SET value = '5' WHERE name = 'records.schema_version';
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $usage_rows - 1)
INSERT INTO usage (request_id, request_time, requester, key_name, user_name, project, end_user, model,
                   served_model, provider, input_token_count, output_token_count, cost_usd, status_code,
                   execution_duration_ms, upstream_duration_ms, request_streaming)
SELECT printf('req-%d', i), $start_ms + i * ($days * 86400000 / $usage_rows),
       'key-' || (i % 40), 'key-' || (i % 40), 'user-' || (i % 500), 'project-' || (i % 12),
       'end-user-' || (i * 7 % 5000), 'model-' || (i % 6), 'model-' || (i % 6), 'local',
       100 + i % 900, 10 + i % 300, (100 + i % 900) * 0.000001 + (10 + i % 300) * 0.000002,
       CASE WHEN i % 50 = 0 THEN 429 WHEN i % 97 = 0 THEN 502 ELSE 200 END,
       50 + (i * 37 % 3000), 48 + (i * 37 % 3000) - (i % 7) * 0.3, i % 2
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $inference_rows - 1)
INSERT INTO inference_log (request_id, request_time, requester, key_name, user_name, project, model,
                           served_model, provider, status_code, execution_duration_ms, upstream_duration_ms,
                           input_token_count, output_token_count, cost_usd, request, response)
SELECT printf('req-%d', i * 2), $start_ms + i * ($days * 86400000 / $inference_rows),
       'key-' || (i % 40), 'key-' || (i % 40), 'user-' || (i % 500), 'project-' || (i % 12), 'model-' || (i % 6),
       'model-' || (i % 6), 'local', CASE WHEN i % 50 = 0 THEN 429 WHEN i % 97 = 0 THEN 502 ELSE 200 END,
       50 + (i * 37 % 3000), 48 + (i * 37 % 3000), 100, 10, 0.0001,
       '{"model":"model-1","messages":[{"role":"user","content":"hello there, how are you"}]}',
       '{"object":"chat.completion","choices":[{"message":{"role":"assistant","content":"fine"}}]}'
FROM n;
COMMIT;
SQL
  t1=$(date +%s.%N)
  echo "rows inserted in $(echo "$t1 - $t0" | bc) s" >&2
  "$bin" usage --config "$dir/gh.yaml" --since 1h > /dev/null   # runs step 6: rollups and indexes
  t2=$(date +%s.%N)
  echo "schema step 6 (rollup backfill + indexes) took $(echo "$t2 - $t1" | bc) s" >&2
fi
echo "store: $(du -h "$db" | cut -f1), $(sqlite3 "$db" 'SELECT count(*) FROM usage_rollup') rollup rows, $(sqlite3 "$db" 'SELECT count(*) FROM usage_latency') histogram rows" >&2

log="$dir/gatehouse.log"
"$bin" serve --config "$dir/gh.yaml" > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 200); do
  port=$(grep -oE 'listening on [^ ]+:[0-9]+ \(' "$log" | head -1 | grep -oE ':[0-9]+ ' | tr -d ': ') || true
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { cat "$log" >&2; exit 1; }
base="http://127.0.0.1:$port"

from_s=$(( start_ms / 1000 )) mid_s=$(( start_ms / 1000 + days * 86400 / 2 ))
cursor=$(curl -sf -H "authorization: Bearer $admin_key" "$base/admin/v1/logs?limit=50&to=$mid_s" |
         grep -oE '"next_cursor":"[^"]+"' | cut -d'"' -f4)
one_id=$(sqlite3 "$db" "SELECT request_id FROM inference_log WHERE id = $(( inference_rows / 2 ))")
endpoints=(
  "usage/series?range=hour"
  "usage/series?range=day&by=model"
  "usage/series?range=week&by=key"
  "usage/series?range=month&by=project"
  "usage/series?from=$from_s&by=key"
  "usage/groups?by=key"
  "usage/groups?by=end_user&limit=500"
  "usage/groups?by=user&from=$((from_s + 1234))&to=$((mid_s + 4321))"
  "usage/groups?by=end_user&format=csv"
  "logs?limit=50"
  "logs?limit=200&cursor=$cursor"
  "logs?model=model-3&status=5xx&limit=50"
  "logs?key=key-7&limit=50&to=$mid_s"
  "logs?status=429&limit=200"
  "logs/$one_id"
  "audit?limit=50"
  "budgets"
)
printf '| endpoint | median ms | max ms | bytes |\n|---|---:|---:|---:|\n'
for ep in "${endpoints[@]}"; do
  times=()
  for _ in $(seq 1 "$calls"); do
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}' -H "authorization: Bearer $admin_key" "$base/admin/v1/$ep")
    read -r code t size <<< "$out"
    [[ "$code" == 200 ]] || { echo "$ep: HTTP $code" >&2; curl -s -H "authorization: Bearer $admin_key" "$base/admin/v1/$ep" >&2; exit 1; }
    times+=("$t")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  median=$(echo "$sorted" | sed -n "$(( (calls + 1) / 2 ))p")
  max=$(echo "$sorted" | tail -1)
  printf '| `%s` | %.1f | %.1f | %s |\n' "${ep//$cursor/CURSOR}" "$(echo "$median * 1000" | bc)" "$(echo "$max * 1000" | bc)" "$size"
done
kill $pid; wait $pid 2>/dev/null || true
[[ -n "$keep" ]] || rm -rf "$dir"
