#include "http/wire.h"

#include <charconv>

namespace gatehouse::http {

namespace {
void append_fields(std::string& out, const boost::beast::http::fields& fields) {
  for (const auto& f : fields) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}
}  // namespace

std::string_view reason_phrase(unsigned status) {
  std::string_view known = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  if (known != "<unknown-status>") return known;
  // A status outside RFC 9110's list, relayed from a provider (Anthropic's 529): its class's name.
  if (status == 529) return "Overloaded";
  switch (status / 100) {
    case 1: return "Informational";
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Client Error";
    default: return "Server Error";
  }
}

std::string response_head(unsigned version, unsigned status,
                          const boost::beast::http::fields& fields) {
  std::string out;
  out.reserve(256);
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof code, status);
  out.append(code, end);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\n");
  append_fields(out, fields);
  return out;
}

std::string request_head(std::string_view method, std::string_view target,
                         const boost::beast::http::fields& fields) {
  std::string out;
  out.reserve(256 + target.size());
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  append_fields(out, fields);
  return out;
}

std::string_view chunk_header(std::size_t size, char (&scratch)[24]) {
  auto [end, ec] = std::to_chars(scratch, scratch + 20, size, 16);
  *end++ = '\r';
  *end++ = '\n';
  return std::string_view(scratch, std::size_t(end - scratch));
}

}  // namespace gatehouse::http
