// stdio MCP servers (mcp/stdio.h) against a small fake server written in node: replies, routing
// of what the server writes, the environment it gets, the cap, idle reaping, end(), death, and
// callers on several threads.
#include "mcp/stdio.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace gatehouse::mcp {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Item = std::variant<Message, std::monostate, Error>;

// The fake server. Requests by method:
//   initialize  {protocolVersion, capabilities, serverInfo, pid}
//   echo     a notifications/message, then the response {echo: params, pid}
//   env      {env: process.env, cwd}
//   stderr   a line on stderr, then the response
//   slow     progress for params._meta.progressToken, then the response after params.ms
//   sample   a sampling/createMessage request to the client; the response carries its answer
//   die      exits with status 3 without answering
//   spawn    starts `sleep 1000` and answers its pid
//   huge     a line of 17 MiB
// Notifications: "poke" makes it send notifications/tools/list_changed; "ignore-term" makes it
// ignore SIGTERM and the end of its stdin. It exits when its stdin ends.
constexpr const char* kFakeServer = R"JS(
const out = (m) => process.stdout.write(JSON.stringify(m) + "\n");
const waiting = {};
let buf = "";
process.stdin.on("data", (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    if (line) handle(JSON.parse(line));
  }
});
process.stdin.on("end", () => process.exit(0));
function handle(m) {
  const reply = (result) => out({jsonrpc: "2.0", id: m.id, result});
  if (m.method === undefined) { const w = waiting[m.id]; delete waiting[m.id]; if (w) w(m); return; }
  switch (m.method) {
    case "initialize":
      return reply({protocolVersion: "2025-06-18", capabilities: {}, serverInfo: {name: "fake", version: "0"}, pid: process.pid});
    case "echo":
      out({jsonrpc: "2.0", method: "notifications/message", params: {level: "info", data: "before"}});
      return reply({echo: m.params ?? null, pid: process.pid});
    case "env": return reply({env: process.env, cwd: process.cwd()});
    case "stderr": process.stderr.write("hello from stderr\n"); return reply({});
    case "slow": {
      const token = m.params?._meta?.progressToken;
      setTimeout(() => {
        if (token !== undefined) out({jsonrpc: "2.0", method: "notifications/progress", params: {progressToken: token, progress: 1}});
        setTimeout(() => reply({slow: m.params.ms}), m.params.ms);
      }, m.params.delay ?? 0);
      return;
    }
    case "sample":
      waiting["s1"] = (answer) => reply({answer: answer.result});
      return out({jsonrpc: "2.0", id: "s1", method: "sampling/createMessage", params: {}});
    case "die": process.exit(3);
    case "spawn": {
      const c = require("child_process").spawn("sleep", ["1000"], {stdio: "ignore"});
      return reply({child: c.pid});
    }
    case "huge": return process.stdout.write("x".repeat(17 << 20) + "\n");
    case "poke": return out({jsonrpc: "2.0", method: "notifications/tools/list_changed"});
    case "ignore-term":  // nor the end of stdin
      process.on("SIGTERM", () => {}); process.stdin.removeAllListeners("end"); setInterval(() => {}, 1000);
      return;
  }
  if (m.id !== undefined) out({jsonrpc: "2.0", id: m.id, error: {code: -32601, message: "no " + m.method}});
}
)JS";

bool have_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

config::McpServerConfig fake_server(std::map<std::string, std::string> env = {}) {
  config::McpServerConfig s;
  s.name = "fake";
  s.command = {"node", "-e", kFakeServer};
  s.env = std::move(env);
  return s;
}

std::string request(const json::value& id, std::string_view method, json::object params = {}) {
  json::object o{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.empty()) o["params"] = std::move(params);
  return json::serialize(o);
}
std::string notification(std::string_view method) {
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"method", method}});
}

CallContext ctx(std::string_view session_key) {
  CallContext c;
  c.session_key = session_key;
  return c;
}

// Runs one coroutine on a fresh io_context of this thread to its end.
template <class T>
T run(asio::awaitable<T> a) {
  asio::io_context ioc;
  auto f = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return f.get();
}

asio::awaitable<std::vector<Item>> drain(MessageStream& s) {
  std::vector<Item> items;
  while (true) {
    Item i = co_await s.next();
    const bool end = !std::holds_alternative<Message>(i);
    items.push_back(std::move(i));
    if (end) co_return items;
  }
}

json::value body(const Item& i) {
  EXPECT_TRUE(std::holds_alternative<Message>(i)) << (std::holds_alternative<Error>(i) ? std::get<Error>(i).message : "the end");
  return std::holds_alternative<Message>(i) ? json::parse(std::get<Message>(i).json) : json::value();
}

// Posts a request and reads its reply to the end.
asio::awaitable<std::vector<Item>> call(Upstream& up, std::string session, std::string json) {
  CallContext c = ctx(session);
  Reply r = co_await up.post(c, std::move(json));
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<Item> items;
  if (r.messages) items = co_await drain(*r.messages);
  co_return items;
}

std::int64_t pid_of(const std::vector<Item>& items) {
  return body(items.at(items.size() - 2)).at("result").at("pid").as_int64();
}

// Starts the session's process (only initialize does) and answers its pid.
asio::awaitable<std::int64_t> start(Upstream& up, std::string session) {
  const std::string init = request(0, "initialize");
  std::vector<Item> items = co_await call(up, std::move(session), init);
  std::int64_t pid = items.size() == 2 ? pid_of(items) : -1;
  co_return pid;
}
std::int64_t init(Upstream& up, std::string session) { return run(start(up, std::move(session))); }

// Dead, or a zombie nobody has reaped yet (in a container init may not reap).
bool gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(stat)), {});
  auto close = s.rfind(')');
  return close == std::string::npos || s.substr(close + 2, 1) == "Z";
}
bool eventually_gone(pid_t pid, std::chrono::milliseconds within = 3s) {
  for (auto end = std::chrono::steady_clock::now() + within; std::chrono::steady_clock::now() < end;) {
    if (gone(pid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return gone(pid);
}

class StdioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_node()) GTEST_SKIP() << "node is not installed";
  }
  std::shared_ptr<StdioProcesses> processes_ = make_stdio_processes(4, 60s);
};

TEST_F(StdioTest, RequestReplyCarriesItsNotificationsThenTheResponse) {
  auto up = make_stdio_upstream(processes_, fake_server());
  init(*up, "s1");
  auto items = run(call(*up, "s1", request(1, "echo", {{"x", 1}})));
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(body(items[0]).at("method"), "notifications/message");
  EXPECT_EQ(body(items[1]).at("id"), 1);
  EXPECT_EQ(body(items[1]).at("result").at("echo").at("x"), 1);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(items[2]));
  EXPECT_EQ(running_processes(*processes_), 1u);

  // A message spread over lines is sent as one line.
  items = run(call(*up, "s1", "{\n\"jsonrpc\": \"2.0\",\r\n\"id\": 2, \"method\": \"echo\"\n}"));
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(body(items[1]).at("id"), 2);

  // A notification and a response get 202 and nothing to read.
  CallContext c = ctx("s1");
  Reply r = run(up->post(c, notification("notifications/initialized")));
  EXPECT_EQ(r.status, 202);
  EXPECT_FALSE(r.messages);
  r = run(up->post(c, R"({"jsonrpc":"2.0","id":"x","result":{}})"));
  EXPECT_EQ(r.status, 202);
  // Not JSON-RPC: 400, and the server never sees it.
  EXPECT_EQ(run(up->post(c, "[1,2]")).status, 400);
  EXPECT_EQ(run(up->post(c, "{\"jsonrpc\":\"2.0\"}")).status, 400);
}

TEST_F(StdioTest, OnlyInitializeStartsAProcess) {
  auto up = make_stdio_upstream(processes_, fake_server());
  // Anything else for a session without a process: 404, which the endpoint answers by
  // initializing again.
  Reply r = run(up->post(ctx("s1"), request(1, "tools/list")));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("initialize again"), std::string::npos) << r.body;
  EXPECT_EQ(run(up->post(ctx("s1"), notification("notifications/initialized"))).status, 404);
  EXPECT_EQ(running_processes(*processes_), 0u);
  r = run(up->post(ctx("s1"), request(0, "initialize")));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(running_processes(*processes_), 1u);
}

TEST_F(StdioTest, TheServerGetsOnlyItsConfiguredEnvironmentPlusPathAndHome) {
  ::setenv("GATEHOUSE_TEST_SECRET", "do-not-leak", 1);
  auto server = fake_server({{"FAKE_SETTING", "42"}, {"LOG_LEVEL", "info"}});
  server.cwd = "/tmp";
  auto up = make_stdio_upstream(processes_, server);
  init(*up, "s1");
  auto items = run(call(*up, "s1", request(1, "env")));
  ::unsetenv("GATEHOUSE_TEST_SECRET");
  ASSERT_EQ(items.size(), 2u);
  auto result = body(items[0]).at("result");
  std::set<std::string> names;
  for (const auto& kv : result.at("env").as_object()) names.insert(std::string(kv.key()));
  std::set<std::string> expected{"FAKE_SETTING", "LOG_LEVEL", "PATH"};
  if (std::getenv("HOME")) expected.insert("HOME");
  EXPECT_EQ(names, expected);
  EXPECT_EQ(result.at("env").at("FAKE_SETTING"), "42");
  EXPECT_EQ(result.at("env").at("PATH").as_string(), std::getenv("PATH"));
  EXPECT_EQ(result.at("cwd"), "/tmp");
}

TEST_F(StdioTest, ConfiguredPathWinsOverTheGatewaysAndFindsTheCommand) {
  // node is looked up in the configured PATH, not the gateway's.
  std::string dir;
  for (std::string_view p = std::getenv("PATH"); !p.empty();) {
    auto c = p.find(':');
    std::string d(p.substr(0, c));
    if (::access((d + "/node").c_str(), X_OK) == 0) { dir = d; break; }
    if (c == std::string_view::npos) break;
    p.remove_prefix(c + 1);
  }
  ASSERT_FALSE(dir.empty());
  auto up = make_stdio_upstream(processes_, fake_server({{"PATH", dir}}));
  init(*up, "s1");
  auto items = run(call(*up, "s1", request(1, "env")));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(body(items[0]).at("result").at("env").at("PATH").as_string(), dir);
}

TEST_F(StdioTest, ACommandThatCannotStartIs502) {
  auto server = fake_server();
  server.command = {"/nonexistent/mcp-server"};
  auto up = make_stdio_upstream(processes_, server);
  CallContext c = ctx("s1");
  Reply r = run(up->post(c, request(1, "initialize")));
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("'fake'"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/nonexistent/mcp-server"), std::string::npos) << r.body;
  EXPECT_EQ(running_processes(*processes_), 0u);
}

TEST_F(StdioTest, UnsolicitedMessagesGoToTheListenStreamAndWaitForIt) {
  auto up = make_stdio_upstream(processes_, fake_server());
  CallContext c = ctx("s1");
  // No process yet: nothing to listen to.
  EXPECT_EQ(run(up->listen(c)).status, 404);
  init(*up, "s1");
  // Sent while nobody listens: kept for the next GET stream.
  EXPECT_EQ(run(up->post(c, notification("poke"))).status, 202);
  run([&]() -> asio::awaitable<void> {
    Reply listen = co_await up->listen(c);
    EXPECT_EQ(listen.status, 200);
    Item first = co_await listen.messages->next();
    EXPECT_EQ(body(first).at("method"), "notifications/tools/list_changed");
    // And while it listens.
    const std::string poke = notification("poke");
    co_await up->post(c, poke);
    Item second = co_await listen.messages->next();
    EXPECT_EQ(body(second).at("method"), "notifications/tools/list_changed");
    listen.messages->abort();
    Item after = co_await listen.messages->next();
    EXPECT_TRUE(std::holds_alternative<std::monostate>(after));
  }());
}

TEST_F(StdioTest, ConcurrentRequestsGetTheirOwnResponsesMatchedByIdValue) {
  auto up = make_stdio_upstream(processes_, fake_server());
  init(*up, "s1");
  // Number 1 and string "1" are different ids; the first answers last. Each progress
  // notification goes to the request that holds its token.
  const std::string first = request(1, "slow", {{"ms", 300}, {"_meta", {{"progressToken", "A"}}}});
  const std::string second =
      request("1", "slow", {{"ms", 10}, {"delay", 100}, {"_meta", {{"progressToken", "B"}}}});
  auto [slow, fast] = run([&]() -> asio::awaitable<std::pair<std::vector<Item>, std::vector<Item>>> {
    auto ex = co_await asio::this_coro::executor;
    auto a = asio::co_spawn(ex, call(*up, "s1", first), asio::use_awaitable);
    auto b = asio::co_spawn(ex, call(*up, "s1", second), asio::use_awaitable);
    auto ra = co_await std::move(a);
    auto rb = co_await std::move(b);
    co_return std::make_pair(std::move(ra), std::move(rb));
  }());
  ASSERT_EQ(slow.size(), 3u);
  EXPECT_EQ(body(slow[0]).at("params").at("progressToken"), "A");
  EXPECT_EQ(body(slow[1]).at("id"), 1);
  EXPECT_EQ(body(slow[1]).at("result").at("slow"), 300);
  ASSERT_EQ(fast.size(), 3u);
  EXPECT_EQ(body(fast[0]).at("params").at("progressToken"), "B");
  EXPECT_EQ(body(fast[1]).at("id"), "1");
  EXPECT_EQ(body(fast[1]).at("result").at("slow"), 10);
}

TEST_F(StdioTest, AServerRequestGoesToThePendingReplyAndItsAnswerBack) {
  auto up = make_stdio_upstream(processes_, fake_server());
  init(*up, "s1");
  run([&]() -> asio::awaitable<void> {
    CallContext c = ctx("s1");
    const std::string sample = request(7, "sample");
    const std::string answer = R"({"jsonrpc":"2.0","id":"s1","result":{"text":"hi"}})";
    Reply r = co_await up->post(c, sample);
    EXPECT_EQ(r.status, 200);
    if (!r.messages) co_return;
    Item asked = co_await r.messages->next();
    EXPECT_EQ(body(asked).at("method"), "sampling/createMessage");
    Reply answered = co_await up->post(c, answer);
    EXPECT_EQ(answered.status, 202);
    Item done = co_await r.messages->next();
    EXPECT_EQ(body(done).at("id"), 7);
    EXPECT_EQ(body(done).at("result").at("answer").at("text"), "hi");
  }());
}

TEST_F(StdioTest, AProcessThatDiesFailsItsPendingReplyAndTheKeyStartsAfresh) {
  auto up = make_stdio_upstream(processes_, fake_server());
  const auto pid = init(*up, "s1");
  auto items = run([&]() -> asio::awaitable<std::vector<Item>> {
    CallContext c = ctx("s1");
    const std::string die = request(2, "die");
    Reply r = co_await up->post(c, die);
    std::vector<Item> items = co_await drain(*r.messages);
    co_return items;
  }());
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Error>(items[0]));
  const Error& e = std::get<Error>(items[0]);
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.source, ErrorSource::kUpstream);
  EXPECT_NE(e.message.find("'fake'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("exited with status 3"), std::string::npos) << e.message;
  EXPECT_EQ(running_processes(*processes_), 0u);
  // The same session again: 404 until it initializes (a new process).
  EXPECT_EQ(run(up->post(ctx("s1"), request(3, "echo"))).status, 404);
  EXPECT_NE(init(*up, "s1"), pid);
}

TEST_F(StdioTest, EndStopsTheProcessAndItsChildrenAndFailsWhatIsPending) {
  auto up = make_stdio_upstream(processes_, fake_server());
  const pid_t pid = pid_t(init(*up, "s1"));
  auto spawned = run(call(*up, "s1", request(1, "spawn")));
  const pid_t child = pid_t(body(spawned[0]).at("result").at("child").as_int64());
  // (Braced JSON built outside the coroutines: GCC 12 miscompiles initializer lists in them.)
  const std::string slow = request(3, "slow", {{"ms", 5000}});
  auto items = run([&]() -> asio::awaitable<std::vector<Item>> {
    CallContext c = ctx("s1");
    Reply r = co_await up->post(c, slow);
    co_await up->end(c);
    std::vector<Item> items = co_await drain(*r.messages);
    co_return items;
  }());
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Error>(items[0]));
  EXPECT_NE(std::get<Error>(items[0]).message.find("its session ended"), std::string::npos)
      << std::get<Error>(items[0]).message;
  // The registry's thread forgets the process on its own time (under ASan on a loaded machine,
  // not always before end()'s caller looks).
  for (auto until = std::chrono::steady_clock::now() + 3s;
       running_processes(*processes_) != 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(running_processes(*processes_), 0u);
  EXPECT_TRUE(eventually_gone(pid));
  EXPECT_TRUE(eventually_gone(child)) << "the server's own child outlived it";
  EXPECT_EQ(run(up->post(ctx("s1"), request(4, "echo"))).status, 404);
  EXPECT_NE(init(*up, "s1"), pid);
}

TEST_F(StdioTest, TheCapRefusesANewProcessUntilOneEnds) {
  auto processes = make_stdio_processes(2, 60s);
  auto up = make_stdio_upstream(processes, fake_server());
  init(*up, "a");
  init(*up, "b");
  CallContext c = ctx("c");
  Reply r = run(up->post(c, request(0, "initialize")));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("mcp.stdio.max_processes"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("2"), std::string::npos) << r.body;
  // A session that has one is not refused.
  run(call(*up, "a", request(2, "echo")));
  run(up->end(ctx("a")));
  init(*up, "c");
  EXPECT_EQ(running_processes(*processes), 2u);
}

TEST_F(StdioTest, AnIdleProcessIsReapedButNotOneWithACallInFlight) {
  auto processes = make_stdio_processes(4, 300ms);
  auto up = make_stdio_upstream(processes, fake_server());
  const auto pid = init(*up, "s1");
  // A call longer than the idle timeout keeps it.
  auto slow = run(call(*up, "s1", request(2, "slow", {{"ms", 700}})));
  EXPECT_EQ(body(slow[0]).at("result").at("slow"), 700);
  EXPECT_EQ(pid_of(run(call(*up, "s1", request(3, "echo")))), pid);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(running_processes(*processes), 0u);
  EXPECT_TRUE(eventually_gone(pid_t(pid)));
  EXPECT_EQ(run(up->post(ctx("s1"), request(4, "echo"))).status, 404);
  EXPECT_NE(init(*up, "s1"), pid);
}

TEST_F(StdioTest, CallersOnTwoThreadsCompleteOnTheirOwnExecutors) {
  auto up = make_stdio_upstream(processes_, fake_server());
  auto caller = [&](std::string session) {
    return std::async(std::launch::async, [&, session] {
      return run([&]() -> asio::awaitable<int> {
        const auto me = std::this_thread::get_id();
        int ok = 0;
        co_await start(*up, session);
        if (std::this_thread::get_id() != me) co_return -1;
        for (int i = 0; i < 20; ++i) {
          CallContext c = ctx(session);
          json::object params;
          params["i"] = i;
          const std::string echo = request(i, "echo", std::move(params));
          Reply r = co_await up->post(c, echo);
          ok += std::this_thread::get_id() == me;
          while (true) {
            Item item = co_await r.messages->next();
            ok += std::this_thread::get_id() == me ? 0 : -1000;
            if (!std::holds_alternative<Message>(item)) break;
          }
        }
        co_return ok;
      }());
    });
  };
  auto a = caller("shared");
  auto b = caller("other");
  auto c = caller("shared2");
  EXPECT_EQ(a.get(), 20);
  EXPECT_EQ(b.get(), 20);
  EXPECT_EQ(c.get(), 20);
}

TEST_F(StdioTest, StderrGoesToTheLogPrefixedWithTheServer) {
  // The gateway's log: here spdlog's default logger (no "mcp" logger is registered), which
  // writes to stdout. (This file sees header-only spdlog, whose registry is not gh_mcp's: hence
  // stdout rather than a test sink.)
  auto up = make_stdio_upstream(processes_, fake_server());
  init(*up, "s1");
  testing::internal::CaptureStdout();
  run(call(*up, "s1", request(1, "stderr")));
  run(up->end(ctx("s1")));
  stop_all(*processes_);  // returns once the stderr reader is done
  const std::string logged = testing::internal::GetCapturedStdout();
  EXPECT_NE(logged.find("mcp server 'fake': hello from stderr"), std::string::npos) << logged;
}

TEST_F(StdioTest, ALineOver16MiBEndsTheProcess) {
  auto up = make_stdio_upstream(processes_, fake_server());
  init(*up, "s1");
  auto items = run(call(*up, "s1", request(1, "huge")));
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Error>(items[0]));
  EXPECT_NE(std::get<Error>(items[0]).message.find("16 MiB"), std::string::npos);
}

TEST_F(StdioTest, StopAllKillsEvenAServerThatIgnoresSigterm) {
  auto up = make_stdio_upstream(processes_, fake_server());
  const pid_t pid = pid_t(init(*up, "s1"));
  CallContext c = ctx("s1");
  run(up->post(c, notification("ignore-term")));
  run(call(*up, "s1", request(2, "echo")));  // it has read the notification
  const auto start = std::chrono::steady_clock::now();
  stop_all(*processes_);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1900ms);  // SIGTERM, 2 s, SIGKILL
  EXPECT_TRUE(gone(pid));
  // Stopped: new calls are refused.
  EXPECT_EQ(run(up->post(c, request(0, "initialize"))).status, 503);
}

// The real thing: npm's @modelcontextprotocol/server-filesystem, when tests/e2e has it installed.
TEST_F(StdioTest, TheNpmFilesystemServerInitializesAndListsItsTools) {
  const std::string bin = std::string(GATEHOUSE_EXAMPLES_DIR) + "/../tests/e2e/node_modules/.bin/mcp-server-filesystem";
  if (::access(bin.c_str(), X_OK) != 0) GTEST_SKIP() << bin << " is not installed (npm install in tests/e2e)";
  char dir_template[] = "/tmp/gh-mcp-fs-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  std::ofstream(dir + "/hello.txt") << "hello";
  config::McpServerConfig server;
  server.name = "files";
  server.command = {bin, dir};
  auto up = make_stdio_upstream(processes_, server);
  const std::string init = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"gatehouse-test","version":"0"}}})";
  auto items = run(call(*up, "s1", init));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(body(items[0]).at("result").at("serverInfo").at("name").as_string().size() > 0, true);
  EXPECT_EQ(run(up->post(ctx("s1"), notification("notifications/initialized"))).status, 202);
  items = run(call(*up, "s1", request(2, "tools/list")));
  ASSERT_GE(items.size(), 2u);
  std::set<std::string> tools;
  const json::value listed = body(items[items.size() - 2]);
  for (const auto& t : listed.at("result").at("tools").as_array()) {
    tools.insert(std::string(t.at("name").as_string()));
  }
  EXPECT_TRUE(tools.count("read_text_file") || tools.count("read_file")) << tools.size();
  EXPECT_TRUE(tools.count("list_directory"));
  json::object args{{"path", dir}};
  const std::string list = json::serialize(json::object{
      {"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/call"},
      {"params", {{"name", "list_directory"}, {"arguments", args}}}});
  items = run(call(*up, "s1", list));
  ASSERT_GE(items.size(), 2u);
  EXPECT_NE(std::get<Message>(items[items.size() - 2]).json.find("hello.txt"), std::string::npos)
      << std::get<Message>(items[items.size() - 2]).json;
  run(up->end(ctx("s1")));
  std::filesystem::remove_all(dir);
}

TEST_F(StdioTest, ACancelledWaitLeavesTheReplyReadable) {
  auto up = make_stdio_upstream(processes_, fake_server());
  init(*up, "s1");
  const std::string slow = request(1, "slow", {{"ms", 300}});
  run([&]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    CallContext c = ctx("s1");
    Reply r = co_await up->post(c, slow);
    if (!r.messages) co_return;
    // A caller's own deadline (the loser of ||) cancels the wait, not the reply.
    asio::steady_timer deadline(co_await asio::this_coro::executor, 50ms);
    auto first = co_await (r.messages->next() || deadline.async_wait(asio::use_awaitable));
    EXPECT_FALSE(std::holds_alternative<Message>(first));  // the deadline won
    Item response = co_await r.messages->next();
    EXPECT_EQ(body(response).at("result").at("slow"), 300);
  }());
}

}  // namespace
}  // namespace gatehouse::mcp
