// Resolves the model a client named to the targets that can serve it, in the order to try them:
// a plain model is one target; a virtual model (`route:`) orders its targets by its strategy —
// priority (as listed), weighted (smooth weighted round robin: exact shares, interleaved) or
// latency (fastest recent first, every 20th request exploring the others). Health (cooldown,
// probes) is applied by the caller as it tries each target (route/health.h).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "route/health.h"

namespace gatehouse::route {

struct Target {
  const config::ModelConfig* model;
  const config::ProviderConfig* provider;
  const config::RouteTarget* settings = nullptr;  // the route's entry for it (timeouts); null: plain model
};

struct Plan {
  const config::ModelConfig* model = nullptr;  // what the client named
  const config::RouteConfig* route = nullptr;  // null for a plain model
  std::vector<Target> targets;                 // in the order to try
};

// The health policies of every route in `config`, by the keys each consults (its targets' model
// names and their scoped_key()s): for the admin API and metrics, which judge shared health by them.
Policies policies_of(const config::Config& config);

// 404 model_not_found naming `model` (cut short, control characters replaced).
Error model_not_found(std::string_view model);

class Router {
 public:
  // `config` must outlive the router (both live in one snapshot); `health` outlives both.
  Router(const config::Config& config, TargetHealth& health);

  // The plan for `model`, or 404 model_not_found. Thread-safe (a weighted route's rotation is
  // shared by every worker).
  std::variant<Plan, Error> resolve(std::string_view model) const;

 private:
  struct Rotation {
    std::vector<long long> current;  // smooth weighted round robin
    std::uint64_t count = 0;         // requests routed (latency exploration)
  };
  const config::Config& config_;
  TargetHealth& health_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Rotation, std::less<>> rotations_;
};

}  // namespace gatehouse::route
