// The pipeline's hook runners (src/pipeline/pipeline.cpp): the order each hook meets the stages
// in, what each decision does to the request (refuse, answer, replace, drop), how on_event folds
// the stages' decisions into one, the stages' per-request slots, and RequestContext's headers.
// The stages here are fakes that write each call into a shared log.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/pipeline.h"

namespace gatehouse::pipeline {
namespace {

using Log = std::vector<std::string>;

// A stage that logs "<name>:<hook>" for every call and decides what its hook function says
// (continue when none is set).
class Fake final : public Stage {
 public:
  Fake(std::string name, Log& log) : name_(std::move(name)), log_(log) {}
  std::string_view name() const override { return name_; }

  std::function<Decision(RequestContext&)> request, routed, attempt, stream_end;
  std::function<Decision(RequestContext&, std::string_view)> response, event;
  // What this stage saw in its last on_routed / on_attempt / on_response / on_event.
  mutable std::string seen_routed, seen_attempt, seen_response, seen_event;
  mutable const char* seen_event_data = nullptr;

  Decision on_request(RequestContext& ctx) const override {
    note("request");
    return request ? request(ctx) : Decision{};
  }
  Decision on_routed(RequestContext& ctx) const override {
    note("routed");
    seen_routed = std::string(ctx.request.body);
    return routed ? routed(ctx) : Decision{};
  }
  Decision on_attempt(RequestContext& ctx) const override {
    note("attempt");
    seen_attempt = std::string(ctx.upstream.current.body);
    return attempt ? attempt(ctx) : Decision{};
  }
  Decision on_response(RequestContext& ctx, std::string_view body) const override {
    note("response");
    seen_response = std::string(body);
    return response ? response(ctx, body) : Decision{};
  }
  Decision on_event(RequestContext& ctx, std::string_view e) const override {
    note("event");
    seen_event = std::string(e);
    seen_event_data = e.data();
    return event ? event(ctx, e) : Decision{};
  }
  Decision on_stream_end(RequestContext& ctx) const override {
    note("stream_end");
    return stream_end ? stream_end(ctx) : Decision{};
  }
  void on_sent(RequestContext&, std::string_view bytes) const noexcept override { note("sent[" + std::string(bytes) + "]"); }
  void on_settled(RequestContext&) const noexcept override { note("settled"); }
  void on_complete(RequestContext&) const noexcept override { note("complete"); }

  // Per-request state through Stage::state / find_state (protected there).
  struct Counter final : StageState {
    int n = 0;
  };
  int bump(RequestContext& ctx) const { return ++state<Counter>(ctx).n; }
  const Counter* peek(const RequestContext& ctx) const { return find_state<Counter>(ctx); }

 private:
  void note(const std::string& hook) const { log_.push_back(name_ + ":" + hook); }
  std::string name_;
  Log& log_;
};

// Three fake stages a, b, c in this order.
struct Three {
  Log log;
  Pipeline p;
  Fake* a;
  Fake* b;
  Fake* c;
  Three() : a(add("a")), b(add("b")), c(add("c")) {}
  Fake* add(std::string name) {
    auto s = std::make_unique<Fake>(std::move(name), log);
    Fake* raw = s.get();
    p.add(std::move(s));
    return raw;
  }
  Log take() { return std::exchange(log, {}); }
};

Error forbidden(std::string message) { return Error::forbidden(std::move(message), "permission_denied"); }

// ---- Decision itself.

TEST(Decision, NulloptAndDefaultAreContinue) {
  Decision d = std::nullopt;
  EXPECT_EQ(d.kind(), Decision::Kind::kContinue);
  EXPECT_TRUE(d.proceeds());
  EXPECT_FALSE(d);
  EXPECT_FALSE(d.ends());
  EXPECT_EQ(Decision{}.kind(), Decision::Kind::kContinue);
}

TEST(Decision, AnErrorIsARefusal) {
  auto hook = []() -> Decision { return forbidden("no"); };  // the implicit conversion
  Decision d = hook();
  EXPECT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_TRUE(d);
  EXPECT_TRUE(d.ends());
  EXPECT_FALSE(d.proceeds());
  EXPECT_EQ(d->status, 403);
  EXPECT_EQ((*d).message, "no");
  EXPECT_EQ(d.error().code, "permission_denied");
  EXPECT_EQ(Decision::refuse(Error::bad_request("x")).error().status, 400);
}

TEST(Decision, AnswerReplaceAndDropCarryTheirData) {
  Decision a = Decision::answer({201, "text/plain", "canned"});
  EXPECT_EQ(a.kind(), Decision::Kind::kAnswer);
  EXPECT_TRUE(a.ends());
  EXPECT_EQ(a.answer().status, 201);
  EXPECT_EQ(a.answer().content_type, "text/plain");
  EXPECT_EQ(a.answer().body, "canned");
  Decision r = Decision::replace("new");
  EXPECT_EQ(r.kind(), Decision::Kind::kReplace);
  EXPECT_FALSE(r.ends());
  EXPECT_TRUE(r);
  EXPECT_EQ(r.body(), "new");
  Decision d = Decision::drop();
  EXPECT_EQ(d.kind(), Decision::Kind::kDrop);
  EXPECT_FALSE(d.ends());
  EXPECT_TRUE(d);
}

// ---- Order.

TEST(PipelineHooks, ForwardHooksRunInOrderSettledAndCompleteInReverse) {
  Three t;
  RequestContext ctx;
  std::string body = R"({"model":"m"})";
  ctx.request.body = body;
  ctx.upstream.current.body = body;
  std::string whole = "answer";
  EXPECT_TRUE(t.p.on_request(ctx).proceeds());
  EXPECT_TRUE(t.p.on_routed(ctx).proceeds());
  EXPECT_TRUE(t.p.on_attempt(ctx).proceeds());
  EXPECT_TRUE(t.p.on_response(ctx, whole).proceeds());
  EXPECT_TRUE(t.p.on_event(ctx, "data: 1\n\n").proceeds());
  EXPECT_TRUE(t.p.on_stream_end(ctx).proceeds());
  t.p.on_sent(ctx, "bytes");
  t.p.on_settled(ctx);
  t.p.on_complete(ctx);
  EXPECT_EQ(t.take(), (Log{"a:request",    "b:request",    "c:request",                       //
                           "a:routed",     "b:routed",     "c:routed",                        //
                           "a:attempt",    "b:attempt",    "c:attempt",                       //
                           "a:response",   "b:response",   "c:response",                      //
                           "a:event",      "b:event",      "c:event",                         //
                           "a:stream_end", "b:stream_end", "c:stream_end",                    //
                           "a:sent[bytes]", "b:sent[bytes]", "c:sent[bytes]",                 //
                           "c:settled",    "b:settled",    "a:settled",                       //
                           "c:complete",   "b:complete",   "a:complete"}));
  EXPECT_EQ(t.p.size(), 3u);
  EXPECT_EQ(t.p.stage(0).name(), "a");
  EXPECT_EQ(t.p.stage(2).name(), "c");
}

// ---- Refuse and answer.

TEST(PipelineHooks, ARefusalStopsTheRemainingStagesOfThatHook) {
  Three t;
  RequestContext ctx;
  std::string whole = "answer";
  t.b->request = [](RequestContext&) -> Decision { return forbidden("request"); };
  t.b->routed = [](RequestContext&) -> Decision { return forbidden("routed"); };
  t.b->attempt = [](RequestContext&) { return Decision::refuse(forbidden("attempt")); };
  t.b->response = [](RequestContext&, std::string_view) -> Decision { return forbidden("response"); };
  t.b->event = [](RequestContext&, std::string_view) -> Decision { return forbidden("event"); };
  t.b->stream_end = [](RequestContext&) -> Decision { return forbidden("stream_end"); };

  auto expect_refused = [&](Decision d, const std::string& hook) {
    EXPECT_EQ(d.kind(), Decision::Kind::kRefuse) << hook;
    if (d.kind() == Decision::Kind::kRefuse) {
      EXPECT_EQ(d->message, hook);
    }
    EXPECT_EQ(t.take(), (Log{"a:" + hook, "b:" + hook})) << "c must not run after b refused in " << hook;
  };
  expect_refused(t.p.on_request(ctx), "request");
  expect_refused(t.p.on_routed(ctx), "routed");
  expect_refused(t.p.on_attempt(ctx), "attempt");
  expect_refused(t.p.on_response(ctx, whole), "response");
  expect_refused(t.p.on_event(ctx, "data: x\n\n"), "event");
  expect_refused(t.p.on_stream_end(ctx), "stream_end");

  // Whatever was refused, every stage still settles and completes.
  t.p.on_settled(ctx);
  t.p.on_complete(ctx);
  EXPECT_EQ(t.take(), (Log{"c:settled", "b:settled", "a:settled", "c:complete", "b:complete", "a:complete"}));
}

TEST(PipelineHooks, ARefusalAfterAReplacementIsStillARefusal) {
  Three t;
  RequestContext ctx;
  std::string body = "orig";
  ctx.request.body = body;
  t.a->routed = [](RequestContext&) { return Decision::replace("new"); };
  t.b->routed = [](RequestContext&) -> Decision { return forbidden("no"); };
  Decision d = t.p.on_routed(ctx);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->message, "no");
  EXPECT_EQ(t.b->seen_routed, "new");
}

TEST(PipelineHooks, AnAnswerStopsTheRemainingStagesAndComesBackWhole) {
  Three t;
  RequestContext ctx;
  t.a->request = [](RequestContext&) { return Decision::answer({200, "application/json", R"({"cached":1})"}); };
  Decision d = t.p.on_request(ctx);
  ASSERT_EQ(d.kind(), Decision::Kind::kAnswer);
  EXPECT_EQ(d.answer().body, R"({"cached":1})");
  EXPECT_EQ(t.take(), (Log{"a:request"}));

  t.b->routed = [](RequestContext&) { return Decision::answer({203, "text/plain", "canned"}); };
  d = t.p.on_routed(ctx);
  ASSERT_EQ(d.kind(), Decision::Kind::kAnswer);
  EXPECT_EQ(d.answer().status, 203);
  EXPECT_EQ(d.answer().content_type, "text/plain");
  EXPECT_EQ(d.answer().body, "canned");
  EXPECT_EQ(t.take(), (Log{"a:routed", "b:routed"}));

  t.c->attempt = [](RequestContext&) { return Decision::answer({200, "application/json", "{}"}); };
  d = t.p.on_attempt(ctx);
  EXPECT_EQ(d.kind(), Decision::Kind::kAnswer);
  EXPECT_EQ(t.take(), (Log{"a:attempt", "b:attempt", "c:attempt"}));
}

TEST(PipelineHooks, ContinueIsTheDefaultAndNulloptReadsTheSame) {
  Three t;
  RequestContext ctx;
  t.a->routed = [](RequestContext&) -> Decision { return std::nullopt; };
  t.b->routed = [](RequestContext&) { return Decision{}; };
  bool replaced = false;
  EXPECT_EQ(t.p.on_routed(ctx, &replaced).kind(), Decision::Kind::kContinue);
  EXPECT_FALSE(replaced);
  EXPECT_EQ(t.take(), (Log{"a:routed", "b:routed", "c:routed"}));
}

// Drop means nothing before an answer exists: the other stages still run and the request goes on.
TEST(PipelineHooks, DropBeforeTheAnswerIsIgnored) {
  Three t;
  RequestContext ctx;
  std::string body = "orig";
  ctx.request.body = body;
  t.a->routed = [](RequestContext&) { return Decision::drop(); };
  bool replaced = false;
  EXPECT_TRUE(t.p.on_routed(ctx, &replaced).proceeds());
  EXPECT_FALSE(replaced);
  EXPECT_EQ(ctx.request.body, "orig");
  EXPECT_EQ(t.take(), (Log{"a:routed", "b:routed", "c:routed"}));
}

// ---- Replace.

TEST(PipelineHooks, OnRoutedReplacementBecomesTheRequestBodyLaterStagesSee) {
  Three t;
  RequestContext ctx;
  const std::string client = R"({"model":"m","messages":[]})";
  ctx.request.body = client;
  bool replaced = false;
  // Nobody replaces: the body still views the client's bytes.
  EXPECT_TRUE(t.p.on_routed(ctx, &replaced).proceeds());
  EXPECT_FALSE(replaced);
  EXPECT_EQ(ctx.request.body.data(), client.data());
  EXPECT_EQ(t.c->seen_routed, client);

  t.a->routed = [](RequestContext&) { return Decision::replace(R"({"model":"m","messages":[],"a":1})"); };
  EXPECT_TRUE(t.p.on_routed(ctx, &replaced).proceeds());
  EXPECT_TRUE(replaced);
  EXPECT_EQ(t.b->seen_routed, R"({"model":"m","messages":[],"a":1})");
  EXPECT_EQ(t.c->seen_routed, R"({"model":"m","messages":[],"a":1})");
  EXPECT_EQ(ctx.request.body, R"({"model":"m","messages":[],"a":1})");
  EXPECT_EQ(ctx.request.body.data(), ctx.request.body_storage.data()) << "the body views its storage";
  EXPECT_EQ(client, R"({"model":"m","messages":[]})") << "the client's bytes are untouched";
  EXPECT_EQ(ctx.upstream.current.body, "") << "on_routed does not touch the attempt";

  // Two replacements: the later one sees the earlier one and wins.
  ctx.request.body = client;
  t.take();
  t.c->routed = [](RequestContext& c) { return Decision::replace(std::string(c.request.body) + "+c"); };
  replaced = false;
  EXPECT_TRUE(t.p.on_routed(ctx, &replaced).proceeds());
  EXPECT_TRUE(replaced);
  EXPECT_EQ(ctx.request.body, R"({"model":"m","messages":[],"a":1}+c)");
  // Without a `replaced` flag it works the same.
  ctx.request.body = client;
  EXPECT_TRUE(t.p.on_routed(ctx).proceeds());
  EXPECT_EQ(ctx.request.body, R"({"model":"m","messages":[],"a":1}+c)");
}

TEST(PipelineHooks, OnAttemptReplacementBecomesTheAttemptsBody) {
  Three t;
  RequestContext ctx;
  const std::string client = R"({"model":"m"})";
  const std::string translated = R"({"messages":[]})";
  ctx.request.body = client;
  ctx.upstream.current.body = translated;
  bool replaced = false;
  EXPECT_TRUE(t.p.on_attempt(ctx, &replaced).proceeds());
  EXPECT_FALSE(replaced);
  EXPECT_EQ(ctx.upstream.current.body.data(), translated.data());

  t.b->attempt = [](RequestContext& c) { return Decision::replace(std::string(c.upstream.current.body) + " "); };
  EXPECT_TRUE(t.p.on_attempt(ctx, &replaced).proceeds());
  EXPECT_TRUE(replaced);
  EXPECT_EQ(t.b->seen_attempt, translated);
  EXPECT_EQ(t.c->seen_attempt, translated + " ");
  EXPECT_EQ(ctx.upstream.current.body, translated + " ");
  EXPECT_EQ(ctx.upstream.current.body.data(), ctx.upstream.current.body_storage.data());
  EXPECT_EQ(ctx.request.body.data(), client.data()) << "the request's body is not the attempt's";
  EXPECT_TRUE(ctx.request.body_storage.empty());
}

TEST(PipelineHooks, OnResponseReplacementIsWhatLaterStagesAndTheCallerGet) {
  Three t;
  RequestContext ctx;
  std::string body = R"({"answer":"provider"})";
  EXPECT_TRUE(t.p.on_response(ctx, body).proceeds());
  EXPECT_EQ(body, R"({"answer":"provider"})");

  t.a->response = [](RequestContext&, std::string_view) { return Decision::replace(R"({"answer":"a"})"); };
  t.c->response = [](RequestContext&, std::string_view b) { return Decision::replace(std::string(b) + "\n"); };
  EXPECT_TRUE(t.p.on_response(ctx, body).proceeds());
  EXPECT_EQ(t.a->seen_response, R"({"answer":"provider"})");
  EXPECT_EQ(t.b->seen_response, R"({"answer":"a"})");
  EXPECT_EQ(t.c->seen_response, R"({"answer":"a"})");
  EXPECT_EQ(body, "{\"answer\":\"a\"}\n");
}

// ---- on_event folding.

TEST(PipelineEvents, AllContinueIsContinueWithoutACopy) {
  Three t;
  RequestContext ctx;
  const std::string event = "data: {\"x\":1}\n\n";
  Decision d = t.p.on_event(ctx, event);
  EXPECT_EQ(d.kind(), Decision::Kind::kContinue);
  // Every stage saw the provider's own bytes, not a copy.
  EXPECT_EQ(t.a->seen_event_data, event.data());
  EXPECT_EQ(t.b->seen_event_data, event.data());
  EXPECT_EQ(t.c->seen_event_data, event.data());
  EXPECT_EQ(t.take(), (Log{"a:event", "b:event", "c:event"}));
}

TEST(PipelineEvents, AReplacementIsWhatLaterStagesSeeAndWhatGoesOn) {
  Three t;
  RequestContext ctx;
  t.b->event = [](RequestContext&, std::string_view) { return Decision::replace("data: 1\n\ndata: 2\n\n"); };
  Decision d = t.p.on_event(ctx, "data: 0\n\n");
  ASSERT_EQ(d.kind(), Decision::Kind::kReplace);
  EXPECT_EQ(d.body(), "data: 1\n\ndata: 2\n\n");
  EXPECT_EQ(t.a->seen_event, "data: 0\n\n");
  EXPECT_EQ(t.b->seen_event, "data: 0\n\n");
  EXPECT_EQ(t.c->seen_event, "data: 1\n\ndata: 2\n\n");

  // Two replacements: the second replaces the first.
  t.c->event = [](RequestContext&, std::string_view e) { return Decision::replace("data: c\n\n" + std::string(e)); };
  d = t.p.on_event(ctx, "data: 0\n\n");
  ASSERT_EQ(d.kind(), Decision::Kind::kReplace);
  EXPECT_EQ(d.body(), "data: c\n\ndata: 1\n\ndata: 2\n\n");

  // A stage after a replacement that continues leaves the replacement in place.
  Three u;
  u.a->event = [](RequestContext&, std::string_view) { return Decision::replace("data: a\n\n"); };
  d = u.p.on_event(ctx, "data: 0\n\n");
  ASSERT_EQ(d.kind(), Decision::Kind::kReplace);
  EXPECT_EQ(d.body(), "data: a\n\n");
  EXPECT_EQ(u.c->seen_event, "data: a\n\n");
}

TEST(PipelineEvents, AnEmptyReplacementIsADrop) {
  Three t;
  RequestContext ctx;
  t.a->event = [](RequestContext&, std::string_view) { return Decision::replace(""); };
  Decision d = t.p.on_event(ctx, "data: 0\n\n");
  EXPECT_EQ(d.kind(), Decision::Kind::kDrop);
}

TEST(PipelineEvents, ADropStopsTheLaterStages) {
  Three t;
  RequestContext ctx;
  t.b->event = [](RequestContext&, std::string_view) { return Decision::drop(); };
  Decision d = t.p.on_event(ctx, "data: 0\n\n");
  EXPECT_EQ(d.kind(), Decision::Kind::kDrop);
  EXPECT_EQ(t.take(), (Log{"a:event", "b:event"}));
  // A replacement a later stage drops is dropped.
  t.a->event = [](RequestContext&, std::string_view) { return Decision::replace("data: a\n\n"); };
  d = t.p.on_event(ctx, "data: 0\n\n");
  EXPECT_EQ(d.kind(), Decision::Kind::kDrop);
  EXPECT_EQ(t.b->seen_event, "data: a\n\n");
  EXPECT_EQ(t.take(), (Log{"a:event", "b:event"}));
}

TEST(PipelineEvents, ARefusalEndsTheStreamWithItsError) {
  Three t;
  RequestContext ctx;
  t.a->event = [](RequestContext&, std::string_view) { return Decision::replace("data: a\n\n"); };
  t.b->event = [](RequestContext&, std::string_view) -> Decision { return forbidden("guardrail"); };
  Decision d = t.p.on_event(ctx, "data: 0\n\n");
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->message, "guardrail");
  EXPECT_EQ(d->status, 403);
  EXPECT_EQ(t.take(), (Log{"a:event", "b:event"}));
}

TEST(PipelineEvents, StreamEndConcatenatesTheReleasesInOrder) {
  Three t;
  RequestContext ctx;
  EXPECT_EQ(t.p.on_stream_end(ctx).kind(), Decision::Kind::kContinue);
  t.take();
  t.a->stream_end = [](RequestContext&) { return Decision::replace("data: a\n\n"); };
  t.c->stream_end = [](RequestContext&) { return Decision::replace("data: c1\n\ndata: c2\n\n"); };
  Decision d = t.p.on_stream_end(ctx);
  ASSERT_EQ(d.kind(), Decision::Kind::kReplace);
  EXPECT_EQ(d.body(), "data: a\n\ndata: c1\n\ndata: c2\n\n");
  EXPECT_EQ(t.take(), (Log{"a:stream_end", "b:stream_end", "c:stream_end"}));
  // A refusal wins over what was released before it.
  t.b->stream_end = [](RequestContext&) -> Decision { return forbidden("late"); };
  d = t.p.on_stream_end(ctx);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->message, "late");
  EXPECT_EQ(t.take(), (Log{"a:stream_end", "b:stream_end"}));
}

// ---- Slots.

TEST(StageSlots, EachStageHasItsOwnSlotInEachContext) {
  Three t;
  EXPECT_EQ(t.a->slot(), 0u);
  EXPECT_EQ(t.b->slot(), 1u);
  EXPECT_EQ(t.c->slot(), 2u);
  RequestContext one, two;
  EXPECT_EQ(t.a->peek(one), nullptr);
  EXPECT_EQ(t.c->peek(one), nullptr);
  // The last stage first: the slots before it stay empty.
  EXPECT_EQ(t.c->bump(one), 1);
  EXPECT_EQ(t.a->peek(one), nullptr);
  EXPECT_EQ(t.b->peek(one), nullptr);
  ASSERT_NE(t.c->peek(one), nullptr);
  EXPECT_EQ(t.c->peek(one)->n, 1);
  // Made once, then the same state.
  EXPECT_EQ(t.c->bump(one), 2);
  EXPECT_EQ(t.a->bump(one), 1);
  EXPECT_EQ(t.c->bump(one), 3);
  EXPECT_EQ(t.a->bump(one), 2);
  // Another context: its own states.
  EXPECT_EQ(t.c->peek(two), nullptr);
  EXPECT_EQ(t.a->bump(two), 1);
  EXPECT_EQ(t.c->bump(two), 1);
  EXPECT_EQ(t.a->peek(one)->n, 2);
  EXPECT_EQ(t.c->peek(one)->n, 3);
  EXPECT_EQ(t.b->peek(two), nullptr);
  // A moved context keeps its states.
  RequestContext moved = std::move(one);
  ASSERT_NE(t.c->peek(moved), nullptr);
  EXPECT_EQ(t.c->peek(moved)->n, 3);
  EXPECT_EQ(t.c->bump(moved), 4);
}

TEST(StageSlots, FindSlotOutOfRangeIsNull) {
  RequestContext ctx;
  EXPECT_EQ(ctx.find_slot(0), nullptr);
  EXPECT_EQ(ctx.find_slot(1000), nullptr);
  ctx.slot(3);
  EXPECT_EQ(ctx.find_slot(3), nullptr) << "a slot is empty until a stage fills it";
}

// ---- Response headers.

TEST(RequestContextHeaders, SetReplacesAnExistingHeaderInPlace) {
  RequestContext ctx;
  ctx.set_response_header("x-ratelimit-remaining-requests", "9");
  ctx.set_response_header("x-gatehouse-model", "m");
  ctx.set_response_header("x-ratelimit-remaining-requests", "8");
  ASSERT_EQ(ctx.response_headers.size(), 2u);
  EXPECT_EQ(ctx.response_headers[0], (std::pair<std::string, std::string>{"x-ratelimit-remaining-requests", "8"}));
  EXPECT_EQ(ctx.response_headers[1], (std::pair<std::string, std::string>{"x-gatehouse-model", "m"}));
  ctx.set_response_header("x-gatehouse-model", "n");
  ASSERT_EQ(ctx.response_headers.size(), 2u);
  EXPECT_EQ(ctx.response_headers[1].second, "n");
}

}  // namespace
}  // namespace gatehouse::pipeline
