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
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

struct Verdict {
  bool safe = true;
  std::string categories;  // "S1,S10" after "unsafe" (letters, digits and commas only), or ""
};

// Reads a classifier's answer text.
std::variant<Verdict, Error> read_verdict(std::string_view answer);

boost::asio::awaitable<std::variant<Verdict, Error>> classify(const runtime::Snapshot& snapshot, http::Exchange& ex,
                                                              const guard::GuardrailSpec& guardrail,
                                                              std::string_view text);

}  // namespace gatehouse::gateway
