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

namespace gatehouse::pipeline {

void Guardrails::hit(const guard::GuardrailSpec& g, std::string_view entity, guard::Action action, bool output) {
  for (auto& h : hits) {
    if (h.guardrail == &g && h.entity == entity && h.action == action && h.output == output) {
      ++h.count;
      return;
    }
  }
  if (hits.size() < kMaxHits) hits.push_back(GuardHit{&g, std::string(entity), action, output, 1});
}

std::string Guardrails::summary() const {
  std::string out;
  for (const auto& h : hits) {
    if (!out.empty()) out += ' ';
    out += h.guardrail->name;
    out += '/';
    out += h.entity;
    out += ':';
    out += guard::to_string(h.action);
    out += h.output ? ":output" : ":input";
    if (h.count > 1) out += "x" + std::to_string(h.count);
  }
  return out;
}

}  // namespace gatehouse::pipeline
