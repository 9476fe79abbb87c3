// The text of the Responses shape (api/text.h): requests (instructions, input items, prompt
// variables), Responses objects (output items) and stream events, walked as text.cpp walks the
// other shapes (api/text_walk.h).
//
// Decisions a reader cannot see in the code:
// * An item or a part is told apart by its `type`, wherever it sits in the object. An item
//   without one is a message (the SDKs' "easy" input message: {role, content}); a part without
//   one that has a `text` is text.
// * Requests: instructions; input as a string; each message's content (a string, or its
//   input_text / output_text / refusal parts); function_call and mcp_call `arguments`,
//   custom_tool_call `input`; the `output` of function_call_output, custom_tool_call_output and
//   mcp_call (a string or text parts); prompt.variables (strings and text parts). Not reasoning
//   items: as thinking elsewhere (text.cpp), the model reads back only what it wrote, already
//   scanned as output, and a changed item may be refused with its encrypted_content. Not ids,
//   call ids, roles, names, image URLs, files, tools, metadata, a Databricks agent's
//   custom_inputs.
// * Answers (a Responses object's `output`): the same items, and reasoning items' summary texts
//   and reasoning_text content.
// * Stream events: the `delta` of the text, refusal, reasoning, reasoning summary, function-call
//   arguments, custom-tool input and MCP-call arguments delta events, each a piece of its run
//   (api/responses_channel.h). Every other text an event carries is a whole piece
//   (TextPiece::whole): the `.done` events' text / refusal / arguments / input, the part of
//   content_part and reasoning_summary_part events, the item of output_item.added/.done, the
//   response of response.created / in_progress / completed / incomplete / failed / queued. They
//   repeat the deltas' text — and clients read them: the SDKs' final response is
//   response.completed's, a ResponsesAgent client takes output_item.done's item as the message —
//   or carry text never streamed (an agent's tool call or message sent only whole). A masking
//   guardrail masks them as whole texts (pipeline/guard.cpp); they are not deltas of any run.
// * Not read: logprobs (`logprobs[].token`, as for chat completions), code interpreter code,
//   annotations, web search queries.
#include <optional>

#include "api/responses_channel.h"
#include "api/text_walk.h"

namespace gatehouse::api::textwalk {

namespace {

// The type bits (api/text_walk.h) of the Responses shape. Items, by the member holding their text.
constexpr std::uint32_t kMessage = 1u << 0;  // `content`
constexpr std::uint32_t kArguments = 1u << 1;  // `arguments`: function_call, mcp_call
constexpr std::uint32_t kInput = 1u << 2;  // `input`: custom_tool_call
constexpr std::uint32_t kOutput = 1u << 3;  // `output`: function_call_output, custom_tool_call_output, mcp_call
constexpr std::uint32_t kReasoningItem = 1u << 4;  // `summary`, `content` (answers and events only)
// Parts.
constexpr std::uint32_t kTextPart = 1u << 5;  // `text`: input_text, output_text, summary_text, reasoning_text
constexpr std::uint32_t kRefusalPart = 1u << 6;  // `refusal`
// Stream events, by the member that holds their text.
constexpr std::uint32_t kDelta = 1u << 7;  // `delta` of a content part's or a call's run
constexpr std::uint32_t kSummaryDelta = 1u << 8;  // `delta` of a reasoning summary part's run
constexpr std::uint32_t kTextDone = 1u << 9;  // `text`
constexpr std::uint32_t kRefusalDone = 1u << 10;  // `refusal`
constexpr std::uint32_t kArgumentsDone = 1u << 11;  // `arguments`
constexpr std::uint32_t kInputDone = 1u << 12;  // `input`
constexpr std::uint32_t kPartEvent = 1u << 13;  // `part`
constexpr std::uint32_t kItemEvent = 1u << 14;  // `item`
constexpr std::uint32_t kResponseEvent = 1u << 15;  // `response`

std::uint32_t type_bits(std::string_view t) {
  static constexpr std::pair<std::string_view, std::uint32_t> kTypes[] = {
      {"message", kMessage},
      {"function_call", kArguments},
      {"mcp_call", kArguments | kOutput},
      {"custom_tool_call", kInput},
      {"function_call_output", kOutput},
      {"custom_tool_call_output", kOutput},
      {"reasoning", kReasoningItem},
      {"input_text", kTextPart},
      {"output_text", kTextPart},
      {"summary_text", kTextPart},
      {"reasoning_text", kTextPart},
      {"text", kTextPart},
      {"refusal", kRefusalPart},
      {"response.output_text.delta", kDelta},
      {"response.refusal.delta", kDelta},
      {"response.reasoning_text.delta", kDelta},
      {"response.function_call_arguments.delta", kDelta},
      {"response.custom_tool_call_input.delta", kDelta},
      {"response.mcp_call_arguments.delta", kDelta},
      {"response.reasoning_summary_text.delta", kSummaryDelta},
      {"response.output_text.done", kTextDone},
      {"response.reasoning_text.done", kTextDone},
      {"response.reasoning_summary_text.done", kTextDone},
      {"response.refusal.done", kRefusalDone},
      {"response.function_call_arguments.done", kArgumentsDone},
      {"response.mcp_call_arguments.done", kArgumentsDone},
      {"response.custom_tool_call_input.done", kInputDone},
      {"response.content_part.added", kPartEvent},
      {"response.content_part.done", kPartEvent},
      {"response.reasoning_summary_part.added", kPartEvent},
      {"response.reasoning_summary_part.done", kPartEvent},
      {"response.output_item.added", kItemEvent},
      {"response.output_item.done", kItemEvent},
      {"response.created", kResponseEvent},
      {"response.in_progress", kResponseEvent},
      {"response.queued", kResponseEvent},
      {"response.completed", kResponseEvent},
      {"response.incomplete", kResponseEvent},
      {"response.failed", kResponseEvent},
  };
  for (const auto& [name, bits] : kTypes) {
    if (t == name) return bits;
  }
  return kOtherType;
}

class ResponsesWalk : public Finder {
 public:
  using Finder::Finder;

  // A request's top-level members.
  error_code request(od::value& root) {
    return each_member(root, [&](std::string_view key, od::value& v) {
      if (key == "instructions" || key == "input") return input(v);
      if (key == "prompt") return prompt(v);
      return SUCCESS;
    });
  }

  // A Responses object: its output items.
  error_code answer(od::value& root) {
    return each_member(root, [&](std::string_view key, od::value& v) {
      if (key != "output") return SUCCESS;
      return each_element(v, [&](std::uint64_t, od::value& it) { return item(it); });
    });
  }

  // A stream event: a delta is a piece of its run; any other text it carries is whole.
  error_code event(od::value& root) {
    const std::size_t start = found_.size();
    std::uint32_t types = 0;
    std::optional<std::uint64_t> output_index;
    std::optional<std::string_view> item_id;
    std::uint64_t content_index = 0, summary_index = 0;
    const error_code walked = each_member(root, [&](std::string_view key, od::value& v) {
      if (key == "type") return add_type(v, types, type_bits);
      // A repeated member: the last one decides, as in text_event.cpp's reading of the event.
      if (key == "output_index") {
        std::uint64_t i = 0;
        output_index = v.get_uint64().get(i) == SUCCESS ? std::optional(i) : std::nullopt;
        return SUCCESS;
      }
      if (key == "item_id") {
        std::string_view id;
        item_id = v.get_string().get(id) == SUCCESS ? std::optional(id) : std::nullopt;
        return SUCCESS;
      }
      if (key == "content_index") content_index = index_of(v, 0);
      if (key == "summary_index") summary_index = index_of(v, 0);
      const std::uint32_t bit = key == "delta"       ? kDelta | kSummaryDelta
                                : key == "text"      ? kTextDone
                                : key == "refusal"   ? kRefusalDone
                                : key == "arguments" ? kArgumentsDone
                                : key == "input"     ? kInputDone
                                : key == "part"      ? kPartEvent
                                : key == "item"      ? kItemEvent
                                : key == "response"  ? kResponseEvent
                                                     : kAlways;
      if (bit == kAlways || !wanted(types, bit)) return SUCCESS;
      const std::size_t from = found_.size();
      const error_code e = key == "part" ? part(v) : key == "item" ? item(v) : key == "response" ? answer(v) : text(v);
      need(from, bit);
      return e;
    });
    if (walked) return walked;
    keep(start, types, kAlways);  // an event without a type has no text
    if ((types & (kDelta | kSummaryDelta)) != 0) {
      const bool summary = (types & kSummaryDelta) != 0;
      const std::uint32_t channel = responses::item_channel(output_index, item_id) +
                                    responses::part_channel(summary, summary ? summary_index : content_index);
      for (std::size_t i = start; i < found_.size(); ++i) found_[i].channel = channel;
    } else {
      for (std::size_t i = start; i < found_.size(); ++i) found_[i].whole = true;
    }
    return SUCCESS;
  }

 private:
  // `input` and `instructions`: a string or items.
  error_code input(od::value& v) {
    if (is_string(v)) return text(v);
    return each_element(v, [&](std::uint64_t, od::value& it) { return item(it); });
  }

  // A reusable prompt's variables: strings or input parts.
  error_code prompt(od::value& v) {
    return each_member(v, [&](std::string_view key, od::value& m) {
      if (key != "variables") return SUCCESS;
      return each_member(m, [&](std::string_view, od::value& var) { return content(var); });
    });
  }

  // An input or output item.
  error_code item(od::value& v) {
    const std::size_t block_from = found_.size();
    std::uint32_t types = 0;
    const error_code walked = each_member(v, [&](std::string_view key, od::value& m) {
      if (key == "type") return add_type(m, types, type_bits);
      const std::uint32_t bit = key == "content"              ? kMessage | (output_ ? kReasoningItem : 0)
                                : key == "arguments"          ? kArguments
                                : key == "input"              ? kInput
                                : key == "output"             ? kOutput
                                : key == "summary" && output_ ? kReasoningItem
                                                              : kAlways;
      if (bit == kAlways || !wanted(types, bit)) return SUCCESS;
      const std::size_t from = found_.size();
      const error_code e = key == "arguments" || key == "input" ? text(m) : content(m);
      need(from, bit);
      return e;
    });
    if (walked) return walked;
    keep(block_from, types, kMessage);
    return SUCCESS;
  }

  // A message's content, a call's output, a summary: a string or parts.
  error_code content(od::value& v) {
    if (is_string(v)) return text(v);
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t == od::json_type::object) return part(v);  // a prompt variable: one part, not a list
    return each_element(v, [&](std::uint64_t, od::value& p) { return part(p); });
  }

  // A content part: its text or refusal (images, files and audio are not text).
  error_code part(od::value& v) {
    const std::size_t block_from = found_.size();
    std::uint32_t types = 0;
    const error_code walked = each_member(v, [&](std::string_view key, od::value& m) {
      if (key == "type") return add_type(m, types, type_bits);
      const std::uint32_t bit = key == "text" ? kTextPart : key == "refusal" ? kRefusalPart : kAlways;
      if (bit == kAlways || !wanted(types, bit)) return SUCCESS;
      const std::size_t from = found_.size();
      const error_code e = text(m);
      need(from, bit);
      return e;
    });
    if (walked) return walked;
    keep(block_from, types, kTextPart);
    return SUCCESS;
  }
};

}  // namespace

error_code responses_request(Scratch& s, const char* base, od::value& root) {
  return ResponsesWalk(base, s, false).request(root);
}

error_code responses_answer(Scratch& s, const char* base, od::value& root) {
  return ResponsesWalk(base, s, true).answer(root);
}

error_code responses_event(Scratch& s, const char* base, od::value& root) {
  return ResponsesWalk(base, s, true).event(root);
}

}  // namespace gatehouse::api::textwalk
