#include "translate/hub.h"

#include "http/sse.h"

namespace gatehouse::translate {

namespace {

// One shape's codec pair with the hub (OpenAI chat). The hub's own entry is all nulls. A shape
// that only clients speak (Responses: a provider that speaks it natively is reached without
// translation) has no way from the hub for requests nor to it for answers.
struct Codec {
  std::variant<std::string, Error> (*request_to_hub)(std::string_view body, const RequestOptions& o);
  std::variant<std::string, Error> (*request_from_hub)(std::string_view body, const RequestOptions& o);
  std::unique_ptr<ResponseTranslator> (*answers_to_hub)(bool include_usage);
  std::unique_ptr<ResponseTranslator> (*answers_from_hub)(const ResponsesAnswer* responses);
  bool client_only = false;
};

const Codec& codec(ApiShape shape) {
  static const Codec kHub{};
  static const Codec kAnthropic{
      [](std::string_view body, const RequestOptions& o) { return anthropic_request_to_openai(body, o.chat); },
      [](std::string_view body, const RequestOptions& o) { return openai_request_to_anthropic(body, o.default_max_tokens); },
      [](bool include_usage) { return anthropic_response_to_openai(include_usage); },
      [](const ResponsesAnswer*) { return openai_response_to_anthropic(); },
  };
  static const Codec kResponses{
      [](std::string_view body, const RequestOptions& o) { return responses_request_to_openai(body, o.chat, o.dropped); },
      nullptr,
      nullptr,
      [](const ResponsesAnswer* r) -> std::unique_ptr<ResponseTranslator> {
        return openai_response_to_responses(r ? *r : ResponsesAnswer{});
      },
      true,
  };
  switch (body_shape(shape)) {
    case ApiShape::kAnthropic: return kAnthropic;
    case ApiShape::kResponses: return kResponses;
    default: return kHub;
  }
}

// Two translators one after the other: a provider's shape to the hub, the hub to the client's.
class Chain final : public ResponseTranslator {
 public:
  Chain(std::unique_ptr<ResponseTranslator> first, std::unique_ptr<ResponseTranslator> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  std::variant<std::string, Error> body(std::string_view upstream) override {
    auto hub = first_->body(upstream);
    if (auto* e = std::get_if<Error>(&hub)) return std::move(*e);
    return second_->body(std::get<std::string>(hub));
  }
  void event(std::string_view event, std::string& out) override {
    hub_.clear();
    first_->event(event, hub_);
    pass(out);
  }
  void finish(std::string& out) override {
    hub_.clear();
    first_->finish(hub_);
    pass(out);
    if (!splitter_.pending().empty()) second_->event(std::string(splitter_.pending()) + "\n\n", out);
    second_->finish(out);
  }
  // The client's stream is the second translator's: its error event, numbered as it numbers.
  std::string error_event(const Error& error) override { return second_->error_event(error); }

 private:
  void pass(std::string& out) {
    if (hub_.empty()) return;
    for (auto e : splitter_.feed(hub_)) second_->event(e, out);
  }
  std::unique_ptr<ResponseTranslator> first_, second_;
  std::string hub_;
  http::SseSplitter splitter_;
};

}  // namespace

bool needs_translation(ApiShape client, ApiShape provider) { return body_shape(client) != body_shape(provider); }

std::variant<std::string, Error> translate_request(ApiShape from, ApiShape to, std::string_view body,
                                                   const RequestOptions& options) {
  if (!needs_translation(from, to)) return std::string(body);
  const Codec& in = codec(from);
  const Codec& out = codec(to);
  if (out.client_only) {
    return Error::bad_request(std::string("a ") + std::string(traits(from).name) + " request cannot be sent to a provider that speaks " +
                              std::string(traits(to).name) + " only");
  }
  std::string hub;
  if (in.request_to_hub) {
    auto r = in.request_to_hub(body, options);
    if (auto* e = std::get_if<Error>(&r)) return std::move(*e);
    hub = std::move(std::get<std::string>(r));
    body = hub;
  }
  if (out.request_from_hub) return out.request_from_hub(body, options);
  return std::string(body);
}

std::unique_ptr<ResponseTranslator> translate_response(ApiShape from, ApiShape to, bool include_usage,
                                                       const ResponsesAnswer* responses) {
  if (!needs_translation(from, to)) return nullptr;
  const Codec& provider = codec(from);
  const Codec& client = codec(to);
  if (provider.client_only) return nullptr;  // never asked: translate_request refuses such a pair first
  // The hub step between two codecs asks for usage: the second one needs it for its own shape.
  auto first = provider.answers_to_hub ? provider.answers_to_hub(include_usage || client.answers_from_hub != nullptr) : nullptr;
  auto second = client.answers_from_hub ? client.answers_from_hub(responses) : nullptr;
  if (first && second) return std::make_unique<Chain>(std::move(first), std::move(second));
  return first ? std::move(first) : std::move(second);
}

}  // namespace gatehouse::translate
