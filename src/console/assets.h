// The console's files (/ui/...), bundled from ui/ by esbuild at build time and compiled into the
// binary (cmake/embed_assets.cmake): nothing is read from disk or fetched when serving.
#pragma once

#include <string_view>

namespace gatehouse::console {

struct Asset {
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // a strong validator: "\"<first 32 hex digits of the SHA-256>\""
};

// The file named `name` ("index.html", "app.js", "app.css"); nullptr when there is none.
const Asset* asset(std::string_view name);

}  // namespace gatehouse::console
