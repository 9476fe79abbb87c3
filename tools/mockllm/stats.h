// What the mock saw: counters and the most recent requests, for tests to assert on
// (GET /__mock/stats, GET /__mock/requests, POST /__mock/reset).
//
// Shared by every worker thread. Counters are relaxed atomics (they are only read by tests,
// never used to order anything); the request ring takes a mutex, and `--no-record` keeps
// benchmarks off it entirely.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mockllm {

struct RecordedRequest {
  std::uint64_t seq = 0;
  std::string method;
  std::string target;  // path and query as received
  std::string sni;     // TLS server name the client sent; empty over plain HTTP
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;                                          // at most kMaxRecordedBody bytes
  bool body_truncated = false;
};

class Stats {
 public:
  static constexpr std::size_t kRingSize = 100;
  // Claude Code's first request alone is ~80 KB (tools and system prompt); 100 of these at most.
  static constexpr std::size_t kMaxRecordedBody = 256 * 1024;

  struct Gauge {
    explicit Gauge(std::atomic<std::int64_t>& g) : g_(g) {
      g_.fetch_add(1, std::memory_order_relaxed);
    }
    ~Gauge() { g_.fetch_sub(1, std::memory_order_relaxed); }
    Gauge(const Gauge&) = delete;
    Gauge& operator=(const Gauge&) = delete;
    std::atomic<std::int64_t>& g_;
  };

  std::atomic<std::uint64_t> requests{0};  // API requests (not /__mock/ or token ones)
  std::atomic<std::uint64_t> streams_started{0};
  std::atomic<std::uint64_t> streams_completed{0};
  std::atomic<std::uint64_t> streams_cancelled{0};  // the client went away mid-stream
  std::atomic<std::uint64_t> streams_reset{0};      // cut by an injected reset
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> oauth_token_requests{0};  // every POST /oidc/v1/token
  std::atomic<std::uint64_t> oauth_tokens_issued{0};
  std::atomic<std::int64_t> active_streams{0};
  std::atomic<std::int64_t> active_connections{0};

  // Counts an API request (the model APIs; not the token endpoint, not /__mock/).
  void count_request() { requests.fetch_add(1, std::memory_order_relaxed); }

  // The next sequence number (1, 2, ...) of a request that is recorded: API requests and
  // token endpoint requests share it.
  std::uint64_t next_seq() { return sequence_.fetch_add(1, std::memory_order_relaxed) + 1; }

  void record(RecordedRequest request);

  // The last `limit` recorded requests, oldest first, as a JSON array.
  std::string requests_json(std::size_t limit) const;
  std::string counters_json() const;

  // Empties the ring and zeroes the counters; the active_* gauges describe the present and stay.
  void reset();

 private:
  std::atomic<std::uint64_t> sequence_{0};
  mutable std::mutex mutex_;
  std::deque<RecordedRequest> ring_;
};

}  // namespace mockllm
