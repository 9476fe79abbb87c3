// OpenTelemetry traces over OTLP/HTTP with the JSON encoding
// (https://opentelemetry.io/docs/specs/otlp/#otlphttp): spans are queued by workers (never
// blocking: a full queue drops spans and counts them) and sent in batches by one thread, every
// export interval, to the collector's /v1/traces. There is no Debian package of the OpenTelemetry
// C++ SDK; the JSON encoding is small and checked against a receiver in the tests. Exports go
// through the gateway's own upstream client (http::UpstreamPool: keep-alive, TLS with
// verification and SNI, timeouts) on the exporter's thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "config/config.h"

namespace gatehouse::record {

struct Span {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};
  std::array<std::uint8_t, 8> parent_span_id{};  // zero: a root span
  std::string name;
  int kind = 1;  // OTLP SpanKind: 1 internal, 2 server, 3 client
  std::int64_t start_unix_ns = 0, end_unix_ns = 0;
  std::vector<std::pair<std::string, std::variant<std::string, std::int64_t, double, bool>>> attributes;
  int status = 0;  // 0 unset, 1 ok, 2 error
  std::string status_message;
};

class TraceExporter {
 public:
  // `config.otlp_endpoint`: http(s)://host[:port][/path], the OTLP/HTTP traces URL (checked by
  // the config loader).
  explicit TraceExporter(const config::TracingConfig& config);
  ~TraceExporter();  // sends what is queued (batches started within 5 s), then stops
  TraceExporter(const TraceExporter&) = delete;
  TraceExporter& operator=(const TraceExporter&) = delete;

  // Queues a request's spans (its own and one per upstream attempt). Never blocks.
  void submit(std::vector<Span> spans);

  std::uint64_t exported() const { return exported_.load(); }  // spans the collector accepted
  std::uint64_t dropped() const { return dropped_.load(); }    // queue full, or the export failed
  const config::TracingConfig& config() const { return config_; }

  static constexpr std::size_t kMaxQueued = 20'000;  // spans
  static constexpr std::size_t kMaxBatch = 2'000;

 private:
  struct Client;
  void run();

  const config::TracingConfig config_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Span> queue_;
  bool stop_ = false;
  std::atomic<std::uint64_t> exported_{0}, dropped_{0};
  std::thread thread_;
};

// The OTLP JSON request body for `spans` (tests).
std::string otlp_json(const std::vector<Span>& spans, const std::string& service_name);

}  // namespace gatehouse::record
