#include "record/trace.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include "core/trace_context.h"

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

TraceExporter::TraceExporter(std::string endpoint, std::string service_name, std::chrono::milliseconds every)
    : endpoint_(std::move(endpoint)), service_name_(std::move(service_name)), every_(every) {
  // http://host[:port][/path] (the config loader checked the scheme).
  std::string rest = endpoint_.substr(endpoint_.find("://") + 3);
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  path_ = slash == std::string::npos ? "/v1/traces" : rest.substr(slash);
  std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    host_ = authority.substr(0, colon);
    port_ = authority.substr(colon + 1);
  } else {
    host_ = authority;
    port_ = "80";
  }
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
  std::unique_lock lock(mu_);
  auto last_warning = std::chrono::steady_clock::time_point{};
  for (;;) {
    wake_.wait_for(lock, every_, [&] { return stop_; });
    while (!queue_.empty()) {
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      std::vector<Span> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + long(n)));
      queue_.erase(queue_.begin(), queue_.begin() + long(n));
      lock.unlock();
      std::string error = post(otlp_json(batch, service_name_));
      if (error.empty()) {
        exported_.fetch_add(n);
      } else {
        dropped_.fetch_add(n);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_warning > std::chrono::minutes(1)) {
          last_warning = now;
          spdlog::warn("tracing: sending {} spans to {} failed: {} (spans are dropped, never retried)", n, endpoint_,
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

std::string TraceExporter::post(const std::string& body) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    std::string result = "no answer";
    // Every step of one export has 5 s in all: a stuck collector never holds the exporter long.
    stream.expires_after(std::chrono::seconds(5));
    beast::http::request<beast::http::string_body> req{beast::http::verb::post, path_, 11};
    req.set(beast::http::field::host, host_ + ":" + port_);
    req.set(beast::http::field::content_type, "application/json");
    req.set(beast::http::field::user_agent, std::string("gatehouse/") + GATEHOUSE_VERSION);
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> res;
    resolver.async_resolve(host_, port_, [&](boost::system::error_code ec, asio::ip::tcp::resolver::results_type r) {
      if (ec) {
        result = "resolving " + host_ + ": " + ec.message();
        return;
      }
      stream.async_connect(r, [&](boost::system::error_code ec, const auto&) {
        if (ec) {
          result = "connecting: " + ec.message();
          return;
        }
        beast::http::async_write(stream, req, [&](boost::system::error_code ec, std::size_t) {
          if (ec) {
            result = "sending: " + ec.message();
            return;
          }
          beast::http::async_read(stream, buffer, res, [&](boost::system::error_code ec, std::size_t) {
            if (ec) {
              result = "reading the answer: " + ec.message();
              return;
            }
            result = res.result_int() / 100 == 2 ? "" : "the collector answered HTTP " + std::to_string(res.result_int());
          });
        });
      });
    });
    ioc.run();
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return result;
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace gatehouse::record
