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

Failover::~Failover() { release_probes(); }

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
      // The target's shared health, then what this route alone has seen of it (its own stricter
      // timeouts), each judged by this route's thresholds.
      const auto& route = *plan_.route;
      std::string why;
      const auto pass =
          health_.acquire(candidate.model->name, route.cooldown_failures, route.cooldown, why);
      if (!pass) {
        summaries_.push_back(candidate.model->name + ": " + why);
        failed_upstream_ = true;
        continue;
      }
      std::string scoped = scoped_key(candidate.model->name, plan_.model->name);
      const auto scoped_pass =
          health_.acquire(scoped, route.cooldown_failures, route.cooldown, why);
      if (!scoped_pass) {
        health_.release(candidate.model->name, pass.probe);
        summaries_.push_back(candidate.model->name + ": for this route, " + why);
        failed_upstream_ = true;
        continue;
      }
      pass_ = pass;
      scoped_pass_ = scoped_pass;
      scoped_key_ = std::move(scoped);
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
  release_probes();
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
    count_success(took);
    return end_with(std::move(error));
  }
  const std::string summary = summary_of(error);
  if (!(route->fallback_on & cls)) {
    // Not a failure this route retries or falls back on: the client gets it as it is.
    count_failure(error, -1, summary);
    spdlog::warn("{} route {}: target {} ({}) failed: {}", request_id_, plan_.model->name, name(),
                 target_->provider->name, summary);
    return end_with(std::move(error));
  }
  // A 429 is not retried on the spot: the next target is tried (a Retry-After cools this one).
  const bool retry_here = cls != config::kFail429 && tries_ < 1 + route->retries;
  spdlog::warn("{} route {}: target {} ({}) failed{}: {}", request_id_, plan_.model->name, name(),
               target_->provider->name, retry_here ? ", retrying" : "", summary);
  // Every failed attempt counts, a retry's too (a 429, never retried, is counted once).
  count_failure(error, cls == config::kFail429 ? error.retry_after_s : -1, summary);
  if (retry_here) {
    last_error_ = std::move(error);
    state_ = State::kRetrying;
    return;
  }
  last_error_ = std::move(error);
  move_on(name() + ": " + summary, true);
}

void Failover::succeeded(std::chrono::microseconds latency) {
  assert(state_ == State::kAttempting && "succeeded() without a step");
  if (state_ != State::kAttempting) return;
  if (plan_.route) count_success(latency);
  state_ = State::kAnswered;
}

void Failover::broke(std::string_view code) {
  assert(state_ == State::kAttempting && "broke() without a step");
  if (state_ != State::kAttempting) return;
  if (plan_.route)
    count_failure(Error{}, -1, "the stream broke after it started (" + std::string(code) + ")");
  state_ = State::kAnswered;
}

void Failover::abandoned() {
  release_probes();
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

// Whether `settings` (a route's entry for a target) sets any timeout of its own.
static bool overrides_timeouts(const config::RouteTarget* settings) {
  return settings &&
         (settings->connect || settings->first_byte || settings->idle || settings->total);
}

// A failure the route counts against the current target; the probe it held is spent. A timeout
// at a target whose route entry sets its own timeouts may be that route's strictness alone (the
// endpoint may answer every other route in time): it counts for this route only, under its
// scoped key, and the shared probe goes back untouched.
void Failover::count_failure(const Error& error, int retry_after_s, const std::string& summary) {
  if (error.kind == ErrorKind::kUpstreamTimeout && overrides_timeouts(target_->settings)) {
    health_.release(name(), pass_.probe);
    health_.failure(scoped_key_, retry_after_s, summary, scoped_pass_.probe);
  } else {
    health_.release(scoped_key_, scoped_pass_.probe);
    health_.failure(name(), retry_after_s, summary, pass_.probe);
  }
  pass_.probe = false;
  scoped_pass_.probe = false;
}

// The target answered: healthy for every route, and nothing this route held against it remains.
void Failover::count_success(std::chrono::microseconds latency) {
  health_.success(name(), latency);
  health_.clear(scoped_key_);
  pass_.probe = false;
  scoped_pass_.probe = false;
}

// The probes this request holds go back (no verdict on the target).
void Failover::release_probes() {
  if (pass_.probe) health_.release(name(), true);
  if (scoped_pass_.probe) health_.release(scoped_key_, true);
  pass_.probe = false;
  scoped_pass_.probe = false;
}

}  // namespace gatehouse::route
