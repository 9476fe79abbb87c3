#include "record/writer.h"

#include <spdlog/spdlog.h>

namespace gatehouse::record {

namespace {

constexpr auto kRetentionEvery = std::chrono::hours(1);

using CapturedRows = std::vector<std::pair<store::InferenceRecord, Capture>>;

// The Unix time in milliseconds before which inference log rows are deleted.
std::int64_t retention_cutoff_ms(int retention_days) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() -
         std::int64_t(retention_days) * 86'400'000;
}

// Deletes inference log rows older than the cutoff (run without the writer's lock).
void expire_inference(store::RecordStore& store, std::int64_t cutoff, int retention_days) {
  auto removed = store.expire_inference(cutoff);
  if (auto* e = std::get_if<std::string>(&removed)) {
    spdlog::error("records: retention: {}", *e);
  } else if (std::get<std::int64_t>(removed) > 0) {
    spdlog::info("records: retention deleted {} inference log rows older than {} days",
                 std::get<std::int64_t>(removed), retention_days);
  }
}

// Moves up to `room` rows from the front of `from` to `to`.
template <class Rows>
void take_front(Rows& from, Rows& to, std::size_t room) {
  const std::size_t n = std::min(from.size(), room);
  to.assign(std::make_move_iterator(from.begin()), std::make_move_iterator(from.begin() + long(n)));
  from.erase(from.begin(), from.begin() + long(n));
}

// The burst of denials that found the queue full, as one row.
store::AuditRecord coalesced_denials_row(std::uint64_t count, std::int64_t from_ms, std::int64_t to_ms) {
  store::AuditRecord r;
  r.time_ms = to_ms;
  r.kind = "request.denied.coalesced";
  r.actor = "gatehouse";
  r.subject = std::to_string(count) + " denied requests";
  r.detail = "{\"count\":" + std::to_string(count) + ",\"from_ms\":" + std::to_string(from_ms) +
             ",\"to_ms\":" + std::to_string(to_ms) + ",\"why\":\"the record queue was full\"}";
  return r;
}

// A failed batch's rows back at the front of their queues, in order, to be written again.
void requeue_in_front(store::RecordBatch& batch, std::vector<store::AuditRecord>& audit,
                      std::vector<store::UsageRecord>& usage, CapturedRows& inference) {
  audit.insert(audit.begin(), std::make_move_iterator(batch.audit.begin()), std::make_move_iterator(batch.audit.end()));
  usage.insert(usage.begin(), std::make_move_iterator(batch.usage.begin()), std::make_move_iterator(batch.usage.end()));
  CapturedRows back;
  for (auto& r : batch.inference) back.emplace_back(std::move(r), Capture::kWhole);  // reassembled already
  inference.insert(inference.begin(), std::make_move_iterator(back.begin()), std::make_move_iterator(back.end()));
}

}  // namespace

RecordWriter::RecordWriter(std::shared_ptr<store::RecordStore> store, std::chrono::milliseconds flush_every,
                           std::size_t queue_rows)
    : store_(std::move(store)), flush_every_(flush_every), queue_rows_(queue_rows), thread_([this] { run(); }) {}

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
    usage_.push_back(std::move(row));
    ++submitted_[0];
    full = queued_locked() >= kMaxBatch;
  }
  if (full) wake_.notify_one();
}

void RecordWriter::submit(store::InferenceRecord row, Capture capture) {
  bool full = false, shed = false, log_shed = false;
  {
    std::lock_guard lock(mu_);
    if (queued_locked() >= queue_rows_) {
      shed = true;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_shed_log_ > std::chrono::minutes(1)) {
        last_shed_log_ = now;
        log_shed = true;
      }
    } else {
      inference_.emplace_back(std::move(row), capture);
      ++submitted_[1];
      full = queued_locked() >= kMaxBatch;
    }
  }
  if (shed) {
    shed_.fetch_add(1);
    if (log_shed) {
      spdlog::warn("records: the queue is full ({} rows waiting for the store): inference log rows are being "
                   "shed (gatehouse_records_shed_total counts them)",
                   queue_rows_);
    }
    return;
  }
  if (full) wake_.notify_one();
}

void RecordWriter::submit(store::AuditRecord row) {
  bool full;
  {
    std::lock_guard lock(mu_);
    if (row.kind == "request.denied" && queued_locked() >= queue_rows_) {
      if (coalesced_denials_++ == 0) coalesced_from_ms_ = row.time_ms;
      coalesced_to_ms_ = row.time_ms;
      return;
    }
    audit_.push_back(std::move(row));
    ++submitted_[2];
    full = queued_locked() >= kMaxBatch;
  }
  if (full) wake_.notify_one();
}

void RecordWriter::flush() {
  std::unique_lock lock(mu_);
  const auto target = submitted_;
  const std::uint64_t failures = failures_.load();
  flush_now_ = true;
  wake_.notify_one();
  written_cv_.wait(lock, [&] {
    return stop_ || failures_.load() != failures ||
           (done_[0] >= target[0] && done_[1] >= target[1] && done_[2] >= target[2]);
  });
}

void RecordWriter::configure(std::chrono::milliseconds flush_every, std::size_t queue_rows, int retention_days) {
  {
    std::lock_guard lock(mu_);
    flush_every_ = flush_every;
    queue_rows_ = queue_rows;
    if (retention_days != retention_days_) retention_changed_ = true;
    retention_days_ = retention_days;
  }
  wake_.notify_one();
}

RecordWriter::Stats RecordWriter::stats() const {
  Stats s;
  {
    std::lock_guard lock(mu_);
    s.queued = queued_locked();
  }
  s.written_usage = written_usage_.load();
  s.written_inference = written_inference_.load();
  s.written_audit = written_audit_.load();
  s.shed_inference = shed_.load();
  s.failures = failures_.load();
  return s;
}

void RecordWriter::run() {
  std::chrono::milliseconds backoff{0};
  int consecutive_failures = 0;
  auto next_retention = std::chrono::steady_clock::now();  // once at start, then hourly
  std::unique_lock lock(mu_);
  for (;;) {
    const auto wait = backoff.count() > 0 ? backoff : flush_every_;
    wake_.wait_for(lock, wait, [&] { return stop_ || flush_now_ || retention_changed_ || queued_locked() >= kMaxBatch; });
    flush_now_ = false;

    if (retention_days_ > 0 && (retention_changed_ || std::chrono::steady_clock::now() >= next_retention)) {
      retention_changed_ = false;
      next_retention = std::chrono::steady_clock::now() + kRetentionEvery;
      const int days = retention_days_;
      const std::int64_t cutoff = retention_cutoff_ms(days);
      lock.unlock();
      expire_inference(*store_, cutoff, days);
      lock.lock();
    }
    retention_changed_ = false;

    if (queued_locked() == 0 && coalesced_denials_ == 0) {
      written_cv_.notify_all();
      if (stop_) return;
      continue;
    }
    // Take up to a batch (audit first: it is what others wait for), write it without the lock.
    store::RecordBatch batch;
    CapturedRows captured;
    take_front(audit_, batch.audit, kMaxBatch - batch.size() - captured.size());
    take_front(usage_, batch.usage, kMaxBatch - batch.size() - captured.size());
    take_front(inference_, captured, kMaxBatch - batch.size() - captured.size());
    if (coalesced_denials_ > 0 && queued_locked() < queue_rows_) {
      batch.audit.push_back(coalesced_denials_row(coalesced_denials_, coalesced_from_ms_, coalesced_to_ms_));
      ++submitted_[2];
      coalesced_denials_ = 0;
    }
    lock.unlock();
    for (auto& [row, capture] : captured) {
      if (capture != Capture::kWhole) row.response_body = reassemble(capture, row.response_body);
      batch.inference.push_back(std::move(row));
    }
    auto error = store_->write(batch);
    lock.lock();
    if (error) {
      // Keep the rows (in front, in order) and try again shortly.
      failures_.fetch_add(1);
      ++consecutive_failures;
      requeue_in_front(batch, audit_, usage_, inference_);
      backoff = std::min<std::chrono::milliseconds>(std::max(backoff * 2, std::chrono::milliseconds(100)),
                                                    std::chrono::milliseconds(5000));
      const std::size_t kept = queued_locked();
      written_cv_.notify_all();  // a flush does not wait for a store that is failing
      lock.unlock();
      spdlog::error("records: {} ({} rows kept, retrying in {} ms)", *error, kept, backoff.count());
      lock.lock();
      if (stop_ && consecutive_failures >= 3) {
        spdlog::error("records: the store keeps failing at exit; {} rows not written", queued_locked());
        written_cv_.notify_all();
        return;
      }
      continue;
    }
    consecutive_failures = 0;
    backoff = std::chrono::milliseconds(0);
    done_[0] += batch.usage.size();
    done_[1] += batch.inference.size();
    done_[2] += batch.audit.size();
    written_usage_.fetch_add(batch.usage.size());
    written_inference_.fetch_add(batch.inference.size());
    written_audit_.fetch_add(batch.audit.size());
    if (queued_locked() > 0) flush_now_ = true;  // more to write at once (a burst, or stopping)
    written_cv_.notify_all();
  }
}

}  // namespace gatehouse::record
