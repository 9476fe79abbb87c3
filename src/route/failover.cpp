#include "route/failover.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <random>
#include <utility>

namespace gatehouse::route {

namespace {

// One line per target for the 503 that ends a route whose every target failed: what happened,
// never a credential (gateway messages never hold one; a provider's message is cut short).
std::string summary_of(const Error& e) {
  std::string what = e.code.empty() ? std::string(to_string(e.kind)) : e.code;
  if (e.upstream_status) what += " (HTTP " + std::to_string(e.upstream_status) + ")";
  std::string msg = e.message.substr(0, 160);
  return what + ": " + msg;
}

double default_jitter() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return jitter(rng);
}

}  // namespace

unsigned failure_class(const Error& e) {
  if (!e.retryable) return 0;
  switch (e.kind) {
    case ErrorKind::kUpstreamTimeout: return config::kFailTimeout;
    case ErrorKind::kUpstreamConnect:
    case ErrorKind::kUpstreamReset: return config::kFailConnect;
    case ErrorKind::kUpstreamProtocol: return config::kFail5xx;
    case ErrorKind::kRateLimited:
    case ErrorKind::kUpstreamStatus:
      // A limit of the gateway's own says nothing about the target.
      if (e.source != ErrorSource::kUpstream) return 0;
      if (e.upstream_status == 429) return config::kFail429;
      // 5xx, and 401/403 (shown as 502: this target's credential is refused; another may work).
      return e.status >= 500 ? unsigned(config::kFail5xx) : 0u;
    default: return 0;
  }
}

Failover::Failover(const Plan& plan, TargetHealth& health, std::string request_id, Jitter jitter)
    : plan_(plan),
      health_(health),
      request_id_(std::move(request_id)),
      jitter_(jitter ? std::move(jitter) : Jitter(&default_jitter)) {}

Failover::~Failover() {
  if (pass_.probe) health_.release(name(), true);
}

std::optional<Failover::Step> Failover::next() {
  assert(state_ != State::kAttempting && "next() before the last step's outcome was reported");
  if (state_ == State::kRetrying) {
    state_ = State::kAttempting;
    return step(backoff_for(tries_));
  }
  if (state_ != State::kChoosing) return std::nullopt;
  while (next_index_ < plan_.targets.size()) {
    const Target& candidate = plan_.targets[next_index_++];
    if (plan_.route) {
      std::string why;
      const auto pass = health_.acquire(candidate.model->name, why);
      if (!pass) {
        summaries_.push_back(candidate.model->name + ": " + why);
        failed_upstream_ = true;
        continue;
      }
      pass_ = pass;
    }
    target_ = &candidate;
    tries_ = 0;
    state_ = State::kAttempting;
    return step(std::chrono::milliseconds(0));
  }
  finish();
  return std::nullopt;
}

void Failover::skipped(Error error) {
  assert(state_ == State::kAttempting && "skipped() without a step");
  if (state_ != State::kAttempting) return;
  if (pass_.probe) health_.release(name(), true);
  pass_.probe = false;
  std::string summary = name() + ": " + error.message.substr(0, 160);
  last_error_ = std::move(error);
  move_on(std::move(summary), false);
}

void Failover::failed(Error error, std::chrono::microseconds took) {
  assert(state_ == State::kAttempting && "failed() without a step");
  if (state_ != State::kAttempting) return;
  const auto* route = plan_.route;
  if (!route) {
    spdlog::warn("{} upstream {} failed: {}", request_id_, target_->provider->name, error.message);
    return end_with(std::move(error));
  }
  const unsigned cls = failure_class(error);
  if (cls == 0) {
    // The target answered; the request is what is wrong: no other target would do better.
    health_.success(name(), took);
    pass_.probe = false;
    return end_with(std::move(error));
  }
  const std::string summary = summary_of(error);
  if (!(route->fallback_on & cls)) {
    // Not a failure this route retries or falls back on: the client gets it as it is.
    count_failure(-1, summary);
    spdlog::warn("{} route {}: target {} ({}) failed: {}", request_id_, plan_.model->name, name(),
                 target_->provider->name, summary);
    return end_with(std::move(error));
  }
  // A 429 is not retried on the spot: the next target is tried (a Retry-After cools this one).
  const bool retry_here = cls != config::kFail429 && tries_ < 1 + route->retries;
  spdlog::warn("{} route {}: target {} ({}) failed{}: {}", request_id_, plan_.model->name, name(),
               target_->provider->name, retry_here ? ", retrying" : "", summary);
  if (retry_here) {
    last_error_ = std::move(error);
    state_ = State::kRetrying;
    return;
  }
  count_failure(cls == config::kFail429 ? error.retry_after_s : -1, summary);
  last_error_ = std::move(error);
  move_on(name() + ": " + summary, true);
}

void Failover::succeeded(std::chrono::microseconds latency) {
  assert(state_ == State::kAttempting && "succeeded() without a step");
  if (state_ != State::kAttempting) return;
  if (plan_.route) {
    health_.success(name(), latency);
    pass_.probe = false;
  }
  state_ = State::kAnswered;
}

void Failover::broke(std::string_view code) {
  assert(state_ == State::kAttempting && "broke() without a step");
  if (state_ != State::kAttempting) return;
  if (plan_.route) count_failure(-1, "the stream broke after it started (" + std::string(code) + ")");
  state_ = State::kAnswered;
}

void Failover::abandoned() {
  if (pass_.probe) health_.release(name(), true);
  pass_.probe = false;
  state_ = State::kAnswered;
}

// Exponential backoff with jitter: backoff * 2^(retry-1), times a random factor in [0.5, 1.5).
std::chrono::milliseconds Failover::backoff_for(int retry) {
  const double base = double(plan_.route->backoff.count()) * double(1u << std::min(retry - 1, 10));
  return std::chrono::milliseconds(static_cast<long long>(base * jitter_()));
}

Failover::Step Failover::step(std::chrono::milliseconds delay) {
  ++tries_;
  ++attempts_;
  return Step{target_, delay, tries_};
}

// The current target is done with (skipped, or failed for good): on to the next.
void Failover::move_on(std::string summary, bool upstream_failed) {
  summaries_.push_back(std::move(summary));
  if (upstream_failed) failed_upstream_ = true;
  state_ = State::kChoosing;
}

void Failover::end_with(Error error) {
  error_ = std::move(error);
  state_ = State::kEnded;
}

// Every target was tried or passed over.
void Failover::finish() {
  if (!failed_upstream_) {
    // No target could take the request at all (an operation none serves, a kill, OBO without a
    // JWT): that reason, as it is.
    end_with(last_error_ ? std::move(*last_error_)
                         : Error::internal("model '" + plan_.model->name + "' has no target to serve it"));
    return;
  }
  Error e;
  e.kind = ErrorKind::kUnavailable;
  e.source = ErrorSource::kGateway;
  e.retryable = true;
  e.status = 503;
  e.code = "all_targets_failed";
  e.message = "every target of model '" + plan_.model->name + "' failed: ";
  for (std::size_t i = 0; i < summaries_.size(); ++i) e.message += (i ? "; " : "") + summaries_[i];
  end_with(std::move(e));
}

// A failure the route counts against the current target; the probe it held is spent.
void Failover::count_failure(int retry_after_s, const std::string& summary) {
  const auto& route = *plan_.route;
  health_.failure(name(), route.cooldown_failures, route.cooldown, retry_after_s, summary, pass_.probe);
  pass_.probe = false;
}

}  // namespace gatehouse::route
