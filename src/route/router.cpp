#include "route/router.h"

namespace gatehouse::route {

Router::Router(const config::Config& config) : config_(config) {}

Error model_not_found(std::string_view model) {
  std::string shown(model.substr(0, 200));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return Error::not_found("The model '" + shown +
                              "' does not exist or you do not have access to it; "
                              "GET /v1/models lists the models you can use",
                          "model_not_found");
}

std::variant<std::vector<Target>, Error> Router::resolve(std::string_view model) const {
  auto it = config_.models.find(std::string(model));
  if (it == config_.models.end()) return model_not_found(model);
  const auto& m = it->second;
  return std::vector<Target>{Target{&m, &config_.providers.at(m.provider)}};
}

}  // namespace gatehouse::route
