#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gatehouse {

// `digits` random lowercase hex digits (4 bits each) from a thread-local generator seeded from the
// OS: ids that must be unique, not secret (a session nonce takes RAND_bytes instead).
std::string random_hex(std::size_t digits);

// A new random request id: "req_" + 24 hex digits (96 bits), unique enough to find a record.
std::string new_request_id();

// True when a client-supplied x-request-id is safe to adopt (1-128 chars of [A-Za-z0-9._:-]):
// it goes into logs and upstream headers, so nothing that could forge a log line or a header.
bool acceptable_request_id(std::string_view id);

}  // namespace gatehouse
