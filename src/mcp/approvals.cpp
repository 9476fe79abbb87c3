// Held calls: each waiting call owns a timer on its own executor and a row in mcp_approvals. The
// row is the truth: every decision is a conditional update of a pending row (approve, deny, expire:
// the first one wins, whichever process makes it), and the waiter obeys what the row says. A
// decision made in this process also cancels the waiter's timer, so it resumes at once; one made
// elsewhere is found by the waiter's poll of its row.
#include "mcp/approvals.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <mutex>
#include <stdexcept>

#include "limit/clock.h"
#include "mcp/pins.h"
#include "record/writer.h"
#include "store/mcp_tables.h"
#include "store/store_open.h"
#include "store/store_executor.h"

namespace gatehouse::mcp {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::steady_clock;

// "apr_" + 16 hex characters of 8 random bytes: URL-safe, unguessable enough that an id seen in a
// log does not let anyone find the others.
std::string new_id() {
  unsigned char b[8];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("the random generator failed");
  static const char* hex = "0123456789abcdef";
  std::string id = "apr_";
  for (unsigned char c : b) {
    id += hex[c >> 4];
    id += hex[c & 15];
  }
  return id;
}

store::ApprovalRow to_row(const Approval& a) {
  store::ApprovalRow r;
  r.id = a.id;
  r.request_id = a.request.request_id;
  r.requester = a.request.requester;
  r.key_name = a.request.key_name;
  r.server = a.request.server;
  r.tool = a.request.tool;
  r.arguments = a.request.arguments;
  r.status = a.status;
  r.reason = a.reason;
  r.decided_by = a.decided_by;
  r.created_ms = a.created_ms;
  r.expires_ms = a.expires_ms;
  r.decided_ms = a.decided_ms;
  return r;
}

Approval from_row(store::ApprovalRow r) {
  Approval a;
  a.id = std::move(r.id);
  a.request.request_id = std::move(r.request_id);
  a.request.requester = std::move(r.requester);
  a.request.key_name = std::move(r.key_name);
  a.request.server = std::move(r.server);
  a.request.tool = std::move(r.tool);
  a.request.arguments = std::move(r.arguments);
  a.status = std::move(r.status);
  a.reason = std::move(r.reason);
  a.decided_by = std::move(r.decided_by);
  a.created_ms = r.created_ms;
  a.expires_ms = r.expires_ms;
  a.decided_ms = r.decided_ms;
  return a;
}

Approval ended(Approval a, std::string status, std::string reason, std::string by,
               std::int64_t now) {
  a.status = std::move(status);
  a.reason = std::move(reason);
  a.decided_by = std::move(by);
  a.decided_ms = now;
  return a;
}

void submit_audit(record::RecordWriter* audit, const Approval& a, const std::string& actor) {
  if (!audit) return;
  store::AuditRecord r;
  r.time_ms = limit::system_now_ms();
  r.kind = "mcp.approval." + a.status;
  r.actor = actor;
  r.subject = tool_audit_subject(a.request.server, a.request.tool);
  r.detail = approval_audit_detail(a.id, a.reason, a.request.requester);
  r.request_id = a.request.request_id;
  audit->submit(std::move(r));
}

// One held call.
struct Waiter {
  Approval record;
  asio::any_io_executor executor;
  std::shared_ptr<asio::steady_timer> timer;
  std::optional<Approval> decision;  // made by this process (under HeldCalls::mu)
};

constexpr const char* kClientGone = "the client went away";
// How long past its deadline a pending row must be before a starting gateway calls it abandoned
// (its waiter, if alive, expires it itself at the deadline).
constexpr std::int64_t kAbandonedAfterMs = 60'000;
// Decided calls remembered without a store (so that a second decision is "already decided").
constexpr std::size_t kRememberedDecisions = 1000;

// The calls this process holds and the decisions on them. Shared with the calls that run on the
// store thread (decide_async), so it does not own the executor: the last reference to it may go
// there, and the store thread must not be the one to join itself.
struct HeldCalls {
  HeldCalls(std::shared_ptr<store::ApprovalTable> t, std::shared_ptr<record::RecordWriter> a)
      : table(std::move(t)), audit(std::move(a)) {}

  Decision decide_now(const std::string& id, bool approve, const std::string& reason,
                      const std::string& by) {
    const std::string status = approve ? "approved" : "denied";
    const std::int64_t now = limit::system_now_ms();
    Decision d;
    if (table) {
      auto done = table->decide(id, status, reason, by, now);
      if (auto* e = std::get_if<std::string>(&done)) {
        d.error = *e;
        return d;
      }
      auto got = table->get(id);
      if (auto* e = std::get_if<std::string>(&got)) {
        d.error = *e;
        return d;
      }
      auto& row = std::get<0>(got);
      if (!row) {
        d.outcome = Decision::Outcome::kUnknown;
        return d;
      }
      d.approval = from_row(std::move(*row));
      if (!std::get<bool>(done)) {
        d.outcome = Decision::Outcome::kAlreadyDecided;
        return d;
      }
      std::lock_guard lock(mu);
      wake_locked(id, d.approval);
    } else {
      std::lock_guard lock(mu);
      auto it = waiters.find(id);
      if (it == waiters.end() || it->second->decision) {
        const Approval* earlier = it != waiters.end() ? &*it->second->decision : nullptr;
        if (!earlier) {
          auto r = remembered.find(id);
          earlier = r != remembered.end() ? &r->second : nullptr;
        }
        d.outcome = earlier ? Decision::Outcome::kAlreadyDecided : Decision::Outcome::kUnknown;
        if (earlier) d.approval = *earlier;
        return d;
      }
      d.approval = ended(it->second->record, status, reason, by, now);
      remember_locked(d.approval);
      wake_locked(id, d.approval);
    }
    d.outcome = Decision::Outcome::kDecided;
    spdlog::info("mcp approvals: {} ({}/{}) {} by {}{}{}", id, d.approval.request.server,
                 d.approval.request.tool, status, by, reason.empty() ? "" : ": ", reason);
    submit_audit(audit.get(), d.approval, by);
    return d;
  }

  // Hands `decision` to this process's waiter for `id`, if any, and resumes it.
  void wake_locked(const std::string& id, const Approval& decision) {
    auto it = waiters.find(id);
    if (it == waiters.end()) return;
    it->second->decision = decision;
    asio::post(it->second->executor, [timer = it->second->timer] { timer->cancel(); });
  }

  void remember_locked(const Approval& a) {
    if (remembered.size() >= kRememberedDecisions) remembered.erase(remembered.begin());
    remembered[a.id] = a;
  }

  const std::shared_ptr<store::ApprovalTable> table;  // null: in memory only
  const std::shared_ptr<record::RecordWriter> audit;
  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Waiter>> waiters;
  std::map<std::string, Approval> remembered;  // without a store only
};

class StoredApprovals final : public Approvals,
                              public std::enable_shared_from_this<StoredApprovals> {
 public:
  StoredApprovals(std::shared_ptr<store::ApprovalTable> table,
                  std::shared_ptr<store::StoreExecutor> executor,
                  std::shared_ptr<record::RecordWriter> audit, ApprovalTimings timings)
      : held_(std::make_shared<HeldCalls>(std::move(table), std::move(audit))),
        table_(held_->table),
        audit_(held_->audit),
        executor_(std::move(executor)),
        timings_(timings) {}

  asio::awaitable<Approval> wait(
      ApprovalRequest request, std::chrono::seconds timeout,
      std::function<asio::awaitable<void>(std::chrono::seconds)> tick) override {
    auto w = std::make_shared<Waiter>();
    w->executor = co_await asio::this_coro::executor;
    w->timer = std::make_shared<asio::steady_timer>(w->executor);
    w->record.id = new_id();
    w->record.request = std::move(request);
    w->record.status = "pending";
    w->record.created_ms = limit::system_now_ms();
    w->record.expires_ms = w->record.created_ms +
                           std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();

    if (table_) {
      std::function<std::optional<std::string>()> insert = [t = table_, row = to_row(w->record)] {
        return t->insert(row);
      };
      std::optional<std::string> error = co_await on_store(std::move(insert));
      if (error) {
        spdlog::error("mcp approvals: {}; the call to {}/{} is refused", *error,
                      w->record.request.server, w->record.request.tool);
        Approval refused =
            ended(w->record, "denied", "the call could not be held for approval (the store failed)",
                  "gatehouse", limit::system_now_ms());
        co_return refused;
      }
    }
    {
      std::lock_guard lock(held_->mu);
      held_->waiters[w->record.id] = w;
    }
    spdlog::info(
        "mcp approvals: {} holds {}'s call to {}/{} (request {}) for up to {} s: gatehouse "
        "approvals "
        "approve|deny {}",
        w->record.id, w->record.request.requester, w->record.request.server, w->record.request.tool,
        w->record.request.request_id, timeout.count(), w->record.id);

    // Expires the row if this frame goes without an answer (destroyed, or a tick threw).
    struct Abandon {
      std::shared_ptr<StoredApprovals> self;
      std::shared_ptr<Waiter> w;
      bool done = false;
      ~Abandon() {
        if (!done) self->abandon(w, kClientGone);
      }
    } guard{shared_from_this(), w};

    Approval result = co_await hold(w, timeout, std::move(tick));
    guard.done = true;
    co_return result;
  }

  std::vector<Approval> pending() const override {
    std::lock_guard lock(held_->mu);
    std::vector<Approval> out;
    for (const auto& [id, w] : held_->waiters) {
      if (!w->decision) out.push_back(w->record);
    }
    std::sort(out.begin(), out.end(),
              [](const Approval& a, const Approval& b) { return a.created_ms < b.created_ms; });
    return out;
  }

  bool decide(std::string_view id, bool approve, std::string_view reason,
              std::string_view by) override {
    return held_->decide_now(std::string(id), approve, std::string(reason), std::string(by))
               .outcome == Decision::Outcome::kDecided;
  }

  asio::awaitable<Decision> decide_async(std::string id, bool approve, std::string reason,
                                         std::string by) override {
    std::function<Decision()> fn = [held = held_, id = std::move(id), approve,
                                    reason = std::move(reason), by = std::move(by)] {
      return held->decide_now(id, approve, reason, by);
    };
    Decision d = co_await on_store(std::move(fn));
    co_return d;
  }

  // Expires the rows pending past their deadline that no gateway is waiting for any more.
  void expire_abandoned() {
    const std::int64_t now = limit::system_now_ms();
    auto swept = table_->expire_abandoned(now - kAbandonedAfterMs,
                                          "the gateway holding the call stopped", now);
    if (auto* e = std::get_if<std::string>(&swept)) throw std::runtime_error(*e);
    for (auto& row : std::get<std::vector<store::ApprovalRow>>(swept)) {
      submit_audit(audit_.get(), from_row(std::move(row)), "gatehouse");
    }
  }

 private:
  // Runs `fn` on the store thread (or here without an executor) and resumes on the caller's.
  template <class T>
  asio::awaitable<T> on_store(std::function<T()> fn) {
    if (!executor_) {
      T here = fn();
      co_return here;
    }
    std::function<T(store::KeyStore&)> call = [fn = std::move(fn)](store::KeyStore&) {
      return fn();
    };
    T there = co_await executor_->run<T>(std::move(call));
    co_return there;
  }

  // The decision this process made for `w`, if any.
  std::optional<Approval> taken(const Waiter& w) const {
    std::lock_guard lock(held_->mu);
    return w.decision;
  }

  void forget(const std::string& id) {
    std::lock_guard lock(held_->mu);
    held_->waiters.erase(id);
  }

  asio::awaitable<Approval> hold(std::shared_ptr<Waiter> w, std::chrono::seconds timeout,
                                 std::function<asio::awaitable<void>(std::chrono::seconds)> tick) {
    const auto start = steady_clock::now();
    const auto deadline = start + timeout;
    auto next_tick = start + timings_.tick;
    auto next_poll = start + timings_.poll;
    for (;;) {
      if (auto mine = taken(*w)) {
        forget(w->record.id);
        Approval decided = std::move(*mine);
        co_return decided;
      }
      // Cancelled while in a store call or a tick: the next co_await would throw.
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        Approval gone = abandon(w, kClientGone);
        co_return gone;
      }
      const auto now = steady_clock::now();
      if (now >= deadline) {
        std::string why = "no decision within " + std::to_string(timeout.count()) + " s";
        Approval expired = co_await expire(w, std::move(why));
        co_return expired;
      }
      if (table_ && now >= next_poll) {
        next_poll = now + timings_.poll;
        using Got = std::variant<std::optional<store::ApprovalRow>, std::string>;
        std::function<Got()> get = [t = table_, id = w->record.id] { return t->get(id); };
        Got got = co_await on_store(std::move(get));
        if (auto* e = std::get_if<std::string>(&got)) {
          spdlog::warn("mcp approvals: {} (still waiting)", *e);
        } else if (const auto& row = std::get<0>(got); row && row->status != "pending") {
          forget(w->record.id);
          Approval elsewhere = from_row(*row);
          spdlog::info("mcp approvals: {} {} by {}", elsewhere.id, elsewhere.status,
                       elsewhere.decided_by);
          co_return elsewhere;
        }
        continue;
      }
      if (now >= next_tick) {
        next_tick += timings_.tick;
        const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - start);
        if (tick) co_await tick(waited);
        continue;
      }
      auto wake = std::min(deadline, next_tick);
      if (table_) wake = std::min(wake, next_poll);
      w->timer->expires_at(wake);
      std::tuple<boost::system::error_code> waited =
          co_await w->timer->async_wait(asio::as_tuple(asio::use_awaitable));
      (void)waited;
      // Aborted: decide() cancelled the timer, or the caller was cancelled (the loop's top tells).
    }
  }

  // Ends `w` expired at its deadline, unless a decision came first (then that one).
  asio::awaitable<Approval> expire(std::shared_ptr<Waiter> w, std::string reason) {
    const std::int64_t now = limit::system_now_ms();
    Approval out = ended(w->record, "expired", reason, "gatehouse", now);
    if (!table_) {
      std::unique_lock lock(held_->mu);
      if (w->decision) out = *w->decision;
      held_->remember_locked(out);
      held_->waiters.erase(w->record.id);
      lock.unlock();
      if (out.status == "expired") submit_audit(audit_.get(), out, "gatehouse");
      co_return out;
    }
    using Ended = std::variant<std::optional<store::ApprovalRow>, std::string>;
    // The update and the read of what won in one store call.
    std::function<Ended()> end = [t = table_, id = w->record.id, reason, now]() -> Ended {
      auto done = t->decide(id, "expired", reason, "gatehouse", now);
      if (auto* e = std::get_if<std::string>(&done)) return *e;
      return t->get(id);
    };
    Ended row = co_await on_store(std::move(end));
    forget(w->record.id);
    if (auto* e = std::get_if<std::string>(&row)) {
      spdlog::error("mcp approvals: {}: {} is expired all the same", *e, w->record.id);
    } else if (const auto& r = std::get<0>(row); r && r->status != "expired") {
      Approval first = from_row(*r);  // decided just before the deadline
      co_return first;
    }
    spdlog::info("mcp approvals: {} expired: {}", out.id, reason);
    submit_audit(audit_.get(), out, "gatehouse");
    co_return out;
  }

  // Ends `w` expired with `reason` without waiting for the store (the caller is being cancelled or
  // destroyed: it may not co_await any more). The record as this process sees it.
  Approval abandon(const std::shared_ptr<Waiter>& w, const std::string& reason) {
    const std::int64_t now = limit::system_now_ms();
    Approval out = ended(w->record, "expired", reason, "gatehouse", now);
    {
      std::lock_guard lock(held_->mu);
      held_->waiters.erase(w->record.id);
      if (w->decision) return *w->decision;
      if (!table_) held_->remember_locked(out);
    }
    spdlog::info("mcp approvals: {} expired: {}", out.id, reason);
    if (!table_) {
      submit_audit(audit_.get(), out, "gatehouse");
      return out;
    }
    auto write = [t = table_, audit = audit_, out](store::KeyStore*) {
      auto done = t->decide(out.id, "expired", out.reason, "gatehouse", out.decided_ms);
      if (auto* e = std::get_if<std::string>(&done)) {
        spdlog::error("mcp approvals: {}", *e);
      } else if (std::get<bool>(done)) {
        submit_audit(audit.get(), out, "gatehouse");
      }
    };
    if (executor_) {
      executor_->post([write](store::KeyStore& ks) { write(&ks); });
    } else {
      write(nullptr);
    }
    return out;
  }

  const std::shared_ptr<HeldCalls> held_;
  const std::shared_ptr<store::ApprovalTable> table_;  // held_->table
  const std::shared_ptr<record::RecordWriter> audit_;  // held_->audit
  const std::shared_ptr<store::StoreExecutor>
      executor_;  // null: store calls on the caller's thread
  const ApprovalTimings timings_;
};

}  // namespace

std::string approval_audit_detail(std::string_view id, std::string_view reason,
                                  std::string_view requester) {
  return json::serialize(json::object{{"id", id}, {"reason", reason}, {"requester", requester}});
}

std::shared_ptr<Approvals> make_approvals(const config::StoreConfig& store,
                                          std::shared_ptr<store::StoreExecutor> executor,
                                          std::shared_ptr<record::RecordWriter> audit,
                                          ApprovalTimings timings) {
  std::shared_ptr<store::ApprovalTable> table;
  if (store.configured()) {
    auto opened = store::open_approvals(store);
    if (auto* e = std::get_if<std::string>(&opened)) throw std::runtime_error(*e);
    table = std::move(std::get<0>(opened));
  }
  auto approvals =
      std::make_shared<StoredApprovals>(table, std::move(executor), std::move(audit), timings);
  if (table) approvals->expire_abandoned();
  return approvals;
}

}  // namespace gatehouse::mcp
