#include "openai.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "json_text.h"
#include "shape_common.h"

namespace mockllm::openai {
namespace json = boost::json;
namespace {

constexpr int kMaxChoices = 128;
constexpr int kMaxDimensions = 65'536;
constexpr int kDefaultDimensions = 8;

std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Reply bad_param(std::string_view message, std::string_view param) {
  return error(400, message, "invalid_request_error", param);
}

// Everything a chat answer is made from, read from the request once.
struct ChatPlan {
  std::string model_json;  // the answer's model (the request's or the flavor's), a JSON string
  int choices = 1;
  bool stream = false;
  bool include_usage = false;
  bool usage_in_every_chunk = false;
  int tokens = 8;          // completion tokens per choice: the text's deltas, or the tool call's
  shape::AnswerText text;  // a text answer (not a tool call)
  std::string_view finish_reason = "stop";
  bool tool_call = false;
  std::string tool_name;
  std::string arguments;  // the tool call's arguments: JSON text, sent as a JSON string
  int prompt_tokens = 1;  // including cached_tokens
  int cached_tokens = 0;
  int stream_error_after = -1;
};

std::optional<Reply> read_chat(const json::object& req, const Control& control,
                               const Flavor& flavor, ChatPlan& plan) {
  const auto* model = req.if_contains("model");
  std::string_view model_name;
  if (flavor.model) {
    model_name = *flavor.model;
  } else if (!model || !model->is_string()) {
    return bad_param("you must provide a model parameter", "model");
  } else {
    model_name = model->get_string();
  }
  append_json_string(plan.model_json, model_name);
  plan.usage_in_every_chunk = flavor.usage_in_every_chunk;
  plan.stream_error_after = control.stream_error_after;

  const auto* messages_value = req.if_contains("messages");
  if (!messages_value || !messages_value->is_array() || messages_value->get_array().empty()) {
    return bad_param("'messages' must be a non-empty array", "messages");
  }
  const json::array& messages = messages_value->get_array();

  std::size_t chars = 0;
  const json::value* last_user_content = nullptr;
  std::string_view last_role;  // of the conversation: instructions (system, developer) aside
  for (const auto& m : messages) {
    const auto* msg = m.if_object();
    if (!msg) return bad_param("each message must be an object", "messages");
    const auto* role_value = msg->if_contains("role");
    const std::string_view role =
        role_value && role_value->is_string() ? std::string_view(role_value->get_string()) : "";
    if (role != "system" && role != "developer") last_role = role;
    if (const auto* content = msg->if_contains("content")) {
      chars += shape::text_code_points(*content);
      if (role == "user") last_user_content = content;
    }
  }
  // Cached prompt tokens are part of prompt_tokens, as OpenAI counts them.
  plan.cached_tokens = control.cache_read_tokens;
  plan.prompt_tokens = shape::prompt_tokens_for(chars) + plan.cached_tokens;

  // Every value some OpenAI reasoning model takes; which model takes which is not modelled.
  if (const auto* e = req.if_contains("reasoning_effort"); e && !e->is_null()) {
    const std::string_view effort = e->is_string() ? std::string_view(e->get_string()) : "";
    if (effort != "none" && effort != "minimal" && effort != "low" && effort != "medium" &&
        effort != "high" && effort != "xhigh") {
      return error(400,
                   "Invalid value for 'reasoning_effort': supported values are 'none', 'minimal', "
                   "'low', 'medium', 'high' and 'xhigh'.",
                   "invalid_request_error", "reasoning_effort", "invalid_value");
    }
  }

  std::optional<std::int64_t> n;
  if (!shape::optional_int(req, "n", 1, kMaxChoices, n)) {
    return bad_param("'n' must be an integer from 1 to 128", "n");
  }
  plan.choices = static_cast<int>(n.value_or(1));

  if (!shape::optional_bool(req, "stream", plan.stream)) {
    return bad_param("'stream' must be a boolean", "stream");
  }
  if (const auto* so = req.if_contains("stream_options"); so && so->is_object()) {
    if (!shape::optional_bool(so->get_object(), "include_usage", plan.include_usage)) {
      return bad_param("'include_usage' must be a boolean", "stream_options.include_usage");
    }
  }

  // A max_tokens below the answer's token count cuts it short, as a real model would.
  std::optional<std::int64_t> limit;
  for (std::string_view key : {"max_completion_tokens", "max_tokens"}) {
    std::optional<std::int64_t> value;
    if (!shape::optional_int(req, key, 1, INT32_MAX, value)) {
      return bad_param("'" + std::string(key) + "' must be a positive integer", key);
    }
    if (value && (!limit || *value < *limit)) limit = value;
  }

  // Tools: call one whenever the caller offers tools and did not just hand back a result.
  const auto* tools = req.if_contains("tools");
  const auto* tool_choice = req.if_contains("tool_choice");
  const bool choice_none =
      tool_choice && tool_choice->is_string() && tool_choice->get_string() == "none";
  if (tools && tools->is_array() && !tools->get_array().empty() && !choice_none &&
      last_role != "tool") {
    plan.tool_call = true;
    plan.finish_reason = "tool_calls";
    auto name_of = [](const json::value& holder) -> const json::value* {
      const auto* obj = holder.if_object();
      const auto* fn = obj ? obj->if_contains("function") : nullptr;
      const auto* fn_obj = fn ? fn->if_object() : nullptr;
      const auto* name = fn_obj ? fn_obj->if_contains("name") : nullptr;
      return name && name->is_string() ? name : nullptr;
    };
    const json::value* name = tool_choice ? name_of(*tool_choice) : nullptr;
    if (!name) name = name_of(tools->get_array().front());
    plan.tool_name = name ? std::string(name->get_string()) : "tool";
    std::string user_text;
    if (last_user_content) shape::append_text(*last_user_content, user_text);
    plan.arguments = shape::echo_arguments(user_text);
    plan.tokens = control.tokens;
    if (limit && *limit < plan.tokens) plan.tokens = static_cast<int>(*limit);
    return std::nullopt;
  }
  std::string guard_input;
  const bool guard = !control.reply && shape::is_guard_model(model_name);
  if (guard && last_user_content) shape::append_text(*last_user_content, guard_input);
  plan.text = shape::answer_text(control, guard ? &guard_input : nullptr, limit);
  plan.tokens = plan.text.tokens();
  if (plan.text.cut) plan.finish_reason = "length";
  return std::nullopt;
}

// `prompt_tokens_details` only when something was cached, so answers without the option stay
// as they were.
void append_usage(std::string& out, int prompt, int completion, int cached) {
  out += "{\"prompt_tokens\":";
  append_int(out, prompt);
  out += ",\"completion_tokens\":";
  append_int(out, completion);
  out += ",\"total_tokens\":";
  append_int(out, prompt + completion);
  if (cached > 0) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_int(out, cached);
    out += '}';
  }
  out += "}";
}

// A stream delta's tool call carries its position ("index"); a whole message's does not.
void append_tool_call(std::string& out, const ChatPlan& plan, bool with_index,
                      std::string_view call_id, std::string_view arguments) {
  out += with_index ? "{\"index\":0,\"id\":" : "{\"id\":";
  append_json_string(out, call_id);
  out += ",\"type\":\"function\",\"function\":{\"name\":";
  append_json_string(out, plan.tool_name);
  out += ",\"arguments\":";
  append_json_string(out, arguments);
  out += "}}";
}

Reply chat_answer(const ChatPlan& plan) {
  const std::string& text = plan.text.text;
  Reply reply;
  std::string& out = reply.body;
  out.reserve(256 + plan.choices * (text.size() + 128));
  out += "{\"id\":\"";
  out += shape::random_id("chatcmpl-");
  out += "\",\"object\":\"chat.completion\",\"created\":";
  append_int(out, std::time(nullptr));
  out += ",\"model\":";
  out += plan.model_json;
  out += ",\"choices\":[";
  for (int i = 0; i < plan.choices; ++i) {
    if (i) out += ',';
    out += "{\"index\":";
    append_int(out, i);
    out += ",\"message\":{\"role\":\"assistant\",\"content\":";
    if (plan.tool_call) {
      out += "null,\"tool_calls\":[";
      append_tool_call(out, plan, false, shape::random_id("call_"), plan.arguments);
      out += "]";
    } else {
      append_json_string(out, text);
    }
    out += ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"";
    out += plan.finish_reason;
    out += "\"}";
  }
  out += "],\"usage\":";
  append_usage(out, plan.prompt_tokens, plan.tokens * plan.choices, plan.cached_tokens);
  out += ",\"system_fingerprint\":\"fp_mockllm\"}";
  return reply;
}

Reply chat_stream(const ChatPlan& plan) {
  Reply reply;
  reply.stream = true;
  reply.content_type = "text/event-stream";
  reply.headers.emplace_back("Cache-Control", "no-cache");

  std::string head = "data: {\"id\":\"";
  head += shape::random_id("chatcmpl-");
  head += "\",\"object\":\"chat.completion.chunk\",\"created\":";
  append_int(head, std::time(nullptr));
  head += ",\"model\":";
  head += plan.model_json;
  head += ",\"system_fingerprint\":\"fp_mockllm\",\"choices\":";

  // The content deltas (token or argument pieces, one per choice each) and how many of the
  // completion tokens the ones sent so far stand for: Databricks reports that running count on
  // every chunk.
  const std::vector<std::string_view> pieces =
      plan.tool_call ? shape::argument_pieces(plan.arguments) : std::vector<std::string_view>();
  const int steps = plan.tool_call ? static_cast<int>(pieces.size()) : plan.tokens;
  const std::int64_t total_completion = static_cast<std::int64_t>(plan.tokens) * plan.choices;
  std::int64_t content_events = 0;
  const std::int64_t all_content_events = static_cast<std::int64_t>(steps) * plan.choices;
  auto completion_so_far = [&]() -> std::int64_t {
    return all_content_events == 0 ? 0 : total_completion * content_events / all_content_events;
  };

  auto add = [&](int index, std::string_view delta, std::string_view finish, bool paced,
                 std::optional<std::int64_t> completion) {
    std::string e;
    e.reserve(head.size() + delta.size() + 160);
    e += head;
    e += "[{\"index\":";
    append_int(e, index);
    e += ",\"delta\":";
    e += delta;
    e += ",\"logprobs\":null,\"finish_reason\":";
    e += finish;
    e += "}]";
    if (plan.usage_in_every_chunk) {
      e += ",\"usage\":";
      append_usage(e, plan.prompt_tokens, static_cast<int>(completion.value_or(0)),
                   plan.cached_tokens);
    } else if (plan.include_usage) {
      e += ",\"usage\":null";  // as OpenAI does on every chunk but the last
    }
    e += "}\n\n";
    reply.events.push_back({std::move(e), paced});
  };

  for (int i = 0; i < plan.choices; ++i) {
    std::string delta;
    if (plan.tool_call) {
      delta = "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[";
      append_tool_call(delta, plan, true, shape::random_id("call_"), "");
      delta += "]}";
    } else {
      delta = "{\"role\":\"assistant\",\"content\":\"\"}";
    }
    add(i, delta, "null", false, 0);
  }
  for (int step = 0; step < steps; ++step) {
    if (step == plan.stream_error_after) break;
    std::string delta;
    if (plan.tool_call) {
      delta = "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":";
      append_json_string(delta, pieces[static_cast<std::size_t>(step)]);
      delta += "}}]}";
    } else {
      delta = "{\"content\":";
      append_json_string(delta, plan.text.delta(step));
      delta += "}";
    }
    for (int i = 0; i < plan.choices; ++i) {
      ++content_events;
      add(i, delta, "null", true, completion_so_far());
    }
  }
  if (plan.stream_error_after >= 0) {
    // What OpenAI sends when a model fails mid-answer; the SDKs raise it. No [DONE] follows.
    reply.events.push_back(
        {"data: {\"error\":{\"message\":\"The server had an error while processing your "
         "request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"
         "\n\n",
         false});
    return reply;
  }
  const std::string finish = "\"" + std::string(plan.finish_reason) + "\"";
  for (int i = 0; i < plan.choices; ++i) add(i, "{}", finish, false, total_completion);

  if (plan.include_usage && !plan.usage_in_every_chunk) {
    std::string e = head;
    e += "[],\"usage\":";
    append_usage(e, plan.prompt_tokens, plan.tokens * plan.choices, plan.cached_tokens);
    e += "}\n\n";
    reply.events.push_back({std::move(e), false});
  }
  reply.events.push_back({"data: [DONE]\n\n", false});
  return reply;
}

// One embeddings input item: its hash seeds the vector, so equal inputs embed equally.
struct EmbeddingItem {
  std::uint64_t hash = kFnvOffset;
  int tokens = 0;
};

bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }

std::optional<EmbeddingItem> token_item(const json::array& ids) {
  EmbeddingItem item;
  for (const auto& id : ids) {
    if (!is_integer(id)) return std::nullopt;
    const std::int64_t n =
        id.is_int64() ? id.get_int64() : static_cast<std::int64_t>(id.get_uint64());
    item.hash = fnv1a(item.hash, &n, sizeof n);
  }
  item.tokens = static_cast<int>(ids.size());
  return item;
}

EmbeddingItem text_item(std::string_view text) {
  return {fnv1a(kFnvOffset, text.data(), text.size()),
          shape::prompt_tokens_for(count_code_points(text))};
}

// Accepts the four shapes of `input`: a string, strings, token ids, or arrays of token ids.
std::optional<std::vector<EmbeddingItem>> embedding_items(const json::value& input) {
  std::vector<EmbeddingItem> items;
  if (input.is_string()) {
    items.push_back(text_item(input.get_string()));
    return items;
  }
  if (!input.is_array() || input.get_array().empty()) return std::nullopt;
  const json::array& arr = input.get_array();
  if (is_integer(arr.front())) {
    auto item = token_item(arr);
    if (!item) return std::nullopt;
    items.push_back(*item);
    return items;
  }
  for (const auto& v : arr) {
    if (v.is_string()) {
      items.push_back(text_item(v.get_string()));
    } else if (v.is_array() && !v.get_array().empty()) {
      auto item = token_item(v.get_array());
      if (!item) return std::nullopt;
      items.push_back(*item);
    } else {
      return std::nullopt;
    }
  }
  return items;
}

// A unit-length vector (as real embedding models give) from a seeded generator.
void embedding_vector(std::uint64_t seed, std::vector<float>& out) {
  double norm = 0;
  for (float& x : out) {
    x = static_cast<float>(static_cast<double>(splitmix64(seed) >> 11) * 0x1.0p-52 - 1.0);
    norm += static_cast<double>(x) * x;
  }
  if (norm > 0) {
    const double scale = 1.0 / std::sqrt(norm);
    for (float& x : out) x = static_cast<float>(x * scale);
  }
}

// What the SDKs ask for by default: the little-endian float32 bytes, base64-encoded.
void append_base64_floats(std::string& out, const std::vector<float>& v) {
  static_assert(std::endian::native == std::endian::little, "embeddings are sent little-endian");
  const std::size_t bytes = v.size() * sizeof(float);
  const std::size_t at = out.size();
  out.resize(at + 4 * ((bytes + 2) / 3) + 1);  // EVP_EncodeBlock writes a trailing NUL
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                      reinterpret_cast<const unsigned char*>(v.data()), static_cast<int>(bytes));
  out.resize(at + static_cast<std::size_t>(written));
}

}  // namespace

std::string_view token_word(int i) { return shape::token_word(i); }

Reply error(unsigned status, std::string_view message, std::string_view type,
            std::optional<std::string_view> param, std::optional<std::string_view> code) {
  Reply reply;
  reply.status = status;
  std::string& out = reply.body;
  out += "{\"error\":{\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, type);
  out += ",\"param\":";
  if (param)
    append_json_string(out, *param);
  else
    out += "null";
  out += ",\"code\":";
  if (code)
    append_json_string(out, *code);
  else
    out += "null";
  out += "}}";
  return reply;
}

Reply injected_error(const Control& control) {
  const std::string_view type = control.status == 429   ? "rate_limit_exceeded"
                                : control.status >= 500 ? "server_error"
                                                        : "invalid_request_error";
  return shape::injected(control,
                         error(static_cast<unsigned>(control.status),
                               "mockllm injected status " + std::to_string(control.status), type));
}

Reply chat_completions(const json::object& request, const Control& control, const Flavor& flavor) {
  ChatPlan plan;
  if (auto bad = read_chat(request, control, flavor, plan)) return std::move(*bad);
  return plan.stream ? chat_stream(plan) : chat_answer(plan);
}

Reply embeddings(const json::object& request, const Flavor& flavor) {
  const auto* model = request.if_contains("model");
  if (!flavor.model && (!model || !model->is_string())) {
    return bad_param("you must provide a model parameter", "model");
  }
  const auto* input = request.if_contains("input");
  auto items = input ? embedding_items(*input) : std::nullopt;
  if (!items) {
    return bad_param(
        "'input' must be a string, an array of strings, an array of token ids or "
        "an array of token id arrays, and not empty",
        "input");
  }
  std::optional<std::int64_t> dimensions;
  if (!shape::optional_int(request, "dimensions", 1, kMaxDimensions, dimensions)) {
    return bad_param("'dimensions' must be an integer from 1 to 65536", "dimensions");
  }
  bool base64 = false;
  if (const auto* format = request.if_contains("encoding_format"); format && !format->is_null()) {
    if (!format->is_string() ||
        (format->get_string() != "float" && format->get_string() != "base64")) {
      return bad_param("'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
    }
    base64 = format->get_string() == "base64";
  }

  std::vector<float> vec(static_cast<std::size_t>(dimensions.value_or(kDefaultDimensions)));
  Reply reply;
  std::string& out = reply.body;
  out.reserve(128 + items->size() * (64 + vec.size() * (base64 ? 6 : 12)));
  out += "{\"object\":\"list\",\"data\":[";
  int prompt_tokens = 0;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const EmbeddingItem& item = (*items)[i];
    prompt_tokens += item.tokens;
    embedding_vector(item.hash, vec);
    if (i) out += ',';
    out += "{\"object\":\"embedding\",\"index\":";
    append_int(out, static_cast<std::int64_t>(i));
    out += ",\"embedding\":";
    if (base64) {
      out += '"';
      append_base64_floats(out, vec);
      out += '"';
    } else {
      out += '[';
      for (std::size_t k = 0; k < vec.size(); ++k) {
        if (k) out += ',';
        append_float(out, vec[k]);
      }
      out += ']';
    }
    out += '}';
  }
  out += "],\"model\":";
  append_json_string(out, flavor.model ? *flavor.model : std::string_view(model->get_string()));
  out += ",\"usage\":{\"prompt_tokens\":";
  append_int(out, prompt_tokens);
  out += ",\"total_tokens\":";
  append_int(out, prompt_tokens);
  out += "}}";
  return reply;
}

Reply models() {
  Reply reply;
  reply.body =
      "{\"object\":\"list\",\"data\":[{\"id\":\"mock-model\",\"object\":\"model\",\"created\":0,"
      "\"owned_by\":\"mockllm\"}]}";
  return reply;
}

Reply model(std::string_view id) {
  Reply reply;
  reply.body = "{\"id\":";
  append_json_string(reply.body, id);
  reply.body += ",\"object\":\"model\",\"created\":0,\"owned_by\":\"mockllm\"}";
  return reply;
}

}  // namespace mockllm::openai
