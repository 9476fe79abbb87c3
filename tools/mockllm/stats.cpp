#include "stats.h"

#include <algorithm>

#include "json_text.h"

namespace mockllm {

void Stats::record(RecordedRequest request) {
  std::lock_guard lock(mutex_);
  if (ring_.size() == kRingSize) ring_.pop_front();
  ring_.push_back(std::move(request));
}

std::string Stats::requests_json(std::size_t limit) const {
  std::string out = "[";
  std::lock_guard lock(mutex_);
  const std::size_t first = ring_.size() - std::min(limit, ring_.size());
  for (std::size_t i = first; i < ring_.size(); ++i) {
    const RecordedRequest& r = ring_[i];
    if (i != first) out += ',';
    out += "{\"seq\":";
    append_int(out, static_cast<std::int64_t>(r.seq));
    out += ",\"method\":";
    append_json_string(out, r.method);
    out += ",\"path\":";
    append_json_string(out, r.target);
    if (!r.sni.empty()) {
      out += ",\"sni\":";
      append_json_string(out, r.sni);
    }
    out += ",\"headers\":{";
    // A repeated header is shown once with its values joined, as HTTP allows for most fields.
    std::vector<bool> done(r.headers.size());
    bool any = false;
    for (std::size_t h = 0; h < r.headers.size(); ++h) {
      if (done[h]) continue;
      std::string value = r.headers[h].second;
      for (std::size_t k = h + 1; k < r.headers.size(); ++k) {
        if (r.headers[k].first == r.headers[h].first) {
          value += ", ";
          value += r.headers[k].second;
          done[k] = true;
        }
      }
      if (any) out += ',';
      any = true;
      append_json_string(out, r.headers[h].first);
      out += ':';
      append_json_string(out, value);
    }
    out += "},\"body\":";
    append_json_string(out, r.body);
    if (r.body_truncated) out += ",\"body_truncated\":true";
    out += '}';
  }
  out += ']';
  return out;
}

std::string Stats::counters_json() const {
  std::string out;
  auto field = [&](std::string_view name, std::int64_t value) {
    out += out.empty() ? "{\"" : ",\"";
    out += name;
    out += "\":";
    append_int(out, value);
  };
  auto u = [](const std::atomic<std::uint64_t>& a) {
    return static_cast<std::int64_t>(a.load(std::memory_order_relaxed));
  };
  field("requests", u(requests));
  field("streams_started", u(streams_started));
  field("streams_completed", u(streams_completed));
  field("streams_cancelled", u(streams_cancelled));
  field("streams_reset", u(streams_reset));
  field("active_streams", active_streams.load(std::memory_order_relaxed));
  field("connections_accepted", u(connections_accepted));
  field("active_connections", active_connections.load(std::memory_order_relaxed));
  field("oauth_token_requests", u(oauth_token_requests));
  field("oauth_tokens_issued", u(oauth_tokens_issued));
  out += '}';
  return out;
}

void Stats::reset() {
  {
    std::lock_guard lock(mutex_);
    ring_.clear();
  }
  for (auto* counter :
       {&requests, &streams_started, &streams_completed, &streams_cancelled, &streams_reset,
        &connections_accepted, &oauth_token_requests, &oauth_tokens_issued, &sequence_}) {
    counter->store(0, std::memory_order_relaxed);
  }
}

}  // namespace mockllm
