#include "json_text.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace mockllm {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonText, EscapesWhatJsonRequires) {
  EXPECT_EQ(quoted("a\"b\\c\nd\te\x01"), R"("a\"b\\c\nd\te\u0001")");
  EXPECT_EQ(quoted("héllo €"), "\"héllo €\"");
}

TEST(JsonText, InvalidUtf8BecomesReplacementCharacter) {
  const std::string out = quoted(
      "a\xff"
      "b\xc3");
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
  boost::system::error_code ec;
  boost::json::parse(out, ec);
  EXPECT_FALSE(ec);
}

TEST(JsonText, CodePointHelpersNeverSplitASequence) {
  EXPECT_EQ(count_code_points("héllo"), 5u);
  EXPECT_EQ(prefix_code_points("héllo", 2), "hé");
  EXPECT_EQ(prefix_code_points("hi", 16), "hi");
  EXPECT_EQ(code_point_boundary("hé", 2), 1u);  // byte 2 continues the 'é' that starts at 1
}

TEST(JsonText, FloatsReadBack) {
  std::string out;
  append_float(out, -0.25f);
  EXPECT_EQ(out, "-0.25");
}

}  // namespace
}  // namespace mockllm
