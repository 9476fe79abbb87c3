// The store's schema: one ordered list of migration steps per table family, each with its version
// row in `meta`. Written once, in SQLite's dialect; the PostgreSQL store runs the same steps with
// SQLite's type names replaced by PostgreSQL's (pg::dialect, pg_db.h), so both engines hold the
// same tables and columns at the same versions (which `gatehouse store migrate` relies on).
//
// Append steps; never edit one that has shipped: a store at version N runs steps N+1.. in one
// transaction at open. Internal to gh_store.
#pragma once

#include <span>

namespace gatehouse::store::schema {

struct Family {
  const char* version_name;            // its row in `meta`
  std::span<const char* const> steps;  // step i brings the family to version i + 1
};

// The key store: keys, their tags, and the change counter the watchers poll.
inline constexpr const char* kKeySteps[] = {
    // 1: keys, their tags, and the change counter the watchers poll.
    R"sql(
    CREATE TABLE keys (
      id         INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL UNIQUE,
      digest     BLOB    NOT NULL UNIQUE CHECK (length(digest) = 32),
      prefix     TEXT    NOT NULL,
      role       TEXT    NOT NULL DEFAULT '',
      project    TEXT    NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL DEFAULT 0,
      revoked_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE key_tags (
      key_id   INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
      position INTEGER NOT NULL,
      name     TEXT    NOT NULL,
      value    TEXT    NOT NULL,
      PRIMARY KEY (key_id, name)
    );
    CREATE TABLE key_events (
      id      INTEGER PRIMARY KEY CHECK (id = 1),
      version INTEGER NOT NULL
    );
    INSERT INTO key_events (id, version) VALUES (1, 0);
    )sql",
};
inline constexpr Family kKeys{"keys.schema_version", kKeySteps};

// The records: usage, the inference log, the audit chain, the MCP tool calls.
inline constexpr const char* kRecordSteps[] = {
    // 1: usage, one row per model request.
    R"sql(
    CREATE TABLE usage (
      id                       INTEGER PRIMARY KEY,
      request_id               TEXT    NOT NULL,
      request_time             INTEGER NOT NULL,
      requester                TEXT    NOT NULL DEFAULT '',
      key_name                 TEXT    NOT NULL DEFAULT '',
      user_name                TEXT    NOT NULL DEFAULT '',
      project                  TEXT    NOT NULL DEFAULT '',
      end_user                 TEXT    NOT NULL DEFAULT '',
      usage_project            TEXT    NOT NULL DEFAULT '',
      model                    TEXT    NOT NULL DEFAULT '',
      served_model             TEXT    NOT NULL DEFAULT '',
      provider                 TEXT    NOT NULL DEFAULT '',
      input_token_count        INTEGER NOT NULL DEFAULT 0,
      cached_input_token_count INTEGER NOT NULL DEFAULT 0,
      output_token_count       INTEGER NOT NULL DEFAULT 0,
      usage_estimated          INTEGER NOT NULL DEFAULT 0,
      cost_usd                 REAL    NOT NULL DEFAULT 0,
      status_code              INTEGER NOT NULL,
      execution_duration_ms    REAL    NOT NULL DEFAULT 0,
      request_streaming        INTEGER NOT NULL DEFAULT 0,
      error_code               TEXT    NOT NULL DEFAULT ''
    );
    CREATE INDEX usage_by_time ON usage (request_time);
    )sql",
    // 2: how many upstream attempts a request took (routes retry and fall back).
    "ALTER TABLE usage ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
    // 3: the inference log (Databricks inference tables' columns where they mean the same) and
    //    the audit chain.
    R"sql(
    CREATE TABLE inference_log (
      id                      INTEGER PRIMARY KEY,
      request_id              TEXT    NOT NULL,
      request_time            INTEGER NOT NULL,
      requester               TEXT    NOT NULL DEFAULT '',
      key_name                TEXT    NOT NULL DEFAULT '',
      user_name               TEXT    NOT NULL DEFAULT '',
      project                 TEXT    NOT NULL DEFAULT '',
      model                   TEXT    NOT NULL DEFAULT '',
      served_model            TEXT    NOT NULL DEFAULT '',
      provider                TEXT    NOT NULL DEFAULT '',
      status_code             INTEGER NOT NULL,
      execution_duration_ms   REAL    NOT NULL DEFAULT 0,
      upstream_duration_ms    REAL    NOT NULL DEFAULT 0,
      time_to_first_token_ms  REAL,
      input_token_count       INTEGER NOT NULL DEFAULT 0,
      output_token_count      INTEGER NOT NULL DEFAULT 0,
      cost_usd                REAL    NOT NULL DEFAULT 0,
      request_streaming       INTEGER NOT NULL DEFAULT 0,
      error_code              TEXT    NOT NULL DEFAULT '',
      request                 TEXT,
      response                TEXT,
      payload_truncated       INTEGER NOT NULL DEFAULT 0,
      decisions               TEXT    NOT NULL DEFAULT '{}'
    );
    CREATE INDEX inference_by_time ON inference_log (request_time);
    CREATE TABLE audit (
      id         INTEGER PRIMARY KEY,
      time       INTEGER NOT NULL,
      kind       TEXT    NOT NULL,
      actor      TEXT    NOT NULL DEFAULT '',
      subject    TEXT    NOT NULL DEFAULT '',
      detail     TEXT    NOT NULL DEFAULT '{}',
      request_id TEXT    NOT NULL DEFAULT '',
      prev_hash  TEXT    NOT NULL,
      hash       TEXT    NOT NULL
    );
    )sql",
    // 4: the MCP tool calls (one row per tools/call, whatever its outcome).
    R"sql(
    CREATE TABLE mcp_calls (
      id                INTEGER PRIMARY KEY,
      request_id        TEXT    NOT NULL,
      request_time      INTEGER NOT NULL,
      requester         TEXT    NOT NULL DEFAULT '',
      key_name          TEXT    NOT NULL DEFAULT '',
      user_name         TEXT    NOT NULL DEFAULT '',
      project           TEXT    NOT NULL DEFAULT '',
      endpoint          TEXT    NOT NULL DEFAULT '',
      server            TEXT    NOT NULL DEFAULT '',
      tool              TEXT    NOT NULL DEFAULT '',
      outcome           TEXT    NOT NULL,
      error             TEXT    NOT NULL DEFAULT '',
      duration_ms       REAL    NOT NULL DEFAULT 0,
      arguments         TEXT,
      result            TEXT,
      payload_truncated INTEGER NOT NULL DEFAULT 0,
      guardrails        TEXT    NOT NULL DEFAULT '',
      approval_id       TEXT    NOT NULL DEFAULT '',
      trace_id          TEXT    NOT NULL DEFAULT ''
    );
    CREATE INDEX mcp_calls_by_time ON mcp_calls (request_time);
    CREATE INDEX mcp_calls_by_request ON mcp_calls (request_id);
    )sql",
    // 5: the time a request waited for providers (the gateway's overhead is the rest of its
    //    duration); -1 on rows written before this step (not measured).
    "ALTER TABLE usage ADD COLUMN upstream_duration_ms REAL NOT NULL DEFAULT -1;",
    // 6: what the admin API reads fast: usage rolled up per minute, hour and UTC day, overall and
    //    per model, project, key, user and end user (usage_rollup; users and end users, often
    //    thousands, per hour and day only: a minute row per request adds nothing); latency and gateway-overhead
    //    histograms per bucket (usage_latency, bins in latency_bins; store/usage_rollup.h keeps
    //    the same bounds); both filled from the usage rows already stored, then kept up to date by
    //    every record batch in its own transaction. Indexes for the logs' filters and lookups.
    R"sql(
    CREATE TABLE usage_rollup (
      granularity   TEXT    NOT NULL,
      bucket_ms     INTEGER NOT NULL,
      dim           TEXT    NOT NULL,
      value         TEXT    NOT NULL,
      requests      INTEGER NOT NULL DEFAULT 0,
      errors        INTEGER NOT NULL DEFAULT 0,
      input_tokens  INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      cost_usd      REAL    NOT NULL DEFAULT 0,
      PRIMARY KEY (granularity, dim, bucket_ms, value)
    );
    CREATE TABLE usage_latency (
      granularity TEXT    NOT NULL,
      bucket_ms   INTEGER NOT NULL,
      kind        TEXT    NOT NULL,
      bin         INTEGER NOT NULL,
      requests    INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (granularity, bucket_ms, kind, bin)
    );
    CREATE TABLE latency_bins (
      bin   INTEGER NOT NULL PRIMARY KEY,
      lower REAL    NOT NULL,
      upper REAL    NOT NULL
    );
    CREATE INDEX latency_bins_by_upper ON latency_bins (upper);
    INSERT INTO latency_bins (bin, lower, upper) VALUES
      (0, 0, 0.1), (1, 0.1, 0.15), (2, 0.15, 0.2), (3, 0.2, 0.3), (4, 0.3, 0.5), (5, 0.5, 0.7),
      (6, 0.7, 1), (7, 1, 1.5), (8, 1.5, 2), (9, 2, 3), (10, 3, 5), (11, 5, 7),
      (12, 7, 10), (13, 10, 15), (14, 15, 20), (15, 20, 30), (16, 30, 50), (17, 50, 70),
      (18, 70, 100), (19, 100, 150), (20, 150, 200), (21, 200, 300), (22, 300, 500), (23, 500, 700),
      (24, 700, 1000), (25, 1000, 1500), (26, 1500, 2000), (27, 2000, 3000), (28, 3000, 5000), (29, 5000, 7000),
      (30, 7000, 10000), (31, 10000, 15000), (32, 15000, 20000), (33, 20000, 30000), (34, 30000, 50000), (35, 50000, 70000),
      (36, 70000, 100000), (37, 100000, 150000), (38, 150000, 200000), (39, 200000, 300000), (40, 300000, 500000), (41, 500000, 700000),
      (42, 700000, 1e18);
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'm', request_time / 60000 * 60000, 'all', '', count(*), sum(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), sum(input_token_count),
           sum(output_token_count), sum(cost_usd)
    FROM usage GROUP BY request_time / 60000 * 60000;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'm', request_time / 60000 * 60000, 'model', model, count(*), sum(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), sum(input_token_count),
           sum(output_token_count), sum(cost_usd)
    FROM usage GROUP BY request_time / 60000 * 60000, model;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'm', request_time / 60000 * 60000, 'project', project, count(*), sum(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), sum(input_token_count),
           sum(output_token_count), sum(cost_usd)
    FROM usage GROUP BY request_time / 60000 * 60000, project;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'm', request_time / 60000 * 60000, 'key', key_name, count(*), sum(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), sum(input_token_count),
           sum(output_token_count), sum(cost_usd)
    FROM usage GROUP BY request_time / 60000 * 60000, key_name;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'h', request_time / 3600000 * 3600000, 'user', user_name, count(*), sum(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END),
           sum(input_token_count), sum(output_token_count), sum(cost_usd)
    FROM usage GROUP BY request_time / 3600000 * 3600000, user_name;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'h', request_time / 3600000 * 3600000, 'end_user', end_user, count(*), sum(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END),
           sum(input_token_count), sum(output_token_count), sum(cost_usd)
    FROM usage GROUP BY request_time / 3600000 * 3600000, end_user;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'h', bucket_ms / 3600000 * 3600000, dim, value, sum(requests), sum(errors), sum(input_tokens),
           sum(output_tokens), sum(cost_usd)
    FROM usage_rollup WHERE granularity = 'm' GROUP BY bucket_ms / 3600000 * 3600000, dim, value;
    INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens,
                              output_tokens, cost_usd)
    SELECT 'd', bucket_ms / 86400000 * 86400000, dim, value, sum(requests), sum(errors), sum(input_tokens),
           sum(output_tokens), sum(cost_usd)
    FROM usage_rollup WHERE granularity = 'h' GROUP BY bucket_ms / 86400000 * 86400000, dim, value;
    INSERT INTO usage_latency (granularity, bucket_ms, kind, bin, requests)
    SELECT 'm', b, 'latency', bin, count(*) FROM (
      SELECT request_time / 60000 * 60000 AS b,
             (SELECT l.bin FROM latency_bins l WHERE l.upper > execution_duration_ms ORDER BY l.upper LIMIT 1) AS bin
      FROM usage) x GROUP BY b, bin;
    INSERT INTO usage_latency (granularity, bucket_ms, kind, bin, requests)
    SELECT 'm', b, 'overhead', bin, count(*) FROM (
      SELECT request_time / 60000 * 60000 AS b,
             (SELECT l.bin FROM latency_bins l
              WHERE l.upper > CASE WHEN execution_duration_ms > upstream_duration_ms
                                   THEN execution_duration_ms - upstream_duration_ms ELSE 0 END
              ORDER BY l.upper LIMIT 1) AS bin
      FROM usage WHERE upstream_duration_ms >= 0) x GROUP BY b, bin;
    INSERT INTO usage_latency (granularity, bucket_ms, kind, bin, requests)
    SELECT 'h', bucket_ms / 3600000 * 3600000, kind, bin, sum(requests)
    FROM usage_latency WHERE granularity = 'm' GROUP BY bucket_ms / 3600000 * 3600000, kind, bin;
    INSERT INTO usage_latency (granularity, bucket_ms, kind, bin, requests)
    SELECT 'd', bucket_ms / 86400000 * 86400000, kind, bin, sum(requests)
    FROM usage_latency WHERE granularity = 'h' GROUP BY bucket_ms / 86400000 * 86400000, kind, bin;
    CREATE INDEX inference_by_request ON inference_log (request_id);
    CREATE INDEX inference_by_model ON inference_log (model, request_time, id);
    CREATE INDEX inference_by_key ON inference_log (key_name, request_time, id);
    CREATE INDEX inference_by_status ON inference_log (status_code, request_time, id);
    CREATE INDEX inference_by_class ON inference_log ((status_code / 100), request_time, id);
    CREATE INDEX mcp_calls_by_server ON mcp_calls (server, request_time, id);
    CREATE INDEX mcp_calls_by_tool ON mcp_calls (tool, request_time, id);
    CREATE INDEX mcp_calls_by_outcome ON mcp_calls (outcome, request_time, id);
    CREATE INDEX audit_by_kind ON audit (kind, id);
    )sql",
};
inline constexpr Family kRecords{"records.schema_version", kRecordSteps};

// Stored Responses API answers.
inline constexpr const char* kResponseSteps[] = {
    // 1: stored responses.
    R"sql(
    CREATE TABLE responses (
      id                   TEXT    PRIMARY KEY,
      owner                TEXT    NOT NULL,
      created_ms           INTEGER NOT NULL,
      expires_ms           INTEGER NOT NULL,
      model                TEXT    NOT NULL DEFAULT '',
      previous_response_id TEXT    NOT NULL DEFAULT '',
      input_items          TEXT    NOT NULL DEFAULT '[]',
      response             TEXT    NOT NULL
    );
    CREATE INDEX responses_expiry ON responses (expires_ms);
    )sql",
};
inline constexpr Family kResponses{"responses.schema_version", kResponseSteps};

// The MCP gateway: pinned tool definitions, their change counter, held calls.
inline constexpr const char* kMcpSteps[] = {
    // 1: pinned tool definitions, their change counter, held calls.
    R"sql(
    CREATE TABLE mcp_tool_pins (
      server             TEXT    NOT NULL,
      tool               TEXT    NOT NULL,
      sha256             TEXT    NOT NULL,
      definition         TEXT    NOT NULL,
      pinned_at_ms       INTEGER NOT NULL,
      pending_sha256     TEXT    NOT NULL DEFAULT '',
      pending_definition TEXT    NOT NULL DEFAULT '',
      pending_since_ms   INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (server, tool)
    );
    CREATE TABLE mcp_tool_pin_events (
      id      INTEGER PRIMARY KEY CHECK (id = 1),
      version INTEGER NOT NULL
    );
    INSERT INTO mcp_tool_pin_events (id, version) VALUES (1, 0);
    CREATE TABLE mcp_approvals (
      id         TEXT    PRIMARY KEY,
      request_id TEXT    NOT NULL DEFAULT '',
      requester  TEXT    NOT NULL DEFAULT '',
      key_name   TEXT    NOT NULL DEFAULT '',
      server     TEXT    NOT NULL,
      tool       TEXT    NOT NULL,
      arguments  TEXT    NOT NULL DEFAULT '{}',
      status     TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
      reason     TEXT    NOT NULL DEFAULT '',
      decided_by TEXT    NOT NULL DEFAULT '',
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER NOT NULL,
      decided_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX mcp_approvals_pending ON mcp_approvals (status, created_ms);
    )sql",
};
inline constexpr Family kMcp{"mcp.schema_version", kMcpSteps};

// Costs imported from outside the gateway (docs/billing.md): Databricks DBUs and their list-price
// cost per day and project, and the last import's outcome (one row; `claimed_at` is when a
// replica took the daily import, so replicas sharing the store do not all run it).
inline constexpr const char* kBillingSteps[] = {
    // 1: DBU cost per day and project, the import's row.
    R"sql(
    CREATE TABLE billing_dbu (
      day         TEXT    NOT NULL,
      project     TEXT    NOT NULL,
      dbus        REAL    NOT NULL,
      cost_usd    REAL,
      currency    TEXT    NOT NULL DEFAULT '',
      imported_at INTEGER NOT NULL,
      PRIMARY KEY (day, project)
    );
    CREATE TABLE billing_import (
      id         INTEGER PRIMARY KEY CHECK (id = 1),
      run_at     INTEGER NOT NULL,
      ok         INTEGER NOT NULL,
      row_count  INTEGER NOT NULL,
      error      TEXT    NOT NULL DEFAULT '',
      from_day   TEXT    NOT NULL DEFAULT '',
      to_day     TEXT    NOT NULL DEFAULT '',
      claimed_at INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO billing_import (id, run_at, ok, row_count) VALUES (1, 0, 0, 0);
    )sql",
};
inline constexpr Family kBilling{"billing.schema_version", kBillingSteps};

}  // namespace gatehouse::store::schema
