#include "runtime/snapshot.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "pipeline/authorize.h"

namespace gatehouse::runtime {

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

Snapshot::Snapshot(std::shared_ptr<const config::Config> c, Services s, pipeline::Pipeline p)
    : config(std::move(c)), services(std::move(s)), pipeline(std::move(p)), router(*config, *services.health) {
  models_json = render_models(*config, [](const std::string&) { return true; });
  for (const auto& [name, model] : config->models) {
    model_json.emplace(name, boost::json::serialize(model_object(model)));
  }
}

std::string Snapshot::models_json_for(const std::vector<const config::RoleConfig*>& roles) const {
  return render_models(*config, [&](const std::string& name) { return pipeline::AuthorizeStage::allows(roles, name); });
}

}  // namespace gatehouse::runtime
