// Writes records to the store off the request path: workers hand rows to submit() (a lock and a
// push, never I/O); one thread writes everything queued as one transaction every flush interval,
// or sooner when a batch is full. Usage rows are never dropped: a failing store keeps them queued
// and retries. The destructor (and flush()) writes everything submitted before it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/record_store.h"

namespace gatehouse::record {

class RecordWriter {
 public:
  RecordWriter(std::shared_ptr<store::RecordStore> store, std::chrono::milliseconds flush_every);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Queues a row. Runs on a worker: never blocks on the store.
  void submit(store::UsageRecord row);
  // Waits until every row submitted before the call is written (or the store failed on it).
  void flush();
  // Changes how often batches are written (a reload).
  void set_flush_every(std::chrono::milliseconds every);

  std::size_t queued() const;                                // rows waiting
  std::uint64_t written() const { return written_.load(); }  // rows committed
  std::uint64_t failures() const { return failures_.load(); }  // failed batch writes

  static constexpr std::size_t kMaxBatch = 1000;  // rows per transaction

 private:
  void run();

  std::shared_ptr<store::RecordStore> store_;
  mutable std::mutex mu_;
  std::condition_variable wake_, written_cv_;
  std::vector<store::UsageRecord> queue_;
  std::chrono::milliseconds flush_every_;
  std::uint64_t submitted_ = 0;   // rows ever submitted
  std::uint64_t done_ = 0;        // rows ever written
  bool stop_ = false;
  bool flush_now_ = false;
  std::atomic<std::uint64_t> written_{0}, failures_{0};
  std::thread thread_;
};

}  // namespace gatehouse::record
