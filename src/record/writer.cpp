#include "record/writer.h"

#include <spdlog/spdlog.h>

namespace gatehouse::record {

RecordWriter::RecordWriter(std::shared_ptr<store::RecordStore> store, std::chrono::milliseconds flush_every)
    : store_(std::move(store)), flush_every_(flush_every), thread_([this] { run(); }) {}

RecordWriter::~RecordWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RecordWriter::submit(store::UsageRecord row) {
  bool full;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(row));
    ++submitted_;
    full = queue_.size() >= kMaxBatch;
  }
  if (full) wake_.notify_one();
}

void RecordWriter::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = submitted_;
  flush_now_ = true;
  wake_.notify_one();
  written_cv_.wait(lock, [&] { return done_ >= target || stop_; });
}

void RecordWriter::set_flush_every(std::chrono::milliseconds every) {
  std::lock_guard lock(mu_);
  flush_every_ = every;
}

std::size_t RecordWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void RecordWriter::run() {
  std::vector<store::UsageRecord> batch;
  std::chrono::milliseconds backoff{0};
  int consecutive_failures = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    const auto wait = backoff.count() > 0 ? backoff : flush_every_;
    wake_.wait_for(lock, wait, [&] { return stop_ || flush_now_ || queue_.size() >= kMaxBatch; });
    flush_now_ = false;
    if (queue_.empty()) {
      written_cv_.notify_all();
      if (stop_) return;
      continue;
    }
    // Take what is queued (up to a batch), write it without the lock.
    const std::size_t n = std::min(queue_.size(), kMaxBatch);
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + long(n)));
    queue_.erase(queue_.begin(), queue_.begin() + long(n));
    lock.unlock();
    auto error = store_->append_usage(batch);
    lock.lock();
    if (error) {
      // Keep the rows (in front, in order) and try again shortly; never drop usage.
      failures_.fetch_add(1);
      ++consecutive_failures;
      queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
      backoff = std::min<std::chrono::milliseconds>(std::max(backoff * 2, std::chrono::milliseconds(100)),
                                                    std::chrono::milliseconds(5000));
      const std::size_t kept = queue_.size();
      lock.unlock();
      spdlog::error("usage records: {} ({} rows kept, retrying in {} ms)", *error, kept, backoff.count());
      lock.lock();
      if (stop_ && consecutive_failures >= 3) {
        spdlog::error("usage records: the store keeps failing at exit; {} rows not written", queue_.size());
        written_cv_.notify_all();
        return;
      }
      continue;
    }
    consecutive_failures = 0;
    backoff = std::chrono::milliseconds(0);
    done_ += n;
    written_.fetch_add(n);
    batch.clear();
    if (!queue_.empty()) flush_now_ = true;  // more to write at once (a burst, or stopping)
    written_cv_.notify_all();
  }
}

}  // namespace gatehouse::record
