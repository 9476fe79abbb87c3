// The stages' on_attempt hooks, run before each upstream attempt: AuthorizeStage (what each
// target may be sent: a route's target switched off, auth passthrough without the caller's JWT,
// a data class above the target's ceiling) and TracingStage (the traceparent sent upstream: this
// attempt's child span when sampled, the client's own header otherwise); and what the inference
// log keeps of the answer as the client gets it (InferenceLogStage::on_sent).
#include <gtest/gtest.h>

#include "fake_collector.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/trace_context.h"
#include "pipeline/authorize.h"
#include "pipeline/observe.h"
#include "pipeline/records.h"
#include "record/trace.h"
#include "record/writer.h"
#include "records_util.h"
#include "temp_dir.h"

namespace gatehouse::pipeline {
namespace {

using namespace std::chrono_literals;

// ---- AuthorizeStage::on_attempt.

struct Authz {
  config::Config config;
  KillSwitch kills;
  Authz() {
    auto& local = config.providers["local"];
    local.name = "local";
    local.kind = config::ProviderKind::kOpenAICompatible;
    auto& obo = config.providers["obo"];
    obo.name = "obo";
    obo.kind = config::ProviderKind::kDatabricks;
    obo.auth_passthrough = true;
    auto& a = config.models["a"];
    a.name = "a";
    a.provider = "local";
    auto& b = config.models["b"];
    b.name = "b";
    b.provider = "local";
    b.max_data_class = config::DataClass::kInternal;
    auto& c = config.models["c"];
    c.name = "c";
    c.provider = "obo";
    auto& r = config.models["r"];
    r.name = "r";
    r.route = config::RouteConfig{};
  }
  // A request for `requested` whose attempt goes to `target`.
  RequestContext ctx(const std::string& requested, const std::string& target) const {
    RequestContext x;
    x.request.model_request = true;
    x.request.model = requested;
    x.request.model_config = &config.models.at(requested);
    x.identity.key_name = "k1";
    x.identity.project = "p1";
    aim(x, target);
    return x;
  }
  void aim(RequestContext& x, const std::string& target) const {
    const auto& m = config.models.at(target);
    x.upstream.current.number = 1;
    x.upstream.current.model = &m;
    x.upstream.current.provider = &config.providers.at(m.provider);
    x.upstream.served_model = &m;
    x.upstream.provider = m.provider;
  }
};

TEST(AuthorizeAttempt, ARoutesTargetSwitchedOffIsSkipped) {
  Authz f;
  AuthorizeStage stage(f.config, f.kills);
  auto x = f.ctx("r", "a");
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
  auto k = f.kills.add("model", "a", "bad weights", "ops");
  Decision d = stage.on_attempt(x);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->status, 503);
  EXPECT_EQ(d->code, "kill_switch");
  EXPECT_NE(d->message.find("bad weights"), std::string::npos) << d->message;
  // The route's other target is untouched.
  f.aim(x, "b");
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
  // Lifted: the target is back.
  ASSERT_TRUE(f.kills.lift(k.id));
  f.aim(x, "a");
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
  // A target's provider switched off: every target on it is skipped.
  f.kills.add("provider", "local", "", "ops");
  for (const char* t : {"a", "b"}) {
    f.aim(x, t);
    Decision p = stage.on_attempt(x);
    ASSERT_EQ(p.kind(), Decision::Kind::kRefuse) << t;
    EXPECT_EQ(p->code, "kill_switch");
  }
  f.aim(x, "c");
  x.identity.jwt = true;
  EXPECT_TRUE(stage.on_attempt(x).proceeds()) << "a target on another provider";
}

// A plain model was checked once in on_routed (with the caller's project and key): on_attempt does
// not check its kill again.
TEST(AuthorizeAttempt, APlainModelIsNotRecheckedPerAttempt) {
  Authz f;
  AuthorizeStage stage(f.config, f.kills);
  f.kills.add("model", "a", "", "ops");
  auto x = f.ctx("a", "a");
  EXPECT_EQ(stage.on_routed(x).kind(), Decision::Kind::kRefuse) << "on_routed is where it is refused";
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
}

TEST(AuthorizeAttempt, AuthPassthroughNeedsTheCallersJwt) {
  Authz f;
  AuthorizeStage stage(f.config, f.kills);
  auto x = f.ctx("c", "c");
  x.identity.jwt = false;
  Decision d = stage.on_attempt(x);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->status, 403);
  EXPECT_EQ(d->code, "permission_denied");
  EXPECT_NE(d->message.find("model 'c'"), std::string::npos) << d->message;
  EXPECT_NE(d->message.find("provider 'obo'"), std::string::npos) << d->message;
  x.identity.jwt = true;
  x.identity.key_name.clear();
  x.identity.user = "alice";
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
  // Through a route too: the target's provider decides, not the requested model.
  auto r = f.ctx("r", "c");
  EXPECT_EQ(stage.on_attempt(r).kind(), Decision::Kind::kRefuse);
  f.aim(r, "a");
  EXPECT_TRUE(stage.on_attempt(r).proceeds()) << "a provider with its own credential takes a gateway key";
}

TEST(AuthorizeAttempt, ADataClassAboveTheTargetsCeilingIsSkipped) {
  Authz f;
  AuthorizeStage stage(f.config, f.kills);
  auto x = f.ctx("r", "b");  // the route has no ceiling of its own; its target b takes internal at most
  EXPECT_TRUE(stage.on_attempt(x).proceeds()) << "no data class declared";
  x.request.data_class = config::DataClass::kInternal;
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
  x.request.data_class = config::DataClass::kConfidential;
  Decision d = stage.on_attempt(x);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->status, 403);
  EXPECT_EQ(d->code, "permission_denied");
  EXPECT_NE(d->message.find("'confidential'"), std::string::npos) << d->message;
  EXPECT_NE(d->message.find("model 'b'"), std::string::npos) << d->message;
  EXPECT_NE(d->message.find("at most 'internal'"), std::string::npos) << d->message;
  // The route's other target takes any class.
  f.aim(x, "a");
  x.request.data_class = config::DataClass::kRestricted;
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
}

// ---- TracingStage::on_attempt.

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

// Every span the fake collector received so far.
std::vector<json::object> spans_received(test_util::FakeCollector& collector) {
  std::vector<json::object> out;
  for (const auto& r : collector.requests()) {
    const json::value body = json::parse(r.body);  // spans_of views into it
    for (const auto& span : test_util::spans_of(body)) out.push_back(span.as_object());
  }
  return out;
}

config::TracingConfig tracing(const std::string& endpoint) {
  config::TracingConfig c;
  c.enabled = true;
  c.otlp_endpoint = endpoint;
  c.service_name = "gatehouse-test";
  c.export_every = 20ms;
  return c;
}

const std::string kClientSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const std::string kClientNotSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

struct Traced {
  config::Config config;
  Traced() {
    auto& p = config.providers["local"];
    p.name = "local";
    auto& m = config.models["m"];
    m.name = "m";
    m.provider = "local";
    m.upstream_model = "up-m";
  }
  RequestContext ctx(std::string_view traceparent) const {
    RequestContext x;
    x.config = &config;
    x.ingress.method = "POST";
    x.ingress.path = "/v1/chat/completions";
    x.ingress.traceparent = traceparent;
    x.ingress.started = std::chrono::steady_clock::now();
    x.request.model_request = true;
    x.request.model = "m";
    x.request.model_config = &config.models.at("m");
    return x;
  }
};

// The traceparent headers of the current attempt.
std::vector<std::string> traceparents(const RequestContext& x) {
  std::vector<std::string> out;
  for (const auto& [name, value] : x.upstream.current.headers) {
    if (name == "traceparent") out.push_back(value);
  }
  return out;
}

// Runs on_attempt for attempt `number` (headers start empty, as the gateway does) and returns
// the one traceparent it added.
std::optional<TraceParent> attempt(const TracingStage& stage, RequestContext& x, int number) {
  x.upstream.current.number = number;
  x.upstream.current.headers.clear();
  EXPECT_TRUE(stage.on_attempt(x).proceeds());
  auto all = traceparents(x);
  EXPECT_EQ(all.size(), 1u);
  if (all.size() != 1) return std::nullopt;
  auto parsed = parse_traceparent(all[0]);
  EXPECT_TRUE(parsed) << all[0];
  return parsed;
}

TEST(TracingAttempt, SampledEachAttemptSendsItsOwnSpanAndThatSpanIsExported) {
  test_util::FakeCollector collector(200);
  Traced f;
  std::vector<json::object> spans;
  TraceParent first, second;
  TraceId trace{};
  SpanId request_span{};
  {
    record::TraceExporter exporter(tracing(collector.url()));
    TracingStage stage(&exporter);
    auto x = f.ctx("");
    ASSERT_TRUE(stage.on_request(x).proceeds());
    ASSERT_TRUE(x.records.trace.sampled) << "no client trace: a new one, recorded";
    trace = x.records.trace.trace_id;
    request_span = x.records.trace.span_id;

    auto one = attempt(stage, x, 1);
    ASSERT_TRUE(one);
    first = *one;
    EXPECT_EQ(first.trace_id, trace);
    EXPECT_TRUE(first.sampled);
    EXPECT_NE(first.parent_id, request_span) << "the attempt's own span, a child of the request's";
    auto two = attempt(stage, x, 2);
    ASSERT_TRUE(two);
    second = *two;
    EXPECT_EQ(second.trace_id, trace);
    EXPECT_NE(second.parent_id, first.parent_id) << "a different span per attempt";
    EXPECT_NE(second.parent_id, request_span);

    // The spans exported for the attempts carry the ids that went upstream.
    x.upstream.attempts = 2;
    x.upstream.served_model = &f.config.models.at("m");
    x.upstream.provider = "local";
    x.upstream.attempt_log = {AttemptRecord{"m", "local", "up-m", "127.0.0.1:1", 503, "upstream_status", 1, 2},
                              AttemptRecord{"m", "local", "up-m", "127.0.0.1:1", 200, "", 3, 4}};
    x.outcome.status = 200;
    stage.on_complete(x);
    const auto until = std::chrono::steady_clock::now() + 3s;
    while ((spans = spans_received(collector)).size() < 3 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(5ms);
    }
  }
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].at("spanId"), to_hex(request_span).c_str());
  EXPECT_EQ(spans[1].at("spanId"), to_hex(first.parent_id).c_str());
  EXPECT_EQ(spans[2].at("spanId"), to_hex(second.parent_id).c_str());
  for (int i : {1, 2}) {
    EXPECT_EQ(spans[i].at("traceId"), to_hex(trace).c_str());
    EXPECT_EQ(spans[i].at("parentSpanId"), to_hex(request_span).c_str());
  }
}

TEST(TracingAttempt, ASampledClientTraceIsJoinedWithTheAttemptsSpan) {
  Traced f;
  // No collector is reached: nothing is submitted.
  record::TraceExporter exporter(tracing("http://127.0.0.1:9/v1/traces"));
  TracingStage stage(&exporter);
  auto x = f.ctx(kClientSampled);
  ASSERT_TRUE(stage.on_request(x).proceeds());
  ASSERT_TRUE(x.records.trace.sampled);
  auto client = parse_traceparent(kClientSampled);
  ASSERT_TRUE(client);
  auto sent = attempt(stage, x, 1);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->trace_id, client->trace_id) << "the client's trace";
  EXPECT_NE(sent->parent_id, client->parent_id) << "not the client's span: the attempt's";
  EXPECT_NE(sent->parent_id, x.records.trace.span_id);
}

// A trace the client does not record: its header goes upstream as it came.
TEST(TracingAttempt, NotSampledTheClientsTraceparentIsPassedAsIs) {
  Traced f;
  record::TraceExporter exporter(tracing("http://127.0.0.1:9/v1/traces"));
  TracingStage stage(&exporter);
  auto x = f.ctx(kClientNotSampled);
  ASSERT_TRUE(stage.on_request(x).proceeds());
  ASSERT_FALSE(x.records.trace.sampled);
  for (int n : {1, 2}) {
    x.upstream.current.number = n;
    x.upstream.current.headers.clear();
    EXPECT_TRUE(stage.on_attempt(x).proceeds());
    EXPECT_EQ(traceparents(x), std::vector<std::string>{kClientNotSampled}) << n;
  }
}

// Tracing off (no exporter): nothing is recorded, a valid client header is passed as is, an
// invalid one is not passed at all.
TEST(TracingAttempt, WithoutAnExporterOnlyAValidClientHeaderIsPassed) {
  Traced f;
  TracingStage stage(nullptr);
  {
    auto x = f.ctx(kClientSampled);
    EXPECT_TRUE(stage.on_request(x).proceeds());
    EXPECT_FALSE(x.records.trace.sampled);
    x.upstream.current.number = 1;
    EXPECT_TRUE(stage.on_attempt(x).proceeds());
    EXPECT_EQ(traceparents(x), std::vector<std::string>{kClientSampled});
    x.outcome.status = 200;
    stage.on_complete(x);  // nothing to export to: no crash
  }
  for (std::string bad : {"", "garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}) {
    auto x = f.ctx(bad);
    EXPECT_TRUE(stage.on_request(x).proceeds());
    x.upstream.current.number = 1;
    EXPECT_TRUE(stage.on_attempt(x).proceeds());
    EXPECT_TRUE(x.upstream.current.headers.empty()) << bad;
  }
  // With an exporter, an invalid client header starts a new trace (not the client's bytes).
  record::TraceExporter exporter(tracing("http://127.0.0.1:9/v1/traces"));
  TracingStage traced(&exporter);
  auto x = f.ctx("garbage");
  ASSERT_TRUE(traced.on_request(x).proceeds());
  auto sent = attempt(traced, x, 1);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->trace_id, x.records.trace.trace_id);
}

// ---- InferenceLogStage::on_sent.

struct InferenceLog {
  test_util::TempDir dir{"gh-inference-log"};
  std::shared_ptr<store::RecordStore> store{test_util::open_records(dir.file("records.db"))};
  record::RecordWriter writer{store, 1h};
  config::InferenceLogConfig config;
  InferenceLog() {
    config.enabled = true;
    config.models = {"chat-*"};
    config.payloads = true;
    config.sample = 1.0;
    config.max_payload_bytes = 10;
  }
  RequestContext ctx(const std::string& model, std::string_view client_body) const {
    RequestContext x;
    x.ingress.request_id = "req-1";
    x.ingress.started = std::chrono::steady_clock::now();
    x.request.model_request = true;
    x.request.model = model;
    x.request.client_body = client_body;
    return x;
  }
};

TEST(InferenceLogSent, KeepsWhatTheClientGetsUpToTheLimitAndMarksTheCut) {
  InferenceLog f;
  ASSERT_TRUE(f.store);
  InferenceLogStage stage(f.config, f.writer);
  const std::string client_body = R"({"model":"chat-a","messages":[]})";
  auto x = f.ctx("chat-a", client_body);
  ASSERT_TRUE(stage.on_routed(x).proceeds());
  ASSERT_TRUE(x.records.log_inference);
  ASSERT_TRUE(x.records.capture_payloads);
  stage.on_sent(x, "hello ");
  EXPECT_EQ(x.records.response_capture, "hello ");
  EXPECT_FALSE(x.records.capture_truncated);
  stage.on_sent(x, "world!");
  EXPECT_EQ(x.records.response_capture, "hello worl");
  EXPECT_TRUE(x.records.capture_truncated);
  stage.on_sent(x, "more");
  EXPECT_EQ(x.records.response_capture, "hello worl");

  // The row has what the client got, cut, and the request's first bytes.
  x.outcome.status = 200;
  stage.on_complete(x);
  f.writer.flush();
  auto rows = f.store->inference("", 0, 10);
  ASSERT_TRUE(std::holds_alternative<std::vector<store::InferenceRow>>(rows)) << std::get<std::string>(rows);
  const auto& list = std::get<std::vector<store::InferenceRow>>(rows);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].request_id, "req-1");
  EXPECT_EQ(list[0].model, "chat-a");
  EXPECT_EQ(list[0].response_body, "hello worl");
  EXPECT_EQ(list[0].request_body, client_body.substr(0, 10));
  EXPECT_TRUE(list[0].payload_truncated);
}

TEST(InferenceLogSent, NothingIsKeptWhenTheRequestIsNotCaptured) {
  InferenceLog f;
  InferenceLogStage stage(f.config, f.writer);
  // Its model matches no glob: not logged at all.
  auto other = f.ctx("other", "{}");
  ASSERT_TRUE(stage.on_routed(other).proceeds());
  EXPECT_FALSE(other.records.log_inference);
  stage.on_sent(other, "hello");
  EXPECT_EQ(other.records.response_capture, "");
  // Logged without payloads: metadata only.
  f.config.payloads = false;
  auto meta = f.ctx("chat-a", "{}");
  ASSERT_TRUE(stage.on_routed(meta).proceeds());
  EXPECT_TRUE(meta.records.log_inference);
  EXPECT_FALSE(meta.records.capture_payloads);
  stage.on_sent(meta, "hello");
  EXPECT_EQ(meta.records.response_capture, "");
  EXPECT_FALSE(meta.records.capture_truncated);
}

}  // namespace
}  // namespace gatehouse::pipeline
