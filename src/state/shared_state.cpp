#include "state/shared_state.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <future>

#include <boost/json.hpp>

#include "core/request_id.h"
#include "core/trace_context.h"
#include "limit/clock.h"
#include "pipeline/kill_switch.h"
#include "route/health.h"
#include "state/redis_client.h"

namespace gatehouse::state {

namespace asio = boost::asio;
using limit::Metric;

namespace {

// Admission: every requirement's options in order, the first with room chosen (requests and
// tokens in one-second slots of a sliding minute, a hash per subject; concurrency as leases in a
// sorted set scored by expiry); then every budget (its period's spend plus the reservations in
// flight, below its dollars); then, when nothing refused, all of it taken. Redis's clock.
// Returns {admitted, refusing budget (1-based) or 0, its spend, then per requirement: chosen
// option, best option, its wait (s, -1 never), the header option's use after the decision and
// its reset (s), ..., now (s)}.
constexpr std::string_view kAdmit = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1])
local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local i = 1
local function nxt() local v = ARGV[i]; i = i + 1; return v end
local id, lease, tokens = nxt(), tonumber(nxt()), tonumber(nxt())
local nreq = tonumber(nxt())
local reqs = {}
for r = 1, nreq do
  local m, n, opts = nxt(), tonumber(nxt()), {}
  for o = 1, n do local s = nxt(); opts[o] = {s, tonumber(nxt())} end
  reqs[r] = {m, opts}
end
local nchk, checks = tonumber(nxt()), {}
for c = 1, nchk do local s = nxt(); local k = nxt(); checks[c] = {s, k, tonumber(nxt())} end
local nsub, subs = tonumber(nxt()), {}
for s = 1, nsub do subs[s] = nxt() end
local member = nxt()

local function window(k)
  local all = redis.call('HGETALL', k)
  local used, slots, stale = 0, {}, {}
  for j = 1, #all, 2 do
    local sec, n = tonumber(all[j]), tonumber(all[j + 1])
    if sec <= now - 60 then stale[#stale + 1] = all[j]
    elseif sec <= now then used = used + n; slots[#slots + 1] = {sec, n} end
  end
  if #stale > 0 then redis.call('HDEL', k, unpack(stale)) end
  return used, slots
end
local function oldest(slots)
  local o = nil
  for _, s in ipairs(slots) do if s[2] > 0 and (not o or s[1] < o) then o = s[1] end end
  return o
end
local function wait(slots, used, limit, need)
  if need > limit then return -1 end
  table.sort(slots, function(a, b) return a[1] < b[1] end)
  local freed = 0
  for _, s in ipairs(slots) do
    freed = freed + s[2]
    if used - freed + need <= limit then return s[1] + 60 - now end
  end
  return 60
end
local function reserved(s)
  local k = 'gh:b:r:' .. s
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now_ms)
  local sum = 0
  for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do sum = sum + (tonumber(string.match(m, ':([^:]*)$')) or 0) end
  return sum
end

local out = {0, 0, '0'}
local refused = false
local picks = {}
for r = 1, nreq do
  local m, opts = reqs[r][1], reqs[r][2]
  local need = 1
  if m == 't' then need = tokens end
  local pick, best, best_wait, info = 0, 0, -1, {}
  for o = 1, #opts do
    local k = 'gh:l:' .. m .. ':' .. opts[o][1]
    local used, slots = 0, {}
    if m == 'c' then
      redis.call('ZREMRANGEBYSCORE', k, '-inf', now_ms)
      used = redis.call('ZCARD', k)
    else
      used, slots = window(k)
    end
    info[o] = {k, used, slots}
    if used + need <= opts[o][2] then pick = o; break end
    local w
    if m == 'c' then
      w = 1
      if need > opts[o][2] then w = -1 end
    else
      w = wait(slots, used, opts[o][2], need)
    end
    if best == 0 or (w >= 0 and (best_wait < 0 or w < best_wait)) then best, best_wait = o, w end
  end
  if pick == 0 then refused = true end
  picks[r] = {pick, best, best_wait, info, need}
end
do
  for c = 1, nchk do
    local spent = tonumber(redis.call('GET', 'gh:b:s:' .. checks[c][1] .. ':' .. checks[c][2]) or '0')
    if spent + reserved(checks[c][1]) >= checks[c][3] then
      out[2] = c
      out[3] = tostring(spent)
      refused = true
      break
    end
  end
end
if not refused then
  out[1] = 1
  for r = 1, nreq do
    local p = picks[r]
    local k = p[4][p[1]][1]
    if reqs[r][1] == 'c' then
      redis.call('ZADD', k, now_ms + lease, id)
      redis.call('PEXPIRE', k, lease * 2)
    else
      redis.call('HINCRBY', k, now, p[5])
      redis.call('EXPIRE', k, 120)
    end
  end
  for s = 1, nsub do
    local k = 'gh:b:r:' .. subs[s]
    redis.call('ZADD', k, now_ms + lease, member)
    redis.call('PEXPIRE', k, lease * 2)
  end
end
for r = 1, nreq do
  local p = picks[r]
  local h = 1
  if out[1] == 1 then h = p[1] end
  local used, reset = 0, 0
  local info = p[4][h]
  if info then
    used = info[2]
    local o = oldest(info[3])
    if out[1] == 1 and p[5] > 0 then
      used = used + p[5]
      if not o then o = now end
    end
    if o then reset = o + 60 - now end
  end
  out[#out + 1] = p[1]
  out[#out + 1] = p[2]
  out[#out + 1] = p[3]
  out[#out + 1] = used
  out[#out + 1] = reset
end
out[#out + 1] = now
return out
)lua";

// Settlement: tokens corrected in the slot they were charged to (or now, when that slot has left
// the window and the request used more than reserved), concurrency leases and budget
// reservations given back, the cost added to every period's spend, budgets whose warn_at the
// spend crossed reported once per period (across replicas: SET NX). Returns {index, spend, ...}
// of the warnings.
constexpr std::string_view kSettle = R"lua(
local now = tonumber(redis.call('TIME')[1])
local i = 1
local function nxt() local v = ARGV[i]; i = i + 1; return v end
local id, actual = nxt(), tonumber(nxt())
local n = tonumber(nxt())
for j = 1, n do
  local k, at, amount = nxt(), tonumber(nxt()), tonumber(nxt())
  local delta = actual - amount
  if delta ~= 0 then
    if at > now - 60 then
      if redis.call('HINCRBY', k, at, delta) < 0 then redis.call('HSET', k, at, 0) end
    elseif delta > 0 then
      redis.call('HINCRBY', k, now, delta)
    end
    redis.call('EXPIRE', k, 120)
  end
end
n = tonumber(nxt())
for j = 1, n do redis.call('ZREM', nxt(), id) end
local member, cost = nxt(), nxt()
n = tonumber(nxt())
for j = 1, n do redis.call('ZREM', nxt(), member) end
n = tonumber(nxt())
for j = 1, n do
  local k, ttl = nxt(), tonumber(nxt())
  if tonumber(cost) > 0 then redis.call('INCRBYFLOAT', k, cost) end
  if ttl > 0 then redis.call('EXPIRE', k, ttl) end
end
local warned = {}
n = tonumber(nxt())
for j = 1, n do
  local k, threshold, wk, ttl = nxt(), tonumber(nxt()), nxt(), tonumber(nxt())
  local spent = tonumber(redis.call('GET', k) or '0')
  if spent >= threshold then
    local ok
    if ttl > 0 then ok = redis.call('SET', wk, '1', 'NX', 'EX', ttl) else ok = redis.call('SET', wk, '1', 'NX') end
    if ok then
      warned[#warned + 1] = j
      warned[#warned + 1] = tostring(spent)
    end
  end
end
return warned
)lua";

// Leases still held: pushed out by another kLease (pairs of key, member).
constexpr std::string_view kRenew = R"lua(
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for j = 2, #ARGV, 2 do
  redis.call('ZADD', ARGV[j], 'XX', until_ms, ARGV[j + 1])
  redis.call('PEXPIRE', ARGV[j], tonumber(ARGV[1]) * 2)
end
return 1
)lua";

std::string sha1_hex(std::string_view text) {
  std::array<std::uint8_t, 20> md{};
  EVP_Digest(text.data(), text.size(), md.data(), nullptr, EVP_sha1(), nullptr);
  return to_hex(md);
}

const std::string& admit_sha() {
  static const std::string s = sha1_hex(kAdmit);
  return s;
}
const std::string& settle_sha() {
  static const std::string s = sha1_hex(kSettle);
  return s;
}
const std::string& renew_sha() {
  static const std::string s = sha1_hex(kRenew);
  return s;
}

char metric_code(Metric m) { return m == Metric::kRequests ? 'r' : m == Metric::kTokens ? 't' : 'c'; }

std::string period_suffix(limit::Period p, std::int64_t start_ms) {
  return std::string(limit::to_string(p)) + ":" + std::to_string(start_ms);
}
std::string spent_key(const std::string& subject, limit::Period p, std::int64_t start_ms) {
  return "gh:b:s:" + subject + ":" + period_suffix(p, start_ms);
}
// Seconds a period's keys are kept: to its end and a day more; 0 (for ever) for a total budget.
std::int64_t period_ttl_s(limit::Period p, std::int64_t now_ms) {
  const std::int64_t end = limit::period_end_ms(p, now_ms);
  return end < 0 ? 0 : (end - now_ms) / 1000 + 86'400;
}

// Every period's spend key of each of `subjects` at `now_ms`, with how long Redis keeps it.
std::vector<std::pair<std::string, std::int64_t>> spend_keys(const std::vector<std::string>& subjects, std::int64_t now_ms) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  out.reserve(subjects.size() * limit::kPeriods);
  for (const auto& s : subjects) {
    for (std::size_t p = 0; p < limit::kPeriods; ++p) {
      const auto period = limit::Period(p);
      out.emplace_back(spent_key(s, period, limit::period_start_ms(period, now_ms)), period_ttl_s(period, now_ms));
    }
  }
  return out;
}

std::string money(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9f", usd);
  return buf;
}

std::string random_id() { return random_hex(16); }

void tighten(limit::HeaderView& v, long long limit, long long used, std::int64_t reset_s) {
  const long long remaining = std::max(0LL, limit - used);
  if (!v.set || remaining < v.remaining) v = limit::HeaderView{true, limit, remaining, reset_s};
}

}  // namespace

// What one admission took in Redis, and how to give it back.
class SharedState::Ticket final : public limit::SharedTicket {
 public:
  Ticket(std::weak_ptr<SharedState> owner, std::string id) : owner_(std::move(owner)), id_(std::move(id)) {}
  ~Ticket() override { settle(reserved_tokens, 0); }

  void settle(long long tokens, double cost_usd) noexcept override {
    if (settled_) return;
    settled_ = true;
    auto owner = owner_.lock();
    if (!owner) return;
    try {
      const std::int64_t now_ms = limit::system_now_ms();
      std::vector<std::string> args{"EVALSHA", settle_sha(), "0", id_, std::to_string(std::max(0LL, tokens))};
      args.push_back(std::to_string(token_charges.size()));
      for (const auto& [key, amount] : token_charges) {
        args.push_back(key);
        args.push_back(std::to_string(at_s));
        args.push_back(std::to_string(amount));
      }
      args.push_back(std::to_string(concurrency_keys.size()));
      for (const auto& k : concurrency_keys) args.push_back(k);
      args.push_back(member);
      args.push_back(money(cost_usd));
      args.push_back(std::to_string(budget_subjects.size()));
      for (const auto& s : budget_subjects) args.push_back("gh:b:r:" + s);
      // Every period of every charged subject (a budget added later sees this spend too).
      const auto keys = spend_keys(budget_subjects, now_ms);
      args.push_back(std::to_string(keys.size()));
      for (const auto& [key, ttl] : keys) {
        args.push_back(key);
        args.push_back(std::to_string(ttl));
      }
      std::vector<limit::BudgetCheck> warn;
      for (const auto& c : checks) {
        if (c.warn_at > 0) warn.push_back(c);
      }
      args.push_back(std::to_string(warn.size()));
      for (const auto& c : warn) {
        const std::int64_t start = limit::period_start_ms(c.period, now_ms);
        args.push_back(spent_key(c.subject, c.period, start));
        args.push_back(money(c.warn_at * c.usd));
        args.push_back("gh:b:w:" + c.subject + ":" + period_suffix(c.period, start));
        args.push_back(std::to_string(period_ttl_s(c.period, now_ms)));
      }
      owner->forget_leases(id_);
      // This replica's own ledger follows the shared spend: it is what on_error: local admits
      // against while Redis is away.
      owner->mirror_spend(budget_subjects, cost_usd, now_ms);
      auto on_warned = owner->on_budget_warning_;
      SharedState* self = owner.get();  // the client's callbacks end before the owner does
      owner->redis_->post(std::move(args), [self, warn = std::move(warn), on_warned, subjects = budget_subjects, cost_usd,
                                            now_ms](RedisResult r) {
        if (auto* e = std::get_if<std::string>(&r)) {
          // The spend is owed to Redis until it is back; leases and reservations expire by themselves.
          self->owe(subjects, cost_usd, now_ms);
          if (!self->settle_warned_.exchange(true)) {  // once per outage (connected() resets it)
            spdlog::warn("shared state: settlements are not written ({}); their spend is added when Redis is back", *e);
          }
          return;
        }
        const auto& list = std::get<RedisReply>(r).elements;
        for (std::size_t i = 0; i + 1 < list.size(); i += 2) {
          const auto index = std::size_t(list[i].as_int());
          if (index == 0 || index > warn.size()) continue;
          if (on_warned) on_warned(limit::BudgetWarning{warn[index - 1], list[i + 1].as_double()});
        }
      });
    } catch (...) {
      // Accounting never takes a request down; the leases expire on their own.
    }
  }

  long long reserved_tokens = 0;
  std::int64_t at_s = 0;
  std::vector<std::pair<std::string, long long>> token_charges;  // key, tokens reserved
  std::vector<std::string> concurrency_keys;
  std::string member;  // the budget reservations' member ("id:cost")
  std::vector<std::string> budget_subjects;
  std::vector<limit::BudgetCheck> checks;

 private:
  std::weak_ptr<SharedState> owner_;
  std::string id_;
  bool settled_ = false;
};

SharedState::SharedState(config::RedisConfig config, std::shared_ptr<limit::Limiter> limiter,
                         std::shared_ptr<limit::Budgets> budgets)
    : config_(std::move(config)), limiter_(std::move(limiter)), budgets_(std::move(budgets)), replica_(random_id()) {}

std::shared_ptr<SharedState> SharedState::start(config::RedisConfig config, std::shared_ptr<limit::Limiter> limiter,
                                                std::shared_ptr<limit::Budgets> budgets) {
  std::shared_ptr<SharedState> s(new SharedState(std::move(config), std::move(limiter), std::move(budgets)));
  s->redis_ = std::make_unique<RedisClient>(s->config_, "state");
  s->redis_->on_connect({{"SCRIPT", "LOAD", std::string(kAdmit)},
                         {"SCRIPT", "LOAD", std::string(kSettle)},
                         {"SCRIPT", "LOAD", std::string(kRenew)}});
  SharedState* self = s.get();
  s->redis_->on_ready([self] { self->connected(); });
  s->start_renewal();
  return s;
}

SharedState::~SharedState() { stop(); }

void SharedState::stop() {
  // The clients' threads end first (their pending callbacks fail now, while the workers that
  // wait for them still exist); nothing of theirs runs on a dead SharedState. The renewal timer
  // is released before its io_context goes.
  if (events_) events_->shutdown();
  if (redis_) redis_->shutdown();
  renewal_.reset();  // its io_context (the client's) is stopped, not gone: its wait never runs
}

void SharedState::start_renewal() {
  renewal_ = std::make_unique<asio::steady_timer>(redis_->context());
  redis_->dispatch([this] { arm_renewal(); });
}

// On the client's thread, every lease / 3 until stop().
void SharedState::arm_renewal() {
  renewal_->expires_after(config_.lease / 3);
  renewal_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    renew_leases();
    // Also a safety net for an announcement missed while the listening connection was down.
    if (attached_.load(std::memory_order_acquire)) reload_kills();
    arm_renewal();
  });
}

void SharedState::renew_leases() {
  std::vector<std::string> args{"EVALSHA", renew_sha(), "0", std::to_string(config_.lease.count())};
  {
    std::lock_guard lock(leases_mu_);
    if (leases_.empty()) return;
    for (const auto& [id, l] : leases_) {
      args.push_back(l.key);
      args.push_back(l.member);
    }
  }
  redis_->post(std::move(args));
}

void SharedState::forget_leases(const std::string& id) {
  std::lock_guard lock(leases_mu_);
  leases_.erase(id);
}

void SharedState::note_failure(const std::string& why) {
  skip_until_ms_.store(limit::system_now_ms() + kRetryAfterFailure.count(), std::memory_order_relaxed);
  if (!degraded_.exchange(true)) {
    spdlog::warn("shared state: Redis at {} cannot admit requests ({}): {} until it answers again",
                 RedisClient::describe(config_), why,
                 config_.deny_on_error ? "model requests with limits or budgets are refused (on_error: deny)"
                                       : "each replica counts on its own (on_error: local)");
  }
}

// A request admitted without Redis (on_error: local): its spend is owed to Redis's totals.
class SharedState::OwedTicket final : public limit::SharedTicket {
 public:
  OwedTicket(std::weak_ptr<SharedState> owner, std::vector<std::string> subjects)
      : owner_(std::move(owner)), subjects_(std::move(subjects)) {}
  void settle(long long, double cost_usd) noexcept override {
    if (std::exchange(settled_, true)) return;
    if (auto owner = owner_.lock()) owner->owe(subjects_, cost_usd, limit::system_now_ms());
  }

 private:
  std::weak_ptr<SharedState> owner_;
  std::vector<std::string> subjects_;
  bool settled_ = false;
};

SharedDecision SharedState::local(const limit::PendingAdmission& pending, std::string why) {
  SharedDecision d;
  d.why = std::move(why);
  if (config_.deny_on_error) {
    d.source = SharedDecision::kUnavailable;
    denials_.fetch_add(1, std::memory_order_relaxed);
    return d;
  }
  d.source = SharedDecision::kLocal;
  fallbacks_.fetch_add(1, std::memory_order_relaxed);
  // As in one process: budgets first (a spent budget uses up no rate window), then limits.
  d.budgets.admitted = true;
  const bool budgets = budgets_ && !pending.budget_subjects.empty();
  if (budgets) d.budgets = budgets_->admit(pending.checks, pending.budget_subjects, pending.estimated_cost);
  d.limits.admitted = true;
  if (d.budgets.admitted && !pending.limits.empty()) d.limits = limiter_->admit(pending.limits, pending.tokens);
  if (budgets && d.budgets.admitted && d.limits.admitted) d.ticket = std::make_shared<OwedTicket>(weak_from_this(), pending.budget_subjects);
  return d;
}

SharedDecision SharedState::decide(const limit::PendingAdmission& pending, const Sent& sent, const RedisReply& reply) {
  const auto& out = reply.elements;
  SharedDecision d;
  const bool admitted = out[0].as_int() == 1;
  const auto refusing_budget = std::size_t(out[1].as_int());
  const std::int64_t redis_now = out.back().as_int();
  // Limits, as the in-process limiter reports them (limit/limiter.cpp).
  bool rejected = false;
  for (std::size_t j = 0; j < sent.indices.size(); ++j) {
    const auto& req = pending.limits[sent.indices[j]];
    const auto pick = std::size_t(out[3 + 5 * j].as_int());
    const auto best = std::size_t(out[4 + 5 * j].as_int());
    const std::int64_t wait = out[5 + 5 * j].as_int();
    const long long used = out[6 + 5 * j].as_int();
    const std::int64_t reset = out[7 + 5 * j].as_int();
    const long long need = req.metric == Metric::kTokens ? std::max(0LL, pending.tokens) : 1;
    if (pick == 0 && best > 0 && best <= req.options.size()) {
      const auto& opt = req.options[best - 1];
      const bool worse = !rejected || (wait < 0 && d.limits.retry_after_s >= 0) ||
                         (wait >= 0 && d.limits.retry_after_s >= 0 && wait > d.limits.retry_after_s);
      if (worse) {
        d.limits.metric = req.metric;
        d.limits.label = opt.label;
        d.limits.limit = opt.limit;
        d.limits.retry_after_s = wait;
        d.limits.needed = need;
      }
      rejected = true;
    }
    if (req.metric == Metric::kConcurrency) continue;
    const std::size_t header = admitted ? pick : 1;
    if (header == 0 || header > req.options.size()) continue;
    tighten(req.metric == Metric::kRequests ? d.limits.requests : d.limits.tokens, req.options[header - 1].limit, used, reset);
  }
  d.limits.admitted = !rejected;
  d.budgets.admitted = refusing_budget == 0;
  if (refusing_budget > 0 && refusing_budget <= pending.checks.size()) {
    const auto& c = pending.checks[refusing_budget - 1];
    d.budgets.spent_budget = c;
    d.budgets.spent = out[2].as_double();
    const std::int64_t end = limit::period_end_ms(c.period, sent.now_ms);
    d.budgets.resets_in_s = end < 0 ? -1 : (end - sent.now_ms + 999) / 1000;
  }
  if (!admitted) return d;

  auto ticket = std::make_shared<Ticket>(weak_from_this(), sent.id);
  ticket->reserved_tokens = std::max(0LL, pending.tokens);
  ticket->at_s = redis_now;
  ticket->member = sent.member;
  std::vector<Lease> leases;
  for (std::size_t j = 0; j < sent.indices.size(); ++j) {
    const auto& req = pending.limits[sent.indices[j]];
    const auto pick = std::size_t(out[3 + 5 * j].as_int());
    if (pick == 0 || pick > req.options.size()) continue;
    const std::string key = std::string("gh:l:") + metric_code(req.metric) + ":" + req.options[pick - 1].subject;
    if (req.metric == Metric::kTokens) ticket->token_charges.emplace_back(key, ticket->reserved_tokens);
    if (req.metric == Metric::kConcurrency) {
      ticket->concurrency_keys.push_back(key);
      leases.push_back({key, sent.id});
    }
  }
  if (sent.budgets) {
    ticket->budget_subjects = pending.budget_subjects;
    ticket->checks = pending.checks;
    for (const auto& s : pending.budget_subjects) leases.push_back({"gh:b:r:" + s, sent.member});
  }
  if (!leases.empty()) {
    std::lock_guard lock(leases_mu_);
    for (auto& l : leases) leases_.emplace(sent.id, std::move(l));
  }
  d.ticket = std::move(ticket);
  return d;
}

asio::awaitable<SharedDecision> SharedState::admit(std::shared_ptr<const limit::PendingAdmission> held) {
  const limit::PendingAdmission& pending = *held;
  if (limit::system_now_ms() < skip_until_ms_.load(std::memory_order_relaxed) || !redis_->up()) {
    if (!redis_->up()) note_failure("not connected");
    co_return local(pending, "Redis unavailable");
  }
  auto sent = std::make_shared<Sent>();
  sent->id = random_id();
  sent->member = sent->id + ":" + money(pending.estimated_cost);
  sent->now_ms = limit::system_now_ms();
  sent->budgets = budgets_ && !pending.budget_subjects.empty();
  std::vector<std::string> args{"EVALSHA", admit_sha(), "0", sent->id, std::to_string(config_.lease.count()),
                                std::to_string(std::max(0LL, pending.tokens))};
  // Requirements without options meet nothing: they are not sent (index map kept).
  for (std::size_t r = 0; r < pending.limits.size(); ++r) {
    if (!pending.limits[r].options.empty()) sent->indices.push_back(r);
  }
  args.push_back(std::to_string(sent->indices.size()));
  for (auto r : sent->indices) {
    const auto& req = pending.limits[r];
    args.push_back(std::string(1, metric_code(req.metric)));
    args.push_back(std::to_string(req.options.size()));
    for (const auto& o : req.options) {
      args.push_back(o.subject);
      args.push_back(std::to_string(o.limit));
    }
  }
  args.push_back(std::to_string(sent->budgets ? pending.checks.size() : 0));
  if (sent->budgets) {
    for (const auto& c : pending.checks) {
      args.push_back(c.subject);
      args.push_back(period_suffix(c.period, limit::period_start_ms(c.period, sent->now_ms)));
      args.push_back(money(c.usd));
    }
  }
  args.push_back(std::to_string(sent->budgets ? pending.budget_subjects.size() : 0));
  if (sent->budgets) {
    for (const auto& s : pending.budget_subjects) args.push_back(s);
  }
  args.push_back(sent->member);
  const std::size_t expected = 3 + 5 * sent->indices.size() + 1;

  // An answer that comes after this request stopped waiting took what it took in Redis: given
  // back at once (the request was admitted here, by this replica's own counters).
  std::weak_ptr<SharedState> weak = weak_from_this();
  std::function<void(RedisResult)> late = [weak, held, sent, expected](RedisResult r) {
    auto self = weak.lock();
    auto* reply = std::get_if<RedisReply>(&r);
    if (!self || !reply || reply->elements.size() != expected) return;
    SharedDecision undone = self->decide(*held, *sent, *reply);
    if (undone.ticket) undone.ticket->settle(0, 0);
  };
  auto result = co_await redis_->call(args, config_.timeout, late);
  if (auto* e = std::get_if<std::string>(&result); e && e->starts_with("NOSCRIPT")) {
    // Redis forgot the scripts (SCRIPT FLUSH, a restart between connects): sent whole once.
    args[0] = "EVAL";
    args[1] = std::string(kAdmit);
    result = co_await redis_->call(args, config_.timeout, late);
  }
  if (auto* e = std::get_if<std::string>(&result)) {
    note_failure(*e);
    co_return local(pending, *e);
  }
  const auto& reply = std::get<RedisReply>(result);
  if (reply.elements.size() != expected) {
    note_failure("an unexpected reply to the admission script");
    co_return local(pending, "an unexpected reply from Redis");
  }
  if (degraded_.exchange(false)) spdlog::info("shared state: Redis at {} admits requests again", RedisClient::describe(config_));
  co_return decide(pending, *sent, reply);
}

void SharedState::seed(std::vector<SpendSeed> spend) {
  for (const auto& s : spend) {
    const std::int64_t now_ms = limit::system_now_ms();
    if (s.start_ms != limit::period_start_ms(s.period, now_ms)) continue;
    std::vector<std::string> args{"SET", spent_key(s.subject, s.period, s.start_ms), money(s.usd), "NX"};
    if (const auto ttl = period_ttl_s(s.period, now_ms); ttl > 0) {
      args.push_back("EX");
      args.push_back(std::to_string(ttl));
    }
    redis_->post(std::move(args));
  }
}

std::optional<double> SharedState::spent(const std::string& subject, limit::Period p) {
  auto promise = std::make_shared<std::promise<std::optional<double>>>();
  auto future = promise->get_future();
  const auto now_ms = limit::system_now_ms();
  redis_->post({"GET", spent_key(subject, p, limit::period_start_ms(p, now_ms))}, [promise](RedisResult r) {
    if (auto* reply = std::get_if<RedisReply>(&r)) {
      promise->set_value(reply->as_double());
    } else {
      promise->set_value(std::nullopt);
    }
  });
  if (future.wait_for(config_.timeout * 4) != std::future_status::ready) return std::nullopt;
  return future.get();
}

namespace {
constexpr const char* kChannel = "gatehouse:events";
constexpr const char* kKills = "gh:kills";

std::string kill_json(const pipeline::Kill& k) {
  return boost::json::serialize(boost::json::object{
      {"id", k.id}, {"scope", k.scope}, {"value", k.value}, {"reason", k.reason}, {"by", k.by}, {"at", k.at}});
}

std::optional<pipeline::Kill> kill_of(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  auto str = [&](const char* name) {
    const auto* f = o.if_contains(name);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  pipeline::Kill k{str("id"), str("scope"), str("value"), str("reason"), str("by"), 0};
  if (const auto* at = o.if_contains("at"); at && at->is_int64()) k.at = at->get_int64();
  if (k.id.empty() || !pipeline::KillSwitch::valid_scope(k.scope)) return std::nullopt;
  return k;
}
}  // namespace

void SharedState::attach(std::shared_ptr<pipeline::KillSwitch> kills, std::shared_ptr<route::TargetHealth> health) {
  // The kill switch and the health table live as long as the process (a reload keeps them):
  // attached once.
  if (kills_) return;
  kills_ = std::move(kills);
  health_ = std::move(health);
  attached_.store(true, std::memory_order_release);
  std::weak_ptr<SharedState> weak = weak_from_this();
  kills_->set_observer(
      [weak](const pipeline::Kill* added, std::string_view lifted) {
        auto self = weak.lock();
        if (!self) return;
        std::vector<std::string> change = added ? std::vector<std::string>{"HSET", kKills, added->id, kill_json(*added)}
                                                : std::vector<std::string>{"HDEL", kKills, std::string(lifted)};
        self->push_kill_change(std::move(change));
      },
      "kill-" + replica_.substr(0, 6) + "-");
  health_->set_observer([weak](const route::HealthEvent& e) {
    auto self = weak.lock();
    if (!self) return;
    self->redis_->post({"PUBLISH", kChannel,
                        boost::json::serialize(boost::json::object{{"from", self->replica_},
                                                                   {"type", "health"},
                                                                   {"failure", e.failure},
                                                                   {"key", e.key},
                                                                   {"retry_after", e.retry_after_s},
                                                                   {"summary", e.summary},
                                                                   {"latency_us", e.latency_us}})});
  });
  events_ = std::make_unique<RedisClient>(config_, "state events");
  // The events client's callbacks end before this object does (stop()): a plain pointer.
  SharedState* self = this;
  events_->subscribe(kChannel, [self](std::string_view m) { self->on_event(m); });
  events_->on_ready([self] { self->reload_kills(); });
}

void SharedState::push_kill_change(std::vector<std::string> change) {
  // Every replica, this one too, reads the hash again once it hears of the change. A change that
  // cannot be written now (Redis away) is written when Redis is back (connected()).
  SharedState* self = this;
  redis_->post(change, [self, change](RedisResult r) {
    if (!std::holds_alternative<std::string>(r)) return;
    std::lock_guard lock(self->owed_mu_);
    self->unsynced_kills_.push_back(change);
  });
  redis_->post({"PUBLISH", kChannel, boost::json::serialize(boost::json::object{{"from", replica_}, {"type", "kills"}})});
}

// On the client's thread, after every connect: what this replica could not write while Redis was
// away (kill changes, spend), and — when Redis lost its data (a restart without persistence: its
// epoch changed) — this replica's kills and the store's spend again.
void SharedState::connected() {
  SharedState* self = this;
  settle_warned_ = false;
  redis_->post({"SET", "gh:epoch", replica_ + "-" + random_id(), "NX"});
  redis_->post({"GET", "gh:epoch"}, [self](RedisResult r) {
    auto* reply = std::get_if<RedisReply>(&r);
    if (!reply) return;
    const bool lost = !self->epoch_.empty() && self->epoch_ != reply->str;
    self->epoch_ = reply->str;
    if (lost) {
      spdlog::warn("shared state: Redis at {} lost its data (restarted without persistence?): this replica's kills and "
                   "the store's spend are written again",
                   RedisClient::describe(self->config_));
      if (self->attached_.load(std::memory_order_acquire)) {
        for (const auto& k : self->kills_->list()) self->redis_->post({"HSET", kKills, k.id, kill_json(k)});
      }
      if (self->seeds_) self->seed(self->seeds_());
    }
    std::vector<std::vector<std::string>> kills;
    std::map<std::string, std::pair<double, std::int64_t>> owed;
    {
      std::lock_guard lock(self->owed_mu_);
      kills.swap(self->unsynced_kills_);
      owed.swap(self->owed_);
    }
    for (auto& k : kills) self->redis_->post(std::move(k));
    for (const auto& [key, v] : owed) {
      self->redis_->post({"INCRBYFLOAT", key, money(v.first)});
      if (v.second > 0) self->redis_->post({"EXPIRE", key, std::to_string(v.second)});
    }
    if (!kills.empty() || lost) {
      self->redis_->post({"PUBLISH", kChannel, boost::json::serialize(boost::json::object{{"from", self->replica_}, {"type", "kills"}})});
    }
    self->reload_kills();
  });
}

void SharedState::owe(const std::vector<std::string>& subjects, double cost_usd, std::int64_t now_ms) {
  if (cost_usd <= 0 || subjects.empty()) return;
  const auto keys = spend_keys(subjects, now_ms);
  std::lock_guard lock(owed_mu_);
  for (const auto& [key, ttl] : keys) {
    auto& slot = owed_[key];
    slot.first += cost_usd;
    slot.second = ttl;
  }
}

void SharedState::mirror_spend(const std::vector<std::string>& subjects, double cost_usd, std::int64_t now_ms) {
  if (!budgets_ || cost_usd <= 0) return;
  for (const auto& s : subjects) {
    for (std::size_t p = 0; p < limit::kPeriods; ++p) {
      const auto period = limit::Period(p);
      budgets_->load(s, period, limit::period_start_ms(period, now_ms), cost_usd);
    }
  }
}

void SharedState::on_event(std::string_view message) {
  boost::system::error_code ec;
  auto v = boost::json::parse(message, ec);
  if (ec || !v.is_object()) return;
  const auto& o = v.get_object();
  auto str = [&](const char* name) {
    const auto* f = o.if_contains(name);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  const std::string type = str("type");
  if (type == "kills") return reload_kills();
  if (type != "health" || str("from") == replica_) return;
  route::HealthEvent e;
  const auto* failure = o.if_contains("failure");
  e.failure = failure && failure->is_bool() && failure->get_bool();
  e.key = str("key");
  e.summary = str("summary");
  if (const auto* r = o.if_contains("retry_after"); r && r->is_int64()) e.retry_after_s = int(r->get_int64());
  if (const auto* l = o.if_contains("latency_us"); l && l->is_int64()) e.latency_us = l->get_int64();
  if (!e.key.empty()) health_->apply(e);
}

void SharedState::reload_kills() {
  SharedState* self = this;
  // Read with Redis's epoch: a hash from a Redis that lost its data, before this replica has
  // written its kills there again (connected()), must not wipe them here.
  auto epoch = std::make_shared<std::string>();
  redis_->post({"GET", "gh:epoch"}, [epoch](RedisResult r) {
    if (auto* reply = std::get_if<RedisReply>(&r)) *epoch = reply->str;
  });
  redis_->post({"HGETALL", kKills}, [self, epoch](RedisResult r) {
    if (!std::holds_alternative<RedisReply>(r) || *epoch != self->epoch_ || !self->attached_.load(std::memory_order_acquire)) return;
    const auto& fields = std::get<RedisReply>(r).elements;
    std::vector<pipeline::Kill> kills;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (auto k = kill_of(fields[i + 1].str)) kills.push_back(std::move(*k));
    }
    std::sort(kills.begin(), kills.end(), [](const auto& a, const auto& b) { return a.at < b.at || (a.at == b.at && a.id < b.id); });
    self->kills_->replace(std::move(kills));
  });
}

void SharedState::render_metrics(std::string& out) const {
  out += "# HELP gatehouse_shared_state_up Whether Redis (state.redis) answers: 1 yes, 0 no.\n";
  out += "# TYPE gatehouse_shared_state_up gauge\n";
  out += "gatehouse_shared_state_up " + std::string(redis_->up() ? "1" : "0") + "\n";
  out += "# HELP gatehouse_shared_state_fallbacks_total Model requests admitted without Redis: by this replica's own counters (on_error: local) or refused (deny).\n";
  out += "# TYPE gatehouse_shared_state_fallbacks_total counter\n";
  out += "gatehouse_shared_state_fallbacks_total{outcome=\"local\"} " + std::to_string(fallbacks_.load()) + "\n";
  out += "gatehouse_shared_state_fallbacks_total{outcome=\"denied\"} " + std::to_string(denials_.load()) + "\n";
}

}  // namespace gatehouse::state
