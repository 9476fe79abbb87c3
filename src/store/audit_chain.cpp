#include "store/audit_chain.h"

#include <cstdlib>
#include <string_view>

#include "config/config.h"

namespace gatehouse::store {

namespace {
std::string hex(const config::Sha256& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = kDigits[d[i] >> 4];
    out[2 * i + 1] = kDigits[d[i] & 15];
  }
  return out;
}
}  // namespace

std::string audit_hash(std::int64_t id, const AuditRecord& r, const std::string& prev_hash) {
  std::string text;
  auto field = [&](std::string_view v) {
    text += std::to_string(v.size());
    text += ':';
    text += v;
    text += ';';
  };
  field(std::to_string(id));
  field(std::to_string(r.time_ms));
  field(r.kind);
  field(r.actor);
  field(r.subject);
  field(r.detail);
  field(r.request_id);
  field(prev_hash);
  return hex(config::sha256(text));
}

void audit_continue_from(const std::optional<std::string>& recorded, std::int64_t& id,
                         std::string& prev) {
  if (!recorded) return;
  const std::size_t colon = recorded->find(':');
  const std::int64_t head_id = std::atoll(recorded->c_str());
  if (colon != std::string::npos && head_id > id) {
    id = head_id;
    prev = recorded->substr(colon + 1);
  }
}

void AuditCheck::bad(std::int64_t id, std::string problem) {
  v_.intact = false;
  v_.first_bad_id = id;
  v_.problem = std::move(problem);
}

bool AuditCheck::add(std::int64_t id, const AuditRecord& r, const std::string& prev_hash,
                     const std::string& hash) {
  ++v_.rows;
  if (id != expected_id_) {
    bad(expected_id_, id > expected_id_
                          ? "row " + std::to_string(expected_id_) +
                                (id - expected_id_ > 1 ? " to " + std::to_string(id - 1) : "") +
                                " missing (deleted)"
                          : "row " + std::to_string(id) + " is out of order");
    return false;
  }
  if (prev_hash != prev_) {
    bad(id, "row " + std::to_string(id) + " does not follow row " + std::to_string(id - 1) +
                " (its previous-hash differs: rows were reordered, or one before it was replaced)");
    return false;
  }
  if (audit_hash(id, r, prev_hash) != hash) {
    bad(id, "row " + std::to_string(id) + " was edited (its hash does not match its content)");
    return false;
  }
  prev_ = hash;
  ++expected_id_;
  return true;
}

AuditVerdict AuditCheck::finish(const std::optional<std::string>& h) {
  if (!v_.intact) return v_;
  if (h) {
    if (*h != head()) {
      std::int64_t head_id = std::atoll(h->c_str());
      if (head_id >= expected_id_) {
        bad(expected_id_, "row " + std::to_string(expected_id_) +
                              (head_id > expected_id_ ? " to " + std::to_string(head_id) : "") +
                              " missing (deleted from the end of the chain)");
      } else {
        bad(expected_id_ - 1,
            "row " + std::to_string(expected_id_ - 1) + " is not the chain's recorded head");
      }
    }
  } else if (v_.rows > 0) {
    bad(1, "the chain's head record is missing");
  }
  return v_;
}

}  // namespace gatehouse::store
