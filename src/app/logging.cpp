#include "app/logging.h"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <string_view>

namespace gatehouse::app {

void AccessBatchSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);  // the line and its newline
  batch_.append(formatted.data(), formatted.size());
  if (batch_.size() >= max_bytes_) hand_over();
}

void AccessBatchSink::flush_() { hand_over(); }

void AccessBatchSink::hand_over() {
  if (batch_.empty()) return;
  std::string_view lines(batch_);
  if (lines.back() == '\n') lines.remove_suffix(1);  // `out` ends its message with its own
  out_->log(spdlog::level::info, spdlog::string_view_t(lines.data(), lines.size()));  // not a format string
  batch_.clear();
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
