#include "control.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <boost/json/array.hpp>

#include <boost/json/serialize.hpp>

namespace mockllm {
namespace {

// Each option's limits keep a typo from hanging a test for hours or filling memory.
constexpr int kMaxDelayMs = 600'000;
constexpr int kMaxTokens = 100'000;
constexpr int kMaxCacheTokens = 100'000'000;
constexpr std::size_t kMaxReplyBytes = 1 << 20;
constexpr std::size_t kMaxReplyChunks = 100'000;

enum class Option {
  kLatency,
  kTokens,
  kInterToken,
  kStatus,
  kErrorBody,
  kErrorType,
  kRetryAfter,
  kReset,
  kCacheRead,
  kCacheCreation,
  kStopSequenceHit,
  kStreamErrorAfter,
  kLinger,
  kReply,
  kReplyChunk,
  kReplyChunks,
  kUnknown
};

Option option_named(std::string_view name) {
  if (name == "latency_ms") return Option::kLatency;
  if (name == "tokens") return Option::kTokens;
  if (name == "inter_token_ms") return Option::kInterToken;
  if (name == "status") return Option::kStatus;
  if (name == "error_body") return Option::kErrorBody;
  if (name == "error_content_type") return Option::kErrorType;
  if (name == "retry_after") return Option::kRetryAfter;
  if (name == "reset") return Option::kReset;
  if (name == "cache_read_tokens") return Option::kCacheRead;
  if (name == "cache_creation_tokens") return Option::kCacheCreation;
  if (name == "stop_sequence_hit") return Option::kStopSequenceHit;
  if (name == "stream_error_after") return Option::kStreamErrorAfter;
  if (name == "linger_ms") return Option::kLinger;
  if (name == "reply") return Option::kReply;
  if (name == "reply_chunk") return Option::kReplyChunk;
  if (name == "reply_chunks") return Option::kReplyChunks;
  return Option::kUnknown;
}

std::string unknown_option(std::string_view name) {
  return "unknown mock option '" + std::string(name) +
         "' (known: latency_ms, tokens, inter_token_ms, status, error_body, "
         "error_content_type, retry_after, reset, cache_read_tokens, cache_creation_tokens, "
         "stop_sequence_hit, stream_error_after, linger_ms, reply, reply_chunk, reply_chunks)";
}

std::string bad_value(std::string_view name, std::string_view expected) {
  return "mock option '" + std::string(name) + "' must be " + std::string(expected);
}

// The value an option holds, whichever way it arrived. Integers are checked against limits.
struct Value {
  std::optional<std::int64_t> integer;
  std::optional<std::string_view> text;
  std::optional<bool> boolean;
  const boost::json::array* array = nullptr;  // only from a body (or the sticky defaults)
  bool from_header = false;
};

std::optional<std::string> apply(Control& c, std::string_view name, const Value& v) {
  auto integer_in = [&](int& field, std::int64_t lo,
                        std::int64_t hi) -> std::optional<std::string> {
    if (!v.integer || *v.integer < lo || *v.integer > hi) {
      return bad_value(name, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    field = static_cast<int>(*v.integer);
    return std::nullopt;
  };
  switch (option_named(name)) {
    case Option::kLatency:
      return integer_in(c.latency_ms, 0, kMaxDelayMs);
    case Option::kTokens:
      return integer_in(c.tokens, 0, kMaxTokens);
    case Option::kInterToken:
      return integer_in(c.inter_token_ms, 0, kMaxDelayMs);
    // 1xx would not end the exchange, so it cannot be an answer.
    case Option::kStatus:
      return integer_in(c.status, 200, 599);
    case Option::kRetryAfter:
      return integer_in(c.retry_after, 0, 86'400);
    case Option::kErrorBody:
      if (!v.text) return bad_value(name, "a string");
      c.error_body = std::string(*v.text);
      return std::nullopt;
    case Option::kErrorType:
      // It becomes a response header: no control characters, so no injected header lines.
      if (!v.text || v.text->empty() || std::any_of(v.text->begin(), v.text->end(), [](char ch) {
            return static_cast<unsigned char>(ch) < 0x20;
          })) {
        return bad_value(name, "a non-empty string without control characters");
      }
      c.error_content_type = std::string(*v.text);
      return std::nullopt;
    case Option::kReset:
      if (v.text == "before") {
        c.reset = ResetMode::kBefore;
      } else if (v.text == "mid") {
        c.reset = ResetMode::kMid;
      } else if (v.text == "none" || v.text == "") {
        c.reset = ResetMode::kNone;
      } else {
        return bad_value(name, "\"before\", \"mid\" or \"none\"");
      }
      return std::nullopt;
    case Option::kCacheRead:
      return integer_in(c.cache_read_tokens, 0, kMaxCacheTokens);
    case Option::kCacheCreation:
      return integer_in(c.cache_creation_tokens, 0, kMaxCacheTokens);
    case Option::kStreamErrorAfter:
      return integer_in(c.stream_error_after, 0, kMaxTokens);
    case Option::kLinger:
      return integer_in(c.linger_ms, 0, kMaxDelayMs);
    case Option::kStopSequenceHit:
      if (v.boolean) {
        c.stop_sequence_hit = *v.boolean;
      } else if (v.integer == 0 || v.integer == 1) {
        c.stop_sequence_hit = *v.integer == 1;
      } else {
        return bad_value(name, "a boolean");
      }
      return std::nullopt;
    case Option::kReply:
      if (!v.text) return bad_value(name, "a string");
      if (v.text->size() > kMaxReplyBytes) return bad_value(name, "at most 1 MiB");
      c.reply = std::string(*v.text);
      c.reply_chunks.clear();
      return std::nullopt;
    case Option::kReplyChunk:
      return integer_in(c.reply_chunk, 0, static_cast<std::int64_t>(kMaxReplyBytes));
    case Option::kReplyChunks: {
      if (v.from_header) {
        return bad_value(name,
                         "a JSON array: set it in the body's \"mock\" object or in "
                         "/__mock/defaults (there is no header form)");
      }
      if (!v.array || v.array->empty() || v.array->size() > kMaxReplyChunks) {
        return bad_value(name, "a non-empty array of at most 100000 strings");
      }
      std::vector<std::string> chunks;
      std::string text;
      chunks.reserve(v.array->size());
      for (const auto& chunk : *v.array) {
        if (!chunk.is_string()) return bad_value(name, "an array of strings");
        text.append(chunk.get_string().data(), chunk.get_string().size());
        if (text.size() > kMaxReplyBytes) return bad_value(name, "at most 1 MiB in all");
        chunks.emplace_back(chunk.get_string());
      }
      c.reply = std::move(text);
      c.reply_chunks = std::move(chunks);
      return std::nullopt;
    }
    case Option::kUnknown:
      break;
  }
  return unknown_option(name);
}

}  // namespace

std::optional<std::string> apply_body_options(Control& control, const boost::json::object& mock) {
  // Which of the two would win depends on the keys' order: say so instead.
  if (mock.contains("reply") && mock.contains("reply_chunks")) {
    return std::string("mock options 'reply' and 'reply_chunks' exclude each other");
  }
  for (const auto& [key, value] : mock) {
    Value v;
    if (value.is_int64()) {
      v.integer = value.get_int64();
    } else if (value.is_uint64() && value.get_uint64() <= INT64_MAX) {
      v.integer = static_cast<std::int64_t>(value.get_uint64());
    } else if (value.is_double() &&
               value.get_double() ==
                   static_cast<double>(static_cast<std::int64_t>(value.get_double()))) {
      v.integer = static_cast<std::int64_t>(value.get_double());  // JavaScript's 5.0
    } else if (value.is_string()) {
      v.text = std::string_view(value.get_string());
    } else if (value.is_bool()) {
      v.boolean = value.get_bool();
    } else if (value.is_array()) {
      v.array = &value.get_array();
    }
    if (auto err = apply(control, key, v)) return err;
  }
  return std::nullopt;
}

std::optional<std::string> apply_header_option(Control& control, std::string_view option,
                                               std::string_view value) {
  std::string name(option);
  for (char& ch : name) {
    if (ch == '-') ch = '_';
  }
  Value v;
  v.text = value;
  v.from_header = true;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec == std::errc() && end == value.data() + value.size()) v.integer = n;
  if (value == "true") v.boolean = true;
  if (value == "false") v.boolean = false;
  return apply(control, name, v);
}

std::optional<std::string> Defaults::set(const boost::json::object& options) {
  Control next;
  if (auto err = apply_body_options(next, options)) return err;
  std::lock_guard lock(mutex_);
  control_ = std::move(next);
  json_ = boost::json::serialize(options);
  active_.store(!options.empty(), std::memory_order_release);
  return std::nullopt;
}

void Defaults::clear() {
  std::lock_guard lock(mutex_);
  control_ = Control{};
  json_ = "{}";
  active_.store(false, std::memory_order_release);
}

Control Defaults::control() const {
  if (!active_.load(std::memory_order_acquire)) return Control{};
  std::lock_guard lock(mutex_);
  return control_;
}

std::string Defaults::json() const {
  std::lock_guard lock(mutex_);
  return json_;
}

}  // namespace mockllm
