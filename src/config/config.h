// The validated, immutable configuration. A Config is built once from a file (load.h), then
// shared read-only by every request that started under it (shared_ptr<const Config>).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/scanner.h"
#include "guard/spec.h"

namespace gatehouse::config {

using Millis = std::chrono::milliseconds;

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  std::string listen_port = "8080";
  int workers = 0;                         // 0: one per core
  std::size_t max_body_bytes = 10 << 20;   // request bodies above this get 413
  std::size_t max_header_bytes = 16 << 10; // request headers above this get 400
  Millis header_timeout{30'000};           // a request's headers and body must arrive in this
  Millis keepalive_timeout{75'000};        // an idle keep-alive connection is closed after this
  Millis drain_timeout{15'000};            // SIGTERM waits this long for in-flight requests
  // server.admin_listen: a second address for /admin/v1/ and the console (/ui/); when set, they
  // are served there only (the main listener answers 404 for them). Empty: the main listener.
  std::string admin_host;
  std::string admin_port;
};

// The admin console (/ui/; docs/console.md): how its sign-in sessions are sealed and how long
// they last.
struct ConsoleConfig {
  bool enabled = true;
  // Seals the session cookies (AES-256-GCM, key derived with SHA-256). Replicas behind one
  // address need the same secret; empty: a random one per process (sessions end at restart).
  std::string session_secret;
  std::chrono::seconds session_ttl{8 * 3600};
};

struct ProviderTimeouts {
  Millis connect{5'000};        // TCP connect + TLS handshake
  Millis first_byte{120'000};   // request sent -> response headers
  Millis idle{60'000};          // between two reads of a streamed body
  Millis total{600'000};        // the whole upstream exchange
};

enum class ProviderKind {
  kOpenAICompatible,  // any server speaking OpenAI's chat/embeddings API (OpenAI itself, vLLM, ...)
  kAnthropic,         // Anthropic's Messages API
  kDatabricks,        // Databricks Model Serving: /serving-endpoints/{name}/invocations
};

std::string_view to_string(ProviderKind kind);

struct ProviderConfig {
  std::string name;
  ProviderKind kind = ProviderKind::kOpenAICompatible;
  // base_url, split: scheme decides TLS; base_path has no trailing slash ("/v1").
  std::string base_url;
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;
  std::string token;            // the provider credential: "Authorization: Bearer" (x-api-key for
                                // anthropic); empty: no auth header
  // OAuth machine-to-machine (client credentials) instead of a token: Databricks service
  // principals. The token is fetched from token_path on the provider's host.
  std::string client_id;
  std::string client_secret;
  std::string token_path = "/oidc/v1/token";
  std::string oauth_scope = "all-apis";
  // Forward the caller's own bearer token instead of a gateway credential (Databricks
  // on-behalf-of: Unity Catalog sees the real user). The token must be a valid JWT.
  bool auth_passthrough = false;
  // anthropic only
  std::string anthropic_version = "2023-06-01";
  int default_max_tokens = 4096;  // sent when a translated request names no max_tokens
  // responses: native — the provider speaks OpenAI's Responses API itself (OpenAI; a Databricks
  // agent endpoint): a Responses request passes through (model replaced). Otherwise (translate,
  // the default) it is translated to chat. openai-compatible and databricks providers only.
  bool responses_native = false;
  ProviderTimeouts timeouts;
  std::string ca_file;          // extra CA bundle to trust (PEM); the system store is always used
  bool verify_tls = true;       // false only for local testing; logged loudly at start-up
  std::size_t pool_max_idle = 64;  // idle keep-alive connections kept per worker
  Millis pool_idle_timeout{30'000};
};

// How sensitive a request's data is, lowest first. A model declares the highest class it may
// receive; a role the classes its callers may send.
enum class DataClass { kPublic, kInternal, kConfidential, kRestricted };
std::string_view to_string(DataClass c);
std::optional<DataClass> parse_data_class(std::string_view s);

// What a model costs, in US dollars per million tokens.
struct Price {
  double input_per_million = 0;
  double output_per_million = 0;
  double cached_input_per_million = -1;  // < 0: as input_per_million
  bool set = false;                      // false: no price known (requests cost 0)
};

// The list prices Gatehouse ships for Databricks Foundation Model API endpoints (by endpoint
// name, e.g. "databricks-meta-llama-3-3-70b-instruct"), used when a databricks model gives no
// `price`; nullopt for other names.
std::optional<Price> databricks_list_price(std::string_view endpoint);

// A virtual model's route: which models serve it, how one is chosen, when to try another.
enum class RouteStrategy {
  kPriority,  // the first healthy target, in the order given
  kWeighted,  // split by weight (smooth weighted round robin)
  kLatency,   // the lowest recent latency (time to first byte for streams), exploring the others
};
std::string_view to_string(RouteStrategy s);

// Failures a route falls back (and retries) on.
enum FailureClass : unsigned {
  kFail5xx = 1,           // the provider answered 500-599
  kFail429 = 2,           // the provider answered 429
  kFailTimeout = 4,       // a connect, first-byte, idle or total timeout
  kFailConnect = 8,       // could not connect, or the connection broke before an answer
};

struct RouteTarget {
  std::string model;      // a model with a provider (not another route)
  int weight = 1;         // weighted strategy
  // Per-target timeouts, each overriding the provider's when set.
  std::optional<Millis> connect, first_byte, idle, total;
};

struct RouteConfig {
  RouteStrategy strategy = RouteStrategy::kPriority;
  std::vector<RouteTarget> targets;
  unsigned fallback_on = kFail5xx | kFail429 | kFailTimeout | kFailConnect;
  int retries = 0;                       // further attempts on the same target (retryable failures)
  Millis backoff{100};                   // before the first retry; doubled each time, with jitter
  int cooldown_failures = 3;             // consecutive failures that put a target in cooldown
  std::chrono::seconds cooldown{300};    // how long a failing target is skipped
};

// Which guardrails (names under the top-level `guardrails`) check what a model reads (input) and
// writes (output), in order. A model's and a role's both apply, the model's first.
struct GuardrailLists {
  std::vector<std::string> input, output;
  bool operator==(const GuardrailLists&) const = default;
};

struct ModelConfig {
  std::string name;
  std::string provider;         // key into Config::providers; empty for a route
  std::string upstream_model;   // replaces "model" in the forwarded body
  std::optional<DataClass> max_data_class;  // none: any class
  Price price;                  // `price:`, or the provider's list price when known
  std::optional<RouteConfig> route;  // a virtual model: served by its targets
  // The model takes OpenAI's `reasoning_effort` (an OpenAI-shaped provider's reasoning model):
  // an Anthropic client's output_config.effort is translated to it instead of being dropped.
  bool reasoning_effort = false;
  // responses: native | translate for this model (a Databricks agent endpoint beside Foundation
  // Model endpoints on one workspace); unset: the provider's setting.
  std::optional<bool> responses_native;
  // guardrails: {input: [...], output: [...]}: names under the top-level `guardrails`.
  GuardrailLists guardrails;
};

// limits: rate limits per minute and in flight. A rule with an empty `match` is the default for
// every member of its scope (every key, every user, ...); docs/limits.md has the precedence.
enum class LimitScope { kModel, kKey, kUser, kGroup, kProject, kTool };
std::string_view to_string(LimitScope s);

struct LimitRule {
  LimitScope scope = LimitScope::kKey;
  std::string match;          // empty: the scope's default (kTool: a glob over "server/tool")
  long long qpm = 0;          // requests per minute; 0: not limited by this rule
  long long tpm = 0;          // tokens (input + output) per minute; 0: not limited
  long long concurrency = 0;  // requests in flight at once; 0: not limited
};

// budgets: US dollars per key or project and period.
enum class BudgetScope { kKey, kProject };
enum class BudgetPeriod { kDaily, kWeekly, kMonthly, kTotal };  // the order of limit::Period
std::string_view to_string(BudgetScope s);

struct BudgetRule {
  BudgetScope scope = BudgetScope::kKey;
  std::string match;      // empty: every key (or project) gets this budget
  double usd = 0;
  BudgetPeriod period = BudgetPeriod::kMonthly;
  double warn_at = 0;     // fraction of usd at which to warn once per period; 0: never
};

// records.inference_log: requests and answers of the models it names, kept in the store.
struct InferenceLogConfig {
  bool enabled = false;
  std::vector<std::string> models;  // globs; a request is logged when its model matches one
  bool payloads = true;             // keep request and response bodies (else only the metadata)
  double sample = 1.0;              // fraction of matching requests logged (0-1)
  int retention_days = 30;          // older rows are deleted (0: kept for ever)
  std::size_t max_payload_bytes = 1 << 20;  // a longer body is cut (and marked truncated)
};

// records: what is written to the store off the request path.
struct RecordsConfig {
  Millis flush{200};      // a batch is written at least this often (the most a kill -9 loses)
  std::size_t queue_rows = 50'000;  // beyond this, inference rows are shed (usage and audit never)
  InferenceLogConfig inference_log;
};

// metrics: Prometheus text exposition at GET /metrics.
struct MetricsConfig {
  bool enabled = false;
};

// tracing: OpenTelemetry spans over OTLP/HTTP (JSON).
struct TracingConfig {
  bool enabled = false;
  std::string otlp_endpoint;    // e.g. http://127.0.0.1:4318/v1/traces
  std::string service_name = "gatehouse";
  Millis export_every{1000};    // batches are sent at least this often
  std::string ca_file;          // https: an extra CA bundle to trust (PEM); the system store always
  // Sent with every export (a collector's API key, e.g. {authorization: "Bearer ${OTLP_TOKEN}"}):
  // values are secrets, never logged.
  std::map<std::string, std::string> headers;

  bool operator==(const TracingConfig&) const = default;
};

using Sha256 = std::array<std::uint8_t, 32>;

struct KeyConfig {
  std::string name;
  Sha256 sha256{};
  std::string role;     // a name under roles; empty: none (denied everything once roles exist)
  std::string project;  // for attribution and the kill switch
};

// auth.jwt: callers may present their identity provider's tokens instead of gateway keys.
struct JwtConfig {
  bool enabled = false;
  std::string issuer;           // the "iss" a token must carry
  std::string audience;         // one of its "aud" values
  std::string jwks_url;         // where the signing keys are (refreshed in the background)
  std::string jwks_file;        // or a file holding them (read at load and reload)
  std::string user_claim = "sub";
  std::string groups_claim = "groups";
  Millis leeway{60'000};        // clock skew tolerated on exp/nbf
  Millis jwks_refresh{600'000}; // how often jwks_url is fetched again
};

struct RoleConfig {
  std::string name;
  std::vector<std::string> models;          // globs ('*' any run of characters, '?' one)
  long long max_tokens_per_request = 0;     // 0: no limit
  std::vector<DataClass> data_classes;      // empty with !data_classes_set: every class
  bool data_classes_set = false;
  bool admin = false;                       // may use /admin/v1/...
  GuardrailLists guardrails;                // applied to every request of a caller with this role
  // MCP tools the role may call: globs over "server/tool" (mcp.servers names). Empty: none.
  std::vector<std::string> tools;
};

// Where keys created at run time (gatehouse keys create, /admin/v1/keys), the records, stored
// responses and MCP tables are kept: a SQLite file (one host) or a PostgreSQL database (several
// gateway replicas share it). At most one of the two is set.
struct StoreConfig {
  std::string sqlite_path;   // store.sqlite; empty: not SQLite
  std::string postgres_url;  // store.postgres (a libpq URL; holds a password: never print it raw)

  // Whether the config names a store at all (else only the keys in the file).
  bool configured() const { return !sqlite_path.empty() || !postgres_url.empty(); }
  // The config key that named the store, for messages: "store.sqlite" or "store.postgres".
  std::string field() const { return postgres_url.empty() ? "store.sqlite" : "store.postgres"; }
  // What to show a person: the file, or the URL with its password redacted.
  std::string shown() const;
  // What the store was opened from (compared to reuse a store across reloads). Holds the
  // password of a PostgreSQL URL: compare it, never print it.
  std::string source() const { return postgres_url.empty() ? sqlite_path : postgres_url; }
};

// `url` with the password of its user-info (postgresql://user:PASSWORD@host/db) and of a
// `password=` query parameter replaced by "***", so it can go into a log line or a message.
std::string redact_url_password(std::string_view url);

// responses: what the gateway keeps of Responses API answers (docs/responses.md). Kept in the
// store (none: nothing is kept and previous_response_id is refused).
// state: where counters several replicas must share live (docs/scale-out.md). Without it, in
// this process.
struct RedisConfig {
  std::string url;  // as written (its password never printed); empty: no Redis
  std::string host, port = "6379";
  int db = 0;
  std::string username, password;  // AUTH (the URL's, or `password:`, which wins)
  bool tls = false;                // rediss:// (refused at load: not supported yet)
  Millis timeout{50};              // no request waits longer than this on Redis
  bool deny_on_error = false;      // on_error: deny (503) instead of local (per-replica counting)
  Millis lease{30'000};            // a dead replica's concurrency slots and budget reservations return after this
  bool enabled() const { return !host.empty(); }
  bool operator==(const RedisConfig&) const = default;
};
struct StateConfig {
  RedisConfig redis;
};

struct ResponsesConfig {
  bool store = true;           // false: keep nothing, whatever a request's `store` says
  int retention_days = 30;     // a stored response is deleted this long after it was made
  int max_chain = 1000;        // previous_response_id links followed at most (a longer chain is a 400)
};

// billing: what else the projects cost, imported beside model spend (docs/billing.md).
// databricks: DBUs and their list-price cost per project and day, from the account's
// system.billing tables through a SQL warehouse of a configured databricks provider's workspace.
struct DatabricksBillingConfig {
  std::string warehouse_id;
  std::string tag = "project";  // the custom tag whose value is the project
  std::string provider;         // the databricks provider whose host and credentials are used
  int days = 30;                // each import covers today and the days before, this many in all
  int at_minute = 120;          // the daily import's time: minutes after 00:00 UTC ("02:00")
  bool operator==(const DatabricksBillingConfig&) const = default;
};
struct BillingConfig {
  std::optional<DatabricksBillingConfig> databricks;  // nullopt: not configured ("not measured")
};

struct LogConfig {
  std::string level = "info";   // trace|debug|info|warn|error
  bool access_log = true;       // one line per request
};

// mcp: the MCP gateway (docs/mcp.md).
// An upstream MCP server: a Streamable HTTP URL, or a command the gateway starts (stdio).
struct McpServerConfig {
  std::string name;
  // HTTP servers: the URL and its connection settings, as a provider's (base_path is the MCP
  // endpoint's path; token / client_id+client_secret are the upstream credential).
  std::string url;
  ProviderConfig conn;
  std::string header_name, header_value;  // auth.header: a static header instead of a bearer
  std::string credential_provider;        // auth.provider: that provider's credential
  bool passthrough = false;               // auth.passthrough: the caller's JWT (Databricks OBO)
  // stdio servers: argv and the only environment they get (plus PATH and HOME).
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string cwd;
  GuardrailLists guardrails;              // input: tool arguments; output: tool results
  bool stdio() const { return !command.empty(); }
};

// A virtual server: tools of several servers behind one endpoint, named "{server}__{tool}".
struct McpVirtualConfig {
  std::string name;
  std::vector<std::string> tools;    // globs over "server/tool"
  std::vector<std::string> servers;  // the servers the globs name, in order
};

struct McpConfig {
  std::map<std::string, McpServerConfig> servers;
  std::map<std::string, McpVirtualConfig> virtual_servers;
  std::vector<std::string> approval_tools;    // approvals.tools: globs over "server/tool"
  std::chrono::seconds approval_timeout{300}; // approvals.timeout_s
  bool pinning = true;                        // pin tool definitions (docs/mcp.md)
  // HMAC key of session ids; replicas must share it. Empty: a random one per process.
  std::string session_secret;
  // Browsers' Origin values accepted (globs); a request without Origin is always accepted.
  std::vector<std::string> allowed_origins;
  // Host header values accepted (globs); empty: any when listening on a non-loopback address,
  // else loopback names only (DNS-rebinding protection).
  std::vector<std::string> allowed_hosts;
  std::string public_url;             // how clients reach the gateway (RFC 9728 metadata)
  std::string authorization_server;   // named in the metadata; default auth.jwt.issuer
  std::size_t stdio_max_processes = 32;
  Millis stdio_idle{600'000};
  Millis session_idle{3'600'000};     // a gateway session unused this long is forgotten

  bool enabled() const { return !servers.empty(); }
  // The server or virtual server an endpoint /mcp/{name} names.
  const McpServerConfig* find_server(std::string_view name) const;
  const McpVirtualConfig* find_virtual(std::string_view name) const;
};

struct Config {
  std::string source_file;
  ServerConfig server;
  ConsoleConfig console;
  std::map<std::string, ProviderConfig> providers;
  std::map<std::string, ModelConfig> models;
  std::vector<KeyConfig> keys;
  StoreConfig store;
  StateConfig state;
  BillingConfig billing;
  ResponsesConfig responses;
  JwtConfig jwt;
  // Once `roles` exists, access is denied by default: a caller needs a role allowing the model.
  bool roles_defined = false;
  std::map<std::string, RoleConfig> roles;
  std::map<std::string, std::string> groups;  // identity provider group -> role
  LogConfig log;
  std::vector<LimitRule> limits;
  std::vector<BudgetRule> budgets;
  RecordsConfig records;
  MetricsConfig metrics;
  TracingConfig tracing;
  // guardrails: in the file's order (a guardrail's index here is its index in the scanner).
  std::vector<guard::GuardrailSpec> guardrails;
  // The guardrail named `name`, or null.
  const guard::GuardrailSpec* find_guardrail(std::string_view name) const;
  // Its index in `guardrails`, or -1.
  int guardrail_index(std::string_view name) const;
  // Every pattern guardrail compiled into one database (guard/scanner.h): compiled when the file
  // is loaded, so a pattern that does not compile is a config error; null without guardrails.
  std::shared_ptr<const guard::Scanner> scanner;
  McpConfig mcp;
};

// SHA-256 of a byte string (the key digest clients' keys are compared with).
Sha256 sha256(std::string_view data);

}  // namespace gatehouse::config
