#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "fake_collector.h"
#include "record/trace.h"

namespace gatehouse::record {
namespace {

using test_util::FakeCollector;
using test_util::spans_of;

using namespace std::chrono_literals;
namespace json = boost::json;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

config::TracingConfig tracing(std::string endpoint, std::string service, std::chrono::milliseconds every) {
  config::TracingConfig c;
  c.enabled = true;
  c.otlp_endpoint = std::move(endpoint);
  c.service_name = std::move(service);
  c.export_every = every;
  return c;
}

Span make_span(std::uint8_t n, bool root = true) {
  Span s;
  s.trace_id.fill(0xab);
  s.trace_id[15] = n;
  s.span_id.fill(0x01);
  s.span_id[7] = n;
  if (!root) s.parent_span_id = {0, 0, 0, 0, 0, 0, 0, 9};
  s.name = "span " + std::to_string(n);
  s.kind = root ? 2 : 3;
  s.start_unix_ns = 1'700'000'000'123'456'789;
  s.end_unix_ns = 1'700'000'000'223'456'789;
  return s;
}


// The attribute `key` of a span (or resource), or null.
json::value attribute(const json::value& holder, const std::string& key) {
  for (const auto& a : holder.at("attributes").as_array()) {
    if (a.at("key") == key.c_str()) return a.at("value");
  }
  return nullptr;
}

bool lower_hex(const json::value& v, std::size_t length) {
  if (!v.is_string() || v.get_string().size() != length) return false;
  for (char c : v.get_string()) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// otlp_json: the OTLP/HTTP JSON encoding of spans.
TEST(OtlpJson, ResourceNamesTheServiceAndScopeHoldsTheSpans) {
  json::value body = json::parse(otlp_json({make_span(1), make_span(2, false)}, "gatehouse-eu"));
  ASSERT_EQ(body.at("resourceSpans").as_array().size(), 1u);
  const json::value& resource = body.at("resourceSpans").at(0).at("resource");
  EXPECT_EQ(attribute(resource, "service.name"), json::value(json::object{{"stringValue", "gatehouse-eu"}}));
  ASSERT_EQ(spans_of(body).size(), 2u);
  EXPECT_TRUE(body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("scope").at("name").is_string());
}

TEST(OtlpJson, SpanIdsKindAndTimes) {
  json::value body = json::parse(otlp_json({make_span(1), make_span(2, false)}, "svc"));
  const auto& root = spans_of(body)[0];
  EXPECT_TRUE(lower_hex(root.at("traceId"), 32)) << root.at("traceId");
  EXPECT_EQ(root.at("traceId"), "ababababababababababababababab01");
  EXPECT_TRUE(lower_hex(root.at("spanId"), 16));
  EXPECT_EQ(root.at("spanId"), "0101010101010101");
  EXPECT_FALSE(root.as_object().contains("parentSpanId")) << "a root span has no parent";
  EXPECT_EQ(root.at("name"), "span 1");
  EXPECT_EQ(root.at("kind"), 2);
  // 64-bit times are strings in OTLP JSON.
  EXPECT_EQ(root.at("startTimeUnixNano"), "1700000000123456789");
  EXPECT_EQ(root.at("endTimeUnixNano"), "1700000000223456789");
  const auto& child = spans_of(body)[1];
  EXPECT_EQ(child.at("parentSpanId"), "0000000000000009");
  EXPECT_EQ(child.at("kind"), 3);
}

TEST(OtlpJson, AttributesAreTyped) {
  Span s = make_span(1);
  s.attributes = {{"gen_ai.request.model", std::string("chat-small")},
                  {"gen_ai.usage.input_tokens", std::int64_t{9'007'199'254'740'993}},
                  {"gatehouse.cost_usd", 0.25},
                  {"gatehouse.stream", true},
                  {"gatehouse.retried", false}};
  json::value span = spans_of(json::parse(otlp_json({s}, "svc")))[0];
  EXPECT_EQ(span.at("attributes").as_array().size(), 5u);
  EXPECT_EQ(attribute(span, "gen_ai.request.model"), json::value(json::object{{"stringValue", "chat-small"}}));
  // intValue as a string: a 64-bit integer is not exact as a JSON number.
  EXPECT_EQ(attribute(span, "gen_ai.usage.input_tokens"),
            json::value(json::object{{"intValue", "9007199254740993"}}));
  EXPECT_EQ(attribute(span, "gatehouse.cost_usd").at("doubleValue"), 0.25);
  EXPECT_EQ(attribute(span, "gatehouse.stream"), json::value(json::object{{"boolValue", true}}));
  EXPECT_EQ(attribute(span, "gatehouse.retried"), json::value(json::object{{"boolValue", false}}));
}

TEST(OtlpJson, StatusOnlyWhenSetAndMessageOnlyWhenGiven) {
  Span unset = make_span(1);
  Span ok = make_span(2);
  ok.status = 1;
  Span error = make_span(3);
  error.status = 2;
  error.status_message = "upstream_timeout";
  json::value body = json::parse(otlp_json({unset, ok, error}, "svc"));
  const auto& spans = spans_of(body);
  EXPECT_FALSE(spans[0].as_object().contains("status"));
  EXPECT_EQ(spans[1].at("status"), json::value(json::object{{"code", 1}}));
  EXPECT_EQ(spans[2].at("status"), json::value(json::object{{"code", 2}, {"message", "upstream_timeout"}}));
}

TEST(OtlpJson, NoSpansIsStillAValidRequest) {
  json::value body = json::parse(otlp_json({}, "svc"));
  EXPECT_TRUE(spans_of(body).empty());
}


// Waits (at most 3 s) until `done` holds.
template <class Fn>
bool eventually(Fn done) {
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The exporter POSTs queued spans to the collector every interval and counts them.
TEST(TraceExporter, ExportsSubmittedSpansWithinTheInterval) {
  FakeCollector collector(200);
  TraceExporter exporter(tracing(collector.url(), "gatehouse-test", 20ms));
  EXPECT_EQ(exporter.config().otlp_endpoint, collector.url());
  exporter.submit({make_span(1), make_span(2, false)});
  exporter.submit({make_span(3)});
  ASSERT_TRUE(eventually([&] { return exporter.exported() == 3; })) << "exported " << exporter.exported();
  EXPECT_EQ(exporter.dropped(), 0u);
  const auto requests = collector.requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/traces");
    EXPECT_EQ(r.content_type, "application/json");
    json::value body = json::parse(r.body);
    EXPECT_EQ(attribute(body.at("resourceSpans").at(0).at("resource"), "service.name").at("stringValue"),
              "gatehouse-test");
  }
  EXPECT_EQ(collector.spans_received(), 3u);
}

// A collector's API key goes with every export (tracing.headers).
TEST(TraceExporter, SendsTheConfiguredHeaders) {
  FakeCollector collector(200);
  auto c = tracing(collector.url(), "svc", 20ms);
  c.headers = {{"authorization", "Bearer otlp-secret"}, {"x-tenant", "t1"}};
  TraceExporter exporter(c);
  exporter.submit({make_span(1)});
  ASSERT_TRUE(eventually([&] { return exporter.exported() == 1; }));
  const auto r = collector.requests().at(0);
  EXPECT_EQ(r.headers.at("authorization"), "Bearer otlp-secret");
  EXPECT_EQ(r.headers.at("x-tenant"), "t1");
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(collector.port()));
}

TEST(TraceExporter, PostsToTheEndpointsPath) {
  FakeCollector collector(200);
  TraceExporter exporter(tracing(collector.url("/otlp/tenant-1/v1/traces"), "svc", 20ms));
  exporter.submit({make_span(1)});
  ASSERT_TRUE(eventually([&] { return exporter.exported() == 1; }));
  ASSERT_EQ(collector.requests().size(), 1u);
  EXPECT_EQ(collector.requests()[0].target, "/otlp/tenant-1/v1/traces");
}

TEST(TraceExporter, AnEndpointWithoutAPathUsesV1Traces) {
  FakeCollector collector(200);
  TraceExporter exporter(tracing(collector.url(""), "svc", 20ms));
  exporter.submit({make_span(1)});
  ASSERT_TRUE(eventually([&] { return exporter.exported() == 1; }));
  ASSERT_EQ(collector.requests().size(), 1u);
  EXPECT_EQ(collector.requests()[0].target, "/v1/traces");
}

// A collector that refuses the batch: the spans are dropped (never retried) and counted.
TEST(TraceExporter, ACollectorErrorDropsAndCountsTheSpans) {
  FakeCollector collector(500);
  TraceExporter exporter(tracing(collector.url(), "svc", 20ms));
  exporter.submit({make_span(1), make_span(2)});
  ASSERT_TRUE(eventually([&] { return exporter.dropped() == 2; })) << "dropped " << exporter.dropped();
  EXPECT_EQ(exporter.exported(), 0u);
  std::this_thread::sleep_for(60ms);  // three more intervals: nothing is sent again
  EXPECT_EQ(collector.requests().size(), 1u);
  EXPECT_EQ(exporter.dropped(), 2u);
}

TEST(TraceExporter, AnUnreachableCollectorDropsAndCountsTheSpans) {
  unsigned short port;
  {
    asio::io_context c;
    tcp::acceptor a(c, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: connecting is refused
  TraceExporter exporter(tracing("http://127.0.0.1:" + std::to_string(port) + "/v1/traces", "svc", 20ms));
  exporter.submit({make_span(1)});
  ASSERT_TRUE(eventually([&] { return exporter.dropped() == 1; }));
  EXPECT_EQ(exporter.exported(), 0u);
}

// The queue holds at most kMaxQueued spans: more are dropped and counted, never waited for.
TEST(TraceExporter, AFullQueueDropsAndCountsSpans) {
  FakeCollector collector(200);
  {
    TraceExporter exporter(tracing(collector.url(), "svc", 1h));  // nothing leaves before the destructor
    std::vector<Span> many(TraceExporter::kMaxQueued, make_span(1));
    exporter.submit(std::move(many));
    EXPECT_EQ(exporter.dropped(), 0u);
    exporter.submit({make_span(2), make_span(3), make_span(4)});
    EXPECT_EQ(exporter.dropped(), 3u);
    exporter.submit({make_span(5)});
    EXPECT_EQ(exporter.dropped(), 4u);
    EXPECT_EQ(exporter.exported(), 0u);
  }
  // The destructor sent the queue, in batches of at most kMaxBatch.
  const auto requests = collector.requests();
  EXPECT_EQ(requests.size(), TraceExporter::kMaxQueued / TraceExporter::kMaxBatch);
  EXPECT_EQ(collector.spans_received(), TraceExporter::kMaxQueued);
}

// The destructor sends what is queued.
TEST(TraceExporter, DestructorSendsWhatIsQueued) {
  FakeCollector collector(200);
  {
    TraceExporter exporter(tracing(collector.url(), "svc", 1h));
    exporter.submit({make_span(1), make_span(2)});
  }
  EXPECT_EQ(collector.spans_received(), 2u);
}

}  // namespace
}  // namespace gatehouse::record
