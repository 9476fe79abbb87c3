#include "mcp/http_upstream.h"

#include <boost/beast/http/verb.hpp>
#include <deque>

#include "http/sse.h"
#include "http/upstream.h"
#include "provider/oauth.h"

namespace gatehouse::mcp {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kMaxBody = 64 << 20;  // a whole JSON answer (tool results can be large)

// The messages of an SSE reply, one per event with data, id or retry (a priming event's id is what
// a client resumes from; comments and keep-alives are skipped).
class SseMessages final : public MessageStream {
 public:
  explicit SseMessages(std::unique_ptr<http::UpstreamCall> call) : call_(std::move(call)) {}
  asio::awaitable<std::variant<Message, std::monostate, Error>> next() override {
    for (;;) {
      if (!queue_.empty()) {
        Message m = std::move(queue_.front());
        queue_.pop_front();
        co_return m;
      }
      if (done_) co_return std::monostate{};
      auto piece = co_await call_->read_some();
      if (auto* e = std::get_if<Error>(&piece)) co_return std::move(*e);
      auto bytes = std::get<std::string_view>(piece);
      if (bytes.empty()) {
        done_ = true;
        continue;
      }
      for (auto ev : splitter_.feed(bytes)) {
        std::string id, retry;
        std::size_t pos = 0;
        while (pos < ev.size()) {
          auto eol = ev.find('\n', pos);
          auto line = ev.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (line.substr(0, 3) == "id:") {
            id = std::string(line.substr(line.size() > 3 && line[3] == ' ' ? 4 : 3));
          } else if (line.substr(0, 6) == "retry:") {
            retry = std::string(line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6));
          }
          if (eol == std::string_view::npos) break;
          pos = eol + 1;
        }
        std::string data = http::event_data(ev);
        // An event with neither data nor id nor retry (a comment, a keep-alive) says nothing.
        if (data.empty() && id.empty() && retry.empty()) continue;
        queue_.push_back({std::move(data), std::move(id), std::move(retry)});
      }
    }
  }
  void abort() override { call_->abort(); }

 private:
  std::unique_ptr<http::UpstreamCall> call_;
  http::SseSplitter splitter_;
  std::deque<Message> queue_;
  bool done_ = false;
};

// One JSON body: one message.
class OneMessage final : public MessageStream {
 public:
  explicit OneMessage(std::string json) : json_(std::move(json)) {}
  asio::awaitable<std::variant<Message, std::monostate, Error>> next() override {
    if (done_) co_return std::monostate{};
    done_ = true;
    co_return Message{std::move(json_), {}, {}};
  }
  void abort() override {}

 private:
  std::string json_;
  bool done_ = false;
};

class HttpUpstream final : public Upstream {
 public:
  HttpUpstream(const config::McpServerConfig& server, std::shared_ptr<provider::OAuthTokenSource> oauth)
      : server_(server), origin_(http::Origin::of(server.conn)), timeouts_(http::CallTimeouts::of(server.conn.timeouts)),
        oauth_(std::move(oauth)) {
    origin_.key = "mcp:" + origin_.key;  // never share a pool with a provider's keys
  }

  asio::awaitable<Reply> post(const CallContext& call, std::string json) override {
    co_return co_await exchange(call, bhttp::verb::post, std::move(json));
  }
  asio::awaitable<Reply> listen(const CallContext& call) override {
    co_return co_await exchange(call, bhttp::verb::get, {});
  }
  asio::awaitable<void> end(const CallContext& call) override {
    if (call.session_id.empty()) co_return;
    auto r = co_await exchange(call, bhttp::verb::delete_, {});
    (void)r;
  }

 private:
  asio::awaitable<Reply> exchange(const CallContext& call, bhttp::verb verb, std::string body) {
    for (int oauth_try = 0;; ++oauth_try) {
      std::string token;
      if (server_.passthrough) {
        token = std::string(call.caller_bearer);
      } else if (oauth_) {
        auto t = co_await oauth_->token(*call.pools);
        if (auto* e = std::get_if<Error>(&t)) {
          Reply r;
          r.status = 502;
          r.body = "the credential for MCP server '" + server_.name + "' could not be obtained: " + e->message;
          co_return r;
        }
        token = std::get<std::string>(std::move(t));
      } else {
        token = server_.conn.token;
      }
      http::UpstreamRequest req;
      req.method(verb);
      req.target(server_.conn.base_path);
      req.version(11);
      req.set(bhttp::field::host, origin_.host_header);
      req.set(bhttp::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
      req.set("x-request-id", call.request_id);
      req.keep_alive(true);
      if (verb == bhttp::verb::post) {
        req.set(bhttp::field::content_type, "application/json");
        req.set(bhttp::field::accept, "application/json, text/event-stream");
        req.body() = body;
        req.prepare_payload();
      } else if (verb == bhttp::verb::get) {
        req.set(bhttp::field::accept, "text/event-stream");
        if (!call.last_event_id.empty()) req.set("last-event-id", call.last_event_id);
      }
      if (!call.session_id.empty()) req.set("mcp-session-id", call.session_id);
      if (!call.protocol_version.empty()) req.set("mcp-protocol-version", call.protocol_version);
      if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
      if (!server_.header_name.empty()) req.set(server_.header_name, server_.header_value);

      auto timeouts = timeouts_;
      if (verb == bhttp::verb::get) timeouts.idle = timeouts.total;  // a quiet GET stream is normal
      auto upstream = std::make_unique<http::UpstreamCall>(call.pools->get(origin_), timeouts);
      if (auto e = co_await upstream->send(req)) {
        Reply r;
        r.status = e->status >= 500 ? e->status : 502;
        r.body = "MCP server '" + server_.name + "': " + e->message;
        co_return r;
      }
      Reply r;
      r.status = int(upstream->status());
      r.session_id = std::string(upstream->header("mcp-session-id"));
      if (r.status == 401 && oauth_ && oauth_try == 0) {
        oauth_->rejected(token);
        auto drained = co_await upstream->read_all(kMaxBody);
        (void)drained;
        continue;
      }
      if (r.status >= 300 || r.status == 202 || verb == bhttp::verb::delete_) {
        auto b = co_await upstream->read_all(1 << 16);
        if (auto* s = std::get_if<std::string>(&b)) r.body = std::move(*s);
        co_return r;
      }
      const std::string_view type = upstream->header("content-type");
      if (type.find("text/event-stream") != std::string_view::npos) {
        r.stream = true;
        r.messages = std::make_unique<SseMessages>(std::move(upstream));
        co_return r;
      }
      auto b = co_await upstream->read_all(kMaxBody);
      if (auto* e = std::get_if<Error>(&b)) {
        r.status = 502;
        r.body = "MCP server '" + server_.name + "': " + e->message;
        co_return r;
      }
      auto& text = std::get<std::string>(b);
      if (text.empty()) {
        r.status = 202;
        co_return r;
      }
      r.messages = std::make_unique<OneMessage>(std::move(text));
      co_return r;
    }
  }

  config::McpServerConfig server_;
  http::Origin origin_;
  http::CallTimeouts timeouts_;
  std::shared_ptr<provider::OAuthTokenSource> oauth_;
};

}  // namespace

std::unique_ptr<Upstream> make_http_upstream(const config::McpServerConfig& server,
                                             std::shared_ptr<provider::OAuthTokenSource> oauth) {
  return std::make_unique<HttpUpstream>(server, std::move(oauth));
}

}  // namespace gatehouse::mcp
