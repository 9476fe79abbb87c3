// Writes records to the store off the request path. Workers hand rows to submit() (a short lock
// and a push, never I/O); one thread writes everything queued as one transaction every flush
// interval, or sooner when a batch is full.
//
// When the queue holds records.queue_rows rows (a store slower than the traffic, or failing):
// * inference log rows are shed (counted, and logged once a minute) — they are the bulky ones;
// * usage rows are kept (never dropped: budgets and bills depend on them);
// * audit rows of admin actions and reloads are kept (rare, and never lost);
// * MCP tool-call rows are kept, but without their arguments and result (marked
//   payload_truncated): they are the record of what agents did, and small without the payloads.
//   Only past twice queue_rows (a store down for long under heavy tool traffic) are they shed too
//   (counted, and logged once a minute), so memory stays bounded;
// * denied-request audit rows (which anyone can cause, 401s from a scanner) are coalesced: the
//   queue keeps one "request.denied.coalesced" row per burst with how many there were, from when
//   to when. Nothing is lost, memory stays bounded, and no worker ever waits.
// A failing store keeps the queued rows and retries with backoff. flush() and the destructor
// write everything submitted before them.
#pragma once

#include <array>
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

// How an inference row's response was captured: a whole body, or the stream's events as the
// client got them (reassembled into one answer by the writer, off the request path).
enum class Capture { kWhole, kOpenAIStream, kAnthropicStream, kResponsesStream };

class RecordWriter {
 public:
  RecordWriter(std::shared_ptr<store::RecordStore> store, std::chrono::milliseconds flush_every,
               std::size_t queue_rows = 50'000);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Queue a row. Run on workers; submit(Usage) and submit(Inference) never block.
  void submit(store::UsageRecord row);
  void submit(store::InferenceRecord row, Capture capture);
  // Never blocks, never drops the row (a denied request's row may be coalesced, see above).
  void submit(store::AuditRecord row);
  // Never blocks. Arguments and result longer than max_payload_bytes are cut (at a UTF-8
  // character's start) and the row marked payload_truncated; see above for a full queue.
  void submit(store::McpCallRecord row);
  // Waits until every row submitted before the call is written, or until a write fails (the
  // rows stay queued and are retried; flush does not wait for a store that is down).
  void flush();
  // Reload: how often batches are written, how many rows may wait, inference log and MCP tool
  // call retention (0: keep for ever), where MCP tool calls' arguments and results are cut (0:
  // never; records.inference_log.max_payload_bytes).
  void configure(std::chrono::milliseconds flush_every, std::size_t queue_rows, int retention_days,
                 std::size_t max_payload_bytes = 0);

  struct Stats {
    std::size_t queued = 0;
    std::uint64_t written_usage = 0, written_inference = 0, written_audit = 0, written_mcp_calls = 0;
    std::uint64_t shed_inference = 0, shed_mcp_calls = 0;
    std::uint64_t mcp_payloads_dropped = 0;  // tool calls queued without arguments and result
    std::uint64_t failures = 0;  // failed batch writes
  };
  Stats stats() const;

  static constexpr std::size_t kMaxBatch = 1000;  // rows per transaction

 private:
  void run();
  std::size_t queued_locked() const { return usage_.size() + inference_.size() + audit_.size() + mcp_.size(); }

  std::shared_ptr<store::RecordStore> store_;
  mutable std::mutex mu_;
  std::condition_variable wake_, written_cv_;
  std::vector<store::UsageRecord> usage_;
  std::vector<std::pair<store::InferenceRecord, Capture>> inference_;
  std::vector<store::AuditRecord> audit_;
  std::vector<store::McpCallRecord> mcp_;
  std::chrono::milliseconds flush_every_;
  std::size_t queue_rows_;
  std::size_t max_payload_bytes_ = 0;
  int retention_days_ = 0;
  bool retention_changed_ = false;
  // Rows ever queued and ever written, per kind (usage, inference, audit, MCP tool calls): each
  // kind is written in order, but the kinds are not written in the order they came (audit goes
  // first).
  std::array<std::uint64_t, 4> submitted_{}, done_{};
  bool stop_ = false;
  bool flush_now_ = false;
  std::chrono::steady_clock::time_point last_shed_log_{}, last_mcp_shed_log_{};
  // Denied requests counted instead of queued while the queue is full.
  std::uint64_t coalesced_denials_ = 0;
  std::int64_t coalesced_from_ms_ = 0, coalesced_to_ms_ = 0;
  std::atomic<std::uint64_t> written_usage_{0}, written_inference_{0}, written_audit_{0}, written_mcp_{0}, shed_{0},
      shed_mcp_{0}, mcp_payloads_dropped_{0}, failures_{0};
  std::thread thread_;
};

// A stream as the client got it, as one answer: an OpenAI chat.completion (content, tool calls,
// finish reason, usage) or an Anthropic message (content blocks, stop reason, usage). The events
// themselves when they cannot be read.
std::string reassemble(Capture capture, const std::string& events);

}  // namespace gatehouse::record
