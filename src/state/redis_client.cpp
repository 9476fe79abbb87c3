#include "state/redis_client.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>

namespace gatehouse::state {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

long long RedisReply::as_int() const {
  if (type == kInteger) return integer;
  long long v = 0;
  std::from_chars(str.data(), str.data() + str.size(), v);
  return v;
}

double RedisReply::as_double() const {
  if (type == kInteger) return double(integer);
  try {
    return str.empty() ? 0 : std::stod(str);
  } catch (...) {
    return 0;
  }
}

std::string RedisClient::describe(const config::RedisConfig& c) {
  const bool v6 = c.host.find(':') != std::string::npos;
  return "redis://" + (v6 ? "[" + c.host + "]" : c.host) + ":" + c.port + "/" + std::to_string(c.db);
}

namespace {

std::string format(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n = redisFormatCommandArgv(&cmd, int(args.size()), argv.data(), lens.data());
  if (n < 0 || !cmd) throw std::bad_alloc();
  std::string wire(cmd, std::size_t(n));
  redisFreeCommand(cmd);
  return wire;
}

RedisReply copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING ? RedisReply::kString : RedisReply::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  struct Pending {
    std::string wire;
    std::function<void(RedisResult)> done;
    bool expects_reply = true;
  };
  struct Sent {
    std::function<void(RedisResult)> done;
    Clock::time_point at;
  };

  Impl(asio::io_context& io, config::RedisConfig c, std::string n)
      : io(io), cfg(std::move(c)), name(std::move(n)), socket(io), retry(io), tick(io) {}
  ~Impl() {
    if (reader) redisReaderFree(reader);
  }

  asio::io_context& io;
  const config::RedisConfig cfg;
  const std::string name;
  tcp::socket socket;
  asio::steady_timer retry, tick;
  enum State { kDown, kConnecting, kUp } state = kDown;
  std::atomic<bool> up{false};
  std::deque<Pending> queued;
  std::deque<Sent> inflight;
  bool writing = false;
  redisReader* reader = nullptr;
  std::string last_error = "not connected yet";
  std::chrono::milliseconds backoff{100};
  std::uint64_t generation = 0;
  bool stopping = false;
  bool warned = false;  // the outage was logged (once, until it is over)
  std::vector<std::vector<std::string>> connect_commands;
  std::string channel;
  std::function<void(std::string_view)> on_message;
  std::function<void()> on_ready;
  Clock::time_point last_read{}, last_ping{};

  // A connection that has a reply outstanding this long is taken for dead.
  std::chrono::milliseconds stall_limit() const { return std::max<std::chrono::milliseconds>(std::chrono::milliseconds(1000), cfg.timeout * 20); }

  void start() {
    state = kConnecting;
    const auto gen = ++generation;
    asio::co_spawn(io, session(shared_from_this(), gen), asio::detached);
  }

  static asio::awaitable<void> session(std::shared_ptr<Impl> self, std::uint64_t gen) {
    try {
      co_await self->run(gen);
    } catch (const std::exception& e) {
      self->fail(gen, e.what());
    }
  }

  asio::awaitable<void> run(std::uint64_t gen) {
    tcp::resolver resolver(io);
    auto [rec, endpoints] = co_await resolver.async_resolve(cfg.host, cfg.port, asio::as_tuple(asio::use_awaitable));
    if (rec) co_return fail(gen, "cannot resolve " + cfg.host + ": " + rec.message());
    if (gen != generation) co_return;
    // A connect that hangs (a black-holed address) is cut after a second.
    asio::steady_timer deadline(io);
    deadline.expires_after(std::chrono::seconds(1));
    deadline.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (!ec && gen == self->generation && self->state == kConnecting) self->socket.close();
    });
    auto [cec, ep] = co_await asio::async_connect(socket, endpoints, asio::as_tuple(asio::use_awaitable));
    deadline.cancel();
    if (gen != generation) co_return;
    if (cec) co_return fail(gen, cec == asio::error::operation_aborted ? "connect timed out" : cec.message());
    socket.set_option(tcp::no_delay(true));
    socket.set_option(asio::socket_base::keep_alive(true));
    if (reader) redisReaderFree(reader);
    reader = redisReaderCreate();
    state = kUp;
    // The handshake goes first, before whatever callers queued while connecting.
    std::deque<Pending> first;
    auto check = [self = shared_from_this(), gen](std::string what) {
      return [self, gen, what = std::move(what)](RedisResult r) {
        if (auto* e = std::get_if<std::string>(&r)) self->fail(gen, what + ": " + *e);
      };
    };
    last_read = Clock::now();
    if (!cfg.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!cfg.username.empty()) auth.push_back(cfg.username);
      auth.push_back(cfg.password);
      first.push_back({format(auth), check("AUTH refused (check state.redis password)"), true});
    }
    if (cfg.db != 0) first.push_back({format({"SELECT", std::to_string(cfg.db)}), check("SELECT"), true});
    for (const auto& c : connect_commands) first.push_back({format(c), check(c.front()), true});
    if (channel.empty()) {
      // The last answer of the handshake: the connection is up.
      first.push_back({format({"PING"}), [self = shared_from_this(), gen](RedisResult r) {
                         if (gen == self->generation && std::holds_alternative<RedisReply>(r)) self->ready(gen);
                       },
                       true});
    } else {
      first.push_back({format({"SUBSCRIBE", channel}), {}, false});
    }
    for (auto it = first.rbegin(); it != first.rend(); ++it) queued.push_front(std::move(*it));
    flush(gen);
    arm_tick(gen);

    std::array<char, 16384> buf;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (gen != generation) co_return;
      if (ec) co_return fail(gen, ec == asio::error::eof ? "Redis closed the connection" : ec.message());
      if (redisReaderFeed(reader, buf.data(), n) != REDIS_OK) co_return fail(gen, "bad reply from Redis");
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader, &raw) != REDIS_OK) co_return fail(gen, "bad reply from Redis");
        if (!raw) break;
        auto* r = static_cast<redisReply*>(raw);
        const bool error = r->type == REDIS_REPLY_ERROR;
        RedisReply reply = copy(r);
        freeReplyObject(r);
        last_read = Clock::now();
        if (!inflight.empty()) {
          auto done = std::move(inflight.front().done);
          inflight.pop_front();
          if (done) {
            if (error) {
              done(RedisResult(std::string(reply.str)));
            } else {
              done(RedisResult(std::move(reply)));
            }
          }
          if (gen != generation) co_return;  // the callback dropped the connection
        } else if (!channel.empty() && reply.type == RedisReply::kArray && reply.elements.size() >= 3) {
          const auto& kind = reply.elements[0].str;
          if (kind == "message" && on_message) {
            on_message(reply.elements[2].str);
          } else if (kind == "subscribe") {
            ready(gen);
          }
        }
      }
    }
  }

  // The handshake answered: callers may count on the connection.
  void ready(std::uint64_t gen) {
    if (gen != generation || up.load()) return;
    up = true;
    backoff = std::chrono::milliseconds(100);
    if (warned) spdlog::info("{}: Redis at {} answers again", name, describe(cfg));
    warned = false;
    if (on_ready) on_ready();
  }

  void arm_tick(std::uint64_t gen) {
    tick.expires_after(std::chrono::milliseconds(100));
    tick.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (ec || gen != self->generation || self->state != kUp) return;
      const auto now = Clock::now();
      if (!self->inflight.empty() && now - self->inflight.front().at > self->stall_limit()) {
        return self->fail(gen, "no reply for " + std::to_string(self->stall_limit().count()) + " ms");
      }
      if (!self->channel.empty()) {
        // A subscriber hears nothing for long stretches: a ping every 5 s, and a connection that
        // answers none for 15 s (a half-open one) is made again.
        if (now - self->last_read > std::chrono::seconds(15)) return self->fail(gen, "no answer to pings for 15 s");
        if (now - self->last_ping > std::chrono::seconds(5)) {
          self->last_ping = now;
          self->queued.push_back({format({"PING"}), {}, false});
          self->flush(gen);
        }
      }
      self->arm_tick(gen);
    });
  }

  void flush(std::uint64_t gen) {
    if (writing || queued.empty() || state != kUp) return;
    auto out = std::make_shared<std::string>();
    const auto now = Clock::now();
    while (!queued.empty()) {
      auto& p = queued.front();
      *out += p.wire;
      if (p.expects_reply) inflight.push_back({std::move(p.done), now});
      queued.pop_front();
    }
    writing = true;
    asio::async_write(socket, asio::buffer(*out), [self = shared_from_this(), gen, out](boost::system::error_code ec, std::size_t) {
      if (gen != self->generation) return;
      self->writing = false;
      if (ec) return self->fail(gen, ec.message());
      self->flush(gen);
    });
  }

  void enqueue(Pending p) {
    if (stopping || state == kDown) {
      if (p.done) p.done(RedisResult("Redis unavailable (" + last_error + ")"));
      return;
    }
    queued.push_back(std::move(p));
    flush(generation);
  }

  void fail(std::uint64_t gen, std::string why) {
    if (gen != generation || state == kDown) return;
    ++generation;  // every handler of this connection stands down
    state = kDown;
    up = false;
    writing = false;
    boost::system::error_code ignored;
    socket.close(ignored);
    tick.cancel();
    last_error = why;
    if (!warned && !stopping) {
      spdlog::warn("{}: Redis at {}: {}; retrying", name, describe(cfg), why);
      warned = true;
    }
    auto sent = std::move(inflight);
    auto waiting = std::move(queued);
    inflight.clear();
    queued.clear();
    const RedisResult error("Redis unavailable (" + why + ")");
    for (auto& s : sent) {
      if (s.done) s.done(error);
    }
    for (auto& p : waiting) {
      if (p.done) p.done(error);
    }
    if (stopping) return;
    retry.expires_after(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(2000));
    retry.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopping && self->state == kDown) self->start();
    });
  }

  void stop() {
    stopping = true;
    fail(generation, "the gateway is stopping");
    retry.cancel();
  }
};

RedisClient::RedisClient(config::RedisConfig config, std::string name)
    : impl_(std::make_shared<Impl>(io_, std::move(config), std::move(name))) {
  asio::post(io_, [impl = impl_] { impl->start(); });
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

RedisClient::~RedisClient() { shutdown(); }

void RedisClient::shutdown() {
  if (stopped_.exchange(true)) return;
  asio::post(io_, [impl = impl_] { impl->stop(); });
  // The stop's callbacks run, then the thread ends.
  asio::post(io_, [this] { io_.stop(); });
  if (thread_.joinable()) thread_.join();
}

void RedisClient::on_ready(std::function<void()> fn) {
  asio::post(io_, [impl = impl_, fn = std::move(fn)]() mutable { impl->on_ready = std::move(fn); });
}

void RedisClient::on_connect(std::vector<std::vector<std::string>> commands) {
  asio::post(io_, [impl = impl_, commands = std::move(commands)]() mutable { impl->connect_commands = std::move(commands); });
}

void RedisClient::subscribe(std::string channel, std::function<void(std::string_view)> on_message) {
  asio::post(io_, [impl = impl_, channel = std::move(channel), on_message = std::move(on_message)]() mutable {
    impl->channel = std::move(channel);
    impl->on_message = std::move(on_message);
    // Subscribes on the next connection (now, when already connected).
    if (impl->state == Impl::kUp) impl->fail(impl->generation, "subscribing");
  });
}

bool RedisClient::up() const { return impl_->up.load(std::memory_order_relaxed); }

void RedisClient::dispatch(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void RedisClient::post(const std::vector<std::string>& args, std::function<void(RedisResult)> done) {
  if (stopped_.load()) {
    if (done) done(RedisResult("Redis unavailable (the gateway is stopping)"));
    return;
  }
  std::string wire = format(args);
  asio::post(io_, [impl = impl_, wire = std::move(wire), done = std::move(done)]() mutable {
    impl->enqueue({std::move(wire), std::move(done), true});
  });
}

asio::awaitable<RedisResult> RedisClient::call(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                              std::function<void(RedisResult)> late) {
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::optional<RedisResult> result;
  };
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<Waiter>(executor);
  waiter->timer.expires_after(timeout);
  auto caller = asio::prefer(executor, asio::execution::outstanding_work.tracked);
  auto done = [waiter, caller, late = std::move(late)](RedisResult r) mutable {
    asio::post(caller, [waiter, r = std::move(r), late = std::move(late)]() mutable {
      if (waiter->result) {  // the caller stopped waiting
        if (late) late(std::move(r));
        return;
      }
      waiter->result = std::move(r);
      waiter->timer.cancel();
    });
  };
  post(args, std::move(done));
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (waiter->result) co_return std::move(*waiter->result);
  waiter->result = RedisResult("timed out after " + std::to_string(timeout.count()) + " ms");
  co_return *waiter->result;
}

}  // namespace gatehouse::state
