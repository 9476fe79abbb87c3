#include "pipeline/kill_switch.h"

#include <algorithm>
#include <chrono>

namespace gatehouse::pipeline {

bool KillSwitch::valid_scope(std::string_view scope) {
  return scope == "model" || scope == "provider" || scope == "project" || scope == "key" ||
         scope == "mcp_server" || scope == "mcp_tool";
}

Kill KillSwitch::add(std::string scope, std::string value, std::string reason, std::string by) {
  Kill k;
  {
    std::lock_guard lock(mu_);
    k = Kill{id_prefix_ + std::to_string(next_++), std::move(scope), std::move(value), std::move(reason), std::move(by),
             std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()};
    kills_.push_back(k);
    any_.store(true, std::memory_order_release);
  }
  if (auto o = observer_.load(std::memory_order_acquire)) (*o)(&k, {});
  return k;
}

bool KillSwitch::lift(std::string_view id) {
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    n = std::erase_if(kills_, [&](const Kill& k) { return k.id == id; });
    any_.store(!kills_.empty(), std::memory_order_release);
  }
  if (auto o = observer_.load(std::memory_order_acquire); o && n > 0) (*o)(nullptr, id);
  return n > 0;
}

void KillSwitch::set_observer(Observer observer, std::string id_prefix) {
  {
    std::lock_guard lock(mu_);
    id_prefix_ = std::move(id_prefix);
  }
  observer_.store(observer ? std::make_shared<const Observer>(std::move(observer)) : nullptr, std::memory_order_release);
}

void KillSwitch::replace(std::vector<Kill> kills) {
  std::lock_guard lock(mu_);
  kills_ = std::move(kills);
  any_.store(!kills_.empty(), std::memory_order_release);
}

std::vector<Kill> KillSwitch::list() const {
  std::lock_guard lock(mu_);
  return kills_;
}

std::optional<Kill> KillSwitch::match(std::string_view model, std::string_view provider,
                                      std::string_view project, std::string_view key) const {
  if (!any_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mu_);
  for (const auto& k : kills_) {
    std::string_view v = k.scope == "model"      ? model
                         : k.scope == "provider" ? provider
                         : k.scope == "project"  ? project
                         : k.scope == "key"      ? key
                                                 : std::string_view();
    if (!v.empty() && v == k.value) return k;
  }
  return std::nullopt;
}

std::optional<Kill> KillSwitch::match_tool(std::string_view server, std::string_view tool, std::string_view project,
                                           std::string_view key) const {
  if (!any_.load(std::memory_order_acquire)) return std::nullopt;
  std::string full;
  full.append(server).append("/").append(tool);
  std::lock_guard lock(mu_);
  for (const auto& k : kills_) {
    std::string_view v = k.scope == "mcp_server" ? server
                         : k.scope == "mcp_tool" ? std::string_view(full)
                         : k.scope == "project"  ? project
                         : k.scope == "key"      ? key
                                                 : std::string_view();
    if (!v.empty() && v == k.value) return k;
  }
  return std::nullopt;
}

Error kill_error(const Kill& kill) {
  Error e;
  e.kind = ErrorKind::kUnavailable;
  e.source = ErrorSource::kGateway;
  e.status = 503;
  e.code = "kill_switch";
  e.message = kill.scope + " '" + kill.value + "' is switched off by an administrator" +
              (kill.reason.empty() ? "" : ": " + kill.reason) + " (" + kill.id + ")";
  return e;
}

}  // namespace gatehouse::pipeline
