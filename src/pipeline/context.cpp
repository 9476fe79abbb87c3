#include "pipeline/context.h"

#include "pipeline/stage.h"

namespace gatehouse::pipeline {

RequestContext::RequestContext() = default;
RequestContext::~RequestContext() = default;
RequestContext::RequestContext(RequestContext&&) noexcept = default;
RequestContext& RequestContext::operator=(RequestContext&&) noexcept = default;

void RequestContext::set_response_header(std::string_view name, std::string value) {
  for (auto& [n, v] : response_headers) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  response_headers.emplace_back(std::string(name), std::move(value));
}

}  // namespace gatehouse::pipeline
