#include "app/logging.h"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <string_view>

namespace gatehouse::app {

namespace {
std::atomic<std::uint64_t> next_sink_id{1};
}  // namespace

AccessBatchSink::AccessBatchSink(std::shared_ptr<spdlog::logger> out, std::size_t max_bytes)
    : id_(next_sink_id.fetch_add(1)),
      out_(std::move(out)),
      max_bytes_(max_bytes),
      formatter_(std::make_unique<spdlog::pattern_formatter>()) {}

AccessBatchSink::~AccessBatchSink() = default;

AccessBatchSink::Batch& AccessBatchSink::mine() {
  // This thread's batch of this sink, found once per thread and sink.
  thread_local std::vector<std::pair<std::uint64_t, Batch*>> known;
  for (const auto& [id, batch] : known) {
    if (id == id_) return *batch;
  }
  std::lock_guard lock(mu_);
  auto batch = std::make_unique<Batch>();
  batch->formatter = formatter_->clone();
  batch->lines.reserve(max_bytes_ + 1024);
  Batch& b = *batches_.emplace_back(std::move(batch));
  known.emplace_back(id_, &b);
  return b;
}

void AccessBatchSink::log(const spdlog::details::log_msg& msg) {
  Batch& b = mine();
  spdlog::memory_buf_t full;
  {
    std::lock_guard lock(b.mu);
    b.formatter->format(msg, b.lines);  // the line and its newline
    if (b.lines.size() < max_bytes_) return;
    full.reserve(max_bytes_ + 1024);
    std::swap(full, b.lines);
  }
  hand_over(full);
}

void AccessBatchSink::flush() {
  std::lock_guard lock(mu_);
  for (auto& b : batches_) {
    spdlog::memory_buf_t lines;
    {
      std::lock_guard batch_lock(b->mu);
      std::swap(lines, b->lines);
    }
    hand_over(lines);
  }
}

void AccessBatchSink::hand_over(spdlog::memory_buf_t& lines) {
  std::size_t n = lines.size();
  if (n == 0) return;
  if (lines[n - 1] == '\n') --n;  // `out` ends its message with its own
  out_->log(spdlog::level::info, spdlog::string_view_t(lines.data(), n));  // not a format string
}

void AccessBatchSink::set_pattern(const std::string& pattern) {
  set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
}

void AccessBatchSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  std::lock_guard lock(mu_);
  formatter_ = std::move(formatter);
  for (auto& b : batches_) {
    std::lock_guard batch_lock(b->mu);
    b->formatter = formatter_->clone();
  }
}

void setup_logging(const std::string& level) {
  // Asynchronous: a worker formats and enqueues, a logging thread writes. Under overload the
  // oldest queued lines are dropped rather than blocking requests.
  spdlog::init_thread_pool(16384, 1);
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>("gatehouse", sink, spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::set_default_logger(logger);
  // Access lines are JSON objects, one per line (pipeline/access_log.cpp writes the rest after the
  // timestamp). Batches of them are written as they are by the same logging thread (its own sink:
  // a pattern belongs to a sink), so lines of the two loggers never interleave.
  auto raw_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto out = std::make_shared<spdlog::async_logger>("access-out", raw_sink, spdlog::thread_pool(),
                                                    spdlog::async_overflow_policy::overrun_oldest);
  out->set_pattern("%v");
  out->set_level(spdlog::level::info);
  auto batch = std::make_shared<AccessBatchSink>(out, 32 * 1024);
  auto access = std::make_shared<spdlog::logger>("access", batch);
  access->set_pattern("{\"ts\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v", spdlog::pattern_time_type::utc);
  spdlog::register_logger(access);
  spdlog::set_level(spdlog::level::from_str(level));
  access->set_level(spdlog::level::info);  // log.access_log decides, not log.level
  spdlog::flush_every(std::chrono::seconds(1));
}

void stop_logging() {
  if (auto access = spdlog::get("access")) access->flush();
  spdlog::shutdown();
}

}  // namespace gatehouse::app
