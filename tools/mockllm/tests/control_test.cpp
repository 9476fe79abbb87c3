#include "control.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace mockllm {
namespace {

TEST(Control, BodyOptions) {
  Control c;
  auto mock = boost::json::parse(R"({"latency_ms":5,"tokens":0,"inter_token_ms":2,"status":429,
      "retry_after":3,"reset":"mid","error_body":"<html>","error_content_type":"text/html"})");
  EXPECT_EQ(apply_body_options(c, mock.as_object()), std::nullopt);
  EXPECT_EQ(c.latency_ms, 5);
  EXPECT_EQ(c.tokens, 0);
  EXPECT_EQ(c.inter_token_ms, 2);
  EXPECT_EQ(c.status, 429);
  EXPECT_EQ(c.retry_after, 3);
  EXPECT_EQ(c.reset, ResetMode::kMid);
  EXPECT_EQ(c.error_body, "<html>");
  EXPECT_EQ(c.error_content_type, "text/html");
}

TEST(Control, HeadersTakeEitherSpelling) {
  Control c;
  EXPECT_EQ(apply_header_option(c, "latency-ms", "7"), std::nullopt);
  EXPECT_EQ(apply_header_option(c, "inter_token_ms", "9"), std::nullopt);
  EXPECT_EQ(apply_header_option(c, "reset", "before"), std::nullopt);
  EXPECT_EQ(c.latency_ms, 7);
  EXPECT_EQ(c.inter_token_ms, 9);
  EXPECT_EQ(c.reset, ResetMode::kBefore);
}

TEST(Control, CacheStopSequenceAndStreamErrorOptions) {
  Control c;
  EXPECT_EQ(c.stream_error_after, -1);
  auto mock = boost::json::parse(R"({"cache_read_tokens":100,"cache_creation_tokens":20,
      "stop_sequence_hit":true,"stream_error_after":3})");
  EXPECT_EQ(apply_body_options(c, mock.as_object()), std::nullopt);
  EXPECT_EQ(c.cache_read_tokens, 100);
  EXPECT_EQ(c.cache_creation_tokens, 20);
  EXPECT_TRUE(c.stop_sequence_hit);
  EXPECT_EQ(c.stream_error_after, 3);
  EXPECT_EQ(apply_header_option(c, "stop-sequence-hit", "false"), std::nullopt);
  EXPECT_FALSE(c.stop_sequence_hit);
  EXPECT_EQ(apply_header_option(c, "stop_sequence_hit", "1"), std::nullopt);
  EXPECT_TRUE(c.stop_sequence_hit);
  EXPECT_EQ(apply_header_option(c, "cache-read-tokens", "7"), std::nullopt);
  EXPECT_EQ(c.cache_read_tokens, 7);
  EXPECT_EQ(apply_header_option(c, "stream-error-after", "0"), std::nullopt);
  EXPECT_EQ(c.stream_error_after, 0);
  EXPECT_EQ(c.linger_ms, 0);
  EXPECT_EQ(apply_header_option(c, "linger-ms", "250"), std::nullopt);
  EXPECT_EQ(c.linger_ms, 250);
  EXPECT_NE(apply_header_option(c, "linger_ms", "-5"), std::nullopt);
  EXPECT_NE(apply_header_option(c, "stop_sequence_hit", "yes"), std::nullopt);
  EXPECT_NE(apply_header_option(c, "cache_read_tokens", "-1"), std::nullopt);
  EXPECT_NE(
      apply_body_options(c, boost::json::parse(R"({"stop_sequence_hit":"true"})").as_object()),
      std::nullopt);
}

TEST(Control, RejectsTyposAndBadValues) {
  Control c;
  EXPECT_NE(apply_header_option(c, "latency", "7"), std::nullopt);
  EXPECT_NE(apply_header_option(c, "tokens", "many"), std::nullopt);
  EXPECT_NE(apply_header_option(c, "status", "100"), std::nullopt);
  EXPECT_NE(apply_header_option(c, "reset", "later"), std::nullopt);
  auto mock = boost::json::parse(R"({"latency_ms":"5"})");
  EXPECT_NE(apply_body_options(c, mock.as_object()), std::nullopt);
}

TEST(Defaults, StickyOptionsAreWhatARequestStartsFrom) {
  Defaults d;
  EXPECT_EQ(d.json(), "{}");
  EXPECT_EQ(d.control().status, 0);
  EXPECT_EQ(d.set(boost::json::parse(R"({"status":429,"retry_after":2,"cache_read_tokens":40})")
                      .as_object()),
            std::nullopt);
  Control c = d.control();
  EXPECT_EQ(c.status, 429);
  EXPECT_EQ(c.retry_after, 2);
  EXPECT_EQ(c.cache_read_tokens, 40);
  EXPECT_EQ(c.tokens, 8);  // options not named keep their usual value
  EXPECT_EQ(boost::json::parse(d.json()),
            boost::json::parse(R"({"status":429,"retry_after":2,"cache_read_tokens":40})"));
  // A request's own options apply on top.
  EXPECT_EQ(apply_header_option(c, "status", "503"), std::nullopt);
  EXPECT_EQ(c.status, 503);
  EXPECT_EQ(c.retry_after, 2);

  // Setting replaces (not merges); a bad option changes nothing.
  EXPECT_EQ(d.set(boost::json::parse(R"({"tokens":2})").as_object()), std::nullopt);
  EXPECT_EQ(d.control().status, 0);
  EXPECT_EQ(d.control().tokens, 2);
  EXPECT_NE(d.set(boost::json::parse(R"({"tokens":3,"tokenz":1})").as_object()), std::nullopt);
  EXPECT_EQ(d.control().tokens, 2);

  EXPECT_EQ(d.set(boost::json::object{}), std::nullopt);
  EXPECT_EQ(d.control().tokens, 8);
  EXPECT_EQ(d.json(), "{}");
  EXPECT_EQ(d.set(boost::json::parse(R"({"tokens":1})").as_object()), std::nullopt);
  d.clear();
  EXPECT_EQ(d.control().tokens, 8);
  EXPECT_EQ(d.json(), "{}");
}

}  // namespace
}  // namespace mockllm
