#include "app/snapshot.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "pipeline/authorize.h"
#include "provider/anthropic.h"
#include "provider/databricks.h"
#include "provider/openai_compatible.h"

namespace gatehouse::app {

namespace {
boost::json::object model_object(const config::ModelConfig& model) {
  // A virtual model is the gateway's own.
  return {{"id", model.name}, {"object", "model"}, {"created", 0},
          {"owned_by", model.route ? std::string("gatehouse") : model.provider}};
}

template <class Keep>
std::string render_models(const config::Config& c, Keep keep) {
  boost::json::array data;
  for (const auto& [name, model] : c.models) {
    if (keep(name)) data.push_back(model_object(model));
  }
  return boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}});
}
}  // namespace

Snapshot::Snapshot(std::shared_ptr<const config::Config> c, pipeline::Services s)
    : config(std::move(c)),
      pipeline(pipeline::Pipeline::build(*config, s)),
      router(*config, *s.health),
      services(std::move(s)) {
  for (const auto& [name, p] : config->providers) {
    switch (p.kind) {
      case config::ProviderKind::kOpenAICompatible:
        providers.emplace(name, std::make_unique<provider::OpenAICompatibleAdapter>(p));
        break;
      case config::ProviderKind::kAnthropic:
        providers.emplace(name, std::make_unique<provider::AnthropicAdapter>(p));
        break;
      case config::ProviderKind::kDatabricks:
        providers.emplace(name, std::make_unique<provider::DatabricksAdapter>(p));
        break;
    }
  }
  models_json = render_models(*config, [](const std::string&) { return true; });
  for (const auto& [name, model] : config->models) {
    model_json.emplace(name, boost::json::serialize(model_object(model)));
  }
}

std::string Snapshot::models_json_for(const std::vector<const config::RoleConfig*>& roles) const {
  return render_models(*config, [&](const std::string& name) {
    return pipeline::AuthorizeStage::allows(roles, name);
  });
}

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                               pipeline::Services services) {
  return std::make_shared<const Snapshot>(std::move(config), std::move(services));
}

}  // namespace gatehouse::app
