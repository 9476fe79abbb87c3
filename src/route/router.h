// Resolves the model a client named to the target(s) that can serve it. Today a model name maps
// to one provider model; virtual models with strategies, health and fallback build on this.
#pragma once

#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "core/error.h"

namespace gatehouse::route {

struct Target {
  const config::ModelConfig* model;
  const config::ProviderConfig* provider;
};

// 404 model_not_found naming `model` (cut short, control characters replaced).
Error model_not_found(std::string_view model);

class Router {
 public:
  // `config` must outlive the router (both live in one snapshot).
  explicit Router(const config::Config& config);

  // The targets to try, in order, or 404 model_not_found.
  std::variant<std::vector<Target>, Error> resolve(std::string_view model) const;

 private:
  const config::Config& config_;
};

}  // namespace gatehouse::route
