#include "billing/import.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "billing/statement.h"

namespace gatehouse::billing {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxBody = 32 << 20;  // INLINE results are at most 25 MiB per chunk
constexpr int kMaxChunks = 10'000;

// Where the query runs and with what credential: the billing provider's workspace.
struct Workspace {
  http::Origin origin;
  http::CallTimeouts timeouts{};
  std::string base_path;
  std::string url;    // scheme://host[:port], for messages
  std::string token;  // a personal access token, or "" with OAuth
  std::shared_ptr<provider::OAuthTokenSource> oauth;
};

struct Answer {
  unsigned status = 0;
  std::string body;
};

using Called = std::variant<Answer, std::string>;

// One request to the workspace with the provider's credential. An error message never holds the
// credential (only the method, the URL and what the server or the connection said).
asio::awaitable<Called> call(const Workspace& w, http::UpstreamPools& pools, bhttp::verb method, std::string target,
                             std::string body) {
  Called result;
  const std::string what = std::string(bhttp::to_string(method)) + " " + w.url + target;
  std::string bearer = w.token;
  if (w.oauth) {
    auto token = co_await w.oauth->token(pools);
    if (auto* e = std::get_if<Error>(&token)) {
      result = what + ": " + e->message;
      co_return result;
    }
    bearer = std::move(std::get<std::string>(token));
  }
  http::UpstreamCall upstream(pools.get(w.origin), w.timeouts);
  http::UpstreamRequest req{method, target, 11};
  req.set(bhttp::field::host, w.origin.host_header);
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
  req.set(bhttp::field::authorization, "Bearer " + bearer);
  if (method == bhttp::verb::post) req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  if (auto e = co_await upstream.send(req)) {
    result = what + ": " + e->message;
    co_return result;
  }
  const unsigned status = upstream.status();
  auto read = co_await upstream.read_all(kMaxBody);
  if (auto* e = std::get_if<Error>(&read)) {
    result = what + ": " + e->message;
    co_return result;
  }
  std::string text = std::move(std::get<std::string>(read));
  if (status == 401 && w.oauth) w.oauth->rejected(bearer);
  if (status != 200) {
    std::string why = api_error(text);
    std::string hint;
    if (status == 401) hint = " (check the provider's token or service principal)";
    if (status == 403) {
      hint = " (the principal needs CAN USE on the warehouse and SELECT on system.billing.usage and "
             "system.billing.list_prices)";
    }
    result = what + ": HTTP " + std::to_string(status) + (why.empty() ? std::string() : ": " + why.substr(0, 500)) + hint;
    co_return result;
  }
  result = Answer{status, std::move(text)};
  co_return result;
}

struct Fetched {
  std::vector<std::string> columns;
  Rows rows;
};
using FetchResult = std::variant<Fetched, std::string>;

std::string state_failure(const StatementAnswer& a) {
  if (a.state == State::kFailed) {
    return "the billing query FAILED" + (a.error.empty() ? std::string() : ": " + a.error.substr(0, 1000));
  }
  return "the billing query ended " + a.state_name + " without a result" +
         (a.error.empty() ? std::string() : ": " + a.error.substr(0, 1000));
}

// Submits `body`, polls until the statement ends (cancelling it when `limits.total` runs out), and
// reads every chunk of its result.
asio::awaitable<FetchResult> fetch_rows(const Workspace& w, http::UpstreamPools& pools, std::string body,
                                        ImportLimits limits) {
  FetchResult result;
  const auto deadline = SteadyClock::now() + limits.total;
  const std::string statements = w.base_path + std::string(kStatementsPath);
  Called called = co_await call(w, pools, bhttp::verb::post, statements, std::move(body));
  if (auto* e = std::get_if<std::string>(&called)) {
    result = std::move(*e);
    co_return result;
  }
  auto parsed = parse_statement(std::get<Answer>(called).body);
  if (auto* e = std::get_if<std::string>(&parsed)) {
    result = "POST " + w.url + statements + ": " + *e;
    co_return result;
  }
  StatementAnswer answer = std::move(std::get<StatementAnswer>(parsed));
  const std::string statement = statements + "/" + answer.statement_id;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto delay = limits.first_poll;
  int polls = 0;
  while (answer.state == State::kPending || answer.state == State::kRunning) {
    if (SteadyClock::now() + delay > deadline) {
      // Stop the warehouse's work: nobody will read it.
      std::string cancel = statement + "/cancel";
      std::string none;
      Called cancelled = co_await call(w, pools, bhttp::verb::post, std::move(cancel), std::move(none));
      if (auto* e = std::get_if<std::string>(&cancelled)) spdlog::warn("billing import: cancelling: {}", *e);
      result = "the billing query was still " + answer.state_name + " after " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limits.total).count()) +
               " s; it was cancelled";
      co_return result;
    }
    timer.expires_after(delay);
    co_await timer.async_wait(asio::use_awaitable);
    delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(5));
    ++polls;
    std::string none;
    Called polled = co_await call(w, pools, bhttp::verb::get, statement, std::move(none));
    if (auto* e = std::get_if<std::string>(&polled)) {
      result = std::move(*e);
      co_return result;
    }
    auto again = parse_statement(std::get<Answer>(polled).body);
    if (auto* e = std::get_if<std::string>(&again)) {
      result = "GET " + w.url + statement + ": " + *e;
      co_return result;
    }
    answer = std::move(std::get<StatementAnswer>(again));
  }
  if (answer.state != State::kSucceeded) {
    result = state_failure(answer);
    co_return result;
  }
  Fetched fetched;
  fetched.columns = std::move(answer.columns);
  Chunk chunk = answer.result ? std::move(*answer.result) : Chunk{};
  int chunks = 1;
  for (;;) {
    for (auto& row : chunk.rows) fetched.rows.push_back(std::move(row));
    if (!chunk.next_chunk_index && chunk.next_chunk_internal_link.empty()) break;
    if (++chunks > kMaxChunks || SteadyClock::now() > deadline) {
      result = "the billing query's result has too many chunks to read in time (" + std::to_string(chunks) + ")";
      co_return result;
    }
    std::string target = chunk.next_chunk_internal_link;
    if (!target.starts_with(std::string(kStatementsPath) + "/")) {
      if (!chunk.next_chunk_index) {
        result = "the billing query's result names its next chunk by an unexpected link";
        co_return result;
      }
      target = statement + "/result/chunks/" + std::to_string(*chunk.next_chunk_index);
    } else {
      target = w.base_path + target;
    }
    std::string none;
    Called next = co_await call(w, pools, bhttp::verb::get, target, std::move(none));
    if (auto* e = std::get_if<std::string>(&next)) {
      result = std::move(*e);
      co_return result;
    }
    auto parsed_chunk = parse_chunk(std::get<Answer>(next).body);
    if (auto* e = std::get_if<std::string>(&parsed_chunk)) {
      result = "GET " + w.url + target + ": " + *e;
      co_return result;
    }
    chunk = std::move(std::get<Chunk>(parsed_chunk));
  }
  spdlog::debug("billing import: statement {} read after {} polls in {} chunks ({} rows)", answer.statement_id, polls,
                chunks, fetched.rows.size());
  result = std::move(fetched);
  co_return result;
}

}  // namespace

asio::awaitable<ImportOutcome> import_costs(const config::Config& config, store::BillingTable& table,
                                            http::UpstreamPools& pools, provider::OAuthSources& oauth,
                                            std::int64_t now, ImportLimits limits) {
  ImportOutcome out;
  if (!config.billing.databricks) {
    out.error = "billing.databricks is not configured";
    co_return out;
  }
  const config::DatabricksBillingConfig& b = *config.billing.databricks;
  const auto provider = config.providers.find(b.provider);
  if (provider == config.providers.end()) {
    out.error = "billing.databricks.provider '" + b.provider + "' is not configured";
    co_return out;
  }
  const config::ProviderConfig& p = provider->second;
  Workspace w;
  w.origin = http::Origin::of(p);
  const auto connect = p.timeouts.connect;
  w.timeouts = http::CallTimeouts{connect, std::chrono::seconds(60), std::chrono::seconds(60), std::chrono::seconds(120)};
  w.base_path = p.base_path;
  w.url = std::string(p.tls ? "https://" : "http://") + w.origin.host_header;
  if (!p.client_id.empty()) {
    w.oauth = oauth.get(p);
  } else {
    w.token = p.token;
  }
  const std::int64_t today = now / 86400;
  out.to_day = store::day_of(today);
  out.from_day = store::day_of(today - (b.days - 1));

  store::ImportRun run;
  run.at = now;
  run.from_day = out.from_day;
  run.to_day = out.to_day;
  std::string body = statement_body(b, out.from_day, out.to_day);
  FetchResult fetched = co_await fetch_rows(w, pools, std::move(body), limits);
  std::optional<std::string> error;
  std::vector<store::DbuRow> rows;
  if (auto* e = std::get_if<std::string>(&fetched)) {
    error = std::move(*e);
  } else {
    const Fetched& f = std::get<Fetched>(fetched);
    auto converted = dbu_rows(f.columns, f.rows, out.from_day, out.to_day, now);
    if (auto* e = std::get_if<std::string>(&converted)) {
      error = std::move(*e);
    } else {
      rows = std::move(std::get<std::vector<store::DbuRow>>(converted));
    }
  }
  if (!error) {
    run.ok = true;
    run.rows = std::int64_t(rows.size());
    error = table.replace_days(out.from_day, out.to_day, rows, run);
  }
  if (error) {
    out.error = std::move(*error);
    run.ok = false;
    run.rows = 0;
    run.error = out.error;
    if (auto e = table.record_failure(run)) spdlog::error("billing import: recording the failure: {}", *e);
    spdlog::error("billing import of {}..{} failed: {}", out.from_day, out.to_day, out.error);
    co_return out;
  }
  std::set<std::string> days;
  for (const auto& r : rows) days.insert(r.day);
  out.ok = true;
  out.rows = std::int64_t(rows.size());
  out.days = std::int64_t(days.size());
  spdlog::info("billing import of {}..{}: {} rows ({} days with Databricks usage)", out.from_day, out.to_day, out.rows,
               out.days);
  co_return out;
}

}  // namespace gatehouse::billing
