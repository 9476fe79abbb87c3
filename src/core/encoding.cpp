#include "core/encoding.h"

#include <fnmatch.h>
#include <openssl/evp.h>

namespace gatehouse {

namespace {
const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

std::string base64url_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(in), int(in.size()));
  out.resize(std::size_t(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (auto& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string std_alphabet;
  std_alphabet.reserve(in.size() + 3);
  for (char c : in) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      std_alphabet.push_back(c);
    } else if (c == '-') {
      std_alphabet.push_back('+');
    } else if (c == '_') {
      std_alphabet.push_back('/');
    } else {
      return std::nullopt;
    }
  }
  const std::size_t pad = (4 - in.size() % 4) % 4;
  std_alphabet.append(pad, '=');
  std::string out(std_alphabet.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(std_alphabet), int(std_alphabet.size()));
  if (n < 0 || std::size_t(n) < pad) return std::nullopt;
  // EVP_DecodeBlock counts the bytes the padding stands for; they are not data.
  out.resize(std::size_t(n) - pad);
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

}  // namespace gatehouse
