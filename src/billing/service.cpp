#include "billing/service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <tuple>

#include "store/key_rules.h"

namespace gatehouse::billing {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t kDay = 86'400;
// A replica that took the daily import and has not recorded it after this long is presumed gone.
constexpr std::int64_t kClaimStale = 3'600;

// Seconds from `now` (unix seconds) to the next `at_minute` after midnight UTC.
std::int64_t seconds_until(std::int64_t now, int at_minute) {
  std::int64_t at = now - now % kDay + std::int64_t(at_minute) * 60;
  if (at <= now) at += kDay;
  return at - now;
}

}  // namespace

BillingService::BillingService(std::shared_ptr<store::BillingTable> table,
                               std::shared_ptr<provider::OAuthSources> oauth)
    : table_(std::move(table)),
      oauth_(std::move(oauth)),
      io_(std::make_unique<asio::io_context>(1)),
      pools_(std::make_unique<http::UpstreamPools>(*io_)),
      work_(io_->get_executor()) {
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_->run();
        return;
      } catch (const std::exception& e) {
        // A bug: count-and-log and keep the thread (an import waited on must still end).
        spdlog::error("billing: unhandled exception on the import thread: {}", e.what());
      }
    }
  });
}

BillingService::~BillingService() { stop(); }

void BillingService::stop() {
  if (!io_) return;
  work_.reset();
  io_->stop();
  if (thread_.joinable()) thread_.join();
  pools_->close();
  timer_.reset();
  io_.reset();
  pools_.reset();
}

std::shared_ptr<const config::Config> BillingService::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

bool BillingService::configured() const {
  auto c = config();
  return c && c->billing.databricks.has_value();
}

void BillingService::configure(std::shared_ptr<const config::Config> config) {
  if (!io_) return;  // stopped
  std::optional<config::DatabricksBillingConfig> wanted = config->billing.databricks;
  {
    std::lock_guard lock(mu_);
    config_ = std::move(config);
  }
  asio::post(*io_, [this, wanted = std::move(wanted)] {
    if (wanted == scheduled_ && (timer_ || !wanted)) return;
    scheduled_ = wanted;
    ++generation_;
    if (timer_) timer_->cancel();
    timer_.reset();
    if (!wanted) return;
    const bool check_at_start = !started_;
    started_ = true;
    asio::co_spawn(*io_, schedule(generation_, check_at_start), asio::detached);
  });
}

asio::awaitable<ImportOutcome> BillingService::run_import() {
  ImportOutcome out;
  auto cfg = config();
  if (!cfg || !cfg->billing.databricks) {
    out.error = "billing.databricks is not configured";
    co_return out;
  }
  if (running_) {
    out.error = std::string(kBusy);
    co_return out;
  }
  running_ = true;
  try {
    out = co_await import_costs(*cfg, *table_, *pools_, *oauth_, store::unix_now());
  } catch (const std::exception& e) {
    out = ImportOutcome{};
    out.error = std::string("the import stopped: ") + e.what();
  }
  running_ = false;
  co_return out;
}

asio::awaitable<ImportOutcome> BillingService::import_now() {
  // The import runs detached on the billing thread; this caller waits on a timer of its own
  // executor, which the import's end cancels. The caller's frame is never handed to the billing
  // io_context (destroying that io_context would then destroy a worker's frames on another
  // thread, after the worker's io_context is gone: a use after free at shutdown). `gone` says
  // whether the waiting frame still exists; the end posts to its executor only while it does.
  struct Wait {
    std::mutex mu;
    bool gone = false;
    ImportOutcome out;
    asio::steady_timer* timer = nullptr;  // the frame's; valid while !gone (worker thread only)
  };
  if (!io_) {
    ImportOutcome stopped;
    stopped.error = "the gateway is stopping";
    co_return stopped;
  }
  auto wait = std::make_shared<Wait>();
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, asio::steady_timer::time_point::max());
  wait->timer = &timer;
  struct Leave {
    std::shared_ptr<Wait> w;
    ~Leave() {
      std::lock_guard lock(w->mu);
      w->gone = true;
    }
  } leave{wait};
  auto work = run_import();
  auto done = [wait, executor](std::exception_ptr e, ImportOutcome out) {
    if (e) out.error = "the import stopped unexpectedly";
    std::lock_guard lock(wait->mu);
    if (wait->gone) return;
    wait->out = std::move(out);
    asio::post(executor, [wait] {
      if (!wait->gone) wait->timer->cancel();  // on the waiter's thread: gone cannot change here
    });
  };
  asio::co_spawn(*io_, std::move(work), std::move(done));
  std::tuple<boost::system::error_code> waited = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)waited;
  ImportOutcome out;
  {
    std::lock_guard lock(wait->mu);
    out = std::move(wait->out);
  }
  co_return out;
}

asio::awaitable<void> BillingService::schedule(std::uint64_t generation, bool check_at_start) {
  auto timer = std::make_shared<asio::steady_timer>(*io_);
  timer_ = timer;
  // Takes the import when no replica did it since `since`, then runs it.
  auto due = [this](std::int64_t now, std::int64_t since) {
    auto claimed = table_->claim(now, since, now - kClaimStale);
    if (auto* e = std::get_if<std::string>(&claimed)) {
      spdlog::error("billing: {}", *e);
      return false;
    }
    return std::get<bool>(claimed);
  };
  if (check_at_start) {
    const std::int64_t now = store::unix_now();
    if (due(now, now - kDay)) co_await run_import();
  }
  while (generation == generation_) {
    const int at_minute = scheduled_ ? scheduled_->at_minute : 0;
    const std::int64_t wait = seconds_until(store::unix_now(), at_minute);
    timer->expires_after(std::chrono::seconds(wait));
    std::tuple<boost::system::error_code> waited = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (generation != generation_ || std::get<0>(waited) == asio::error::operation_aborted) co_return;
    // Another replica's import of today (its clock a little ahead) counts.
    const std::int64_t now = store::unix_now();
    if (due(now, now - kDay + 4 * kClaimStale)) co_await run_import();
  }
}

}  // namespace gatehouse::billing
