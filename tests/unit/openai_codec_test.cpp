#include <gtest/gtest.h>

#include "api/openai.h"

namespace gatehouse::api {
namespace {

CanonicalRequest decode_ok(Operation op, std::string body) {
  auto r = decode_request(op == Operation::kInvocations ? ApiShape::kDatabricks : ApiShape::kOpenAI, op, body);
  if (auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << e->message;
  return std::get<CanonicalRequest>(r);
}

Error decode_err(Operation op, std::string body) {
  auto r = decode_request(op == Operation::kInvocations ? ApiShape::kDatabricks : ApiShape::kOpenAI, op, body);
  EXPECT_TRUE(std::holds_alternative<Error>(r)) << "expected an error for " << body;
  return std::holds_alternative<Error>(r) ? std::get<Error>(r) : Error{};
}

TEST(OpenAIDecode, ReadsModelStreamAndUsageOption) {
  auto r = decode_ok(Operation::kChat,
                     R"({"messages":[{"role":"user","content":"hi"}], "model" : "chat-small" ,)"
                     R"("stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function"}]})");
  EXPECT_EQ(r.model, "chat-small");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAIDecode, RewriteReplacesOnlyTheModelToken) {
  std::string body =
      R"({"model" : "chat-small" , "messages":[{"role":"user","content":"model \"chat-small\""}],"seed":7,"x_unknown":{"a":[1,2]}})";
  auto r = decode_ok(Operation::kChat, body);
  EXPECT_EQ(rewrite_model(body, r, "gpt-\"x\""),
            R"({"model" : "gpt-\"x\"" , "messages":[{"role":"user","content":"model \"chat-small\""}],"seed":7,"x_unknown":{"a":[1,2]}})");
}

TEST(OpenAIDecode, EscapedModelNameIsUnescaped) {
  std::string body = R"({"model":"chat\u002dsmall","input":"x"})";
  auto r = decode_ok(Operation::kEmbeddings, body);
  EXPECT_EQ(r.model, "chat-small");
  EXPECT_EQ(rewrite_model(body, r, "e"), R"({"model":"e","input":"x"})");
}

TEST(OpenAIDecode, EmbeddingsAcceptStringOrArrayInput) {
  decode_ok(Operation::kEmbeddings, R"({"model":"e","input":"hello"})");
  decode_ok(Operation::kEmbeddings, R"({"model":"e","input":["a","b"],"encoding_format":"base64"})");
  decode_ok(Operation::kEmbeddings, R"({"model":"e","input":[[1,2],[3]]})");
  auto e = decode_err(Operation::kEmbeddings, R"({"model":"e","input":5})");
  EXPECT_EQ(e.param, "input");
}

TEST(OpenAIDecode, ErrorsNameTheField) {
  auto e = decode_err(Operation::kChat, R"({"messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "model");
  EXPECT_NE(e.message.find("'model' is required"), std::string::npos);

  e = decode_err(Operation::kChat, R"({"model":42,"messages":[]})");
  EXPECT_EQ(e.param, "model");
  EXPECT_NE(e.message.find("must be a string"), std::string::npos);

  e = decode_err(Operation::kChat, R"({"model":"m"})");
  EXPECT_EQ(e.param, "messages");

  e = decode_err(Operation::kChat, R"({"model":"m","messages":"hi"})");
  EXPECT_EQ(e.param, "messages");
  EXPECT_NE(e.message.find("got a string"), std::string::npos);

  e = decode_err(Operation::kChat, R"({"model":"m","messages":[]})");
  EXPECT_EQ(e.param, "messages");

  e = decode_err(Operation::kChat, R"({"model":"m","messages":[3]})");
  EXPECT_EQ(e.param, "messages");

  e = decode_err(Operation::kChat, R"({"model":"m","messages":[{"role":"user"}],"stream":"yes"})");
  EXPECT_EQ(e.param, "stream");

  e = decode_err(Operation::kEmbeddings, R"({"model":"m"})");
  EXPECT_EQ(e.param, "input");
}

TEST(OpenAIDecode, MalformedJsonAnywhereIs400) {
  for (const char* body : {"", "not json", "{", R"({"model":"m",)", "[1,2]", R"("str")",
                           R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":tru})",
                           R"({"model":"m","messages":[{"role":"user","content":"x"}]} trailing)",
                           R"({"model":"m","messages":[{"role":"user","content":"\q"}]})"}) {
    auto e = decode_err(Operation::kChat, body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.kind, ErrorKind::kBadRequest) << body;
  }
}

// Found by tests/fuzz/fuzz_text: a value that starts like null but is not (`numl`) made the
// decoder throw simdjson_error instead of answering 400 (the connection was dropped).
TEST(OpenAIDecode, ANearNullIs400NotAnException) {
  for (const char* body : {R"({"model":"m","messages":[{"role":"user","content":numl}]})",
                           R"({"model":"m","messages":[{"role":"user","content":"x"}],"user":nul})",
                           R"({"model":"m","messages":[{"role":"user","content":"x","name":n}]})"}) {
    for (Operation op : {Operation::kChat, Operation::kInvocations}) {
      Error e;
      EXPECT_NO_THROW(e = decode_err(op, body)) << body;
      EXPECT_EQ(e.status, 400) << body;
    }
  }
  std::string anthropic = R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"system":nulx})";
  std::variant<CanonicalRequest, Error> r;
  EXPECT_NO_THROW(r = decode_request(ApiShape::kAnthropic, Operation::kChat, anthropic));
  EXPECT_TRUE(std::holds_alternative<Error>(r));
}

TEST(OpenAIErrors, EncodeInOpenAIShape) {
  Error e = Error::not_found("The model 'x' does not exist", "model_not_found");
  EXPECT_EQ(encode_error(e),
            R"({"error":{"message":"The model 'x' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}})");
  Error a = Error::unauthenticated("bad \"key\"");
  EXPECT_EQ(encode_error(a),
            R"({"error":{"message":"bad \"key\"","type":"authentication_error","param":null,"code":"invalid_api_key"}})");
  EXPECT_EQ(error_type(Error::upstream_timeout("t")), "upstream_error");
  EXPECT_EQ(Error::upstream_timeout("t").status, 504);
  EXPECT_EQ(Error::upstream_connect("t").status, 502);
}

TEST(OpenAIErrors, RecognisesOpenAIErrorBodies) {
  EXPECT_TRUE(is_openai_error_body(R"({"error":{"message":"x","type":"y"}})"));
  EXPECT_FALSE(is_openai_error_body(R"({"error_code":"REQUEST_LIMIT_EXCEEDED","message":"x"})"));
  EXPECT_FALSE(is_openai_error_body("<html>502</html>"));
  EXPECT_FALSE(is_openai_error_body(R"({"error":"text"})"));
}

}  // namespace
}  // namespace gatehouse::api
