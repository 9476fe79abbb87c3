// Gateway MCP sessions. The Mcp-Session-Id the gateway gives a client carries what any replica
// needs to go on with the session: the route, the caller it belongs to, the protocol version
// the client negotiated, the client's initialize params (to initialize an upstream again), and
// each upstream server's own session id — signed (HMAC-SHA256 with mcp.session_secret, which
// replicas share), so a client can neither forge nor alter one. What changes later (an upstream
// initialized again after it lost its session; DELETE) is kept by the process in `Sessions`: a
// replica that never saw the change initializes that upstream again itself.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gatehouse::mcp {

struct UpstreamSession {
  std::string id;       // the upstream's Mcp-Session-Id ("" when it gave none: stateless)
  std::string version;  // the protocol version it negotiated
  bool operator==(const UpstreamSession&) const = default;
};

struct Session {
  std::string nonce;          // unique per session (also the stdio processes' key)
  std::string route;          // the /mcp/{name} it was opened on
  std::string principal;      // who opened it: "key:NAME" or "user:SUB"
  std::string version;        // the protocol version negotiated with the client
  std::string init_params;    // the client's initialize params (JSON text)
  std::int64_t created_s = 0;
  std::map<std::string, UpstreamSession> upstreams;  // by server name
};

// Encodes/decodes signed session ids ("ghm1.<payload>.<mac>", base64url).
class SessionCodec {
 public:
  explicit SessionCodec(std::string secret) : secret_(std::move(secret)) {}
  std::string encode(const Session& s) const;
  // The session, or nullopt when the id is malformed or its signature does not verify.
  std::optional<Session> decode(std::string_view id) const;
  const std::string& secret() const { return secret_; }

 private:
  std::string secret_;
};

// What this process learned about sessions since their ids were issued: upstream sessions
// replaced, sessions ended. Thread-safe; entries idle longer than `idle` are forgotten.
class Sessions {
 public:
  explicit Sessions(std::string secret, std::chrono::milliseconds idle);
  const SessionCodec& codec() const { return codec_; }
  // Applies what is known of `s` (replaced upstream sessions); false when it was ended (DELETE).
  bool refresh(Session& s);
  void replace_upstream(const Session& s, const std::string& server, UpstreamSession up);
  void end(const Session& s);
  // The session the gateway opened for stateless (2026-07-28) requests of one route, caller and
  // set of client capabilities (`key`): its signed id, when this process has one.
  std::optional<std::string> bridge(const std::string& key);
  void set_bridge(const std::string& key, std::string id);
  static constexpr std::size_t kMaxBridges = 10'000;
  // A random secret for a process without mcp.session_secret (sessions then do not survive a
  // restart or move between replicas).
  static std::string random_secret();

 private:
  struct Entry {
    std::map<std::string, UpstreamSession> upstreams;
    bool ended = false;
    std::chrono::steady_clock::time_point used;
  };
  void sweep_locked(std::chrono::steady_clock::time_point now);
  SessionCodec codec_;
  std::chrono::milliseconds idle_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  struct Bridge {
    std::string id;
    std::chrono::steady_clock::time_point used;
  };
  std::unordered_map<std::string, Bridge> bridges_;
  std::chrono::steady_clock::time_point next_sweep_{};
};

}  // namespace gatehouse::mcp
