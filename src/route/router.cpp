#include "route/router.h"

#include <algorithm>
#include <numeric>

namespace gatehouse::route {

namespace {
constexpr std::uint64_t kExploreEvery = 20;  // latency: one request in 20 goes to another target
}

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

Policies policies_of(const config::Config& config) {
  Policies out;
  for (const auto& [name, m] : config.models) {
    if (!m.route) continue;
    const Policy p{m.route->cooldown_failures, m.route->cooldown};
    for (const auto& t : m.route->targets) {
      out[t.model].push_back(p);
      out[scoped_key(t.model, name)].push_back(p);
    }
  }
  return out;
}

Router::Router(const config::Config& config, TargetHealth& health) : config_(config), health_(health) {}

std::variant<Plan, Error> Router::resolve(std::string_view model) const {
  auto it = config_.models.find(std::string(model));
  if (it == config_.models.end()) return model_not_found(model);
  const auto& m = it->second;
  Plan plan;
  plan.model = &m;
  if (!m.route) {
    plan.targets.push_back(Target{&m, &config_.providers.at(m.provider), nullptr});
    return plan;
  }
  const auto& route = *m.route;
  plan.route = &route;
  std::vector<std::size_t> order(route.targets.size());
  std::iota(order.begin(), order.end(), 0);

  switch (route.strategy) {
    case config::RouteStrategy::kPriority:
      break;
    case config::RouteStrategy::kWeighted: {
      // nginx's smooth weighted round robin: each pick adds every weight to its target's current
      // value, takes the largest and subtracts the total from it. Shares are exact over each
      // cycle of total-weight picks. The rest follow by weight, for fallback.
      std::lock_guard lock(mu_);
      auto& rot = rotations_[m.name];
      rot.current.resize(route.targets.size(), 0);
      long long total = 0;
      std::size_t best = 0;
      for (std::size_t i = 0; i < route.targets.size(); ++i) {
        rot.current[i] += route.targets[i].weight;
        total += route.targets[i].weight;
        if (rot.current[i] > rot.current[best]) best = i;
      }
      rot.current[best] -= total;
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (a == best || b == best) return a == best && b != best;
        return route.targets[a].weight > route.targets[b].weight;
      });
      // A target of weight 0 takes no share, but still serves as a fallback.
      break;
    }
    case config::RouteStrategy::kLatency: {
      std::vector<double> latency(route.targets.size());
      for (std::size_t i = 0; i < route.targets.size(); ++i) latency[i] = health_.latency_ms(route.targets[i].model);
      // Unmeasured targets first (to measure them), then the fastest.
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if ((latency[a] < 0) != (latency[b] < 0)) return latency[a] < 0;
        return latency[a] < latency[b];
      });
      std::uint64_t n;
      {
        std::lock_guard lock(mu_);
        n = rotations_[m.name].count++;
      }
      if (order.size() > 1 && n % kExploreEvery == kExploreEvery - 1) {
        // Explore: one of the others first (in turn), so a recovered target is noticed.
        const std::size_t pick = 1 + (n / kExploreEvery) % (order.size() - 1);
        std::rotate(order.begin(), order.begin() + long(pick), order.begin() + long(pick) + 1);
      }
      break;
    }
  }
  for (std::size_t i : order) {
    const auto& t = route.targets[i];
    const auto& target_model = config_.models.at(t.model);
    plan.targets.push_back(Target{&target_model, &config_.providers.at(target_model.provider), &t});
  }
  return plan;
}

}  // namespace gatehouse::route
