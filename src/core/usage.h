// What a provider says a request used, in one shape whatever the provider's: OpenAI's
// prompt/completion tokens and Anthropic's input/output/cache tokens both map here.
#pragma once

namespace gatehouse {

struct Usage {
  long long input_tokens = 0;         // every prompt token, cached ones included
  long long cached_input_tokens = 0;  // of those, read from the provider's prompt cache
  long long output_tokens = 0;
  bool known = false;                 // the provider reported it (false: nothing, or an estimate)
  bool estimated = false;             // the gateway's estimate stands in for it

  long long total() const { return input_tokens + output_tokens; }
};

}  // namespace gatehouse
