// Per-request control of the mock: latency, token counts, injected errors and resets.
//
// A test picks the behaviour of each request itself, so one mock serves a whole test suite.
// Options come from a top-level "mock" object in the JSON body (a gateway forwards unknown
// fields untouched, so tests steer the mock *through* the gateway) or from `x-mock-<option>`
// request headers; a header wins over the body. Header names may spell the option with '_' or
// '-' (`x-mock-latency-ms`), since some proxies drop headers whose names hold underscores.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace mockllm {

enum class ResetMode {
  kNone,
  kBefore,  // close with a TCP reset after reading the request, before any byte of the answer
  kMid,     // send the headers and half of the answer, then reset
};

struct Control {
  int latency_ms = 0;      // wait before the first byte of the answer
  int tokens = 8;          // completion tokens to generate
  int inter_token_ms = 0;  // wait before each token chunk of a stream
  int status = 0;          // 0: answer normally; else answer with this status and an error body
  std::optional<std::string> error_body;  // raw body for `status` instead of the OpenAI shape
  std::string error_content_type = "application/json";
  int retry_after = -1;  // seconds for a Retry-After header; -1: none
  ResetMode reset = ResetMode::kNone;
  int cache_read_tokens = 0;       // prompt tokens reported as read from the prompt cache
  int cache_creation_tokens = 0;   // prompt tokens reported as written to it (Anthropic only)
  bool stop_sequence_hit = false;  // Anthropic: end on the request's first stop sequence
  int stream_error_after = -1;     // >= 0: a stream ends with an error event after N deltas
  int linger_ms = 0;               // a stream: wait after its last event before ending the body
  // The answer's text instead of the generated words (and of the classifier stand-in's
  // verdict); `tokens` does not apply then. Set by `reply`, or by `reply_chunks` as their
  // concatenation.
  std::optional<std::string> reply;
  // Stream deltas of `reply`: 0 splits it on word boundaries (a word with the whitespace after
  // it per delta), N > 0 in pieces of N bytes that never split a UTF-8 sequence.
  int reply_chunk = 0;
  // `reply_chunks`: exactly these deltas (non-empty only with `reply`; `reply_chunk` does not
  // apply then).
  std::vector<std::string> reply_chunks;
};

// Applies the options of a body's "mock" object. Returns an error message for an unknown option
// or a bad value (so a typo in a test fails loudly instead of being ignored), else nullopt.
std::optional<std::string> apply_body_options(Control& control, const boost::json::object& mock);

// Applies one header. `option` is the header name after the "x-mock-" prefix, in lower case.
std::optional<std::string> apply_header_option(Control& control, std::string_view option,
                                               std::string_view value);

// Sticky options (POST /__mock/defaults): what every API request starts from until cleared.
// They steer requests a test cannot reach itself: a gateway translating a request to another
// shape drops the unknown "mock" field, and does not forward the client's headers. A request's
// own body and header options still win. Shared by every worker: thread-safe, and no lock is
// taken while none are set.
class Defaults {
 public:
  // Replaces the defaults with `options` (the same options as a body's "mock" object; `{}`
  // clears them). An unknown option or a bad value is an error and changes nothing.
  std::optional<std::string> set(const boost::json::object& options);
  void clear();
  // What a request starts from: Control{} with the defaults applied.
  Control control() const;
  // The options in force, as the JSON object they were set with.
  std::string json() const;

 private:
  mutable std::mutex mutex_;
  std::atomic<bool> active_{false};
  Control control_;
  std::string json_ = "{}";
};

}  // namespace mockllm
