// fuzz_text: the text a model reads and writes, found in untrusted bodies and events
// (src/api/text.cpp), and the edits that mask it (src/api/text_edit.cpp).
//
// The input is read as a request body of every shape and operation (Responses included), as a
// whole answer of every shape, and as one SSE event of every shape. For each call that accepts it:
//  * every piece lies inside the input, and its token starts and ends with '"';
//  * the token, read back as a JSON string, is the piece's text (a lone surrogate aside: U+FFFD);
//  * pieces do not overlap, so they can all be edited at once;
//  * replacing every piece (with a mask, and with text that cuts a UTF-8 character and needs
//    escaping) leaves valid JSON (the event's joined data lines) when the input was valid, and
//    the same walk over the edited body finds the same number of pieces, each the new text;
//  * a request body decode_request accepted is one request_texts reads (unless an object in it
//    repeats `type`, which the text walk refuses on purpose and the decoder does not check), and
//    it still decodes after the edit, to the same model, stream flag and operation;
//  * an event a delta is modelled on gives a valid SSE event with JSON data (text_event.cpp).
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/request.h"
#include "fuzz_util.h"
#include "api/text.h"
#include "api/text_event.h"

namespace api = gatehouse::api;
using gatehouse::ApiShape;
using api::Operation;

using namespace gatehouse::fuzz;

namespace {

struct Piece {
  std::string text;
  std::size_t offset, length;
  std::uint32_t channel;
};

using Walker = bool (*)(ApiShape, Operation, std::string_view, const api::TextFn&);

// A piece's token read as a JSON string by an independent parser (simdjson DOM); false when it
// refuses it (a lone surrogate, which text.cpp reads leniently).
bool token_text(std::string_view token, std::string& out) {
  static simdjson::dom::parser parser;
  simdjson::padded_string padded(token);
  std::string_view s;
  if (parser.parse(padded).get(s) != simdjson::SUCCESS) return false;
  out.assign(s);
  return true;
}

// Whether some object in `input` (a JSON document) has two `type` members: the text walk refuses
// such a body (text.cpp: a provider reading the last one would see text the walk dropped), the
// decoder, which checks only that it is JSON, does not.
bool repeats_type(simdjson::dom::element e, int depth = 0) {
  if (depth > 200) return false;
  if (e.is_object()) {
    int types = 0;
    for (auto [key, value] : simdjson::dom::object(e)) {
      if (key == "type" && ++types > 1) return true;
      if (repeats_type(value, depth + 1)) return true;
    }
  } else if (e.is_array()) {
    for (auto value : simdjson::dom::array(e))
      if (repeats_type(value, depth + 1)) return true;
  }
  return false;
}
bool repeats_type(std::string_view input) {
  static simdjson::dom::parser parser;
  simdjson::padded_string padded(input);
  simdjson::dom::element root;
  return parser.parse(padded).get(root) == simdjson::SUCCESS && repeats_type(root);
}

std::vector<Piece> collect(std::string_view input, const std::function<bool(const api::TextFn&)>& walk,
                           bool& ok) {
  std::vector<Piece> pieces;
  ok = walk([&](const api::TextPiece& p) {
    pieces.push_back(Piece{std::string(p.text), p.offset, p.length, p.channel});
  });
  if (!ok) FUZZ_CHECK(pieces.empty(), input);  // a false result reports nothing
  for (const Piece& p : pieces) {
    FUZZ_CHECK(p.offset < input.size(), input);
    FUZZ_CHECK(p.length >= 2 && p.length <= input.size() - p.offset, input);
    const std::string_view token = input.substr(p.offset, p.length);
    FUZZ_CHECK(token.front() == '"' && token.back() == '"', token);
    FUZZ_CHECK(!p.text.empty(), token);
    std::string read;
    if (token_text(token, read)) FUZZ_CHECK(read == p.text, token);
  }
  std::vector<const Piece*> sorted;
  for (const Piece& p : pieces) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](const Piece* a, const Piece* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < sorted.size(); ++i)
    FUZZ_CHECK(sorted[i - 1]->offset + sorted[i - 1]->length <= sorted[i]->offset, input);
  return pieces;
}

// What piece i becomes: a mask, or (every third piece) half of its text, which may cut a UTF-8
// character, followed by bytes that need escaping.
std::string replacement(const Piece& p, std::size_t i) {
  if (i % 3 != 2) return "<EMAIL_ADDRESS>";
  std::string r = p.text.substr(0, p.text.size() / 2);
  r += "<M>\"\\\n\x01/";
  return r;
}

// Edits every piece, checks the result, and returns it.
std::string edit_all(std::string_view input, const std::vector<Piece>& pieces,
                     const std::function<bool(std::string_view, const api::TextFn&)>& walk, bool event) {
  std::vector<api::TextEdit> edits;
  for (std::size_t i = 0; i < pieces.size(); ++i)
    edits.push_back(api::TextEdit{pieces[i].offset, pieces[i].length, replacement(pieces[i], i)});
  std::string out = api::apply_text_edits(input, edits);
  const bool was_valid = event ? json_valid(event_data(input)) : json_valid(input);
  if (was_valid) FUZZ_CHECK(event ? json_valid(event_data(out)) : json_valid(out), out);
  // The same walk finds the same pieces, now holding the new text (in body order, as the edits
  // were applied in offset order).
  std::vector<std::string> again;
  const bool ok = walk(out, [&](const api::TextPiece& p) { again.emplace_back(p.text); });
  FUZZ_CHECK(ok, out);
  FUZZ_CHECK(again.size() == pieces.size(), out);
  std::vector<std::size_t> order(pieces.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pieces[a].offset < pieces[b].offset; });
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::string want = replacement(pieces[order[k]], order[k]);
    if (simdjson::validate_utf8(want)) FUZZ_CHECK(again[k] == want, out);
  }
  return out;
}

void requests(std::string_view input) {
  struct Case {
    ApiShape shape;
    Operation op;
  };
  static constexpr Case kCases[] = {
      {ApiShape::kOpenAI, Operation::kChat},          {ApiShape::kOpenAI, Operation::kEmbeddings},
      {ApiShape::kAnthropic, Operation::kChat},       {ApiShape::kAnthropic, Operation::kCountTokens},
      {ApiShape::kDatabricks, Operation::kChat},      {ApiShape::kDatabricks, Operation::kEmbeddings},
      {ApiShape::kDatabricks, Operation::kInvocations}, {ApiShape::kResponses, Operation::kResponses},
  };
  for (const Case& c : kCases) {
    std::string body(input);
    auto decoded = api::decode_request(c.shape, c.op, body);
    auto* req = std::get_if<api::CanonicalRequest>(&decoded);
    // request_texts is given the decoded operation (a Databricks invocation's chat, embeddings or
    // responses).
    const Operation op = req ? req->op : c.op;
    auto walk = [&](std::string_view b, const api::TextFn& fn) { return api::request_texts(c.shape, op, b, fn); };
    bool ok = false;
    auto pieces = collect(input, [&](const api::TextFn& fn) { return walk(input, fn); }, ok);
    // What the decoder accepted, the guardrails can read — but a repeated `type`, in any shape.
    if (req) FUZZ_CHECK(ok || repeats_type(input), input);
    if (!ok || pieces.empty()) continue;
    std::string edited = edit_all(input, pieces, walk, false);
    if (!req) continue;
    auto again = api::decode_request(c.shape, c.op, edited);
    auto* req2 = std::get_if<api::CanonicalRequest>(&again);
    FUZZ_CHECK(req2 != nullptr, edited);
    FUZZ_CHECK(req2->model == req->model && req2->stream == req->stream && req2->op == req->op, edited);
  }
}

void answers(std::string_view input) {
  for (ApiShape shape : {ApiShape::kOpenAI, ApiShape::kAnthropic, ApiShape::kDatabricks, ApiShape::kResponses}) {
    auto walk = [&](std::string_view b, const api::TextFn& fn) { return api::response_texts(shape, b, fn); };
    bool ok = false;
    auto pieces = collect(input, [&](const api::TextFn& fn) { return walk(input, fn); }, ok);
    if (ok && !pieces.empty()) edit_all(input, pieces, walk, false);
  }
}

void events(std::string_view input) {
  for (ApiShape shape : {ApiShape::kOpenAI, ApiShape::kAnthropic, ApiShape::kDatabricks, ApiShape::kResponses}) {
    auto walk = [&](std::string_view b, const api::TextFn& fn) { return api::event_texts(shape, b, fn); };
    bool ok = false;
    auto pieces = collect(input, [&](const api::TextFn& fn) { return walk(input, fn); }, ok);
    (void)api::channels_closed(shape, input);
    // (64 + 50: a Responses summary part; 2^31 + 65: a Responses item known by its id.)
    for (std::uint32_t channel : {0u, 1u, 1022u, 1023u, 1025u, 7u, 114u, 0x80000041u}) {
      const std::string e = api::text_delta_event(shape, input, channel, "a\"b\\c\n\xC3\xA9");
      if (e.empty()) continue;
      FUZZ_CHECK(e.ends_with("\n\n") && e.find("\n\n") == e.size() - 2, e);
      FUZZ_CHECK(json_valid(event_data(e)), e);
    }
    for (const Piece& p : pieces) {
      const std::string e = api::text_delta_event(shape, input, p.channel, p.text);
      if (e.empty()) continue;
      FUZZ_CHECK(e.ends_with("\n\n") && e.find("\n\n") == e.size() - 2, e);
      FUZZ_CHECK(json_valid(event_data(e)), e);
    }
    if (ok && !pieces.empty()) edit_all(input, pieces, walk, true);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  requests(input);
  answers(input);
  events(input);
  return 0;
}
