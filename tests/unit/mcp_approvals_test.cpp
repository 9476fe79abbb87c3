#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "limit/clock.h"
#include "mcp/approvals.h"
#include "mcp_governance_util.h"
#include "store/mcp_tables.h"
#include "temp_dir.h"

namespace gatehouse::mcp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test_util::audit_rows;
using test_util::eventually;
using test_util::StorePlumbing;
using test_util::TempDir;

ApprovalRequest request() {
  ApprovalRequest r;
  r.request_id = "req-1";
  r.requester = "key 'agent'";
  r.key_name = "agent";
  r.server = "crm";
  r.tool = "delete_contact";
  r.arguments = R"({"id":42})";
  return r;
}

// A worker: an io_context on its own thread, as the gateway's.
class Worker {
 public:
  Worker() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~Worker() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// One held call: wait() spawned on a worker; its result as a future.
struct HeldCall {
  HeldCall(Worker& worker, Approvals& approvals, std::chrono::seconds timeout,
           std::function<asio::awaitable<void>(std::chrono::seconds)> tick = nullptr) {
    asio::co_spawn(
        worker.io(), approvals.wait(request(), timeout, std::move(tick)),
        asio::bind_cancellation_slot(cancel.slot(), [this](std::exception_ptr e, Approval a) {
          if (e) {
            result.set_exception(e);
          } else {
            result.set_value(std::move(a));
          }
        }));
    done = result.get_future();
  }
  std::promise<Approval> result;
  std::future<Approval> done;
  asio::cancellation_signal cancel;
};

// The id of the one call `approvals` holds, once it holds it.
std::string held_id(const Approvals& approvals) {
  EXPECT_TRUE(eventually([&] { return approvals.pending().size() == 1; }));
  auto p = approvals.pending();
  return p.empty() ? std::string() : p[0].id;
}

Approval finished(HeldCall& call, std::chrono::milliseconds within = 3s) {
  if (call.done.wait_for(within) != std::future_status::ready) {
    ADD_FAILURE() << "the held call did not end within " << within.count() << " ms";
    return {};
  }
  return call.done.get();
}

std::optional<store::ApprovalRow> row_of(const std::string& path, const std::string& id) {
  auto table = std::move(std::get<0>(store::open_sqlite_approvals(path)));
  auto got = table->get(id);
  if (auto* e = std::get_if<std::string>(&got)) {
    ADD_FAILURE() << *e;
    return std::nullopt;
  }
  return std::get<0>(got);
}

// Approvals for a gateway on a store file: polls rarely unless told otherwise, so that a test of a
// decision made in this process shows the waiter is woken, not polled.
struct Gateway {
  explicit Gateway(const std::string& path, ApprovalTimings timings = {10s, 10s})
      : plumbing(path),
        approvals(make_approvals(config::StoreConfig{.sqlite_path = path, .postgres_url = ""}, plumbing.executor, plumbing.writer, timings)) {}
  StorePlumbing plumbing;
  std::shared_ptr<Approvals> approvals;
};

TEST(Approvals, AHeldCallIsStoredAndListedThenApprovedAtOnce) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Worker worker;  // before the gateway: destroyed after it, so the store thread's last results find it
  Gateway g(path);
  HeldCall call(worker, *g.approvals, 30s);
  const std::string id = held_id(*g.approvals);
  ASSERT_EQ(id.size(), 20u) << id;
  EXPECT_EQ(id.substr(0, 4), "apr_");
  auto pending = g.approvals->pending();
  EXPECT_EQ(pending[0].status, "pending");
  EXPECT_EQ(pending[0].request.arguments, R"({"id":42})");
  EXPECT_EQ(pending[0].request.requester, "key 'agent'");
  auto row = row_of(path, id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "pending");
  EXPECT_EQ(row->server, "crm");
  EXPECT_EQ(row->tool, "delete_contact");
  EXPECT_EQ(row->request_id, "req-1");
  EXPECT_EQ(row->expires_ms - row->created_ms, 30'000);

  const auto asked = std::chrono::steady_clock::now();
  EXPECT_TRUE(g.approvals->decide(id, true, "looks fine", "key 'ops'"));
  Approval a = finished(call);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s) << "woken, not polled";
  EXPECT_EQ(a.id, id);
  EXPECT_EQ(a.status, "approved");
  EXPECT_EQ(a.reason, "looks fine");
  EXPECT_EQ(a.decided_by, "key 'ops'");
  EXPECT_TRUE(g.approvals->pending().empty());
  EXPECT_EQ(row_of(path, id)->status, "approved");

  EXPECT_FALSE(g.approvals->decide(id, false, "", "key 'ops'")) << "decided already";
  g.plumbing.writer->flush();
  auto rows = audit_rows(path, "mcp.approval.");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, "mcp.approval.approved");
  EXPECT_EQ(rows[0].actor, "key 'ops'");
  EXPECT_EQ(rows[0].subject, "tool crm/delete_contact");
  EXPECT_EQ(rows[0].request_id, "req-1");
  EXPECT_NE(rows[0].detail.find(id), std::string::npos);
  EXPECT_NE(rows[0].detail.find("looks fine"), std::string::npos);
}

TEST(Approvals, ADenialEndsTheCallAndSaysWhy) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Worker worker;  // before the gateway: destroyed after it, so the store thread's last results find it
  Gateway g(path);
  HeldCall call(worker, *g.approvals, 30s);
  const std::string id = held_id(*g.approvals);

  // The admin API's way: on the store thread, with what happened.
  std::promise<Decision> decided;
  asio::co_spawn(worker.io(),
                 g.approvals->decide_async(id, false, "not during the freeze", "user 'bob'"),
                 [&](std::exception_ptr, Decision d) { decided.set_value(std::move(d)); });
  Decision d = decided.get_future().get();
  EXPECT_EQ(d.outcome, Decision::Outcome::kDecided);
  EXPECT_EQ(d.approval.status, "denied");
  Approval a = finished(call);
  EXPECT_EQ(a.status, "denied");
  EXPECT_EQ(a.reason, "not during the freeze");

  std::promise<Decision> again, unknown;
  asio::co_spawn(worker.io(), g.approvals->decide_async(id, true, "", "user 'bob'"),
                 [&](std::exception_ptr, Decision d) { again.set_value(std::move(d)); });
  asio::co_spawn(worker.io(),
                 g.approvals->decide_async("apr_0000000000000000", true, "", "user 'bob'"),
                 [&](std::exception_ptr, Decision d) { unknown.set_value(std::move(d)); });
  Decision second = again.get_future().get();
  EXPECT_EQ(second.outcome, Decision::Outcome::kAlreadyDecided);
  EXPECT_EQ(second.approval.status, "denied");
  EXPECT_EQ(second.approval.decided_by, "user 'bob'");
  EXPECT_EQ(unknown.get_future().get().outcome, Decision::Outcome::kUnknown);

  g.plumbing.writer->flush();
  auto rows = audit_rows(path, "mcp.approval.");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, "mcp.approval.denied");
  EXPECT_EQ(rows[0].actor, "user 'bob'");
}

TEST(Approvals, NoDecisionInTimeExpiresTheCall) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Worker worker;  // before the gateway: destroyed after it, so the store thread's last results find it
  Gateway g(path, {200ms, 10s});
  HeldCall call(worker, *g.approvals, 1s);
  const std::string id = held_id(*g.approvals);
  Approval a = finished(call, 3s);
  EXPECT_EQ(a.status, "expired");
  EXPECT_EQ(a.reason, "no decision within 1 s");
  EXPECT_TRUE(g.approvals->pending().empty());
  EXPECT_EQ(row_of(path, id)->status, "expired");
  EXPECT_FALSE(g.approvals->decide(id, true, "too late", "key 'ops'"));
  g.plumbing.writer->flush();
  auto rows = audit_rows(path, "mcp.approval.");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, "mcp.approval.expired");
  EXPECT_EQ(rows[0].actor, "gatehouse");
}

TEST(Approvals, TickRunsWhileTheCallWaits) {
  TempDir dir;
  Worker worker;  // before the gateway: destroyed after it, so the store thread's last results find it
  Gateway g(dir.file("g.db"), {10s, 100ms});
  std::atomic<int> ticks{0};
  HeldCall call(worker, *g.approvals, 1s, [&](std::chrono::seconds) -> asio::awaitable<void> {
    ++ticks;
    co_return;
  });
  EXPECT_EQ(finished(call).status, "expired");
  EXPECT_GE(ticks.load(), 5);
  EXPECT_LE(ticks.load(), 11);
}

TEST(Approvals, ACallWhoseClientWentAwayIsExpired) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Worker worker;  // before the gateway: destroyed after it, so the store thread's last results find it
  Gateway g(path);
  HeldCall call(worker, *g.approvals, 30s);
  const std::string id = held_id(*g.approvals);
  asio::post(worker.io(), [&] { call.cancel.emit(asio::cancellation_type::terminal); });
  Approval a = finished(call);
  EXPECT_EQ(a.status, "expired");
  EXPECT_EQ(a.reason, "the client went away");
  EXPECT_TRUE(g.approvals->pending().empty());
  g.plumbing.drain();
  auto row = row_of(path, id);
  EXPECT_EQ(row->status, "expired");
  EXPECT_EQ(row->reason, "the client went away");
  EXPECT_FALSE(g.approvals->decide(id, true, "", "key 'ops'"));
  g.plumbing.writer->flush();
  auto rows = audit_rows(path, "mcp.approval.");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, "mcp.approval.expired");
}

TEST(Approvals, ADecisionMadeElsewhereReachesTheWaitingCallWithinAPoll) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Worker worker;  // before the gateway: destroyed after it, so the store thread's last results find it
  Gateway gateway(path, {100ms, 10s});

  // Another gateway on the same file decides (the admin API there).
  {
    HeldCall call(worker, *gateway.approvals, 30s);
    const std::string id = held_id(*gateway.approvals);
    Gateway other(path);
    EXPECT_TRUE(other.approvals->pending().empty()) << "pending() is this process's";
    EXPECT_TRUE(other.approvals->decide(id, true, "ok", "user 'carol'"));
    Approval a = finished(call, 2s);
    EXPECT_EQ(a.status, "approved");
    EXPECT_EQ(a.decided_by, "user 'carol'");
  }
  // The CLI's way: the table.
  {
    HeldCall call(worker, *gateway.approvals, 30s);
    const std::string id = held_id(*gateway.approvals);
    auto table = std::move(std::get<0>(store::open_sqlite_approvals(path)));
    auto listed = table->pending(limit::system_now_ms());
    ASSERT_EQ(std::get<0>(listed).size(), 1u);
    EXPECT_EQ(std::get<0>(listed)[0].id, id);
    auto done = table->decide(id, "denied", "no", "cli (alice)", limit::system_now_ms());
    ASSERT_TRUE(std::get<bool>(done));
    Approval a = finished(call, 2s);
    EXPECT_EQ(a.status, "denied");
    EXPECT_EQ(a.decided_by, "cli (alice)");
  }
}

TEST(Approvals, RowsLeftPendingByAStoppedGatewayAreExpiredAtStart) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  {
    StorePlumbing plumbing(path);  // creates the file
  }
  auto table = std::move(std::get<0>(store::open_sqlite_approvals(path)));
  const std::int64_t now = limit::system_now_ms();
  store::ApprovalRow old;
  old.id = "apr_00000000000000aa";
  old.server = "crm";
  old.tool = "delete_contact";
  old.created_ms = now - 600'000;
  old.expires_ms = now - 300'000;
  ASSERT_FALSE(table->insert(old));
  store::ApprovalRow live = old;
  live.id = "apr_00000000000000bb";
  live.created_ms = now;
  live.expires_ms = now + 300'000;
  ASSERT_FALSE(table->insert(live));

  Gateway g(path);
  EXPECT_EQ(row_of(path, old.id)->status, "expired");
  EXPECT_EQ(row_of(path, live.id)->status, "pending") << "another gateway may still hold it";
  g.plumbing.writer->flush();
  EXPECT_EQ(audit_rows(path, "mcp.approval.expired").size(), 1u);
}

TEST(Approvals, WithoutAStoreTheyLiveInMemory) {
  auto approvals = make_approvals(config::StoreConfig{}, nullptr, nullptr, {10s, 10s});
  Worker worker;
  HeldCall call(worker, *approvals, 30s);
  const std::string id = held_id(*approvals);
  EXPECT_TRUE(approvals->decide(id, true, "", "key 'ops'"));
  EXPECT_EQ(finished(call).status, "approved");
  EXPECT_FALSE(approvals->decide(id, true, "", "key 'ops'"));
}

}  // namespace
}  // namespace gatehouse::mcp
