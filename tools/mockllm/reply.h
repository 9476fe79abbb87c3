// What a wire shape decided to answer, before any byte is written.
//
// Wire shapes (openai.cpp, anthropic.cpp, databricks.cpp) are pure functions from a parsed
// request to a Reply; only server.cpp does I/O. That keeps the shapes unit-testable and lets
// the server apply latency, pacing and resets the same way to every shape.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mockllm {

struct StreamEvent {
  std::string data;    // one complete SSE event ("data: ...\n\n"), written with a single write
  bool paced = false;  // preceded by the request's inter_token_ms delay (token chunks are)
};

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
  bool stream = false;
  std::string body;                 // the whole body when !stream
  std::vector<StreamEvent> events;  // the body as server-sent events when stream
};

}  // namespace mockllm
