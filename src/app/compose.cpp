#include "app/compose.h"

#include "pipeline/access_log.h"
#include "pipeline/authenticate.h"
#include "pipeline/authorize.h"
#include "pipeline/budget.h"
#include "pipeline/guard.h"
#include "pipeline/limit.h"
#include "pipeline/meter.h"
#include "pipeline/observe.h"
#include "pipeline/records.h"
#include "pipeline/usage_record.h"
#include "provider/anthropic.h"
#include "provider/databricks.h"
#include "mcp/http_upstream.h"
#include "mcp/stdio.h"
#include "provider/oauth.h"
#include "provider/openai_compatible.h"
#include "responses/store_stage.h"

namespace gatehouse::app {

using namespace pipeline;

Pipeline build_pipeline(const config::Config& config, const runtime::Services& services) {
  Pipeline p;
  // The order is code, not config. Each line says why it stands where it does. on_request,
  // on_routed, on_attempt and the answer's hooks run in this order; on_settled and on_complete
  // in reverse.
  // 1. Records first, so their on_complete runs last and sees every outcome, rejections included;
  //    tracing's on_request first too, so that even a refused request is traced (and its
  //    on_attempt gives every attempt its trace context, tracing on or off).
  if (config.log.access_log) p.add(std::make_unique<AccessLogStage>());
  if (config.metrics.enabled) p.add(std::make_unique<MetricsStage>(config, *services.metrics));
  p.add(std::make_unique<TracingStage>(services.tracer.get()));
  if (services.writer) p.add(std::make_unique<AuditStage>(*services.writer));
  // 2. Identity before anything that depends on who is calling (limits, roles, budgets).
  p.add(std::make_unique<AuthenticateStage>(config, services.jwt, services.stored_keys));
  // 3. Authorization needs the identity (2) and the decoded request; it runs in on_routed, before
  //    anything that spends (limits, budgets) so a denied request costs nothing; its on_attempt
  //    skips the targets this request may not reach.
  p.add(std::make_unique<AuthorizeStage>(config, *services.kills));
  // 4. Usage rows: its on_complete runs after the budget's and limit's (reverse order), once the
  //    cost is settled; placed before them so a request they refuse still gets its row.
  if (services.writer) p.add(std::make_unique<UsageRecordStage>(*services.writer));
  // 5. The inference log decides before budgets and limits, so that their refusals are logged too.
  if (services.writer && config.records.inference_log.enabled) {
    p.add(std::make_unique<InferenceLogStage>(config.records.inference_log, *services.writer));
  }
  // 5b. Stored Responses answers: like the inference log, it keeps what the client got (after
  //     output guardrails and translation), so a later previous_response_id replays only that.
  if (services.responses) p.add(std::make_unique<responses::StoreResponseStage>(config.responses, services.responses));
  // 6. Input guardrails before anything spends: a request they block costs no budget and no rate
  //    window (and after the inference log's decision, so a blocked request is logged — without
  //    the text that was blocked).
  if (config.scanner) p.add(std::make_unique<InputGuardStage>(config, config.scanner));
  // 7. Budgets before rate limits: a request a spent budget refuses must not use up a rate
  //    window; one the limits refuse gives its budget reservation back in on_complete.
  //    With shared state (state.redis) both only say what a request needs; the LLM path admits
  //    it against Redis, all at once (gateway/llm.cpp admit_shared).
  const bool shared = services.shared != nullptr;
  if (services.budgets) p.add(std::make_unique<BudgetStage>(config, *services.budgets, services.metrics.get(), shared));
  // 8. Rate limits last before the provider: they charge what is about to be spent.
  if (!config.limits.empty()) p.add(std::make_unique<LimitStage>(config, *services.limiter, shared));
  // 9. Metering after the limits and budgets: its on_settled and on_complete run before theirs
  //    (reverse order), so they settle on the usage and cost it found. Stages that change the
  //    answer or its events (output guardrails) come after it: it reads them as the provider
  //    sent them.
  p.add(std::make_unique<MeterStage>());
  // 10. Output guardrails after metering, which must read the provider's events as they came; on
  //     the answer's way out they are the last to change it before translation for the client.
  if (config.scanner) p.add(std::make_unique<OutputGuardStage>(config, config.scanner));
  return p;
}

std::shared_ptr<const runtime::Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                                        runtime::Services services) {
  auto pipeline = build_pipeline(*config, services);
  auto snapshot = std::make_shared<runtime::Snapshot>(config, std::move(services), std::move(pipeline));
  for (const auto& [name, p] : config->providers) {
    std::unique_ptr<provider::Adapter> adapter;
    switch (p.kind) {
      case config::ProviderKind::kOpenAICompatible: adapter = std::make_unique<provider::OpenAICompatibleAdapter>(p); break;
      case config::ProviderKind::kAnthropic: adapter = std::make_unique<provider::AnthropicAdapter>(p); break;
      case config::ProviderKind::kDatabricks:
        adapter = std::make_unique<provider::DatabricksAdapter>(p, *snapshot->services.oauth);
        break;
    }
    snapshot->providers.emplace(name, std::move(adapter));
  }
  for (const auto& [name, server] : config->mcp.servers) {
    std::shared_ptr<mcp::Upstream> upstream;
    if (server.stdio()) {
      upstream = mcp::make_stdio_upstream(snapshot->services.stdio, server);
    } else {
      std::shared_ptr<provider::OAuthTokenSource> oauth;
      if (!server.conn.client_id.empty()) {
        // The token comes from token_path on the server's host, not under its MCP path.
        config::ProviderConfig token_from = server.conn;
        token_from.base_path.clear();
        oauth = snapshot->services.oauth->get(token_from);
      }
      upstream = mcp::make_http_upstream(server, std::move(oauth));
    }
    snapshot->mcp_upstreams.emplace(name, std::move(upstream));
  }
  return snapshot;
}

}  // namespace gatehouse::app
