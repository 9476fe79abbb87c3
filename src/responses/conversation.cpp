#include "responses/conversation.h"

#include "core/request_id.h"

#include <boost/json.hpp>
#include <algorithm>
#include <cstdint>

namespace gatehouse::responses {

namespace json = boost::json;

namespace {


json::object parse_object(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

json::array parse_array(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return {};
  return std::move(v.get_array());
}

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// A request's `input` as an array of items (a string is one user message).
json::array input_of(const json::object& request) {
  const json::value* in = request.if_contains("input");
  if (!in) return {};
  if (in->is_string()) return json::array{json::object{{"type", "message"}, {"role", "user"}, {"content", in->get_string()}}};
  if (in->is_array()) return in->get_array();
  return {};
}

// An input item as input_items lists it: typed, with an id and (messages) content parts.
json::object listed(json::object item) {
  if (!item.contains("type") && item.contains("role")) item["type"] = "message";
  // A copy: the members added below may move the object's values (a short string lives inside
  // its value), and a view into one would dangle.
  const std::string type(str(item, "type"));
  if (type == "message") {
    if (const auto* c = item.if_contains("content"); c && c->is_string()) {
      const bool assistant = str(item, "role") == "assistant";
      item["content"] = json::array{json::object{{"type", assistant ? "output_text" : "input_text"}, {"text", c->get_string()}}};
    }
    if (!item.contains("status")) item["status"] = "completed";
  }
  if (str(item, "id").empty()) {
    const std::string_view prefix = type == "message"                ? "msg_"
                                    : type == "function_call"        ? "fc_"
                                    : type == "function_call_output" ? "fco_"
                                                                     : "item_";
    item["id"] = std::string(prefix) + random_hex(32);
  }
  return item;
}

// Whether an earlier turn's input item is replayed: messages, function calls and their outputs.
// Reasoning items and item references need the provider that made them (an id it knows), and
// built-in tools' items a chat provider cannot take.
bool replayable(const json::object& item) {
  const std::string_view type = str(item, "type");
  return type.empty() || type == "message" || type == "function_call" || type == "function_call_output";
}

// An item replayed as input: without the id and status a provider would not know.
json::object replayed(json::object item) {
  item.erase("id");
  item.erase("status");
  return item;
}

// What of a response's output a later turn replays (see conversation.h).
void replay_output(const json::object& response, json::array& into) {
  const json::value* out = response.if_contains("output");
  if (!out || !out->is_array()) return;
  for (const auto& v : out->get_array()) {
    if (!v.is_object()) continue;
    const auto& item = v.get_object();
    const std::string_view type = str(item, "type");
    if (type == "message") {
      std::string text;
      if (const auto* c = item.if_contains("content"); c && c->is_array()) {
        for (const auto& part : c->get_array()) {
          if (part.is_object() && str(part.get_object(), "type") == "output_text") text += str(part.get_object(), "text");
        }
      }
      into.push_back(json::object{{"type", "message"}, {"role", "assistant"}, {"content", std::move(text)}});
    } else if (type == "function_call" && str(item, "status") != "incomplete") {  // a cut call's arguments are not JSON
      into.push_back(json::object{{"type", "function_call"},
                                  {"call_id", str(item, "call_id")},
                                  {"name", str(item, "name")},
                                  {"arguments", str(item, "arguments")}});
    }
  }
}

}  // namespace

std::string new_response_id() { return "resp_" + random_hex(32); }

std::size_t count_input_items(std::string_view request_body) { return input_of(parse_object(request_body)).size(); }

std::string own_input_items(std::string_view request_body, std::size_t last) {
  json::array items = input_of(parse_object(request_body));
  const std::size_t skip = last < items.size() ? items.size() - last : 0;
  json::array out;
  for (std::size_t i = skip; i < items.size(); ++i) {
    if (items[i].is_object()) out.push_back(listed(std::move(items[i].get_object())));
  }
  return json::serialize(out);
}

std::variant<std::string, Error> expand(std::string_view request_body, const std::vector<Turn>& turns) {
  json::object request = parse_object(request_body);
  if (request.empty()) return Error::bad_request("the request body must be a JSON object");
  json::array input;
  for (const Turn& turn : turns) {
    for (auto& item : parse_array(turn.input_items)) {
      if (item.is_object() && replayable(item.get_object())) input.push_back(replayed(std::move(item.get_object())));
    }
    replay_output(parse_object(turn.response), input);
  }
  for (auto& item : input_of(request)) input.push_back(std::move(item));
  request["input"] = std::move(input);
  request.erase("previous_response_id");
  return json::serialize(request);
}

std::string with_input_items(std::string_view request_body) {
  json::object request = parse_object(request_body);
  if (request.empty()) return std::string(request_body);
  request["input"] = input_of(request);
  return json::serialize(request);
}

std::string list_input_items(std::string_view input_items, bool ascending, std::string_view after, std::size_t limit) {
  json::array items = parse_array(input_items);
  if (!ascending) std::reverse(items.begin(), items.end());
  std::size_t start = 0;
  if (!after.empty()) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].is_object() && str(items[i].get_object(), "id") == after) {
        start = i + 1;
        break;
      }
    }
  }
  json::array data;
  for (std::size_t i = start; i < items.size() && data.size() < limit; ++i) data.push_back(items[i]);
  const bool more = start + data.size() < items.size();
  json::value first = nullptr, last = nullptr;
  if (!data.empty()) {
    first = data.front().as_object().contains("id") ? data.front().as_object().at("id") : json::value(nullptr);
    last = data.back().as_object().contains("id") ? data.back().as_object().at("id") : json::value(nullptr);
  }
  return json::serialize(json::object{
      {"object", "list"}, {"data", std::move(data)}, {"first_id", first}, {"last_id", last}, {"has_more", more}});
}

std::string response_id(std::string_view response) { return std::string(str(parse_object(response), "id")); }

}  // namespace gatehouse::responses
