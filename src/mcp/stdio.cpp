// stdio MCP servers (stdio.h). Every process's pipes are read and written on one thread that the
// registry owns, so a process's state — its pending requests, its GET stream, its clocks — is
// touched by that thread only; callers on worker threads reach it by posting there (on_thread)
// and read what it sends back through an Inbox, whose next() completes on their own executor.
#include "mcp/stdio.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <spdlog/spdlog.h>
#include <thread>

#include "mcp/inbox.h"
#include "mcp/stdio_child.h"

namespace gatehouse::mcp {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxLine = 16u << 20;        // one JSON-RPC message on stdout
constexpr std::size_t kMaxStderrLine = 64u << 10;  // longer stderr lines are logged in pieces
constexpr std::size_t kListenBacklog = 1000;       // unsolicited messages kept for the GET stream
constexpr std::size_t kReplyBacklog = 10000;       // unread messages of one request's reply
constexpr auto kTermGrace = 2s;   // SIGTERM, then SIGKILL after this
constexpr auto kPairGrace = 1s;   // stdout's end and the exit wait this long for each other

// The "mcp" logger when the gateway registered one, else the default one.
std::shared_ptr<spdlog::logger> mcp_log() {
  auto log = spdlog::get("mcp");
  return log ? log : spdlog::default_logger();
}

// What a stdio server is started from: a copy, so the registry's thread never reads a config
// snapshot that a reload may free.
struct Command {
  std::string server;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string cwd;
};

Reply error_reply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Runs fn() on `ioc` and completes with its result on the awaiting coroutine's executor (which
// stays busy meanwhile, so its io_context does not run out of work).
//
// (Here and below, what a co_await or co_return expression needs is a named local, never a
// temporary: GCC 12 destroys some such temporaries twice in coroutines — a double free, seen
// here with a lambda's captures.)
template <class F>
asio::awaitable<std::invoke_result_t<F&>> on_thread(asio::io_context& ioc, F fn) {
  using T = std::invoke_result_t<F&>;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      [&ioc](auto handler, F fn) {
        auto home = asio::prefer(asio::get_associated_executor(handler),
                                 asio::execution::outstanding_work.tracked);
        asio::post(ioc, [handler = std::move(handler), fn = std::move(fn), home]() mutable {
          T result = fn();
          asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      asio::use_awaitable, std::move(fn));
}

// A client message ready for a server's stdin.
struct ClientMessage {
  std::string line;          // one line, without its newline
  bool request = false;      // has method and id: a reply follows
  bool initialize = false;   // the request is initialize: the one message that starts a process
  json::value id;            // a request's
  json::value progress_token;  // a request's params._meta.progressToken, null when none
};

// The message, or why it is not one a server can take (for a 400).
std::variant<ClientMessage, std::string> read_client_message(std::string text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::string("a message must be one JSON object");
  const auto& o = v.get_object();
  const json::value* method = o.if_contains("method");
  const json::value* id = o.if_contains("id");
  if (method && !method->is_string()) return std::string("method must be a string");
  if (!method && !id) return std::string("not a JSON-RPC request, notification or response");
  ClientMessage m;
  m.request = method && id;
  m.initialize = m.request && method->get_string() == "initialize";
  if (m.request) {
    if (!id->is_string() && !id->is_number()) return std::string("a request's id must be a string or a number");
    m.id = *id;
    const json::value* params = o.if_contains("params");
    const json::value* meta =
        params && params->is_object() ? params->get_object().if_contains("_meta") : nullptr;
    const json::value* token =
        meta && meta->is_object() ? meta->get_object().if_contains("progressToken") : nullptr;
    if (token) m.progress_token = *token;
  }
  // One message per line: JSON has no raw newline inside a string, so only whitespace holds one.
  m.line = text.find_first_of("\r\n") == std::string::npos ? std::move(text) : json::serialize(v);
  return m;
}

// What the registry's thread answers to a post.
struct Outcome {
  int status = 0;
  std::string body;
  std::shared_ptr<Inbox> inbox;  // status 200: the reply's messages
};

}  // namespace

class Process;

class StdioProcesses {
 public:
  StdioProcesses(std::size_t max_processes, std::chrono::milliseconds idle_timeout);
  ~StdioProcesses() { stop_all(); }

  // From a worker's coroutine (stdio.h: the Upstream's three calls).
  asio::awaitable<Reply> post(std::shared_ptr<const Command> command, std::string session_key,
                              std::string json);
  asio::awaitable<Reply> listen(std::string server, std::string session_key);
  asio::awaitable<void> end(std::string server, std::string session_key);
  void stop_all();
  std::size_t running() const { return running_.load(); }

  // The registry's thread.
  asio::io_context& ioc() { return ioc_; }
  void unlink(const Process& p);   // the process takes no more calls: forget its key
  void forget(const Process& p);   // the process is gone: its pid reaped, descriptors closed

 private:
  using Key = std::pair<std::string, std::string>;  // (session key, server name)
  asio::awaitable<void> reap_idle();
  // post() on the registry's thread: finds or starts the process and writes the message.
  Outcome send(const Command& command, const Key& key, ClientMessage message);

  const std::size_t max_;
  const std::chrono::milliseconds idle_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::map<Key, std::shared_ptr<Process>> live_;  // the processes calls go to
  std::set<std::shared_ptr<Process>> all_;        // those plus the ones still stopping
  std::atomic<std::size_t> running_{0};
  std::atomic<bool> stopping_{false};
  std::shared_ptr<asio::steady_timer> reaper_;
  std::once_flag stopped_;
  std::thread thread_;
};

// One server process; the registry's thread only.
class Process : public std::enable_shared_from_this<Process> {
 public:
  Process(StdioProcesses& registry, std::string server, std::string session_key, Child child)
      : registry_(registry),
        server_(std::move(server)),
        session_key_(std::move(session_key)),
        pid_(child.pid),
        in_(registry.ioc(), child.stdin_fd),
        out_(registry.ioc(), child.stdout_fd),
        err_(registry.ioc(), child.stderr_fd),
        exit_(registry.ioc()),
        grace_(registry.ioc()),
        poll_(registry.ioc()),
        kill_(registry.ioc()) {
    // The syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C".
    const int pidfd = int(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) exit_.assign(pidfd);
  }

  const std::string& server() const { return server_; }
  const std::string& session_key() const { return session_key_; }
  bool idle_since(Clock::time_point t) const {
    if (last_traffic_ > t) return false;
    // A caller still waiting for a reply is not idle, however slow the tool.
    return std::none_of(pending_.begin(), pending_.end(), [](const Pending& p) { return p.inbox->live(); });
  }

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(registry_.ioc(), [self] { return self->supervise(); }, asio::detached);
    asio::co_spawn(registry_.ioc(), [self] { return self->read_stdout(); }, asio::detached);
    asio::co_spawn(registry_.ioc(), [self] { return self->read_stderr(); }, asio::detached);
  }

  // A client request: its reply's inbox, or nullptr when a request of that id is pending.
  std::shared_ptr<Inbox> request(json::value id, json::value progress_token, std::string line) {
    for (const auto& p : pending_) {
      if (p.id == id) return nullptr;
    }
    auto inbox = std::make_shared<Inbox>(kReplyBacklog, Inbox::Overflow::kFail,
                                         "mcp server '" + server_ + "' reply to " + json::serialize(id));
    pending_.push_back({std::move(id), std::move(progress_token), inbox});
    write(std::move(line));
    return inbox;
  }

  // A notification, or a response to one of the server's requests.
  void write(std::string line) {
    last_traffic_ = Clock::now();
    if (down_) return;
    writes_.push_back(std::move(line));
    if (!writing_) {
      writing_ = true;
      asio::co_spawn(registry_.ioc(), [self = shared_from_this()] { return self->drain_writes(); },
                     asio::detached);
    }
  }

  // A new GET stream: it replaces the previous one and starts with what nobody read yet.
  std::shared_ptr<Inbox> listen() {
    if (listener_) listener_->finish();
    listener_ = std::make_shared<Inbox>(kListenBacklog, Inbox::Overflow::kDropOldest,
                                        "mcp server '" + server_ + "' GET stream");
    for (auto& m : backlog_) listener_->push(std::move(m));
    backlog_.clear();
    return listener_;
  }

  // Stops the process on purpose (end(), idle, shutdown): replies still pending fail, the GET
  // stream ends; stdin closes, SIGTERM to the group, SIGKILL after kTermGrace.
  void stop(const std::string& why) {
    go_down(Error::upstream_reset("mcp server '" + server_ + "': the process was stopped (" + why + ")"),
            /*failed=*/false);
    terminate();
  }

 private:
  struct Pending {
    json::value id;
    json::value progress_token;  // params._meta.progressToken, null when none
    std::shared_ptr<Inbox> inbox;
  };

  std::string name() const { return "mcp server '" + server_ + "' (pid " + std::to_string(pid_) + ")"; }

  // The process takes no more calls and its streams end: with `error` when it failed, else
  // pending replies fail with `error` and the GET stream simply ends.
  void go_down(Error error, bool failed) {
    if (down_) return;
    down_ = true;
    error.retryable = false;  // the process's session is gone: only a new initialize helps
    registry_.unlink(*this);
    for (auto& p : pending_) p.inbox->fail(error);
    pending_.clear();
    if (listener_) failed ? listener_->fail(error) : listener_->finish();
    listener_.reset();
    backlog_.clear();
    writes_.clear();
    if (failed) mcp_log()->warn("{}", error.message);
  }

  void terminate() {
    if (exited_ || terminating_) return;
    terminating_ = true;
    boost::system::error_code ignored;
    in_.close(ignored);  // what MCP asks first; many servers exit on it alone
    ::kill(-pid_, SIGTERM);
    kill_.expires_after(kTermGrace);
    kill_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->exited_) {
        mcp_log()->warn("{} did not stop within {} s of SIGTERM; SIGKILL", self->name(),
                        std::chrono::duration_cast<std::chrono::seconds>(kTermGrace).count());
        ::kill(-self->pid_, SIGKILL);
      }
    });
  }

  // Waits for the process to exit, reaps it, and ends its life here.
  asio::awaitable<void> supervise() {
    siginfo_t info{};
    while (true) {
      if (exit_.is_open()) {
        auto [ec] = co_await exit_.async_wait(asio::posix::descriptor_base::wait_read,
                                              asio::as_tuple(asio::use_awaitable));
        if (ec) exit_.close(ec);  // poll instead
      } else {  // no pidfd (old kernel, seccomp): poll
        poll_.expires_after(50ms);
        co_await poll_.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      info = {};
      // WNOWAIT: the pid stays ours (a zombie) until the group is killed, so the group's id
      // cannot be reused by then.
      if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == pid_) break;
    }
    exited_ = true;
    kill_.cancel();
    grace_.cancel();
    ::kill(-pid_, SIGKILL);  // whatever it started and left behind
    ::waitpid(pid_, nullptr, 0);
    const std::string how = info.si_pid == pid_ ? describe_exit(info.si_code, info.si_status) : "ended";
    // Let stdout yield what the process wrote before it exited, and stderr its last words; a
    // descendant that left the group may hold them open, so not for long.
    const auto deadline = Clock::now() + kPairGrace;
    while (!stdout_ended_ && Clock::now() < deadline) {
      grace_.expires_at(deadline);
      co_await grace_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    go_down(Error::upstream_reset(name() + " " + how), /*failed=*/true);
    if (terminating_) mcp_log()->info("{} stopped: {}", name(), how);
    while (streams_open_ > 0 && Clock::now() < deadline) {
      grace_.expires_at(deadline);
      co_await grace_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    boost::system::error_code ignored;
    in_.close(ignored);
    out_.close(ignored);
    err_.close(ignored);
    exit_.close(ignored);
    registry_.forget(*this);
  }

  asio::awaitable<void> read_stdout() {
    std::string buffer;
    while (true) {
      auto [ec, n] = co_await asio::async_read_until(out_, asio::dynamic_buffer(buffer, kMaxLine + 1),
                                                     '\n', asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::not_found) {
        go_down(Error::upstream_protocol(name() + " wrote a line longer than 16 MiB on stdout"),
                /*failed=*/true);
        terminate();
        break;
      }
      if (ec) break;
      std::string_view line(buffer.data(), n - 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) on_line(line);
      buffer.erase(0, n);
    }
    stdout_ended_ = true;
    --streams_open_;
    grace_.cancel();  // supervise() may be waiting for this
    if (exited_ || down_) co_return;
    // Nothing more can answer; wait a moment for the exit status, for the message.
    grace_.expires_after(kPairGrace);
    co_await grace_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (exited_) co_return;
    go_down(Error::upstream_reset(name() + " closed its stdout"), /*failed=*/true);
    terminate();
  }

  asio::awaitable<void> read_stderr() {
    std::string buffer;
    while (true) {
      auto [ec, n] = co_await asio::async_read_until(err_, asio::dynamic_buffer(buffer, kMaxStderrLine),
                                                     '\n', asio::as_tuple(asio::use_awaitable));
      if (ec && ec != asio::error::not_found && buffer.empty()) break;
      if (ec) n = buffer.size();  // a long line in pieces, or the last one without a newline
      std::string_view line(buffer.data(), n);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
      if (!line.empty()) mcp_log()->info("mcp server '{}': {}", server_, line);
      buffer.erase(0, n);
    }
    --streams_open_;
    grace_.cancel();  // supervise() may be waiting for this
  }

  asio::awaitable<void> drain_writes() {
    while (!writes_.empty() && !down_) {
      std::string line = std::move(writes_.front());
      writes_.pop_front();
      line.push_back('\n');
      auto [ec, n] = co_await asio::async_write(in_, asio::buffer(line),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) {
        // The process closed stdin or is gone: its exit (or stdout's end) ends its streams.
        if (!down_) mcp_log()->warn("{}: could not write to its stdin: {}", name(), ec.message());
        writes_.clear();
        break;
      }
    }
    writing_ = false;
  }

  // One message the server wrote: a response goes to its request; anything else (notification,
  // server-to-client request) to the reply it most likely belongs to, else to the GET stream.
  void on_line(std::string_view line) {
    last_traffic_ = Clock::now();
    if (down_) return;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      mcp_log()->warn("{} wrote a line that is not a JSON object; ignored: {:.200}", name(), line);
      return;
    }
    const auto& o = v.get_object();
    Message m{std::string(line), "", ""};
    const json::value* method = o.if_contains("method");
    if (!method) {
      const json::value* id = o.if_contains("id");
      auto it = std::find_if(pending_.begin(), pending_.end(),
                             [&](const Pending& p) { return id && p.id == *id; });
      if (it == pending_.end()) {
        mcp_log()->warn("{} answered no pending request; ignored: {:.200}", name(), line);
        return;
      }
      it->inbox->push(std::move(m));
      it->inbox->finish();
      pending_.erase(it);
      return;
    }
    if (Inbox* to = route(*method, o); to && to->push(std::move(m))) return;
    if (listener_ && listener_->push(std::move(m))) return;
    if (backlog_.size() >= kListenBacklog) {
      backlog_.pop_front();
      if (backlog_dropped_++ % 1000 == 0) {
        mcp_log()->warn("{}: more than {} messages for a GET stream nobody reads; dropped the "
                        "oldest ({} so far)", name(), kListenBacklog, backlog_dropped_);
      }
    }
    backlog_.push_back(std::move(m));
  }

  Inbox* route(const json::value& method, const json::object& o) {
    std::vector<Pending*> live;
    for (auto& p : pending_) {
      if (p.inbox->live()) live.push_back(&p);
    }
    if (live.empty()) return nullptr;
    if (method.is_string() && method.get_string() == "notifications/progress") {
      const json::value* params = o.if_contains("params");
      const json::value* token =
          params && params->is_object() ? params->get_object().if_contains("progressToken") : nullptr;
      for (auto* p : live) {
        if (token && !p->progress_token.is_null() && p->progress_token == *token) return p->inbox.get();
      }
    }
    return live.back()->inbox.get();  // the only one, or the most recent
  }

  StdioProcesses& registry_;
  const std::string server_;
  const std::string session_key_;
  const pid_t pid_;
  asio::posix::stream_descriptor in_, out_, err_;
  asio::posix::stream_descriptor exit_;  // the pidfd: readable once the process exited
  asio::steady_timer grace_;  // one of stdout's end and the exit waits for the other
  asio::steady_timer poll_;   // without a pidfd: the next look at the process
  asio::steady_timer kill_;
  std::deque<std::string> writes_;
  std::vector<Pending> pending_;
  std::shared_ptr<Inbox> listener_;
  std::deque<Message> backlog_;
  std::size_t backlog_dropped_ = 0;
  Clock::time_point last_traffic_ = Clock::now();
  bool down_ = false;
  bool exited_ = false;
  bool terminating_ = false;
  bool stdout_ended_ = false;
  bool writing_ = false;
  int streams_open_ = 2;  // stdout and stderr, until each reaches its end
};

StdioProcesses::StdioProcesses(std::size_t max_processes, std::chrono::milliseconds idle_timeout)
    : max_(max_processes), idle_(idle_timeout), work_(ioc_.get_executor()) {
  reaper_ = std::make_shared<asio::steady_timer>(ioc_);
  asio::co_spawn(ioc_, [this] { return reap_idle(); }, asio::detached);
  thread_ = std::thread([this] {
    // Signals are the workers' business; SIGPIPE from a write to a dead server's stdin stays
    // pending here instead of killing the gateway (the write fails with EPIPE).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    ioc_.run();
  });
}

void StdioProcesses::stop_all() {
  std::call_once(stopped_, [this] {
    stopping_ = true;
    if (std::this_thread::get_id() == thread_.get_id()) {  // a bug: the registry cannot join itself
      spdlog::error("mcp stdio: stop_all() called on the registry's own thread");
      thread_.detach();
      return;
    }
    asio::post(ioc_, [this] {
      // Stopping processes unlink themselves from live_.
      auto live = live_;
      for (auto& [key, p] : live) p->stop("the gateway is stopping");
      reaper_->cancel();
      // run() returns once every process has exited and been reaped (SIGKILL bounds it).
      work_.reset();
    });
    if (thread_.joinable()) thread_.join();
  });
}

void StdioProcesses::unlink(const Process& p) {
  auto it = live_.find({p.session_key(), p.server()});
  if (it != live_.end() && it->second.get() == &p) live_.erase(it);
  running_ = live_.size();
}

void StdioProcesses::forget(const Process& p) {
  unlink(p);
  for (auto it = all_.begin(); it != all_.end(); ++it) {
    if (it->get() == &p) {
      all_.erase(it);
      break;
    }
  }
}

asio::awaitable<void> StdioProcesses::reap_idle() {
  const auto period = std::clamp<std::chrono::milliseconds>(idle_ / 4, 10ms, 5000ms);
  const std::string idle_text = idle_.count() % 1000 == 0 ? std::to_string(idle_.count() / 1000) + " s"
                                                          : std::to_string(idle_.count()) + " ms";
  while (!stopping_) {
    reaper_->expires_after(period);
    auto [ec] = co_await reaper_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopping_) co_return;
    const auto since = Clock::now() - idle_;
    auto live = live_;
    for (auto& [key, p] : live) {
      if (p->idle_since(since)) {
        p->stop("idle for " + idle_text + " (mcp.stdio.idle_timeout_s)");
      }
    }
  }
}

Outcome StdioProcesses::send(const Command& command, const Key& key, ClientMessage message) {
  const std::string who = "mcp server '" + command.server + "'";
  if (stopping_) return {503, who + ": the gateway is stopping", nullptr};
  auto it = live_.find(key);
  if (it == live_.end()) {
    // A process that ended, idled or died took its MCP session with it; a new one is useless
    // before initialize. 404 is what the endpoint answers by initializing again.
    if (!message.initialize) {
      return {404, who + ": no process runs for this session (it ended, idled or died); "
                         "initialize again", nullptr};
    }
    if (live_.size() >= max_) {
      return {503, who + ": the gateway already runs " + std::to_string(max_) +
                       " stdio server processes, its cap (mcp.stdio.max_processes); try again "
                       "when a session ends", nullptr};
    }
    auto child = spawn_child(command.argv, child_environment(command.env), command.cwd);
    if (auto* why = std::get_if<std::string>(&child)) {
      mcp_log()->warn("{}: {}", who, *why);
      return {502, who + ": " + *why, nullptr};
    }
    const Child& c = std::get<Child>(child);
    std::shared_ptr<Process> p;
    try {
      p = std::make_shared<Process>(*this, command.server, key.first, c);
    } catch (const std::exception& e) {  // the reactor refused a descriptor (out of memory, limits)
      ::kill(-c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
      mcp_log()->error("{}: could not watch its pipes: {}", who, e.what());
      return {502, who + ": could not watch its pipes: " + e.what(), nullptr};
    }
    mcp_log()->info("{} started (pid {})", who, c.pid);
    it = live_.emplace(key, p).first;
    all_.insert(p);
    running_ = live_.size();
    p->start();
  }
  Process& p = *it->second;
  if (!message.request) {
    p.write(std::move(message.line));
    return {202, "", nullptr};
  }
  auto inbox = p.request(std::move(message.id), std::move(message.progress_token), std::move(message.line));
  if (!inbox) return {400, who + ": a request with this id is already pending", nullptr};
  return {200, "", std::move(inbox)};
}

asio::awaitable<Reply> StdioProcesses::post(std::shared_ptr<const Command> command,
                                            std::string session_key, std::string text) {
  std::variant<ClientMessage, std::string> read = read_client_message(std::move(text));
  Outcome out;
  if (stopping_) {
    out = {503, "the gateway is stopping", nullptr};
  } else if (session_key.empty()) {
    out = {500, "a stdio server needs the gateway session of the call", nullptr};
  } else if (auto* why = std::get_if<std::string>(&read)) {
    out = {400, std::move(*why), nullptr};
  } else {
    auto work = [this, command, key = Key{std::move(session_key), command->server},
                 message = std::move(std::get<ClientMessage>(read))]() mutable {
      return send(*command, key, std::move(message));
    };
    out = co_await on_thread(ioc_, std::move(work));
  }
  if (out.status >= 300 && out.body.rfind("mcp server '", 0) != 0) {
    out.body = "mcp server '" + command->server + "': " + out.body;
  }
  Reply r = error_reply(out.status, std::move(out.body));
  if (out.inbox) {
    // Progress, log messages and server-to-client requests may come before the response.
    r.stream = true;
    r.messages = std::make_unique<InboxStream>(std::move(out.inbox));
  }
  co_return r;
}

asio::awaitable<Reply> StdioProcesses::listen(std::string server, std::string session_key) {
  auto work = [this, key = Key{std::move(session_key), server}] {
    auto it = live_.find(key);
    return it == live_.end() || stopping_ ? std::shared_ptr<Inbox>() : it->second->listen();
  };
  std::shared_ptr<Inbox> inbox = co_await on_thread(ioc_, std::move(work));
  Reply r;
  if (inbox) {
    r.stream = true;
    r.messages = std::make_unique<InboxStream>(std::move(inbox));
  } else {
    r = error_reply(404, "mcp server '" + server + "': no process runs for this session (it "
                         "ended or idled); initialize again");
  }
  co_return r;
}

asio::awaitable<void> StdioProcesses::end(std::string server, std::string session_key) {
  auto work = [this, key = Key{std::move(session_key), std::move(server)}] {
    auto it = live_.find(key);
    if (it != live_.end()) it->second->stop("its session ended");
    return 0;
  };
  co_await on_thread(ioc_, std::move(work));
}

namespace {

class StdioUpstream : public Upstream {
 public:
  StdioUpstream(std::shared_ptr<StdioProcesses> processes, std::shared_ptr<const Command> command)
      : processes_(std::move(processes)), command_(std::move(command)) {}

  // `call` is read before the first suspension; the registry is kept for the whole call.
  asio::awaitable<Reply> post(const CallContext& call, std::string json) override {
    auto processes = processes_;
    std::string key(call.session_key);
    Reply r = co_await processes->post(command_, std::move(key), std::move(json));
    co_return r;
  }
  asio::awaitable<Reply> listen(const CallContext& call) override {
    auto processes = processes_;
    std::string key(call.session_key);
    std::string server = command_->server;
    Reply r = co_await processes->listen(std::move(server), std::move(key));
    co_return r;
  }
  asio::awaitable<void> end(const CallContext& call) override {
    auto processes = processes_;
    std::string key(call.session_key);
    std::string server = command_->server;
    co_await processes->end(std::move(server), std::move(key));
  }

 private:
  std::shared_ptr<StdioProcesses> processes_;
  std::shared_ptr<const Command> command_;
};

}  // namespace

std::shared_ptr<StdioProcesses> make_stdio_processes(std::size_t max_processes,
                                                     std::chrono::milliseconds idle_timeout) {
  return std::make_shared<StdioProcesses>(max_processes, idle_timeout);
}

void stop_all(StdioProcesses& processes) { processes.stop_all(); }

std::size_t running_processes(const StdioProcesses& processes) { return processes.running(); }

std::unique_ptr<Upstream> make_stdio_upstream(std::shared_ptr<StdioProcesses> processes,
                                              const config::McpServerConfig& server) {
  auto command = std::make_shared<Command>(Command{server.name, server.command, server.env, server.cwd});
  return std::make_unique<StdioUpstream>(std::move(processes), std::move(command));
}

}  // namespace gatehouse::mcp
