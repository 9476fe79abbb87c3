#include "config/env.h"

#include <cstdlib>

namespace gatehouse::config {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<std::string> expand_env(const std::string& value, const EnvLookup& env,
                                      std::string& error, std::vector<std::string>* empty) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '$') {
      out += value[i];
      continue;
    }
    if (value.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 2;
      continue;
    }
    if (i + 1 >= value.size() || value[i + 1] != '{') {
      out += '$';
      continue;
    }
    std::size_t close = value.find('}', i + 2);
    if (close == std::string::npos) {
      error = "unterminated ${ in value (write $${ for a literal ${)";
      return std::nullopt;
    }
    std::string name = value.substr(i + 2, close - i - 2);
    bool valid = !name.empty();
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) valid = false;
    }
    if (!valid) {
      error = "invalid environment variable reference ${" + name + "}";
      return std::nullopt;
    }
    auto v = env(name);
    if (!v) {
      error = "environment variable " + name + " is not set";
      return std::nullopt;
    }
    if (v->empty() && empty != nullptr) empty->push_back(name);
    out += *v;
    i = close;
  }
  return out;
}

}  // namespace gatehouse::config
