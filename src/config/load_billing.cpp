// billing: — Databricks spend imported beside model spend (docs/billing.md).
#include <cctype>
#include <charconv>

#include "config/reader.h"

namespace gatehouse::config {

namespace {

// "HH:MM" (24-hour, UTC) as minutes after midnight; nullopt when it is not one.
std::optional<int> minutes_of(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  auto [p1, e1] = std::from_chars(s.data(), s.data() + 2, h);
  auto [p2, e2] = std::from_chars(s.data() + 3, s.data() + 5, m);
  if (e1 != std::errc() || e2 != std::errc() || p1 != s.data() + 2 || p2 != s.data() + 5) return std::nullopt;
  if (h < 0 || h > 23 || m < 0 || m > 59) return std::nullopt;
  return h * 60 + m;
}

// The databricks provider billing uses: the one named, or the only one there is.
void pick_provider(Reader& r, const YAML::Node& dn, const Config& c, DatabricksBillingConfig& b) {
  const std::string where = "billing.databricks.provider";
  std::string databricks;
  int count = 0;
  for (const auto& [name, p] : c.providers) {
    if (p.kind != ProviderKind::kDatabricks) continue;
    databricks += (databricks.empty() ? "" : ", ") + name;
    ++count;
    if (b.provider.empty() && count == 1) b.provider = name;
  }
  const YAML::Node at = dn["provider"] ? dn["provider"] : dn;
  if (count == 0) {
    b.provider.clear();
    return r.error(at, "billing.databricks needs a provider of kind databricks: its workspace host and "
                       "credentials run the billing query (add one under providers)");
  }
  if (!dn["provider"] && count > 1) {
    b.provider.clear();
    return r.error(dn, "billing.databricks: several databricks providers (" + databricks +
                           "); name the one whose workspace runs the billing query with provider:");
  }
  auto it = c.providers.find(b.provider);
  if (it == c.providers.end()) {
    return r.error(at, where + ": no provider named '" + b.provider + "' (databricks providers: " + databricks + ")");
  }
  if (it->second.kind != ProviderKind::kDatabricks) {
    return r.error(at, where + ": provider '" + b.provider + "' is of kind " +
                           std::string(to_string(it->second.kind)) + "; billing needs a databricks one (" +
                           databricks + ")");
  }
  if (it->second.token.empty() && it->second.client_id.empty()) {
    r.error(at, "billing.databricks: provider '" + b.provider + "' has no credential of its own (a token, or "
                "auth.client_id and auth.client_secret of a service principal); the billing query needs one");
  }
}

}  // namespace

void read_billing(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.expect_map(n, "billing", {"databricks"}) || !n["databricks"]) return;
  const YAML::Node& dn = n["databricks"];
  if (!r.expect_map(dn, "billing.databricks", {"warehouse_id", "tag", "provider", "days", "at"})) return;
  DatabricksBillingConfig b;
  bool ok = true;
  if (!dn["warehouse_id"]) {
    r.error(dn, "billing.databricks needs a warehouse_id: the SQL warehouse that runs the billing query "
                "(its id is in the warehouse's Connection details)");
    ok = false;
  } else if (auto v = r.required(dn["warehouse_id"], "billing.databricks.warehouse_id")) {
    bool plain = v->size() <= 64;
    for (char ch : *v) plain = plain && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
    if (!plain) {
      r.error(dn["warehouse_id"], "billing.databricks.warehouse_id must be a warehouse id (letters, digits, - and _), "
                                  "such as 1234567890abcdef");
      ok = false;
    }
    b.warehouse_id = *v;
  } else {
    ok = false;
  }
  if (dn["tag"]) {
    if (auto v = r.required(dn["tag"], "billing.databricks.tag")) {
      if (v->size() > 255) {
        r.error(dn["tag"], "billing.databricks.tag must be at most 255 characters");
        ok = false;
      }
      b.tag = *v;
    } else {
      ok = false;
    }
  }
  if (dn["provider"]) {
    if (auto v = r.required(dn["provider"], "billing.databricks.provider")) {
      b.provider = *v;
    } else {
      ok = false;
    }
  }
  if (dn["days"]) {
    if (auto v = r.integer(dn["days"], "billing.databricks.days", 1, 92)) {
      b.days = int(*v);
    } else {
      ok = false;
    }
  }
  if (dn["at"]) {
    auto v = r.string(dn["at"], "billing.databricks.at");
    auto minutes = v ? minutes_of(*v) : std::nullopt;
    if (!minutes) {
      if (v) r.error(dn["at"], "billing.databricks.at must be a time of day in UTC as HH:MM, such as \"02:00\"");
      ok = false;
    } else {
      b.at_minute = *minutes;
    }
  }
  const std::size_t errors_before = r.diagnostics().size();
  pick_provider(r, dn, c, b);
  ok = ok && r.diagnostics().size() == errors_before;
  if (!c.store.configured()) {
    r.error(n, "billing needs a store: imported costs are kept there, beside the usage records they are shown "
               "with (add store: {sqlite: \"./gatehouse.db\"} or store: {postgres: URL})");
    ok = false;
  }
  if (ok) c.billing.databricks = std::move(b);
}

}  // namespace gatehouse::config
