#include "app/services.h"
#include "billing/service.h"

#include "identity/jwt.h"
#include "limit/budget.h"
#include "limit/limiter.h"
#include "mcp/approvals.h"
#include "mcp/pins.h"
#include "mcp/session.h"
#include "mcp/stdio.h"
#include "record/metrics.h"
#include "record/trace.h"
#include "record/writer.h"
#include "provider/oauth.h"
#include "route/health.h"
#include "runtime/worker_pools.h"
#include "pipeline/kill_switch.h"
#include "store/key_store.h"
#include "store/key_watcher.h"
#include "store/record_store.h"
#include "responses/state.h"
#include "store/store_executor.h"
#include "store/store_open.h"
#include "state/shared_state.h"
#include "pipeline/budget.h"

namespace gatehouse::app {

namespace {
bool same(const config::JwtConfig& a, const config::JwtConfig& b) {
  return a.enabled == b.enabled && a.issuer == b.issuer && a.audience == b.audience &&
         a.jwks_url == b.jwks_url && a.jwks_file == b.jwks_file && a.user_claim == b.user_claim &&
         a.groups_claim == b.groups_claim && a.leeway == b.leeway && a.jwks_refresh == b.jwks_refresh;
}
// What every key and project spent in each current period, from the usage records (read before
// serving, and when Redis lost its data: the request path never reads the store).
std::variant<std::vector<state::SpendSeed>, std::string> read_spend(store::RecordStore& records) {
  std::vector<state::SpendSeed> out;
  const std::int64_t now = limit::system_now_ms();
  for (auto p : {limit::Period::kDaily, limit::Period::kWeekly, limit::Period::kMonthly, limit::Period::kTotal}) {
    const std::int64_t start = limit::period_start_ms(p, now);
    for (auto [by, prefix] : {std::pair{store::UsageGroup::kKey, "key:"}, std::pair{store::UsageGroup::kProject, "project:"}}) {
      auto spend = records.spend_since(by, start);
      if (auto* e = std::get_if<std::string>(&spend)) return *e;
      for (const auto& [name, usd] : std::get<0>(spend)) out.push_back({prefix + name, p, start, usd});
    }
  }
  return out;
}

// A new ledger holding `spend`.
std::shared_ptr<limit::Budgets> ledger_of(const std::vector<state::SpendSeed>& spend) {
  auto ledger = std::make_shared<limit::BudgetLedger>();
  for (const auto& s : spend) ledger->load(s.subject, s.period, s.start_ms, s.usd);
  return ledger;
}

}  // namespace

std::variant<runtime::Services, std::string> make_services(const config::Config& config,
                                                           const runtime::Services* previous) {
  runtime::Services s;
  std::optional<std::vector<state::SpendSeed>> spent_at_start;  // read with a newly opened store
  s.kills = previous ? previous->kills : std::make_shared<pipeline::KillSwitch>();
  // Rate-limit windows outlive reloads: a reload never resets a limit.
  s.limiter = previous ? previous->limiter : std::make_shared<limit::InProcessLimiter>();
  // So does what is known of route targets' health (a target in cooldown stays in it).
  s.health = previous ? previous->health : std::make_shared<route::TargetHealth>();
  // So do OAuth tokens and upstream connections (per worker).
  s.oauth = previous ? previous->oauth : std::make_shared<provider::OAuthSources>();
  s.pools = previous ? previous->pools : std::make_shared<runtime::WorkerPools>();
  if (config.mcp.enabled()) {
    // What this process knows of MCP sessions outlives reloads (unless the signing secret changed),
    // and so do stdio servers' processes.
    const std::string secret = config.mcp.session_secret;
    if (previous && previous->mcp_sessions && (secret.empty() || previous->mcp_sessions->codec().secret() == secret)) {
      s.mcp_sessions = previous->mcp_sessions;
    } else {
      s.mcp_sessions = std::make_shared<mcp::Sessions>(secret.empty() ? mcp::Sessions::random_secret() : secret,
                                                       config.mcp.session_idle);
    }
    s.stdio = previous && previous->stdio ? previous->stdio
                                          : mcp::make_stdio_processes(config.mcp.stdio_max_processes, config.mcp.stdio_idle);
  } else if (previous) {
    s.mcp_sessions = previous->mcp_sessions;
    s.stdio = previous->stdio;
  }
  // Counters never go back to zero on a reload.
  s.metrics = previous ? previous->metrics : std::make_shared<record::Metrics>();
  if (config.tracing.enabled) {
    if (previous && previous->tracer && previous->tracer->config() == config.tracing) {
      s.tracer = previous->tracer;
    } else {
      s.tracer = std::make_shared<record::TraceExporter>(config.tracing);
    }
  }

  if (config.jwt.enabled) {
    // A JWKS file is read again on every reload (the point of editing it); a URL's refresher
    // is kept while its settings stay the same.
    if (previous && previous->jwt && previous->jwt_config && config.jwt.jwks_file.empty() &&
        same(*previous->jwt_config, config.jwt)) {
      s.jwt = previous->jwt;
      s.jwt_config = previous->jwt_config;
    } else {
      auto verifier = std::make_shared<identity::JwtVerifier>(config.jwt);
      if (auto error = verifier->start()) return "auth.jwt: " + *error;
      s.jwt = std::move(verifier);
      s.jwt_config = std::make_shared<const config::JwtConfig>(config.jwt);
    }
  }

  if (config.store.configured()) {
    // Messages name the config key ("store.postgres: ...") and, through the store's own
    // messages, the file or the URL with its password redacted.
    const std::string field = config.store.field() + ": ";
    if (previous && previous->key_store && previous->store_path == config.store.source()) {
      s.key_store = previous->key_store;
      s.stored_keys = previous->stored_keys;
      s.store_executor = previous->store_executor;
      s.records = previous->records;
      s.writer = previous->writer;
      s.budgets = previous->budgets;
      s.responses = previous->responses;
      s.billing = previous->billing;
      s.writer->configure(config.records.flush, config.records.queue_rows,
                          config.records.inference_log.enabled ? config.records.inference_log.retention_days : 0,
                          config.records.inference_log.max_payload_bytes);
    } else {
      auto opened = store::open_key_store(config.store);
      if (auto* e = std::get_if<std::string>(&opened)) return field + *e;
      std::shared_ptr<store::KeyStore> ks = std::move(std::get<0>(opened));
      auto watcher = store::KeyWatcher::start(ks);
      if (auto* e = std::get_if<std::string>(&watcher)) return field + *e;
      s.key_store = ks;
      s.stored_keys = std::shared_ptr<const store::KeyWatcher>(std::move(std::get<0>(watcher)));
      s.store_executor = std::make_shared<store::StoreExecutor>(ks);

      auto records = store::open_records(config.store);
      if (auto* e = std::get_if<std::string>(&records)) return field + *e;
      s.records = std::shared_ptr<store::RecordStore>(std::move(std::get<0>(records)));
      auto spend = read_spend(*s.records);
      if (auto* e = std::get_if<std::string>(&spend)) return field + *e;
      s.budgets = ledger_of(std::get<0>(spend));
      spent_at_start = std::move(std::get<0>(spend));
      s.writer = std::make_shared<record::RecordWriter>(s.records, config.records.flush, config.records.queue_rows);
      auto responses = store::open_responses(config.store);
      if (auto* e = std::get_if<std::string>(&responses)) return field + *e;
      s.responses = std::make_shared<responses::ResponseState>(
          std::shared_ptr<store::ResponseTable>(std::move(std::get<0>(responses))), s.store_executor);
      auto billing = store::open_billing(config.store);
      if (auto* e = std::get_if<std::string>(&billing)) return field + *e;
      s.billing = std::make_shared<billing::BillingService>(
          std::shared_ptr<store::BillingTable>(std::move(std::get<0>(billing))), s.oauth);
      s.writer->configure(config.records.flush, config.records.queue_rows,
                          config.records.inference_log.enabled ? config.records.inference_log.retention_days : 0,
                          config.records.inference_log.max_payload_bytes);
    }
    s.store_path = config.store.source();
  }

  if (config.mcp.enabled()) {
    // Pins and held calls live in the store: kept while the store is the same one (a reload
    // must not forget a call an administrator is about to approve).
    const bool same_store = previous && previous->store_path == s.store_path;
    try {
      if (config.mcp.pinning) {
        s.pins = same_store && previous->pins
                     ? previous->pins
                     : mcp::make_tool_pins(config.store, s.store_executor, s.writer);
      }
      if (!config.mcp.approval_tools.empty()) {
        s.approvals = same_store && previous->approvals
                          ? previous->approvals
                          : mcp::make_approvals(config.store, s.store_executor, s.writer);
      }
    } catch (const std::exception& e) {
      return config.store.field() + ": " + e.what();
    }
  }
  // Last, once nothing else can fail: a refused reload must leave the running one attached.
  if (config.state.redis.enabled()) {
    // Shared with the other replicas: kept while Redis and this replica's own counters (its
    // fallback) are the same; a new one seeds Redis's spend from the store.
    if (previous && previous->shared && previous->shared->config() == config.state.redis &&
        previous->budgets == s.budgets) {
      s.shared = previous->shared;
    } else {
      s.shared = state::SharedState::start(config.state.redis, s.limiter, s.budgets);
      s.shared->on_budget_warning([metrics = s.metrics](const limit::BudgetWarning& w) {
        pipeline::report_budget_warning(w, metrics.get());
      });
      if (s.records) {
        // What the store said at start (read again only for a store kept across the reload).
        auto seeds = [records = s.records] {
          auto spend = read_spend(*records);
          return std::holds_alternative<std::string>(spend) ? std::vector<state::SpendSeed>{} : std::move(std::get<0>(spend));
        };
        s.shared->seed(spent_at_start ? std::move(*spent_at_start) : seeds());
        s.shared->seeds_from(seeds);
      }
    }
    s.shared->attach(s.kills, s.health);
  }

  return s;
}

}  // namespace gatehouse::app
