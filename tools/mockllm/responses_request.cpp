#include "responses_request.h"

#include <cstdint>
#include <span>
#include <unordered_set>

#include <boost/json/array.hpp>

#include "json_text.h"
#include "openai.h"

namespace mockllm::responses {
namespace json = boost::json;
namespace {

using Values = std::span<const std::string_view>;

constexpr std::int64_t kMinOutputTokens = 16;
constexpr std::int64_t kMaxTopLogprobs = 20;
constexpr std::size_t kMaxMetadataProperties = 16;
constexpr std::size_t kMaxMetadataValue = 512;

// The API's names and values, packed by hand (clang-format would give each its own line).
// clang-format off
// Every top-level parameter of the API (openai-node 7.5's ResponseCreateParamsBase, plus
// `max_tool_calls` from the API reference), and mockllm's own `mock`.
constexpr std::string_view kParameters[] = {
    "background", "context_management", "conversation", "include", "input", "instructions",
    "max_output_tokens", "max_tool_calls", "metadata", "model", "moderation",
    "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
    "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier",
    "service_tier", "store", "stream", "stream_options", "temperature", "text", "tool_choice",
    "tools", "top_logprobs", "top_p", "truncation", "user", "mock"};
// What Databricks' /serving-endpoints/responses takes besides (its agents' request fields).
constexpr std::string_view kDatabricksParameters[] = {
    "custom_inputs", "databricks_options", "context"};
// The input item types the API takes, in the order its refusal lists them.
constexpr std::string_view kItemTypes[] = {
    "additional_tools", "agent_message", "apply_patch_call", "apply_patch_call_output",
    "code_interpreter_call", "compaction", "compaction_trigger", "computer_call",
    "computer_call_output", "custom_tool_call", "custom_tool_call_output", "file_search_call",
    "function_call", "function_call_output", "image_generation_call", "item_reference",
    "local_shell_call", "local_shell_call_output", "mcp_approval_request",
    "mcp_approval_response", "mcp_call", "mcp_list_tools", "message", "multi_agent_call",
    "multi_agent_call_output", "program", "program_output", "reasoning", "shell_call",
    "shell_call_output", "tool_search_call", "tool_search_output", "web_search_call"};
constexpr std::string_view kRoles[] = {"assistant", "system", "developer", "user"};
constexpr std::string_view kPartTypes[] = {
    "input_text", "input_image", "input_audio", "output_text", "refusal", "input_file",
    "computer_screenshot", "summary_text", "encrypted_content"};
constexpr std::string_view kAssistantParts[] = {"output_text", "refusal"};
constexpr std::string_view kInputParts[] = {
    "input_text", "input_image", "input_file", "input_audio"};
// The API's refusal of an output part in a user message names one more (not in the SDK).
constexpr std::string_view kInputPartsNamed[] = {
    "input_text", "input_image", "input_file", "scoped_content", "input_audio"};
constexpr std::string_view kMessageMembers[] = {"type", "role", "content", "id", "status"};
constexpr std::string_view kPhases[] = {"commentary", "final_answer"};
constexpr std::string_view kIncludables[] = {
    "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
    "message.input_image.image_url", "computer_call_output.output.image_url",
    "code_interpreter_call.outputs", "reasoning.encrypted_content",
    "message.output_text.logprobs"};
constexpr std::string_view kToolChoices[] = {"none", "auto", "required"};
constexpr std::string_view kFormatTypes[] = {"json_object", "text", "json_schema"};
constexpr std::string_view kVerbosities[] = {"low", "medium", "high"};
constexpr std::string_view kEfforts[] = {
    "none", "minimal", "low", "medium", "high", "xhigh", "max"};
constexpr std::string_view kSummaries[] = {"concise", "detailed", "auto"};
constexpr std::string_view kReasoningMembers[] = {"effort", "summary", "context", "mode"};
constexpr std::string_view kRetentions[] = {"in_memory", "24h"};
constexpr std::string_view kTruncations[] = {"auto", "disabled"};
constexpr std::string_view kServiceTiers[] = {"auto", "default", "fast", "flex", "priority"};
// clang-format on

bool one_of(std::string_view value, Values values) {
  for (std::string_view v : values) {
    if (v == value) return true;
  }
  return false;
}

// How the API names a value's type in its refusals.
std::string_view type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a decimal";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    default:
      return "an object";
  }
}

// "'a' and 'b'", "'a', 'b', and 'c'"; `conjunction` is "and" or "or".
std::string listed(Values values, std::string_view conjunction = "and") {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += values.size() > 2 ? ", " : " ";
    if (i > 0 && i + 1 == values.size()) {
      out += conjunction;
      out += ' ';
    }
    out += '\'';
    out += values[i];
    out += '\'';
  }
  return out;
}

Reply refuse(const std::string& message, std::optional<std::string_view> param,
             std::optional<std::string_view> code, unsigned status = 400) {
  return openai::error(status, message, "invalid_request_error", param, code);
}

Reply missing(const std::string& param) {
  return refuse("Missing required parameter: '" + param + "'.", param,
                "missing_required_parameter");
}

Reply wrong_type(const std::string& param, std::string_view expected, const json::value& got) {
  return refuse("Invalid type for '" + param + "': expected " + std::string(expected) +
                    ", but got " + std::string(type_name(got)) + " instead.",
                param, "invalid_type");
}

Reply wrong_value(const std::string& param, std::string_view value, const std::string& supported) {
  return refuse(
      "Invalid value: '" + std::string(value) + "'. Supported values are: " + supported + ".",
      param, "invalid_value");
}

Reply unknown(const std::string& param) {
  return refuse("Unknown parameter: '" + param + "'.", param, "unknown_parameter");
}

// "Invalid 'p': integer below minimum value. Expected a value >= 16, but got 3 instead."
Reply out_of_range(const std::string& param, std::string_view kind, bool above, double limit,
                   const json::value& got) {
  std::string limit_text;
  append_json_value(limit_text, limit == static_cast<double>(static_cast<std::int64_t>(limit))
                                    ? json::value(static_cast<std::int64_t>(limit))
                                    : json::value(limit));
  std::string got_text;
  append_json_value(got_text, got);
  return refuse("Invalid '" + param + "': " + std::string(kind) +
                    (above ? " above maximum value. Expected a value <= "
                           : " below minimum value. Expected a value >= ") +
                    limit_text + ", but got " + got_text + " instead.",
                param, std::string(kind) + (above ? "_above_max_value" : "_below_min_value"));
}

std::string_view string_or_empty(const json::value* v) {
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::value* present(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

bool is_integer(const json::value& v) {
  return v.is_int64() || (v.is_uint64() && v.get_uint64() <= INT64_MAX);
}
std::int64_t integer(const json::value& v) {
  return v.is_int64() ? v.get_int64() : static_cast<std::int64_t>(v.get_uint64());
}
bool is_string(const json::value& v) { return v.is_string(); }
bool is_bool(const json::value& v) { return v.is_bool(); }
bool is_object(const json::value& v) { return v.is_object(); }

// An optional parameter: absent or null passes, else it must be of the expected type.
std::optional<Reply> typed(const json::object& obj, std::string_view key,
                           bool (*ok)(const json::value&), std::string_view expected,
                           const std::string& param) {
  const auto* v = present(obj, key);
  if (v && !ok(*v)) return wrong_type(param, expected, *v);
  return std::nullopt;
}

std::optional<Reply> typed(const json::object& obj, std::string_view key,
                           bool (*ok)(const json::value&), std::string_view expected) {
  return typed(obj, key, ok, expected, std::string(key));
}

// An optional string parameter that must be one of `values`.
std::optional<Reply> enumerated(const json::object& obj, std::string_view key, Values values,
                                const std::string& param) {
  const auto* v = present(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) return wrong_type(param, "one of " + listed(values, "or"), *v);
  if (!one_of(v->get_string(), values)) return wrong_value(param, v->get_string(), listed(values));
  return std::nullopt;
}

std::optional<Reply> ranged(const json::object& obj, std::string_view key, bool whole, double lo,
                            double hi) {
  const auto* v = present(obj, key);
  if (!v) return std::nullopt;
  const std::string param(key);
  if (whole ? !is_integer(*v) : !v->is_number()) {
    return wrong_type(param, whole ? "an integer" : "a decimal", *v);
  }
  const double d = whole ? static_cast<double>(integer(*v)) : v->to_number<double>();
  const std::string_view kind = whole ? "integer" : "decimal";
  if (d < lo) return out_of_range(param, kind, false, lo, *v);
  if (d > hi) return out_of_range(param, kind, true, hi, *v);
  return std::nullopt;
}

std::optional<Reply> known_members(const json::object& obj, Values members,
                                   const std::string& where) {
  for (const auto& [key, value] : obj) {
    if (!one_of(key, members)) return unknown(where + "." + std::string(key));
  }
  return std::nullopt;
}

std::optional<Reply> required_string(const json::object& obj, std::string_view key,
                                     const std::string& at) {
  const auto* v = obj.if_contains(key);
  if (!v) return missing(at + "." + std::string(key));
  if (!v->is_string()) return wrong_type(at + "." + std::string(key), "a string", *v);
  return std::nullopt;
}

std::optional<Reply> check_parts(const json::array& parts, bool assistant, const std::string& at) {
  for (std::size_t j = 0; j < parts.size(); ++j) {
    const std::string part_at = at + ".content[" + std::to_string(j) + "]";
    const auto* part = parts[j].if_object();
    if (!part) return wrong_type(part_at, "an object", parts[j]);
    const std::string_view type = string_or_empty(part->if_contains("type"));
    if (!one_of(type, kPartTypes)) return wrong_value(part_at + ".type", type, listed(kPartTypes));
    if (assistant && !one_of(type, kAssistantParts)) {
      return wrong_value(part_at, type, listed(kAssistantParts));
    }
    if (!assistant && !one_of(type, kInputParts)) {
      return wrong_value(part_at, type, listed(kInputPartsNamed));
    }
    if (type == "input_text" || type == "output_text") {
      if (auto bad = required_string(*part, "text", part_at)) return bad;
    } else if (type == "refusal") {
      if (auto bad = required_string(*part, "refusal", part_at)) return bad;
    }
  }
  return std::nullopt;
}

std::optional<Reply> check_message(const json::object& item, const std::string& at) {
  const std::string_view role = string_or_empty(item.if_contains("role"));
  if (!one_of(role, kRoles)) return wrong_value(at, role, listed(kRoles));
  const bool assistant = role == "assistant";
  for (const auto& [key, value] : item) {
    if (!one_of(key, kMessageMembers) && !(assistant && key == "phase")) {
      return unknown(at + "." + std::string(key));
    }
  }
  if (auto bad = enumerated(item, "phase", kPhases, at + ".phase")) return bad;
  const auto* content = item.if_contains("content");
  if (!content) return missing(at + ".content");
  if (content->is_string()) return std::nullopt;
  if (!content->is_array()) {
    return wrong_type(at + ".content", "one of an array of objects or string", *content);
  }
  return check_parts(content->get_array(), assistant, at);
}

std::optional<Reply> check_item(const json::value& value, const std::string& at) {
  const auto* item = value.if_object();
  if (!item) return wrong_type(at, "an input item", value);
  const auto* type_value = item->if_contains("type");
  const std::string_view type = string_or_empty(type_value);
  if (type_value && !one_of(type, kItemTypes)) return wrong_value(at, type, listed(kItemTypes));
  if (!type_value || type == "message") return check_message(*item, at);
  if (type == "function_call") {
    for (std::string_view key : {"call_id", "name", "arguments"}) {
      if (auto bad = required_string(*item, key, at)) return bad;
    }
  } else if (type == "function_call_output") {
    if (auto bad = required_string(*item, "call_id", at)) return bad;
    const auto* output = item->if_contains("output");
    if (!output) return missing(at + ".output");
    if (!output->is_string() && !output->is_array()) {
      return wrong_type(at + ".output", "one of a string or an array", *output);
    }
  } else if (type == "reasoning") {
    if (auto bad = required_string(*item, "id", at)) return bad;
    const auto* summary = item->if_contains("summary");
    if (!summary) return missing(at + ".summary");
    if (!summary->is_array()) return wrong_type(at + ".summary", "an array", *summary);
    const json::array& parts = summary->get_array();
    for (std::size_t k = 0; k < parts.size(); ++k) {
      if (!parts[k].is_object()) {
        return wrong_type(at + ".summary[" + std::to_string(k) + "]", "an object", parts[k]);
      }
    }
    if (auto bad =
            typed(*item, "encrypted_content", is_string, "a string", at + ".encrypted_content")) {
      return bad;
    }
  } else if (type == "item_reference") {
    if (auto bad = required_string(*item, "id", at)) return bad;
  }
  return std::nullopt;  // the other item types: accepted, and read by no mock model
}

std::optional<Reply> check_tools(const json::object& req) {
  const auto* tools = present(req, "tools");
  if (!tools) return std::nullopt;
  if (!tools->is_array()) return wrong_type("tools", "an array of tools", *tools);
  const json::array& list = tools->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const auto* tool = list[i].if_object();
    if (!tool) return wrong_type(at, "an object", list[i]);
    const auto* type = tool->if_contains("type");
    if (!type) return missing(at + ".type");
    if (!type->is_string()) return wrong_type(at + ".type", "a string", *type);
    // Built-in tools (web_search, file_search, mcp, ...) are accepted and never called.
    if (type->get_string() == "function" || type->get_string() == "custom") {
      if (auto bad = required_string(*tool, "name", at)) return bad;
    }
  }
  return std::nullopt;
}

std::optional<Reply> check_tool_choice(const json::object& req) {
  const auto* choice = present(req, "tool_choice");
  if (!choice) return std::nullopt;
  if (choice->is_string()) {
    if (!one_of(choice->get_string(), kToolChoices)) {
      return wrong_value("tool_choice", choice->get_string(), listed(kToolChoices));
    }
    return std::nullopt;
  }
  if (!choice->is_object()) {
    return wrong_type("tool_choice", "one of an object or 'none', 'auto', or 'required'", *choice);
  }
  const auto* type = choice->get_object().if_contains("type");
  if (!type) return missing("tool_choice.type");
  if (!type->is_string()) return wrong_type("tool_choice.type", "a string", *type);
  if (type->get_string() == "function" || type->get_string() == "custom") {
    return required_string(choice->get_object(), "name", "tool_choice");
  }
  return std::nullopt;
}

std::optional<Reply> check_metadata(const json::object& req) {
  const auto* metadata = present(req, "metadata");
  if (!metadata) return std::nullopt;
  if (!metadata->is_object()) return wrong_type("metadata", "a metadata object", *metadata);
  const json::object& pairs = metadata->get_object();
  if (pairs.size() > kMaxMetadataProperties) {
    return refuse(
        "Invalid 'metadata': too many properties. Expected an object with at most 16 "
        "properties, but got an object with " +
            std::to_string(pairs.size()) + " properties instead.",
        "metadata", "object_above_max_properties");
  }
  for (const auto& [key, value] : pairs) {
    const std::string at = "metadata." + std::string(key);
    if (!value.is_string()) return wrong_type(at, "a string", value);
    if (value.get_string().size() > kMaxMetadataValue) {
      return refuse("Invalid '" + at +
                        "': string too long. Expected a string with maximum "
                        "length 512, but got a string with length " +
                        std::to_string(value.get_string().size()) + " instead.",
                    at, "string_above_max_length");
    }
  }
  return std::nullopt;
}

std::optional<Reply> check_text(const json::object& req) {
  const auto* text = present(req, "text");
  if (!text) return std::nullopt;
  if (!text->is_object()) return wrong_type("text", "an object", *text);
  const json::object& config = text->get_object();
  constexpr std::string_view kMembers[] = {"format", "verbosity"};
  if (auto bad = known_members(config, kMembers, "text")) return bad;
  if (const auto* format = present(config, "format")) {
    if (!format->is_object()) return wrong_type("text.format", "an object", *format);
    const json::object& f = format->get_object();
    const auto* type = present(f, "type");
    if (!type) return missing("text.format.type");
    if (auto bad = enumerated(f, "type", kFormatTypes, "text.format.type")) return bad;
    if (type->get_string() == "json_schema") {
      if (auto bad = required_string(f, "name", "text.format")) return bad;
      const auto* schema = f.if_contains("schema");
      if (!schema) return missing("text.format.schema");
      if (!schema->is_object()) return wrong_type("text.format.schema", "an object", *schema);
    }
  }
  return enumerated(config, "verbosity", kVerbosities, "text.verbosity");
}

std::optional<Reply> check_reasoning(const json::object& req) {
  const auto* reasoning = present(req, "reasoning");
  if (!reasoning) return std::nullopt;
  if (!reasoning->is_object()) return wrong_type("reasoning", "an object", *reasoning);
  const json::object& r = reasoning->get_object();
  if (auto bad = known_members(r, kReasoningMembers, "reasoning")) return bad;
  if (auto bad = enumerated(r, "effort", kEfforts, "reasoning.effort")) return bad;
  return enumerated(r, "summary", kSummaries, "reasoning.summary");
}

std::optional<Reply> check_include(const json::object& req) {
  const auto* include = present(req, "include");
  if (!include) return std::nullopt;
  if (!include->is_array()) {
    // The API abbreviates the includable names in this one sentence.
    return wrong_type("include",
                      "an array of one of 'fil...lts', 'web...lts', 'web...ces', 'mes...url', "
                      "'com...url', 'cod...uts', 'rea...ent', or 'mes...obs'",
                      *include);
  }
  const json::array& list = include->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string_view name = string_or_empty(&list[i]);
    if (!one_of(name, kIncludables)) {
      return wrong_value("include[" + std::to_string(i) + "]", name, listed(kIncludables));
    }
  }
  return std::nullopt;
}

std::optional<Reply> check_stream_options(const json::object& req) {
  const auto* options = present(req, "stream_options");
  if (!options) return std::nullopt;
  if (!options->is_object()) return wrong_type("stream_options", "an object", *options);
  constexpr std::string_view kMembers[] = {"include_obfuscation"};
  if (auto bad = known_members(options->get_object(), kMembers, "stream_options")) return bad;
  return typed(options->get_object(), "include_obfuscation", is_bool, "a boolean",
               "stream_options.include_obfuscation");
}

bool is_array_of_objects(const json::value& v) {
  if (!v.is_array()) return false;
  for (const auto& item : v.get_array()) {
    if (!item.is_object()) return false;
  }
  return true;
}
bool is_string_or_object(const json::value& v) { return v.is_string() || v.is_object(); }

// Every parameter's own checks, in the order the API reports them when several are wrong.
std::optional<Reply> check_parameters(const json::object& req) {
  using Check = std::optional<Reply> (*)(const json::object&);
  static constexpr Check kChecks[] = {
      [](const json::object& r) { return typed(r, "moderation", is_object, "an object"); },
      [](const json::object& r) { return typed(r, "prompt", is_object, "an object"); },
      [](const json::object& r) {
        return typed(r, "conversation", is_string_or_object, "one of a string or an object");
      },
      [](const json::object& r) { return typed(r, "previous_response_id", is_string, "a string"); },
      check_include,
      check_tools,
      check_tool_choice,
      check_metadata,
      check_text,
      [](const json::object& r) { return ranged(r, "temperature", false, 0, 2); },
      [](const json::object& r) { return ranged(r, "top_p", false, 0, 1); },
      [](const json::object& r) { return typed(r, "parallel_tool_calls", is_bool, "a boolean"); },
      [](const json::object& r) { return typed(r, "stream", is_bool, "a boolean"); },
      check_stream_options,
      [](const json::object& r) { return typed(r, "background", is_bool, "a boolean"); },
      [](const json::object& r) {
        return ranged(r, "max_output_tokens", true, kMinOutputTokens, INT32_MAX);
      },
      [](const json::object& r) { return ranged(r, "max_tool_calls", true, 1, INT32_MAX); },
      check_reasoning,
      [](const json::object& r) { return typed(r, "user", is_string, "a string"); },
      [](const json::object& r) { return typed(r, "safety_identifier", is_string, "a string"); },
      [](const json::object& r) {
        return typed(r, "prompt_cache_options", is_object, "an object");
      },
      [](const json::object& r) { return typed(r, "prompt_cache_key", is_string, "a string"); },
      [](const json::object& r) {
        return enumerated(r, "prompt_cache_retention", kRetentions, "prompt_cache_retention");
      },
      [](const json::object& r) { return enumerated(r, "truncation", kTruncations, "truncation"); },
      [](const json::object& r) { return typed(r, "instructions", is_string, "a string"); },
      [](const json::object& r) { return typed(r, "store", is_bool, "a boolean"); },
      [](const json::object& r) {
        return enumerated(r, "service_tier", kServiceTiers, "service_tier");
      },
      [](const json::object& r) { return ranged(r, "top_logprobs", true, 0, kMaxTopLogprobs); },
      [](const json::object& r) {
        return typed(r, "context_management", is_array_of_objects, "an array of objects");
      },
  };
  for (Check check : kChecks) {
    if (auto bad = check(req)) return bad;
  }
  return std::nullopt;
}

std::string stored_id(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return std::string(string_or_empty(v.get_object().if_contains("id")));
}

// What the API refuses once the request is well formed: pointers to stored objects it does
// not hold (it holds none), and a tool result with no call to answer.
std::optional<Reply> check_state(const json::object& req, const json::value& input) {
  if (const auto* c = present(req, "conversation")) {
    return refuse("Conversation with id '" + stored_id(*c) + "' not found.", std::nullopt,
                  std::nullopt, 404);
  }
  if (const auto* p = present(req, "prompt")) {
    return refuse("Prompt with id '" + stored_id(*p) + "' not found.", std::nullopt, std::nullopt,
                  404);
  }
  if (const auto* id = present(req, "previous_response_id")) {
    return refuse("Previous response with id '" + std::string(id->get_string()) + "' not found.",
                  "previous_response_id", "previous_response_not_found");
  }
  if (const auto* b = present(req, "background"); b && b->get_bool()) {
    return refuse(
        "mockllm keeps no state: a background response could never be retrieved, so "
        "'background: true' is not supported",
        "background", std::nullopt);
  }
  if ((input.is_string() && input.get_string().empty()) ||
      (input.is_array() && input.get_array().empty())) {
    return refuse(
        "One of \"input\" or \"previous_response_id\" or 'prompt' or 'conversation' must be "
        "provided.",
        std::nullopt, "missing_required_parameter");
  }
  if (!input.is_array()) return std::nullopt;
  // Every tool result answers a call in the input, and every call has its result.
  std::unordered_set<std::string_view> calls;
  std::unordered_set<std::string_view> outputs;
  for (const auto& item : input.get_array()) {
    const auto& obj = item.get_object();
    if (string_or_empty(obj.if_contains("type")) == "function_call") {
      calls.insert(obj.at("call_id").get_string());
    }
  }
  for (const auto& item : input.get_array()) {
    const auto& obj = item.get_object();
    if (string_or_empty(obj.if_contains("type")) != "function_call_output") continue;
    const std::string_view call_id = obj.at("call_id").get_string();
    if (!calls.contains(call_id)) {
      return refuse(
          "No tool call found for function call output with call_id " + std::string(call_id) + ".",
          "input", std::nullopt);
    }
    outputs.insert(call_id);
  }
  for (const auto& item : input.get_array()) {
    const auto& obj = item.get_object();
    if (string_or_empty(obj.if_contains("type")) != "function_call") continue;
    const std::string_view call_id = obj.at("call_id").get_string();
    if (!outputs.contains(call_id)) {
      return refuse("No tool output found for function call " + std::string(call_id) + ".", "input",
                    std::nullopt);
    }
  }
  return std::nullopt;
}

// The text of a message content or a tool output: a string, or the text of its parts.
void append_content_text(const json::value& content, std::string& out) {
  if (const auto* s = content.if_string()) {
    out.append(s->data(), s->size());
    return;
  }
  const auto* parts = content.if_array();
  if (!parts) return;
  for (const auto& part : *parts) {
    const auto* obj = part.if_object();
    if (!obj) continue;
    for (std::string_view key : {"text", "refusal"}) {
      if (const auto* t = obj->if_contains(key); t && t->is_string()) {
        out.append(t->get_string().data(), t->get_string().size());
      }
    }
  }
}

// The function tool a call goes to: the one tool_choice names, else the first allowed one, else
// the first one offered. Empty when no function tool is offered, or tool_choice forces another
// kind of tool (the mock makes no built-in tool calls).
std::string chosen_function(const json::object& req) {
  auto first_function = [](const json::value* tools) -> std::string {
    const auto* list = tools ? tools->if_array() : nullptr;
    if (!list) return {};
    for (const auto& tool : *list) {
      const auto* obj = tool.if_object();
      if (obj && string_or_empty(obj->if_contains("type")) == "function") {
        const std::string_view name = string_or_empty(obj->if_contains("name"));
        if (!name.empty()) return std::string(name);
      }
    }
    return {};
  };
  const std::string offered = first_function(req.if_contains("tools"));
  if (offered.empty()) return {};
  if (const auto* choice = present(req, "tool_choice"); choice && choice->is_object()) {
    const auto& c = choice->get_object();
    const std::string_view type = string_or_empty(c.if_contains("type"));
    if (type == "function") return std::string(c.at("name").get_string());
    if (type == "allowed_tools") {
      if (std::string allowed = first_function(c.if_contains("tools")); !allowed.empty()) {
        return allowed;
      }
    } else {
      return {};  // a built-in, MCP or custom tool is forced: no function call to make
    }
  }
  return offered;
}

}  // namespace

InputSummary summarize_input(const json::value& input) {
  InputSummary s;
  if (const auto* text = input.if_string()) {
    s.code_points = count_code_points(*text);
    s.last_user_text = std::string(*text);
    s.has_user_message = true;
    return s;
  }
  const auto* items = input.if_array();
  if (!items) return s;
  std::string text;
  for (const auto& value : *items) {
    const auto* item = value.if_object();
    if (!item) continue;
    const auto* type_value = item->if_contains("type");
    const std::string_view type = type_value ? string_or_empty(type_value) : "message";
    text.clear();
    if (type == "message") {
      if (const auto* content = item->if_contains("content")) append_content_text(*content, text);
      if (string_or_empty(item->if_contains("role")) == "user") {
        s.last_user_text = text;
        s.has_user_message = true;
        s.tool_result_last = false;
      }
    } else if (type == "function_call") {
      text = string_or_empty(item->if_contains("arguments"));
    } else if (type == "function_call_output") {
      if (const auto* output = item->if_contains("output")) append_content_text(*output, text);
      s.tool_result_last = true;
    }
    s.code_points += count_code_points(text);
  }
  return s;
}

std::optional<Reply> read_request(const json::object& req, const Control& control, Plan& plan) {
  // Presence of the two required parameters first, then unknown names, then the input's
  // shape, then every other parameter, then stored state: the API's own order.
  const auto* model = req.if_contains("model");
  if (!model) return missing("model");
  if (model->is_null()) {
    return refuse("Invalid type for 'model': expected a string, but got an object instead.",
                  "model", "invalid_type");
  }
  if (!model->is_string()) return wrong_type("model", "a string", *model);
  if (model->get_string().empty()) {
    return refuse("The requested model '' does not exist.", "model", "model_not_found");
  }
  const auto* input = req.if_contains("input");
  if (!input) return missing("input");
  for (const auto& [key, value] : req) {
    if (one_of(key, kParameters)) continue;
    if (plan.databricks && one_of(key, kDatabricksParameters)) continue;
    if (key == "messages") {
      return refuse(
          "Unsupported parameter: 'messages'. In the Responses API, this parameter has moved to "
          "'input'. Try again with the new parameter. See the API documentation for more "
          "information: https://platform.openai.com/docs/api-reference/responses/create.",
          std::nullopt, "unsupported_parameter");
    }
    return unknown(std::string(key));
  }
  if (input->is_null()) {
    return refuse("Invalid type for 'input': expected a string, but got an object instead.",
                  "input", "invalid_type");
  }
  if (!input->is_string() && !input->is_array()) {
    return wrong_type("input", "one of a string or array of input items", *input);
  }
  if (const auto* items = input->if_array()) {
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (auto bad = check_item((*items)[i], "input[" + std::to_string(i) + "]")) return bad;
    }
  }
  if (auto bad = check_parameters(req)) return bad;
  if (auto bad = check_state(req, *input)) return bad;

  plan.request = &req;
  plan.model = model->get_string();
  plan.stream_error_after = control.stream_error_after;
  if (const auto* stream = present(req, "stream")) plan.stream = stream->get_bool();
  if (const auto* options = present(req, "stream_options")) {
    if (const auto* o = present(options->get_object(), "include_obfuscation")) {
      plan.obfuscation = o->get_bool();
    }
  }

  const InputSummary summary = summarize_input(*input);
  std::size_t code_points = summary.code_points;
  if (const auto* instructions = present(req, "instructions")) {
    code_points += count_code_points(instructions->get_string());
  }
  // Cached prompt tokens are part of input_tokens, as the API counts them.
  plan.cached_tokens = control.cache_read_tokens;
  plan.input_tokens = shape::prompt_tokens_for(code_points) + plan.cached_tokens;

  std::optional<std::int64_t> limit;
  if (const auto* max = present(req, "max_output_tokens")) limit = integer(*max);

  const auto* choice = present(req, "tool_choice");
  const bool choice_none = choice && choice->is_string() && choice->get_string() == "none";
  std::string function = chosen_function(req);
  if (!function.empty() && !choice_none && !summary.tool_result_last) {
    plan.tool_call = true;
    plan.tool_name = std::move(function);
    plan.arguments = shape::echo_arguments(summary.last_user_text);
    plan.output_tokens = control.tokens;
    if (limit && *limit < plan.output_tokens) plan.output_tokens = static_cast<int>(*limit);
    return std::nullopt;
  }
  const bool guard = !control.reply && shape::is_guard_model(plan.model);
  plan.text = shape::answer_text(control, guard ? &summary.last_user_text : nullptr, limit);
  plan.output_tokens = plan.text.tokens();
  return std::nullopt;
}

}  // namespace mockllm::responses
