// A model guardrail's question (guard kind `model`): the gateway asks one of its own models —
// Llama Guard, or any model a team serves as a classifier — about a text, and reads the verdict
// from the first line of the answer ("safe", or "unsafe" with the categories on the next line:
// Llama Guard's convention). The call goes straight to the model's provider (no stages: it is
// the gateway's own request, not the caller's), first target that answers, within the
// guardrail's timeout.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.h"
#include "guard/spec.h"
#include "http/server.h"
#include "pipeline/context.h"
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

struct Verdict {
  bool safe = true;
  std::string categories;  // "S1,S10" after "unsafe" (letters, digits and commas only), or ""
};

// Reads a classifier's answer text.
std::variant<Verdict, Error> read_verdict(std::string_view answer);

// Asks `guardrail`'s model about `text` for the request `ctx`: the targets a request of the
// caller's could not reach there (switched off, a data class above the model's, a pass-through
// provider) are not asked; timeout_ms bounds the whole question.
boost::asio::awaitable<std::variant<Verdict, Error>> classify(const runtime::Snapshot& snapshot, http::Exchange& ex,
                                                              const pipeline::RequestContext& ctx,
                                                              const guard::GuardrailSpec& guardrail,
                                                              std::string_view text);

}  // namespace gatehouse::gateway
