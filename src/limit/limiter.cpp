#include "limit/limiter.h"

#include <algorithm>

namespace gatehouse::limit {

namespace {

struct Choice {
  std::shared_ptr<Counter> counter;
  const Requirement::Option* option = nullptr;
};

long long need_of(Metric m, long long tokens) { return m == Metric::kTokens ? tokens : 1; }

bool fits(const Counter& c, Metric m, long long limit, long long need, std::int64_t now_s) {
  switch (m) {
    case Metric::kRequests: return c.requests.used(now_s) + need <= limit;
    case Metric::kTokens: return c.tokens.used(now_s) + need <= limit;
    case Metric::kConcurrency: return c.in_flight + need <= limit;
  }
  return false;
}

std::int64_t wait_of(const Counter& c, Metric m, long long limit, long long need, std::int64_t now_s) {
  switch (m) {
    case Metric::kRequests: return c.requests.wait_s(now_s, limit, need);
    case Metric::kTokens: return c.tokens.wait_s(now_s, limit, need);
    case Metric::kConcurrency: return need > limit ? -1 : 1;  // a slot frees when a request ends
  }
  return 1;
}

// Keeps the view of the tightest limit: the least remaining.
void tighten(HeaderView& v, long long limit, long long used, std::int64_t reset_s) {
  long long remaining = std::max(0LL, limit - used);
  if (!v.set || remaining < v.remaining) {
    v = HeaderView{true, limit, remaining, reset_s};
  }
}

// For one requirement: the first option with room for `need` (`choice`), or, when none has room,
// the option the client would wait least for and that wait (-1: never).
struct Pick {
  Choice choice;
  const Requirement::Option* best_option = nullptr;
  std::int64_t best_wait = -1;
};

template <class CounterOf>
Pick pick_option(const Requirement& req, long long need, std::int64_t now_s, CounterOf&& counter_of) {
  Pick pick;
  for (const auto& opt : req.options) {
    auto c = counter_of(opt.subject);
    if (fits(*c, req.metric, opt.limit, need, now_s)) {
      pick.choice = {std::move(c), &opt};
      break;
    }
    std::int64_t w = wait_of(*c, req.metric, opt.limit, need, now_s);
    if (!pick.best_option || (w >= 0 && (pick.best_wait < 0 || w < pick.best_wait))) {
      pick.best_wait = w;
      pick.best_option = &opt;
    }
  }
  return pick;
}

// Of several refusals, report the one the client must wait longest for ("never" first).
void report_refusal(Admission& out, bool rejected_before, const Requirement& req, const Pick& pick, long long need) {
  const bool worse = !rejected_before || (pick.best_wait < 0 && out.retry_after_s >= 0) ||
                     (pick.best_wait >= 0 && out.retry_after_s >= 0 && pick.best_wait > out.retry_after_s);
  if (worse) {
    out.metric = req.metric;
    out.label = pick.best_option->label;
    out.limit = pick.best_option->limit;
    out.retry_after_s = pick.best_wait;
    out.needed = need;
  }
}

// Admits: charges every chosen counter and hands the charges to the ticket, to be settled.
void charge(std::span<const Requirement> requirements, std::vector<Choice>& chosen, long long tokens,
            std::int64_t now_s, Admission& out) {
  out.admitted = true;
  out.ticket = std::make_shared<Ticket>();
  out.ticket->reserved_tokens = tokens;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    auto& c = chosen[i];
    if (!c.counter) continue;
    const Metric m = requirements[i].metric;
    const long long need = need_of(m, tokens);
    switch (m) {
      case Metric::kRequests: c.counter->requests.add(now_s, need, now_s); break;
      case Metric::kTokens: c.counter->tokens.add(now_s, need, now_s); break;
      case Metric::kConcurrency: c.counter->in_flight += need; break;
    }
    out.ticket->charges.push_back({c.counter, m, need, now_s});
  }
}

// The headers: every requests/tokens limit that applies, after this decision.
template <class CounterOf>
void fill_headers(std::span<const Requirement> requirements, const std::vector<Choice>& chosen, std::int64_t now_s,
                  Admission& out, CounterOf&& counter_of) {
  for (std::size_t i = 0; i < requirements.size(); ++i) {
    const auto& req = requirements[i];
    if (req.metric == Metric::kConcurrency) continue;
    HeaderView& view = req.metric == Metric::kRequests ? out.requests : out.tokens;
    const Requirement::Option* opt = nullptr;
    std::shared_ptr<Counter> c;
    if (out.admitted && chosen[i].option) {
      opt = chosen[i].option;
      c = chosen[i].counter;
    } else if (!out.admitted && !req.options.empty()) {
      opt = &req.options.front();
      c = counter_of(opt->subject);
    }
    if (!opt) continue;
    const Window& w = req.metric == Metric::kRequests ? c->requests : c->tokens;
    tighten(view, opt->limit, w.used(now_s), w.reset_s(now_s));
  }
}

}  // namespace

std::shared_ptr<Counter> InProcessLimiter::counter(const std::string& subject) {
  auto& slot = counters_[subject];
  if (!slot) slot = std::make_shared<Counter>();
  return slot;
}

void InProcessLimiter::sweep(std::int64_t now_s) {
  // Once a minute: a counter nobody holds, with nothing in flight and an empty window, is
  // forgotten (it would be recreated empty anyway).
  if (now_s - last_sweep_s_ < Window::kSlots) return;
  last_sweep_s_ = now_s;
  for (auto it = counters_.begin(); it != counters_.end();) {
    const Counter& c = *it->second;
    if (it->second.use_count() == 1 && c.in_flight == 0 && c.requests.empty(now_s) &&
        c.tokens.empty(now_s)) {
      it = counters_.erase(it);
    } else {
      ++it;
    }
  }
}

Admission InProcessLimiter::admit(std::span<const Requirement> requirements, long long tokens) {
  Admission out;
  tokens = std::max(0LL, tokens);  // a negative estimate would erase other requests' charges
  const std::int64_t now_s = clock_() / 1000;
  std::lock_guard lock(mu_);
  sweep(now_s);
  auto counter_of = [this](const std::string& subject) { return counter(subject); };

  std::vector<Choice> chosen;
  chosen.reserve(requirements.size());
  bool rejected = false;
  for (const auto& req : requirements) {
    const long long need = need_of(req.metric, tokens);
    if (req.options.empty()) {
      chosen.emplace_back();  // nothing to meet; keeps chosen[i] in step with requirements[i]
      continue;
    }
    Pick pick = pick_option(req, need, now_s, counter_of);
    if (pick.choice.option) {
      chosen.push_back(std::move(pick.choice));
      continue;
    }
    report_refusal(out, rejected, req, pick, need);
    rejected = true;
  }

  if (!rejected) charge(requirements, chosen, tokens, now_s, out);
  fill_headers(requirements, chosen, now_s, out, counter_of);
  return out;
}

void InProcessLimiter::settle(Ticket& ticket, long long actual_tokens) {
  if (ticket.settled) return;
  ticket.settled = true;
  const std::int64_t now_s = clock_() / 1000;
  std::lock_guard lock(mu_);
  for (auto& ch : ticket.charges) {
    switch (ch.metric) {
      case Metric::kRequests: break;
      case Metric::kTokens: {
        const long long delta = std::max(0LL, actual_tokens) - ch.amount;
        // A request that outlasted the window (a long stream): what it used beyond its estimate
        // still counts, now.
        if (!ch.counter->tokens.add(ch.at_s, delta, now_s) && delta > 0) ch.counter->tokens.add(now_s, delta, now_s);
        break;
      }
      case Metric::kConcurrency: ch.counter->in_flight -= ch.amount; break;
    }
  }
  ticket.charges.clear();  // the counters may be swept now
}

std::size_t InProcessLimiter::subjects() const {
  std::lock_guard lock(mu_);
  return counters_.size();
}

std::string format_reset(std::int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  return std::to_string(seconds / 60) + "m" + std::to_string(seconds % 60) + "s";
}

}  // namespace gatehouse::limit
