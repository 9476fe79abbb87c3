#include "gateway/relay.h"

#include "http/sse.h"

namespace gatehouse::gateway {

Relay::Relay(http::Exchange& client, http::UpstreamPool& pool, http::CallTimeouts timeouts)
    : client_(client), call_(pool, timeouts) {}

Relay::~Relay() {
  // The watch refers to call_: it must end before the call does, however the relay ends.
  if (watching_) client_.unwatch_client();
}

std::chrono::microseconds Relay::elapsed() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - opened_);
}

asio::awaitable<std::optional<Error>> Relay::open(http::UpstreamRequest& request) {
  opened_ = std::chrono::steady_clock::now();
  // A client that leaves cuts the upstream exchange short: its pending read or write fails at
  // once and the connection is not reused.
  client_.watch_client([this] { call_.abort(); });
  watching_ = true;
  co_return co_await call_.send(request);
}

asio::awaitable<std::variant<std::string, Error>> Relay::read_all(std::size_t limit) {
  co_return co_await call_.read_all(limit);
}

asio::awaitable<Relay::StreamEnd> Relay::pump(EventFilter& filter) {
  http::SseSplitter splitter;
  for (;;) {
    auto piece = co_await call_.read_some();
    if (auto* e = std::get_if<Error>(&piece)) {
      if (client_.client_gone()) co_return StreamEnd{StreamEnd::kClientGone, {}, {}};
      co_return StreamEnd{StreamEnd::kBroken, std::move(*e), {}};
    }
    auto bytes = std::get<std::string_view>(piece);
    if (bytes.empty()) break;
    const auto& events = splitter.feed(bytes);
    if (events.empty()) continue;
    auto out = filter.filter(events);
    if (auto* e = std::get_if<Error>(&out)) {
      call_.abort();  // the rest of the provider's stream is not wanted
      co_return StreamEnd{StreamEnd::kBroken, std::move(*e), {}};
    }
    auto batch = std::get<std::string_view>(out);
    if (batch.empty()) continue;
    filter.sent(batch);
    if (!co_await client_.write_chunk(batch)) {
      call_.abort();
      co_return StreamEnd{StreamEnd::kClientGone, {}, {}};
    }
    filter.delivered(batch);
  }
  if (client_.client_gone()) co_return StreamEnd{StreamEnd::kClientGone, {}, {}};
  co_return StreamEnd{StreamEnd::kEnded, {}, std::string(splitter.pending())};
}

}  // namespace gatehouse::gateway
