// JSON text writing for mockllm's answers.
//
// Answers are written straight into a string rather than built as a DOM and serialised: the
// mock must cost a few microseconds per request, and the shapes it writes are fixed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace mockllm {

// Appends `s` as a quoted JSON string. Invalid UTF-8 (a recorded request body may hold anything)
// becomes U+FFFD, so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

void append_int(std::string& out, std::int64_t v);

// Shortest text that reads back as the same float; non-finite values become 0.
void append_float(std::string& out, float v);

// Appends any JSON value (an echoed request setting). Doubles are written in their shortest
// round-trip form (`0.7`, `1.0`), as the APIs echo them, not in Boost.JSON's exponent form.
void append_json_value(std::string& out, const boost::json::value& v);

// Number of Unicode code points in UTF-8 text (bytes that do not continue a sequence).
std::size_t count_code_points(std::string_view s);

// The longest prefix of `s` holding at most `n` code points; never splits a sequence.
std::string_view prefix_code_points(std::string_view s, std::size_t n);

// The largest index <= `pos` that starts a code point, so a split there leaves valid UTF-8.
std::size_t code_point_boundary(std::string_view s, std::size_t pos);

}  // namespace mockllm
