// The process's logging: an asynchronous spdlog logger for the gateway's own lines, and the
// access log (pipeline/access_log.cpp), batched on the workers (AccessBatchSink). Used by the
// composition root (main.cpp) and the tests; nothing on the request path includes it.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace gatehouse::app {

// Access lines are many and small. Handing each to the logging thread costs a futex wake and,
// on a busy core, a context switch per request; so each line is formatted where it is logged
// (the worker) into a batch, and the batch goes to `out` (the asynchronous logger, one message)
// once it holds `max_bytes`, or at the next flush (spdlog's periodic flusher, every second).
class AccessBatchSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  AccessBatchSink(std::shared_ptr<spdlog::logger> out, std::size_t max_bytes)
      : out_(std::move(out)), max_bytes_(max_bytes) {
    batch_.reserve(max_bytes + 1024);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void hand_over();

  std::shared_ptr<spdlog::logger> out_;
  const std::size_t max_bytes_;
  std::string batch_;  // whole lines, each with its newline
};

// Sets up the default logger ("gatehouse": `%Y-%m-%dT%H:%M:%S.%e%z LEVEL message` on stderr, at
// `level`) and the "access" logger (one JSON object per line on stderr, batched).
void setup_logging(const std::string& level);
// Hands the last access lines over, then stops logging (writes everything queued).
void stop_logging();

}  // namespace gatehouse::app
