// Writing HTTP/1.1 messages whose body is one flat buffer: the start line and the fields go
// into one string, the body follows in the same gather write. Beast's general serializer walks
// a chain of buffer views per write, which measured at a fifth of the gateway's instructions
// per request (callgrind); every message the gateway writes has a flat body, so it needs none
// of that generality.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <string>
#include <string_view>

namespace gatehouse::http {

// "HTTP/1.x CODE Reason\r\n" + fields + "\r\n".
// The reason phrase for `status` on a status line: RFC 9110's, or for a status outside its list
// (a provider's own, e.g. Anthropic's 529) a phrase naming its class — never "<unknown-status>".
std::string_view reason_phrase(unsigned status);

std::string response_head(unsigned version, unsigned status,
                          const boost::beast::http::fields& fields);

// "METHOD target HTTP/1.1\r\n" + fields + "\r\n".
std::string request_head(std::string_view method, std::string_view target,
                         const boost::beast::http::fields& fields);

// The frame around one chunk of a chunked body: "SIZE-IN-HEX\r\n" (the data and "\r\n" follow).
std::string_view chunk_header(std::size_t size, char (&scratch)[24]);

}  // namespace gatehouse::http
