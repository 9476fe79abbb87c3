#include "core/shape.h"

namespace gatehouse {

const ShapeTraits& traits(ApiShape shape) {
  static constexpr ShapeTraits kTable[] = {
      {"openai", ApiShape::kOpenAI, false},
      {"anthropic", ApiShape::kAnthropic, true},
      {"databricks", ApiShape::kOpenAI, false},
      {"mcp", ApiShape::kOpenAI, false},
      {"responses", ApiShape::kResponses, false},
  };
  return kTable[static_cast<unsigned>(shape)];
}

}  // namespace gatehouse
