// fuzz_translate: the translations between API shapes (src/translate/), which read a client's
// request and, in answers and streams, whatever a provider sends.
//
// Input: byte 0 picks what the rest is. Bits 0-1: 0 a request body, 1 a whole answer, 2 and 3 a
// provider's stream (split into events at "\n\n", the last one completed, as the SSE reader hands
// them over). Bits 2-3: the client's shape (Responses, Anthropic, OpenAI); bit 4: the provider's
// (OpenAI, Anthropic). A pair of shapes that needs no translation is skipped.
// Checks: no crash or sanitizer report; a translated request or answer is a JSON object; every
// event a stream translation writes is whole SSE with JSON data (or [DONE]); a Responses stream's
// events are named as their data's type and numbered 0, 1, 2, ... with nothing after its
// terminal event (response.completed, response.incomplete, or the error event after
// response.failed), which the stream has once finish() ran; error_event() continues the
// numbering.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "translate/hub.h"

using namespace gatehouse;
using namespace gatehouse::fuzz;
namespace json = boost::json;

namespace {

const translate::ResponsesAnswer kAnswer{
    .id = "resp_fuzz", .model = "m", .created_at = 1, .request = R"({"input":"x"})", .previous_response_id = {}};

bool json_object(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  return !ec && v.is_object();
}

// The events a Responses translation wrote, checked as a client numbers them.
struct ResponsesReader {
  std::int64_t next = 0;
  bool ended = false;

  void read(std::string_view out) {
    for (std::size_t at = 0; at < out.size();) {
      const std::size_t end = out.find("\n\n", at);
      FUZZ_CHECK(end != std::string_view::npos, out);
      const std::string_view event = out.substr(at, end + 2 - at);
      at = end + 2;
      FUZZ_CHECK(event.starts_with("event: "), event);
      const std::string_view name = event.substr(7, event.find('\n') - 7);
      json::error_code ec;
      json::value v = json::parse(event_data(event), ec);
      FUZZ_CHECK(!ec && v.is_object(), event);
      const auto& o = v.get_object();
      FUZZ_CHECK(
          o.contains("type") && o.at("type").is_string() && o.at("type").get_string() == name,
          event);
      FUZZ_CHECK(o.contains("sequence_number") && o.at("sequence_number").is_int64() &&
                     o.at("sequence_number").get_int64() == next,
                 event);
      FUZZ_CHECK(!ended, std::string("an event after the end:\n") + std::string(event));
      ++next;
      ended = name == "response.completed" || name == "response.incomplete" || name == "error";
    }
  }
};

void check_events(std::string_view out) {
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = out.find("\n\n", at);
    FUZZ_CHECK(end != std::string_view::npos, out);
    const std::string data = event_data(out.substr(at, end + 2 - at));
    FUZZ_CHECK(data == "[DONE]" || json_object(data), out.substr(at, end + 2 - at));
    at = end + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] & 3;
  const int client_pick = (data[0] >> 2) & 3;
  const ApiShape client = client_pick == 0   ? ApiShape::kResponses
                          : client_pick == 1 ? ApiShape::kAnthropic
                                             : ApiShape::kOpenAI;
  const ApiShape provider = (data[0] & 16) ? ApiShape::kAnthropic : ApiShape::kOpenAI;
  if (!translate::needs_translation(client, provider)) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (mode == 0) {
    std::vector<std::string> dropped;
    translate::RequestOptions options;
    options.chat.reasoning_effort = (data[0] & 32) != 0;
    options.dropped = &dropped;
    auto r = translate::translate_request(client, provider, input, options);
    if (const auto* body = std::get_if<std::string>(&r)) FUZZ_CHECK(json_object(*body), *body);
    return 0;
  }
  auto t = translate::translate_response(provider, client, (data[0] & 32) != 0, &kAnswer);
  FUZZ_CHECK(t != nullptr, "no translator");
  if (mode == 1) {
    auto r = t->body(input);
    if (const auto* body = std::get_if<std::string>(&r)) FUZZ_CHECK(json_object(*body), *body);
    return 0;
  }
  ResponsesReader reader;
  std::string out;
  for (std::size_t at = 0; at < input.size();) {
    std::size_t end = input.find("\n\n", at);
    end = end == std::string_view::npos ? input.size() : end + 2;
    std::string event(input.substr(at, end - at));
    while (!event.ends_with("\n\n")) event += '\n';
    at = end;
    out.clear();
    t->event(event, out);
    if (client == ApiShape::kResponses) {
      reader.read(out);
    } else {
      check_events(out);
    }
  }
  out.clear();
  t->finish(out);
  if (client != ApiShape::kResponses) {
    check_events(out);
    return 0;
  }
  reader.read(out);
  FUZZ_CHECK(reader.ended, "the stream has no terminal event after finish()");
  const std::string error = t->error_event(Error::internal("fuzz"));
  reader.ended = false;  // the error event after the end is the one event still allowed
  reader.read(error);
  return 0;
}
