#include "record/trace.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <optional>

#include "core/trace_context.h"
#include "http/upstream.h"

namespace gatehouse::record {

namespace json = boost::json;
namespace beast = boost::beast;
namespace asio = boost::asio;

std::string otlp_json(const std::vector<Span>& spans, const std::string& service_name) {
  auto attribute = [](const std::string& key, const auto& value) {
    json::object v;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            v["stringValue"] = x;
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            v["intValue"] = std::to_string(x);  // OTLP JSON: 64-bit integers as strings
          } else if constexpr (std::is_same_v<T, double>) {
            v["doubleValue"] = x;
          } else {
            v["boolValue"] = x;
          }
        },
        value);
    return json::object{{"key", key}, {"value", std::move(v)}};
  };
  json::array out;
  for (const auto& s : spans) {
    json::array attrs;
    for (const auto& [k, v] : s.attributes) attrs.push_back(attribute(k, v));
    json::object span{{"traceId", to_hex(s.trace_id)},
                      {"spanId", to_hex(s.span_id)},
                      {"name", s.name},
                      {"kind", s.kind},
                      {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
                      {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
                      {"attributes", std::move(attrs)}};
    if (std::any_of(s.parent_span_id.begin(), s.parent_span_id.end(), [](std::uint8_t b) { return b != 0; })) {
      span["parentSpanId"] = to_hex(s.parent_span_id);
    }
    if (s.status) {
      json::object st{{"code", s.status}};
      if (!s.status_message.empty()) st["message"] = s.status_message;
      span["status"] = std::move(st);
    }
    out.push_back(std::move(span));
  }
  json::object resource{
      {"attributes", json::array{attribute("service.name", std::variant<std::string, std::int64_t, double, bool>(service_name))}}};
  json::object body{{"resourceSpans",
                     json::array{json::object{{"resource", std::move(resource)},
                                              {"scopeSpans", json::array{json::object{
                                                                 {"scope", json::object{{"name", "gatehouse"}}},
                                                                 {"spans", std::move(out)}}}}}}}};
  return json::serialize(body);
}

namespace {
// Each export has 10 s in all: a stuck collector never holds the exporter long.
const http::CallTimeouts kTimeouts{std::chrono::seconds(5), std::chrono::seconds(10), std::chrono::seconds(10),
                                   std::chrono::seconds(10)};
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;
// When stopping, new batches are started for this long (the one in flight may take its 10 s).
constexpr std::chrono::seconds kStopBudget{5};
}  // namespace

// The collector's connection: an upstream pool of one keep-alive connection on an io_context of
// the exporter's thread, run for each export.
struct TraceExporter::Client {
  explicit Client(const config::TracingConfig& c) {
    auto parsed = boost::urls::parse_uri(c.otlp_endpoint);
    if (!parsed || parsed->host_address().empty()) {
      invalid = "tracing.otlp_endpoint is not a URL";
      return;
    }
    const boost::urls::url_view u = *parsed;
    http::Origin origin;
    origin.tls = u.scheme_id() == boost::urls::scheme::https;
    origin.host = std::string(u.host_address());
    origin.port = u.has_port() ? std::string(u.port()) : (origin.tls ? "443" : "80");
    origin.ca_file = c.ca_file;
    origin.verify = true;
    origin.max_idle = 1;
    const std::string host = origin.host.find(':') != std::string::npos ? "[" + origin.host + "]" : origin.host;
    origin.host_header = origin.port == (origin.tls ? "443" : "80") ? host : host + ":" + origin.port;
    origin.key = "otlp|" + c.otlp_endpoint;
    target = u.encoded_path().empty() || u.encoded_path() == "/" ? "/v1/traces" : std::string(u.encoded_path());
    if (u.has_query()) target += "?" + std::string(u.encoded_query());
    pool.emplace(ioc, std::move(origin));
  }
  ~Client() {
    if (pool) pool->close();
  }

  // POSTs `body`; "" when the collector answered 2xx, else what went wrong.
  std::string post(const std::string& body, const std::map<std::string, std::string>& headers) {
    if (!pool) return invalid;
    std::string result = "no answer";
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          http::UpstreamCall call(*pool, kTimeouts);
          http::UpstreamRequest req{beast::http::verb::post, target, 11};
          req.set(beast::http::field::host, pool->origin().host_header);
          req.set(beast::http::field::content_type, "application/json");
          req.set(beast::http::field::user_agent, std::string("gatehouse/") + GATEHOUSE_VERSION);
          for (const auto& [name, value] : headers) req.set(name, value);
          req.body() = body;
          req.prepare_payload();
          if (auto e = co_await call.send(req)) {
            result = e->message;
            co_return;
          }
          const unsigned status = call.status();
          auto answer = co_await call.read_all(kMaxAnswerBytes);  // read to its end: the connection is kept
          if (auto* e = std::get_if<Error>(&answer)) {
            result = e->message;
          } else {
            result = status / 100 == 2 ? "" : "the collector answered HTTP " + std::to_string(status);
          }
        },
        [&](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            result = x.what();
          }
        });
    ioc.restart();
    ioc.run();
    return result;
  }

  asio::io_context ioc{1};
  std::optional<http::UpstreamPool> pool;  // destroyed before the context its sockets belong to
  std::string target;                      // the request line's path (and query)
  std::string invalid;
};

TraceExporter::TraceExporter(const config::TracingConfig& config) : config_(config) {
  thread_ = std::thread([this] { run(); });
}

TraceExporter::~TraceExporter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void TraceExporter::submit(std::vector<Span> spans) {
  std::lock_guard lock(mu_);
  if (queue_.size() + spans.size() > kMaxQueued) {
    dropped_.fetch_add(spans.size());
    return;
  }
  for (auto& s : spans) queue_.push_back(std::move(s));
}

void TraceExporter::run() {
  Client client(config_);
  std::unique_lock lock(mu_);
  auto last_warning = std::chrono::steady_clock::time_point{};
  std::optional<std::chrono::steady_clock::time_point> give_up;  // set when stopping
  for (;;) {
    wake_.wait_for(lock, config_.export_every, [&] { return stop_; });
    if (stop_ && !give_up) give_up = std::chrono::steady_clock::now() + kStopBudget;
    while (!queue_.empty()) {
      if (give_up && std::chrono::steady_clock::now() > *give_up) {
        // Stopping, with a collector too slow to take the rest: the process must exit.
        dropped_.fetch_add(queue_.size());
        queue_.clear();
        break;
      }
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      std::vector<Span> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + long(n)));
      queue_.erase(queue_.begin(), queue_.begin() + long(n));
      lock.unlock();
      std::string error = client.post(otlp_json(batch, config_.service_name), config_.headers);
      if (error.empty()) {
        exported_.fetch_add(n);
      } else {
        dropped_.fetch_add(n);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_warning > std::chrono::minutes(1)) {
          last_warning = now;
          spdlog::warn("tracing: sending {} spans to {} failed: {} (spans are dropped, never retried)", n, config_.otlp_endpoint,
                       error);
        }
      }
      lock.lock();
      if (!error.empty()) {
        if (!stop_) break;  // try the rest at the next interval
        // Stopping with a collector that does not answer: one try was enough; the process must exit.
        dropped_.fetch_add(queue_.size());
        queue_.clear();
      }
    }
    if (stop_) return;
  }
}

}  // namespace gatehouse::record
