#include "admin/records_api.h"

#include "admin/query_params.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <set>
#include <span>

#include "core/encoding.h"
#include "limit/budget.h"
#include "limit/clock.h"
#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/key_watcher.h"
#include "store/record_store.h"
#include "store/store_executor.h"

namespace gatehouse::admin {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kSeries = "/admin/v1/usage/series";
constexpr std::string_view kGroups = "/admin/v1/usage/groups";
constexpr std::string_view kBudgets = "/admin/v1/budgets";
constexpr std::string_view kLogs = "/admin/v1/logs";
constexpr std::string_view kMcpCalls = "/admin/v1/mcp/calls";
constexpr std::string_view kAudit = "/admin/v1/audit";
constexpr std::string_view kAuditVerify = "/admin/v1/audit/verify";

constexpr std::size_t kMaxPage = 200, kDefaultPage = 50;
constexpr std::size_t kMaxGroups = 500, kDefaultGroups = 100;
constexpr std::size_t kCsvCap = 10'000;        // rows of a CSV export
constexpr std::int64_t kMaxSeriesPoints = 360;
constexpr std::int64_t kDayS = 86'400;

using Result = std::variant<AdminAnswer, Error>;

// --- JSON -------------------------------------------------------------------------------------------

json::value json_or_text(const std::string& text) {
  if (text.empty()) return nullptr;
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(text);
  return v;
}

json::value opt(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object figures(const store::UsageFigures& f) {
  return {{"requests", f.requests},         {"errors", f.errors},
          {"input_tokens", f.input_tokens}, {"output_tokens", f.output_tokens},
          {"cost_usd", f.cost_usd}};
}

json::object log_row(const store::InferenceRow& r) {
  const double overhead = std::max(0.0, r.execution_duration_ms - r.upstream_duration_ms);
  return {{"id", r.id},
          {"request_id", r.request_id},
          {"time", r.request_time_ms / 1000},
          {"time_ms", r.request_time_ms},
          {"requester", r.requester},
          {"key_name", r.key_name},
          {"user", r.user},
          {"project", r.project},
          {"model", r.model},
          {"served_model", r.served_model},
          {"provider", r.provider},
          {"status_code", r.status_code},
          {"duration_ms", r.execution_duration_ms},
          {"upstream_ms", r.upstream_duration_ms},
          {"overhead_ms", overhead},
          {"ttft_ms", r.time_to_first_token_ms < 0 ? json::value(nullptr) : json::value(r.time_to_first_token_ms)},
          {"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"cost_usd", r.cost_usd},
          {"streaming", r.streaming},
          {"error_code", r.error_code.empty() ? json::value(nullptr) : json::value(r.error_code)},
          {"payload_truncated", r.payload_truncated}};
}

json::object mcp_row(const store::McpCallRow& r, bool payloads) {
  json::object o{{"id", r.id},
                 {"request_id", r.request_id},
                 {"time", r.time_ms / 1000},
                 {"time_ms", r.time_ms},
                 {"requester", r.requester},
                 {"key_name", r.key_name},
                 {"user", r.user},
                 {"project", r.project},
                 {"endpoint", r.endpoint},
                 {"server", r.server},
                 {"tool", r.tool},
                 {"outcome", r.outcome},
                 {"error", r.error.empty() ? json::value(nullptr) : json::value(r.error)},
                 {"duration_ms", r.duration_ms},
                 {"guardrails", r.guardrails},
                 {"approval_id", r.approval_id.empty() ? json::value(nullptr) : json::value(r.approval_id)},
                 {"trace_id", r.trace_id.empty() ? json::value(nullptr) : json::value(r.trace_id)},
                 {"payload_truncated", r.payload_truncated}};
  if (payloads) {
    o["arguments"] = json_or_text(r.arguments);
    o["result"] = json_or_text(r.result);
  }
  return o;
}

json::object audit_row(const store::AuditRow& r) {
  return {{"id", r.id},          {"time", r.time_ms / 1000},  {"time_ms", r.time_ms},
          {"kind", r.kind},      {"actor", r.actor},          {"subject", r.subject},
          {"detail", json_or_text(r.detail)},
          {"request_id", r.request_id.empty() ? json::value(nullptr) : json::value(r.request_id)},
          {"prev_hash", r.prev_hash}, {"hash", r.hash}};
}

AdminAnswer list_answer(json::array data, bool has_more, std::optional<std::string> next, json::object extra = {}) {
  json::object o{{"object", "list"}};
  for (auto& [k, v] : extra) o[k] = std::move(v);
  o["data"] = std::move(data);
  o["has_more"] = has_more;
  o["next_cursor"] = next ? json::value(*next) : json::value(nullptr);
  return AdminAnswer{200, json::serialize(o)};
}

// --- Parameters to store queries --------------------------------------------------------------------

constexpr std::pair<std::string_view, store::UsageGroup> kDims[] = {
    {"project", store::UsageGroup::kProject}, {"key", store::UsageGroup::kKey},
    {"user", store::UsageGroup::kUser},       {"model", store::UsageGroup::kModel},
    {"end_user", store::UsageGroup::kEndUser}};

std::variant<store::UsageGroup, Error> dim_param(const Query& q, bool required) {
  const std::string v = q.get("by");
  for (const auto& [name, by] : kDims) {
    if (v == name) return by;
  }
  if (!required && !q.has("by")) return store::UsageGroup::kProject;
  return invalid("by", "'by' must be one of: project, key, user, model, end_user");
}

constexpr std::string_view kSeriesParams[] = {"range", "by", "from", "to"};
constexpr std::int64_t kBuckets[] = {60,    120,   300,   600,    900,    1800,   3600,
                                     7200,  10800, 21600, 43200,  86400,  172800, 604800};

// The series' aligned range and bucket (seconds), or what to fix.
struct SeriesPlan {
  store::UsageSeriesQuery query;
  std::string by;
};
std::variant<SeriesPlan, Error> series_plan(const Query& q) {
  SeriesPlan plan;
  if (q.has("by")) {
    // (Users and end users have no minute rollups: groups cover them.)
    const std::string by = q.get("by");
    if (by != "model" && by != "project" && by != "key") return invalid("by", "'by' must be one of: model, project, key");
    plan.query.by = std::get<store::UsageGroup>(dim_param(q, true));
    plan.by = by;
  }
  std::int64_t bucket = 0, from = 0, to = 0;
  if (q.has("range") || (!q.has("from") && !q.has("to"))) {
    if (q.has("from") || q.has("to")) return invalid("range", "give either 'range' or 'from'/'to', not both");
    const std::string r = q.has("range") ? q.get("range") : "day";
    std::int64_t span = 0;
    if (r == "hour") {
      span = 3600, bucket = 60;
    } else if (r == "day") {
      span = kDayS, bucket = 900;
    } else if (r == "week") {
      span = 7 * kDayS, bucket = 7200;
    } else if (r == "month") {
      span = 30 * kDayS, bucket = 43200;
    } else {
      return invalid("range", "'range' must be one of: hour, day, week, month");
    }
    const std::int64_t now = store::unix_now();
    to = (now / bucket + 1) * bucket;  // the bucket holding now is the last
    from = to - span;
  } else {
    auto range = time_range(q, kDayS);
    if (auto* e = std::get_if<Error>(&range)) return std::move(*e);
    from = std::get<0>(range).first;
    to = std::get<0>(range).second;
    for (auto b : kBuckets) {
      if ((to - from + b - 1) / b <= kMaxSeriesPoints) {
        bucket = b;
        break;
      }
    }
    if (bucket == 0) bucket = ((to - from + kMaxSeriesPoints - 1) / kMaxSeriesPoints + kDayS - 1) / kDayS * kDayS;
    from = from / bucket * bucket;
    to = (to + bucket - 1) / bucket * bucket;
  }
  plan.query.from_ms = from * 1000;
  plan.query.to_ms = to * 1000;
  plan.query.bucket_ms = bucket * 1000;
  return plan;
}

std::string series_json(const SeriesPlan& plan, const store::UsageSeries& s) {
  auto point = [](const store::UsagePoint& p, bool percentiles) {
    json::object o{{"t", p.t_ms / 1000}};
    for (auto& [k, v] : figures(p)) o[k] = v;
    if (percentiles) {
      o["p50_ms"] = opt(p.p50_ms);
      o["p99_ms"] = opt(p.p99_ms);
      o["overhead_p50_ms"] = opt(p.overhead_p50_ms);
      o["overhead_p99_ms"] = opt(p.overhead_p99_ms);
    }
    return o;
  };
  json::array totals, groups;
  for (const auto& p : s.totals) totals.push_back(point(p, true));
  for (const auto& g : s.groups) {
    json::array points;
    for (const auto& p : g.points) points.push_back(point(p, false));
    groups.push_back(json::object{{"group", g.group}, {"points", std::move(points)}});
  }
  return json::serialize(json::object{{"object", "usage.series"},
                                      {"from", plan.query.from_ms / 1000},
                                      {"to", plan.query.to_ms / 1000},
                                      {"bucket_s", plan.query.bucket_ms / 1000},
                                      {"by", plan.by.empty() ? json::value(nullptr) : json::value(plan.by)},
                                      {"totals", std::move(totals)},
                                      {"groups", std::move(groups)}});
}

constexpr std::string_view kGroupsParams[] = {"by", "from", "to", "limit", "cursor", "format"};

struct GroupsPlan {
  store::UsageGroupsQuery query;
  std::string by;
  bool csv = false;
};
std::variant<GroupsPlan, Error> groups_plan(const Query& q) {
  GroupsPlan plan;
  auto by = dim_param(q, false);
  if (auto* e = std::get_if<Error>(&by)) return std::move(*e);
  plan.query.by = std::get<store::UsageGroup>(by);
  plan.by = q.has("by") ? q.get("by") : "project";
  auto range = time_range(q, 30 * kDayS);
  if (auto* e = std::get_if<Error>(&range)) return std::move(*e);
  plan.query.from_ms = std::get<0>(range).first * 1000;
  plan.query.to_ms = std::get<0>(range).second * 1000;
  if (!q.has("from") && !q.has("to")) {
    // The default is whole UTC days (today's included): daily rollups only, no partial edges.
    plan.query.to_ms = (store::unix_now() / kDayS + 1) * kDayS * 1000;
    plan.query.from_ms = plan.query.to_ms - 30 * kDayS * 1000;
  }
  if (q.has("format")) {
    if (q.get("format") != "csv" && q.get("format") != "json") return invalid("format", "'format' must be csv or json");
    plan.csv = q.get("format") == "csv";
  }
  if (plan.csv) {
    if (q.has("limit") || q.has("cursor")) {
      return invalid(q.has("limit") ? "limit" : "cursor",
                     "a CSV export holds every group (up to " + std::to_string(kCsvCap) + "): no limit or cursor");
    }
    plan.query.limit = kCsvCap;
    return plan;
  }
  auto limit = limit_param(q, kDefaultGroups, kMaxGroups);
  if (auto* e = std::get_if<Error>(&limit)) return std::move(*e);
  plan.query.limit = std::get<std::size_t>(limit);
  if (q.has("cursor")) {
    // "cost \n from_ms \n to_ms \n group" (the group last: it may hold anything).
    auto text = base64url_decode(q.get("cursor"));
    if (!text) return bad_cursor();
    std::string_view rest = *text;
    std::string_view fields[3];
    for (auto& f : fields) {
      const auto nl = rest.find('\n');
      if (nl == std::string_view::npos) return bad_cursor();
      f = rest.substr(0, nl);
      rest.remove_prefix(nl + 1);
    }
    char* end = nullptr;
    const std::string cost(fields[0]);
    const double c = std::strtod(cost.c_str(), &end);
    if (cost.empty() || end != cost.c_str() + cost.size() || !std::isfinite(c)) return bad_cursor();
    auto from_ms = whole(fields[1]);
    auto to_ms = whole(fields[2]);
    if (!from_ms || !to_ms) return bad_cursor();
    if ((q.has("from") || q.has("to")) && (*from_ms != plan.query.from_ms || *to_ms != plan.query.to_ms)) {
      return invalid("cursor", "this cursor belongs to another from/to: page a range with the cursors it gave");
    }
    plan.query.from_ms = *from_ms;
    plan.query.to_ms = *to_ms;
    plan.query.after = std::pair{c, std::string(rest)};
  }
  return plan;
}

// A CSV field: quoted when it must be, and never read as a formula by a spreadsheet (a leading
// = + - @ tab or CR gets a ' before it: group names come from clients, e.g. end_user).
std::string csv_field(const std::string& v) {
  std::string s = v;
  if (!s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos) s.insert(0, "'");
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string utc_date(std::int64_t s) {
  std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H%M%SZ", &tm);
  return buf;
}

AdminAnswer groups_answer(const GroupsPlan& plan, const store::UsageGroupsPage& page) {
  if (plan.csv) {
    std::string body = "group,requests,errors,input_tokens,output_tokens,cost_usd\n";
    for (const auto& g : page.rows) {
      body += csv_field(g.group) + "," + std::to_string(g.requests) + "," + std::to_string(g.errors) + "," +
              std::to_string(g.input_tokens) + "," + std::to_string(g.output_tokens) + "," + num17(g.cost_usd) + "\n";
    }
    AdminAnswer a{200, std::move(body)};
    a.content_type = "text/csv; charset=utf-8";
    a.headers.emplace_back("Content-Disposition", "attachment; filename=\"usage-by-" + plan.by + "-" +
                                                      utc_date(plan.query.from_ms / 1000) + "-" +
                                                      utc_date(plan.query.to_ms / 1000) + ".csv\"");
    // Cut at the cap: the header says so (and how many rows the file holds).
    a.headers.emplace_back("X-Gatehouse-Rows", std::to_string(page.rows.size()));
    if (page.has_more) a.headers.emplace_back("X-Gatehouse-Truncated", "true");
    return a;
  }
  json::array data;
  for (const auto& g : page.rows) {
    data.push_back(json::object{{"group", g.group},
                                {"requests", g.requests},
                                {"errors", g.errors},
                                {"input_tokens", g.input_tokens},
                                {"output_tokens", g.output_tokens},
                                {"cost_usd", g.cost_usd}});
  }
  std::optional<std::string> next;
  if (page.has_more && !page.rows.empty()) {
    // The range travels with the cursor: the next page sums the same days even when the default
    // range (the 30 days ending today) would have moved on.
    next = base64url_encode(num17(page.rows.back().cost_usd) + "\n" + std::to_string(plan.query.from_ms) + "\n" +
                            std::to_string(plan.query.to_ms) + "\n" + page.rows.back().group);
  }
  return list_answer(std::move(data), page.has_more, next,
                     json::object{{"by", plan.by},
                                  {"from", plan.query.from_ms / 1000},
                                  {"to", plan.query.to_ms / 1000}});
}

constexpr std::string_view kLogsParams[] = {"model", "key", "status", "from", "to", "limit", "cursor"};

std::variant<store::InferencePageQuery, Error> logs_query(const Query& q) {
  store::InferencePageQuery out;
  auto range = time_range(q, 100LL * 365 * kDayS);
  if (auto* e = std::get_if<Error>(&range)) return std::move(*e);
  out.from_ms = q.has("from") ? std::get<0>(range).first * 1000 : 0;
  out.to_ms = q.has("to") ? std::get<0>(range).second * 1000 : INT64_MAX;
  out.model = q.get("model");
  out.key_name = q.get("key");
  if (q.has("status")) {
    const std::string s = q.get("status");
    if (s.size() == 3 && (s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == 'x' && s[2] == 'x') {
      out.status_class = s[0] - '0';
    } else if (s.size() == 3 && s.find_first_not_of("0123456789") == std::string::npos && s[0] >= '1' && s[0] <= '5') {
      out.status_code = std::stoi(s);
    } else {
      return invalid("status", "'status' must be 2xx, 4xx, 5xx or a status code (429)");
    }
  }
  auto limit = limit_param(q, kDefaultPage, kMaxPage);
  if (auto* e = std::get_if<Error>(&limit)) return std::move(*e);
  out.limit = std::get<std::size_t>(limit);
  auto cursor = row_cursor_param(q);
  if (auto* e = std::get_if<Error>(&cursor)) return std::move(*e);
  out.before = std::get<0>(cursor);
  return out;
}

constexpr std::string_view kMcpParams[] = {"server", "tool", "outcome", "from", "to", "limit", "cursor"};

std::variant<store::McpCallPageQuery, Error> mcp_query(const Query& q) {
  store::McpCallPageQuery out;
  auto range = time_range(q, 100LL * 365 * kDayS);
  if (auto* e = std::get_if<Error>(&range)) return std::move(*e);
  out.from_ms = q.has("from") ? std::get<0>(range).first * 1000 : 0;
  out.to_ms = q.has("to") ? std::get<0>(range).second * 1000 : INT64_MAX;
  out.server = q.get("server");
  out.tool = q.get("tool");
  out.outcome = q.get("outcome");
  auto limit = limit_param(q, kDefaultPage, kMaxPage);
  if (auto* e = std::get_if<Error>(&limit)) return std::move(*e);
  out.limit = std::get<std::size_t>(limit);
  auto cursor = row_cursor_param(q);
  if (auto* e = std::get_if<Error>(&cursor)) return std::move(*e);
  out.before = std::get<0>(cursor);
  return out;
}

constexpr std::string_view kAuditParams[] = {"kind", "limit", "cursor"};

std::variant<store::AuditPageQuery, Error> audit_query(const Query& q) {
  store::AuditPageQuery out;
  out.kind = q.get("kind");
  auto limit = limit_param(q, kDefaultPage, kMaxPage);
  if (auto* e = std::get_if<Error>(&limit)) return std::move(*e);
  out.limit = std::get<std::size_t>(limit);
  if (q.has("cursor")) {
    auto text = base64url_decode(q.get("cursor"));
    auto id = text ? whole(*text) : std::nullopt;
    if (!id || *id <= 0) return bad_cursor();
    out.before_id = *id;
  }
  return out;
}

// --- Budgets ------------------------------------------------------------------------------------

limit::Period period_of(config::BudgetPeriod p) { return limit::Period(static_cast<int>(p)); }

// Every configured budget: a rule naming its key or project, and the default rules applied to each
// key and project the gateway knows (the config's, the active stored keys and their projects) that
// has no rule of its own for that period.
std::string budgets_json(const runtime::Snapshot& snapshot) {
  const auto& config = *snapshot.config;
  std::set<std::string> keys, projects;
  for (const auto& k : config.keys) {
    keys.insert(k.name);
    if (!k.project.empty()) projects.insert(k.project);
  }
  if (auto index = snapshot.services.stored_keys ? snapshot.services.stored_keys->current() : nullptr) {
    const std::int64_t now = store::unix_now();
    index->for_each([&](const store::StoredKey& k) {
      if (store::status_of(k, now) != store::KeyStatus::kActive) return;
      keys.insert(k.name);
      if (!k.project.empty()) projects.insert(k.project);
    });
  }
  std::set<std::tuple<int, std::string, int>> own;  // (scope, subject, period) with a rule of its own
  for (const auto& r : config.budgets) {
    if (!r.match.empty()) own.emplace(int(r.scope), r.match, int(r.period));
  }
  const std::int64_t now_ms = limit::system_now_ms();
  json::array data;
  auto add = [&](const config::BudgetRule& r, const std::string& subject, bool by_default) {
    const std::string scope(config::to_string(r.scope));
    const limit::Period p = period_of(r.period);
    json::value spent = nullptr, left = nullptr;
    if (snapshot.services.budgets) {
      const double s = snapshot.services.budgets->spent(scope + ":" + subject, p);
      spent = s;
      left = std::max(0.0, r.usd - s);
    }
    const std::int64_t end = limit::period_end_ms(p, now_ms);
    data.push_back(json::object{{"name", scope + " '" + subject + "' " + std::string(limit::to_string(p))},
                                {"scope", scope},
                                {"subject", subject},
                                {"period", limit::to_string(p)},
                                {"default", by_default},
                                {"limit_usd", r.usd},
                                {"spent_usd", spent},
                                {"left_usd", left},
                                {"warn_at", r.warn_at},
                                {"resets_at", end < 0 ? json::value(nullptr) : json::value(end / 1000)}});
  };
  for (const auto& r : config.budgets) {
    if (!r.match.empty()) {
      add(r, r.match, false);
      continue;
    }
    for (const auto& s : r.scope == config::BudgetScope::kKey ? keys : projects) {
      if (!own.contains({int(r.scope), s, int(r.period)})) add(r, s, true);
    }
  }
  return json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

// --- Store calls ---------------------------------------------------------------------------------

// Runs fn(records) on the store thread (named locals only: GCC 12's coroutine temporaries).
template <class T>
asio::awaitable<std::variant<T, std::string>> on_store(const runtime::Snapshot& snapshot,
                                                       std::function<std::variant<T, std::string>(store::RecordStore&)> fn) {
  using R = std::variant<T, std::string>;
  std::shared_ptr<store::RecordStore> records = snapshot.services.records;
  std::function<R(store::KeyStore&)> call = [records, fn = std::move(fn)](store::KeyStore&) { return fn(*records); };
  R r = co_await snapshot.services.store_executor->run<R>(std::move(call));
  co_return r;
}

Error store_failed(const std::string& why) { return Error::internal("record store: " + why); }

Error no_store() {
  return Error::not_found(
      "no record store is configured: the usage, logs and audit endpoints read it (store: {sqlite: PATH} or "
      "store: {postgres: URL})",
      "no_store");
}

}  // namespace

bool is_records_path(std::string_view path) {
  auto under = [&](std::string_view base) {
    return path == base || (path.size() > base.size() + 1 && path.starts_with(base) && path[base.size()] == '/');
  };
  return path == kSeries || path == kGroups || path == kBudgets || under(kLogs) || path == kMcpCalls ||
         path == kAudit || path == kAuditVerify;
}

asio::awaitable<Result> records_api(const http::Request& request, std::string_view path,
                                    const pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot) {
  Result result;
  const bool post_verify = path == kAuditVerify;
  if (request.method() != (post_verify ? bhttp::verb::post : bhttp::verb::get)) {
    result = not_allowed(post_verify ? "POST" : "GET");
    co_return result;
  }
  if (path == kBudgets) {
    auto q = Query::parse(request, std::span<const std::string_view>());
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
    } else {
      result = AdminAnswer{200, budgets_json(snapshot)};
    }
    co_return result;
  }
  if (!snapshot.services.records || !snapshot.services.store_executor) {
    result = no_store();
    co_return result;
  }

  if (path == kSeries) {
    auto q = Query::parse(request, kSeriesParams);
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
      co_return result;
    }
    auto plan = series_plan(std::get<Query>(q));
    if (auto* e = std::get_if<Error>(&plan)) {
      result = std::move(*e);
      co_return result;
    }
    const store::UsageSeriesQuery sq = std::get<SeriesPlan>(plan).query;
    std::function<std::variant<store::UsageSeries, std::string>(store::RecordStore&)> fn =
        [sq](store::RecordStore& r) { return r.usage_series(sq); };
    auto got = co_await on_store<store::UsageSeries>(snapshot, std::move(fn));
    if (auto* e = std::get_if<std::string>(&got)) {
      result = store_failed(*e);
    } else {
      result = AdminAnswer{200, series_json(std::get<SeriesPlan>(plan), std::get<0>(got))};
    }
    co_return result;
  }

  if (path == kGroups) {
    auto q = Query::parse(request, kGroupsParams);
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
      co_return result;
    }
    auto plan = groups_plan(std::get<Query>(q));
    if (auto* e = std::get_if<Error>(&plan)) {
      result = std::move(*e);
      co_return result;
    }
    const store::UsageGroupsQuery gq = std::get<GroupsPlan>(plan).query;
    std::function<std::variant<store::UsageGroupsPage, std::string>(store::RecordStore&)> fn =
        [gq](store::RecordStore& r) { return r.usage_groups(gq); };
    auto got = co_await on_store<store::UsageGroupsPage>(snapshot, std::move(fn));
    if (auto* e = std::get_if<std::string>(&got)) {
      result = store_failed(*e);
    } else {
      result = groups_answer(std::get<GroupsPlan>(plan), std::get<0>(got));
    }
    co_return result;
  }

  if (path == kLogs) {
    auto q = Query::parse(request, kLogsParams);
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
      co_return result;
    }
    auto lq = logs_query(std::get<Query>(q));
    if (auto* e = std::get_if<Error>(&lq)) {
      result = std::move(*e);
      co_return result;
    }
    const store::InferencePageQuery iq = std::get<store::InferencePageQuery>(lq);
    std::function<std::variant<store::InferencePage, std::string>(store::RecordStore&)> fn =
        [iq](store::RecordStore& r) { return r.inference_page(iq); };
    auto got = co_await on_store<store::InferencePage>(snapshot, std::move(fn));
    if (auto* e = std::get_if<std::string>(&got)) {
      result = store_failed(*e);
      co_return result;
    }
    const auto& page = std::get<0>(got);
    json::array data;
    for (const auto& r : page.rows) data.push_back(log_row(r));
    std::optional<std::string> next;
    if (page.has_more) next = row_cursor(page.rows.back().request_time_ms, page.rows.back().id);
    result = list_answer(std::move(data), page.has_more, next);
    co_return result;
  }

  if (path.starts_with(kLogs)) {  // /admin/v1/logs/{request_id}
    auto q = Query::parse(request, std::span<const std::string_view>());
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
      co_return result;
    }
    const std::string id(path.substr(kLogs.size() + 1));
    using One = std::pair<std::optional<store::InferenceRow>, std::vector<store::McpCallRow>>;
    std::function<std::variant<One, std::string>(store::RecordStore&)> fn =
        [id](store::RecordStore& r) -> std::variant<One, std::string> {
      auto row = r.inference_row(id);
      if (auto* e = std::get_if<std::string>(&row)) return *e;
      store::McpCallQuery mq;
      mq.request_id = id;
      mq.limit = kMaxPage;
      auto calls = r.mcp_calls(mq);
      if (auto* e = std::get_if<std::string>(&calls)) return *e;
      return One{std::move(std::get<0>(row)), std::move(std::get<0>(calls))};
    };
    auto got = co_await on_store<One>(snapshot, std::move(fn));
    if (auto* e = std::get_if<std::string>(&got)) {
      result = store_failed(*e);
      co_return result;
    }
    const auto& one = std::get<One>(got);
    if (!one.first) {
      result = Error::not_found("no inference log row for request '" + id.substr(0, 128) +
                                    "' (only models records.inference_log covers are logged; rows expire after "
                                    "its retention_days)",
                                "not_found");
      co_return result;
    }
    json::object o = log_row(*one.first);
    o["object"] = "inference.log";
    o["request"] = json_or_text(one.first->request_body);
    o["response"] = json_or_text(one.first->response_body);
    o["decisions"] = json_or_text(one.first->decisions);
    json::array calls;
    for (const auto& c : one.second) calls.push_back(mcp_row(c, true));
    o["mcp_calls"] = std::move(calls);
    result = AdminAnswer{200, json::serialize(o)};
    co_return result;
  }

  if (path == kMcpCalls) {
    auto q = Query::parse(request, kMcpParams);
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
      co_return result;
    }
    auto mq = mcp_query(std::get<Query>(q));
    if (auto* e = std::get_if<Error>(&mq)) {
      result = std::move(*e);
      co_return result;
    }
    const store::McpCallPageQuery cq = std::get<store::McpCallPageQuery>(mq);
    std::function<std::variant<store::McpCallPage, std::string>(store::RecordStore&)> fn =
        [cq](store::RecordStore& r) { return r.mcp_call_page(cq); };
    auto got = co_await on_store<store::McpCallPage>(snapshot, std::move(fn));
    if (auto* e = std::get_if<std::string>(&got)) {
      result = store_failed(*e);
      co_return result;
    }
    const auto& page = std::get<0>(got);
    json::array data;
    for (const auto& r : page.rows) data.push_back(mcp_row(r, false));
    std::optional<std::string> next;
    if (page.has_more) next = row_cursor(page.rows.back().time_ms, page.rows.back().id);
    result = list_answer(std::move(data), page.has_more, next);
    co_return result;
  }

  if (path == kAudit) {
    auto q = Query::parse(request, kAuditParams);
    if (auto* e = std::get_if<Error>(&q)) {
      result = std::move(*e);
      co_return result;
    }
    auto aq = audit_query(std::get<Query>(q));
    if (auto* e = std::get_if<Error>(&aq)) {
      result = std::move(*e);
      co_return result;
    }
    const store::AuditPageQuery pq = std::get<store::AuditPageQuery>(aq);
    std::function<std::variant<store::AuditPage, std::string>(store::RecordStore&)> fn =
        [pq](store::RecordStore& r) { return r.audit_page(pq); };
    auto got = co_await on_store<store::AuditPage>(snapshot, std::move(fn));
    if (auto* e = std::get_if<std::string>(&got)) {
      result = store_failed(*e);
      co_return result;
    }
    const auto& page = std::get<0>(got);
    json::array data;
    for (const auto& r : page.rows) data.push_back(audit_row(r));
    std::optional<std::string> next;
    if (page.has_more) next = base64url_encode(std::to_string(page.rows.back().id));
    result = list_answer(std::move(data), page.has_more, next);
    co_return result;
  }

  // POST /admin/v1/audit/verify
  auto q = Query::parse(request, std::span<const std::string_view>());
  if (auto* e = std::get_if<Error>(&q)) {
    result = std::move(*e);
    co_return result;
  }
  std::function<std::variant<store::AuditVerdict, std::string>(store::RecordStore&)> fn =
      [](store::RecordStore& r) { return r.verify_audit(); };
  auto got = co_await on_store<store::AuditVerdict>(snapshot, std::move(fn));
  if (auto* e = std::get_if<std::string>(&got)) {
    result = store_failed(*e);
    co_return result;
  }
  const auto& v = std::get<store::AuditVerdict>(got);
  json::object verdict{{"intact", v.intact},
                       {"rows", v.rows},
                       {"first_bad_id", v.intact ? json::value(nullptr) : json::value(v.first_bad_id)},
                       {"problem", v.problem.empty() ? json::value(nullptr) : json::value(v.problem)}};
  // The check itself is on the record (after the rows it read).
  audit(snapshot, ctx, "audit.verify", "audit chain", verdict);
  result = AdminAnswer{200, json::serialize(verdict)};
  co_return result;
}

}  // namespace gatehouse::admin
