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

// Deletes inference log and MCP tool call rows older than the cutoff (run without the writer's
// lock).
void expire_old_rows(store::RecordStore& store, std::int64_t cutoff, int retention_days) {
  auto report = [&](const std::variant<std::int64_t, std::string>& removed, const char* what) {
    if (auto* e = std::get_if<std::string>(&removed)) {
      spdlog::error("records: retention: {}", *e);
    } else if (std::get<std::int64_t>(removed) > 0) {
      spdlog::info("records: retention deleted {} {} older than {} days", std::get<std::int64_t>(removed), what,
                   retention_days);
    }
  };
  report(store.expire_inference(cutoff), "inference log rows");
  report(store.expire_mcp_calls(cutoff), "MCP tool call rows");
}

// Cuts `text` to at most `max` bytes, at the start of a UTF-8 character (so what is kept is still
// text); whether it cut.
bool cut_utf8(std::string& text, std::size_t max) {
  if (max == 0 || text.size() <= max) return false;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return true;
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
                      std::vector<store::UsageRecord>& usage, std::vector<store::McpCallRecord>& mcp,
                      CapturedRows& inference) {
  audit.insert(audit.begin(), std::make_move_iterator(batch.audit.begin()), std::make_move_iterator(batch.audit.end()));
  usage.insert(usage.begin(), std::make_move_iterator(batch.usage.begin()), std::make_move_iterator(batch.usage.end()));
  mcp.insert(mcp.begin(), std::make_move_iterator(batch.mcp_calls.begin()),
             std::make_move_iterator(batch.mcp_calls.end()));
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

void RecordWriter::submit(store::McpCallRecord row) {
  bool full = false, shed = false, log_shed = false, dropped_payloads = false;
  {
    std::lock_guard lock(mu_);
    const std::size_t queued = queued_locked();
    if (queued >= 2 * queue_rows_) {
      shed = true;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_mcp_shed_log_ > std::chrono::minutes(1)) {
        last_mcp_shed_log_ = now;
        log_shed = true;
      }
    } else {
      if (queued >= queue_rows_) {
        // The store is behind: keep the row, not its bulk.
        if (!row.arguments.empty() || !row.result.empty()) {
          row.arguments.clear();
          row.arguments.shrink_to_fit();
          row.result.clear();
          row.result.shrink_to_fit();
          row.payload_truncated = true;
          dropped_payloads = true;
        }
      } else {
        const bool cut_args = cut_utf8(row.arguments, max_payload_bytes_);
        const bool cut_result = cut_utf8(row.result, max_payload_bytes_);
        if (cut_args || cut_result) row.payload_truncated = true;
      }
      mcp_.push_back(std::move(row));
      ++submitted_[3];
      full = queued_locked() >= kMaxBatch;
    }
  }
  if (dropped_payloads) mcp_payloads_dropped_.fetch_add(1);
  if (shed) {
    shed_mcp_.fetch_add(1);
    if (log_shed) {
      spdlog::warn("records: the queue holds twice records.queue_rows ({} rows waiting for the store): MCP tool "
                   "call rows are being shed (gatehouse_records_shed_total{{kind=\"mcp_call\"}} counts them)",
                   2 * queue_rows_);
    }
    return;
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
           (done_[0] >= target[0] && done_[1] >= target[1] && done_[2] >= target[2] && done_[3] >= target[3]);
  });
}

void RecordWriter::configure(std::chrono::milliseconds flush_every, std::size_t queue_rows, int retention_days,
                             std::size_t max_payload_bytes) {
  {
    std::lock_guard lock(mu_);
    flush_every_ = flush_every;
    queue_rows_ = queue_rows;
    max_payload_bytes_ = max_payload_bytes;
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
  s.written_mcp_calls = written_mcp_.load();
  s.shed_inference = shed_.load();
  s.shed_mcp_calls = shed_mcp_.load();
  s.mcp_payloads_dropped = mcp_payloads_dropped_.load();
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
      expire_old_rows(*store_, cutoff, days);
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
    take_front(mcp_, batch.mcp_calls, kMaxBatch - batch.size() - captured.size());
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
      requeue_in_front(batch, audit_, usage_, mcp_, inference_);
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
    done_[3] += batch.mcp_calls.size();
    written_usage_.fetch_add(batch.usage.size());
    written_inference_.fetch_add(batch.inference.size());
    written_audit_.fetch_add(batch.audit.size());
    written_mcp_.fetch_add(batch.mcp_calls.size());
    if (queued_locked() > 0) flush_now_ = true;  // more to write at once (a burst, or stopping)
    written_cv_.notify_all();
  }
}

}  // namespace gatehouse::record
