#include "admin/billing_api.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <map>
#include <set>

#include "admin/query_params.h"
#include "billing/service.h"
#include "pipeline/records.h"
#include "store/billing_table.h"
#include "store/key_rules.h"
#include "store/store_executor.h"

namespace gatehouse::admin {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kBilling = "/admin/v1/billing";
constexpr std::string_view kImport = "/admin/v1/billing/import";
constexpr std::int64_t kMaxDays = 92;
constexpr std::int64_t kDefaultDays = 30;

// The days from..to (inclusive) a GET asks for, or the 400 saying what is wrong. `from` and `to`
// are times (query_params.h: unix seconds or RFC 3339); each counts as its UTC day.
std::variant<std::pair<std::int64_t, std::int64_t>, Error> days_asked(const http::Request& request) {
  static constexpr std::string_view kParams[] = {"from", "to"};
  auto query = Query::parse(request, kParams);
  if (auto* e = std::get_if<Error>(&query)) return std::move(*e);
  const Query& q = std::get<Query>(query);
  auto from = time_param(q, "from");
  if (auto* e = std::get_if<Error>(&from)) return std::move(*e);
  auto to = time_param(q, "to");
  if (auto* e = std::get_if<Error>(&to)) return std::move(*e);
  auto day = [](std::int64_t s) { return s >= 0 ? s / 86'400 : (s - 86'399) / 86'400; };
  const auto& to_s = std::get<std::optional<std::int64_t>>(to);
  const auto& from_s = std::get<std::optional<std::int64_t>>(from);
  const std::int64_t last = day(to_s.value_or(store::unix_now()));
  const std::int64_t first = from_s ? day(*from_s) : last - (kDefaultDays - 1);
  if (first > last) return invalid("from", "'from' is after 'to'");
  if (last - first + 1 > kMaxDays) {
    return invalid("from", "at most " + std::to_string(kMaxDays) + " days per call (asked for " +
                               std::to_string(last - first + 1) + ")");
  }
  return std::pair{first, last};
}

// What a GET reads from the store, on the store thread.
struct Read {
  std::vector<store::DbuRow> dbu;
  std::vector<store::ModelCostRow> model;
  std::optional<store::ImportRun> last;
  std::string error;
};

json::value number_or_null(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::value last_import_json(const std::optional<store::ImportRun>& run) {
  if (!run) return nullptr;
  return json::object{{"at", run->at},
                      {"ok", run->ok},
                      {"rows", run->rows},
                      {"error", run->ok ? json::value(nullptr) : json::value(run->error)},
                      {"from", run->from_day},
                      {"to", run->to_day}};
}

// The answer: per day and project, the model spend beside the imported DBUs and their cost. A
// (day, project) without an imported row is 0 when its day was imported (the import found no usage
// of that project), and null ("not measured") when it was not.
std::string billing_json(bool configured, const Read& r, const std::string& from_day, const std::string& to_day) {
  struct Entry {
    double model = 0;
    const store::DbuRow* dbu = nullptr;
  };
  std::map<std::pair<std::string, std::string>, Entry> entries;
  std::set<std::string> imported_days;
  for (const auto& m : r.model) entries[{m.day, m.project}].model += m.cost_usd;
  for (const auto& d : r.dbu) {
    entries[{d.day, d.project}].dbu = &d;
    imported_days.insert(d.day);
  }
  const bool last_ok = r.last && r.last->ok;
  json::array data;
  for (const auto& [key, e] : entries) {
    const bool measured = e.dbu || imported_days.contains(key.first) ||
                          (last_ok && key.first >= r.last->from_day && key.first <= r.last->to_day);
    json::value dbus = nullptr, cost = nullptr;
    if (e.dbu) {
      dbus = e.dbu->dbus;
      cost = number_or_null(e.dbu->cost_usd);
    } else if (measured) {
      dbus = 0.0;
      cost = 0.0;
    }
    data.push_back(json::object{{"project", key.second},
                                {"day", key.first},
                                {"model_cost_usd", e.model},
                                {"dbu_cost_usd", std::move(cost)},
                                {"dbus", std::move(dbus)}});
  }
  return json::serialize(json::object{{"object", "billing"},
                                      {"configured", configured},
                                      {"last_import", last_import_json(r.last)},
                                      {"from", from_day},
                                      {"to", to_day},
                                      {"data", std::move(data)}});
}

asio::awaitable<std::variant<AdminAnswer, Error>> read_billing(const http::Request& request,
                                                               const runtime::Snapshot& snapshot) {
  using Result = std::variant<AdminAnswer, Error>;
  Result result;
  auto asked = days_asked(request);
  if (auto* e = std::get_if<Error>(&asked)) {
    result = std::move(*e);
    co_return result;
  }
  const std::int64_t first = std::get<0>(asked).first, last = std::get<0>(asked).second;
  const std::string from_day = store::day_of(first), to_day = store::day_of(last);
  std::shared_ptr<store::BillingTable> table = snapshot.services.billing->table();
  std::function<Read(store::KeyStore&)> call = [table, from_day, to_day, first, last](store::KeyStore&) {
    Read r;
    auto dbu = table->dbu(from_day, to_day);
    auto model = table->model_cost(first * 86'400'000, (last + 1) * 86'400'000);
    auto run = table->last_run();
    if (auto* e = std::get_if<std::string>(&dbu)) r.error = *e;
    if (auto* e = std::get_if<std::string>(&model)) r.error = *e;
    if (auto* e = std::get_if<std::string>(&run)) r.error = *e;
    if (!r.error.empty()) return r;
    r.dbu = std::move(std::get<0>(dbu));
    r.model = std::move(std::get<0>(model));
    r.last = std::move(std::get<0>(run));
    return r;
  };
  Read read = co_await snapshot.services.store_executor->run<Read>(std::move(call));
  if (!read.error.empty()) {
    result = Error::internal("billing store: " + read.error);
    co_return result;
  }
  const bool configured = snapshot.config->billing.databricks.has_value();
  result = AdminAnswer(200, billing_json(configured, read, from_day, to_day));
  co_return result;
}

asio::awaitable<std::variant<AdminAnswer, Error>> import_now(const pipeline::RequestContext& ctx,
                                                             const runtime::Snapshot& snapshot) {
  using Result = std::variant<AdminAnswer, Error>;
  Result result;
  if (!snapshot.config->billing.databricks) {
    Error e = Error::bad_request("billing.databricks is not configured: nothing to import (docs/billing.md)");
    e.code = "billing_not_configured";
    result = std::move(e);
    co_return result;
  }
  billing::ImportOutcome out = co_await snapshot.services.billing->import_now();
  if (out.error == billing::BillingService::kBusy) {
    Error e = Error::bad_request(out.error);
    e.status = 409;
    e.code = "import_running";
    result = std::move(e);
    co_return result;
  }
  spdlog::info("billing import {} by {}", out.ok ? "done" : "failed", pipeline::caller_of(ctx));
  json::object detail{{"ok", out.ok}, {"rows", out.rows}, {"from", out.from_day}, {"to", out.to_day}};
  if (!out.ok) detail["error"] = out.error.substr(0, 500);
  audit(snapshot, ctx, "billing.import", "databricks", detail);
  if (!out.ok) {
    Error e = Error::upstream_protocol("the billing import failed (the imported costs are as they were): " + out.error);
    e.status = 502;
    e.code = "billing_import_failed";
    result = std::move(e);
    co_return result;
  }
  result = AdminAnswer(200, json::serialize(json::object{{"object", "billing.import"},
                                                        {"ok", true},
                                                        {"rows", out.rows},
                                                        {"days", out.days},
                                                        {"from", out.from_day},
                                                        {"to", out.to_day}}));
  co_return result;
}

}  // namespace

bool is_billing_path(std::string_view path) { return path == kBilling || path == kImport; }

asio::awaitable<std::variant<AdminAnswer, Error>> handle_billing(const http::Request& request, std::string_view path,
                                                                 const pipeline::RequestContext& ctx,
                                                                 const runtime::Snapshot& snapshot) {
  using Result = std::variant<AdminAnswer, Error>;
  Result result;
  if (!snapshot.services.billing || !snapshot.services.store_executor) {
    result = Error::not_found("no store is configured (store: {sqlite: ...} or store: {postgres: ...}); billing is kept there",
                              "no_store");
    co_return result;
  }
  if (path == kBilling) {
    if (request.method() != bhttp::verb::get) {
      result = not_allowed("GET");
      co_return result;
    }
    co_return co_await read_billing(request, snapshot);
  }
  if (request.method() != bhttp::verb::post) {
    result = not_allowed("POST");
    co_return result;
  }
  co_return co_await import_now(ctx, snapshot);
}

}  // namespace gatehouse::admin
