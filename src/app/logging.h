// The process's logging: an asynchronous spdlog logger for the gateway's own lines, and the
// access log (pipeline/access_log.cpp), batched on the workers (AccessBatchSink). Used by the
// composition root (main.cpp) and the tests; nothing on the request path includes it.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gatehouse::app {

// Access lines are many and small. Handing each to the logging thread costs a futex wake and,
// on a busy core, a context switch per request; so each line is formatted where it is logged
// (the worker) into that thread's own batch, and a batch goes to `out` (the asynchronous logger,
// one message) once it holds `max_bytes`, or at the next flush (spdlog's periodic flusher, every
// second). Workers never wait for each other: a batch's lock is shared only with the flusher.
// Lines keep their order within a thread; the threads' batches are written one after another.
class AccessBatchSink final : public spdlog::sinks::sink {
 public:
  AccessBatchSink(std::shared_ptr<spdlog::logger> out, std::size_t max_bytes);
  ~AccessBatchSink() override;

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;  // hands every thread's batch over
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  struct Batch {
    std::mutex mu;
    std::unique_ptr<spdlog::formatter> formatter;  // each thread its own: formatters cache state
    spdlog::memory_buf_t lines;                    // whole lines, each with its newline
  };
  Batch& mine();
  void hand_over(spdlog::memory_buf_t& lines);

  const std::uint64_t id_;  // tells this sink from another (tests make several)
  std::shared_ptr<spdlog::logger> out_;
  const std::size_t max_bytes_;
  std::mutex mu_;  // guards the list and the formatter below (taken once per thread, and by flush)
  std::unique_ptr<spdlog::formatter> formatter_;
  std::vector<std::unique_ptr<Batch>> batches_;
};

// Sets up the default logger ("gatehouse": `%Y-%m-%dT%H:%M:%S.%e%z LEVEL message` on stderr, at
// `level`) and the "access" logger (one JSON object per line on stderr, batched).
void setup_logging(const std::string& level);
// Hands the last access lines over, then stops logging (writes everything queued).
void stop_logging();

}  // namespace gatehouse::app
