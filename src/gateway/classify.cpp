#include "gateway/classify.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "api/errors.h"
#include "api/request.h"
#include "pipeline/kill_switch.h"
#include "provider/oauth.h"
#include "runtime/worker_pools.h"
#include "translate/hub.h"

namespace gatehouse::gateway {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxAnswerBytes = 1u << 20;
constexpr int kVerdictTokens = 32;  // "unsafe\nS1,S2": a verdict is a few tokens

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The classifier's question: the text as the user turn of an OpenAI chat request.
std::string question(std::string_view model, std::string_view text) {
  json::object msg{{"role", "user"}, {"content", text}};
  json::object body{{"model", model},
                    {"messages", json::array{std::move(msg)}},
                    {"max_tokens", kVerdictTokens},
                    {"temperature", 0},
                    {"stream", false}};
  return json::serialize(body);
}

// The answer's text (an OpenAI chat completion).
std::variant<std::string, Error> answer_text(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  const json::value* content = nullptr;
  if (!ec && v.is_object()) {
    if (const auto* cs = v.get_object().if_contains("choices"); cs && cs->is_array() && !cs->get_array().empty()) {
      const auto& c0 = cs->get_array().front();
      if (c0.is_object()) {
        if (const auto* m = c0.get_object().if_contains("message"); m && m->is_object()) {
          content = m->get_object().if_contains("content");
        }
      }
    }
  }
  if (!content || !content->is_string()) return Error::upstream_protocol("the classifier's answer has no text");
  return std::string(content->get_string());
}

asio::awaitable<std::variant<Verdict, Error>> ask(const runtime::Snapshot& snapshot, http::Exchange& ex,
                                                  const route::Target& target, const guard::GuardrailSpec& g,
                                                  std::string_view text, std::chrono::milliseconds budget) {
  const auto& adapter = *snapshot.providers.find(target.provider->name)->second;
  const ApiShape shape = adapter.shape();
  std::string body = question(g.model, text);
  std::unique_ptr<translate::ResponseTranslator> translator;
  if (translate::needs_translation(ApiShape::kOpenAI, shape)) {
    auto t = translate::translate_request(ApiShape::kOpenAI, shape, body, {target.provider->default_max_tokens, {}});
    if (auto* e = std::get_if<Error>(&t)) co_return std::move(*e);
    body = std::move(std::get<std::string>(t));
    translator = translate::translate_response(shape, ApiShape::kOpenAI, false);
  }
  api::CanonicalRequest request;
  if (auto spans = api::find_spans(body)) static_cast<api::Spans&>(request) = *spans;
  request.model = g.model;
  auto& pools = snapshot.services.pools->of(ex.worker());
  const auto deadline = std::chrono::steady_clock::now() + budget;
  // An OAuth token the provider refuses is refreshed and the question asked again, once.
  std::string answer;
  for (int oauth_try = 0;; ++oauth_try) {
    std::string token;
    if (auto* oauth = adapter.oauth()) {
      auto t = co_await oauth->token(pools);
      if (auto* e = std::get_if<Error>(&t)) co_return std::move(*e);
      token = std::move(std::get<std::string>(t));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return Error::upstream_timeout("the classifier took longer than the guardrail's timeout_ms");
    http::UpstreamRequest upstream;
    adapter.prepare(provider::Outgoing{request, body, target.model->upstream_model, ex.request_id(), token, nullptr},
                    upstream);
    http::CallTimeouts timeouts = adapter.timeouts();
    timeouts.connect = std::min(timeouts.connect, left);
    timeouts.first_byte = timeouts.idle = timeouts.total = left;
    http::UpstreamCall call(pools.get(adapter.origin()), timeouts);
    if (auto e = co_await call.send(upstream)) co_return std::move(*e);
    auto read = co_await call.read_all(kMaxAnswerBytes);
    if (auto* e = std::get_if<Error>(&read)) co_return std::move(*e);
    answer = std::move(std::get<std::string>(read));
    if (call.status() == 401 && oauth_try == 0 && adapter.oauth()) {
      adapter.oauth()->rejected(token);
      continue;
    }
    if (call.status() >= 400) {
      co_return api::upstream_status_error(call.status(), answer, call.header("retry-after"), target.provider->name);
    }
    break;
  }
  if (translator) {
    auto converted = translator->body(answer);
    if (auto* e = std::get_if<Error>(&converted)) co_return std::move(*e);
    answer = std::move(std::get<std::string>(converted));
  }
  auto content = answer_text(answer);
  if (auto* e = std::get_if<Error>(&content)) co_return std::move(*e);
  co_return read_verdict(std::get<std::string>(content));
}

// Why `target` may not be asked about this request's text, if it may not: the rules the
// caller's own request would meet there (a kill switch, the data class the model accepts; a
// pass-through provider has no credential of the gateway's to ask with).
std::optional<Error> refused(const runtime::Snapshot& snapshot, const pipeline::RequestContext& ctx,
                             const route::Plan& plan, const route::Target& target) {
  const auto& kills = *snapshot.services.kills;
  if (kills.match(plan.model->name, target.provider->name, {}, {}) || kills.match(target.model->name, target.provider->name, {}, {})) {
    return Error::forbidden("model '" + target.model->name + "' is switched off", "kill_switch");
  }
  if (target.provider->auth_passthrough) {
    return Error::forbidden("model '" + target.model->name + "' needs its caller's own token", "permission_denied");
  }
  const auto& dc = ctx.request.data_class;
  for (const auto* m : {plan.model, target.model}) {
    if (dc && m->max_data_class && *dc > *m->max_data_class) {
      return Error::forbidden("data class '" + std::string(config::to_string(*dc)) + "' may not be sent to model '" +
                                  m->name + "'",
                              "permission_denied");
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<Verdict, Error> read_verdict(std::string_view answer) {
  // The first non-empty line is the verdict; the next one, after "unsafe", the categories.
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= answer.size() && lines.size() < 2) {
    std::size_t eol = answer.find('\n', pos);
    std::string_view line = trim(answer.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos));
    if (!line.empty()) lines.push_back(line);
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  const std::string first = lines.empty() ? std::string() : lower(lines[0]);
  if (first == "safe") return Verdict{true, {}};
  if (first.starts_with("unsafe")) {
    Verdict v{false, {}};
    if (lines.size() > 1) {
      for (char c : lines[1].substr(0, 64)) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == ',') v.categories.push_back(c);
      }
    }
    return v;
  }
  return Error::upstream_protocol("the classifier's answer does not start with \"safe\" or \"unsafe\"");
}

asio::awaitable<std::variant<Verdict, Error>> classify(const runtime::Snapshot& snapshot, http::Exchange& ex,
                                                       const pipeline::RequestContext& ctx,
                                                       const guard::GuardrailSpec& g, std::string_view text) {
  auto routed = snapshot.router.resolve(g.model);
  if (auto* e = std::get_if<Error>(&routed)) co_return std::move(*e);
  const auto& plan = std::get<route::Plan>(routed);
  // timeout_ms bounds the whole question, every target tried included.
  const auto deadline = std::chrono::steady_clock::now() + g.timeout;
  Error last = Error::internal("model '" + g.model + "' has no target");
  for (const auto& target : plan.targets) {
    if (auto e = refused(snapshot, ctx, plan, target)) {
      last = std::move(*e);
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return Error::upstream_timeout("the classifier took longer than the guardrail's timeout_ms");
    auto verdict = co_await ask(snapshot, ex, target, g, text, left);
    if (std::holds_alternative<Verdict>(verdict)) co_return verdict;
    last = std::move(std::get<Error>(verdict));
  }
  co_return last;
}

}  // namespace gatehouse::gateway
