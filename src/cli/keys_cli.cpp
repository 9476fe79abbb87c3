#include "cli/keys_cli.h"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "cli/cli_common.h"
#include "cli/records_cli.h"
#include "config/load.h"
#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/store_open.h"

namespace gatehouse::cli {

namespace {

namespace json = boost::json;

// Whether the config names a key store (else a message saying how to add one).
bool names_store(const config::Config& c, const std::string& path, std::ostream& err) {
  if (c.store.configured()) return true;
  err << path << " names no key store: add\n  store:\n    sqlite: \"./gatehouse.db\"\n"
      << "(or, for several gateway replicas, store:\n    postgres: \"postgresql://USER:${PGPASSWORD}@HOST:5432/DB\")\n"
      << "to keep keys made with `gatehouse keys` (the gateway reads the same store)\n";
  return false;
}

// The store the config names, or null after a message.
std::unique_ptr<store::KeyStore> open_store(const config::Config& c, const std::string& path,
                                            std::ostream& err) {
  if (!names_store(c, path, err)) return nullptr;
  auto opened = store::open_key_store(c.store);
  if (auto* e = std::get_if<std::string>(&opened)) {
    err << *e << '\n';
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<store::KeyStore>>(opened));
}

std::string join_names(const std::map<std::string, config::RoleConfig>& roles) {
  std::string s;
  for (const auto& [name, role] : roles) s += (s.empty() ? "" : ", ") + name;
  return s;
}

std::string tags_text(const store::StoredKey& k) {
  std::string s;
  for (const auto& [tag, value] : k.tags) s += (s.empty() ? "" : ",") + tag + "=" + value;
  return s;
}

std::string shown_prefix(const store::StoredKey& k) { return "gh_" + k.prefix + "\u2026"; }

// Whether a new stored key may take `name`: a valid name that no key of the config file has.
bool name_is_free(const config::Config& c, const std::string& name, const std::string& path, std::ostream& err) {
  if (auto e = store::check_key_name(name)) {
    err << *e << '\n';
    return false;
  }
  for (const auto& k : c.keys) {
    if (k.name == name) {
      err << "a key named '" << name << "' is already defined in " << path
          << " (keys:); choose another name\n";
      return false;
    }
  }
  return true;
}

// Whether `role` fits the config: one of its roles once it defines roles, else none.
bool role_fits(const config::Config& c, const std::string& role, const std::string& path, std::ostream& err) {
  if (c.roles_defined) {
    if (!c.roles.contains(role)) {
      err << (role.empty() ? std::string("--role is required: ")
                           : "role '" + role + "' is not defined in " + path + "; ")
          << "the roles are: " << (c.roles.empty() ? "(none)" : join_names(c.roles)) << '\n';
      return false;
    }
  } else if (!role.empty()) {
    err << "role '" << role << "': " << path
        << " defines no roles (add them under roles: first, or leave out --role)\n";
    return false;
  }
  return true;
}

// --expires and --tag onto the key; false after a message.
bool set_expiry_and_tags(store::StoredKey& key, std::int64_t now, const std::string& expires,
                         const std::vector<std::string>& tags, std::ostream& err) {
  if (!expires.empty()) {
    auto lifetime = store::parse_lifetime(expires);
    if (!lifetime) {
      err << "--expires " << expires << ": write a count and a unit: 90m, 12h, 30d\n";
      return false;
    }
    key.expires_at = now + *lifetime;
  }
  for (const auto& t : tags) {
    auto eq = t.find('=');
    if (eq == std::string::npos) {
      err << "--tag " << t << ": write it as name=value\n";
      return false;
    }
    key.tags.emplace_back(t.substr(0, eq), t.substr(eq + 1));
  }
  return true;
}

// What `keys create` says about the key it made; the secret itself comes last.
void print_created(std::ostream& out, const store::StoredKey& k, const std::string& store_path,
                   const std::string& secret) {
  out << "created key '" << k.name << "' in " << store_path << '\n';
  if (!k.role.empty()) out << "  role:    " << k.role << '\n';
  if (!k.project.empty()) out << "  project: " << k.project << '\n';
  if (!k.tags.empty()) out << "  tags:    " << tags_text(k) << '\n';
  out << "  expires: " << (k.expires_at ? store::format_utc(k.expires_at) : "never") << '\n';
  out << "The key follows. It is shown only this once (only its digest is kept): hand it over "
         "now.\n";
  out << secret << std::endl;
}

}  // namespace

void KeysCommand::add_to(CLI::App& keys) {
  keys.require_subcommand(1);
  auto config_option = [this](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path_,
                    "YAML configuration file (its store: sqlite or postgres)")
        ->required();
  };

  create_cmd_ = keys.add_subcommand(
      "create", "Create a key; prints it once, on the last line (only its SHA-256 digest is kept)");
  config_option(create_cmd_);
  create_cmd_->add_option("--name", name_, "Unique name: letters, digits, '.', '_', '-'")
      ->required();
  create_cmd_->add_option("--role", role_,
                          "Role (one of the config's roles; required once roles exist)");
  create_cmd_->add_option("--project", project_, "Project the key's usage is attributed to");
  create_cmd_->add_option("--expires", expires_,
                          "Lifetime from now: 90m, 12h, 30d (default: never)");
  create_cmd_->add_option("--tag", tags_, "A tag k=v (repeatable)")->allow_extra_args(false);

  list_cmd_ = keys.add_subcommand("list", "List the stored keys (never their secrets)");
  config_option(list_cmd_);
  list_cmd_->add_option("--format", format_, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));

  revoke_cmd_ = keys.add_subcommand(
      "revoke", "Revoke a stored key; gateways refuse it within about a second");
  config_option(revoke_cmd_);
  revoke_cmd_->add_option("name", name_, "The key's name")->required();
}

int KeysCommand::run(std::ostream& out, std::ostream& err) const {
  try {
    if (*create_cmd_) return create(out, err);
    if (*list_cmd_) return list(out, err);
    if (*revoke_cmd_) return revoke(out, err);
  } catch (const std::exception& e) {
    err << "gatehouse keys: " << e.what() << '\n';
    return 1;
  }
  return 2;
}

int KeysCommand::create(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  if (!names_store(*c, config_path_, err)) return 1;

  store::StoredKey key;
  key.name = name_;
  if (!name_is_free(*c, name_, config_path_, err)) return 1;
  if (!role_fits(*c, role_, config_path_, err)) return 1;
  key.role = role_;
  key.project = project_;

  std::int64_t now = store::unix_now();
  key.created_at = now;
  if (!set_expiry_and_tags(key, now, expires_, tags_, err)) return 1;

  std::string secret = store::new_secret();
  key.digest = config::sha256(secret);
  key.prefix = store::secret_prefix(secret);
  if (auto e = store::check_new_key(key)) {
    err << *e << '\n';
    return 1;
  }

  auto st = open_store(*c, config_path_, err);
  if (!st) return 1;
  auto created = st->create(key);
  if (auto* e = std::get_if<std::string>(&created)) {
    err << *e << '\n';
    return 1;
  }
  const auto& k = std::get<store::StoredKey>(created);
  const std::string audit_error =
      audit_from_cli(*c, "key.create", "key " + k.name,
                     boost::json::serialize(boost::json::object{
                         {"role", k.role}, {"project", k.project}, {"expires_at", k.expires_at}}));
  if (!audit_error.empty()) err << "the key is created, but the audit chain could not record it: " << audit_error << '\n';
  print_created(out, k, c->store.shown(), secret);
  return audit_error.empty() ? 0 : 1;
}

int KeysCommand::list(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto st = open_store(*c, config_path_, err);
  if (!st) return 1;
  auto listed = st->list();
  if (auto* e = std::get_if<std::string>(&listed)) {
    err << *e << '\n';
    return 1;
  }
  const auto& keys = std::get<std::vector<store::StoredKey>>(listed);
  std::int64_t now = store::unix_now();

  if (format_ == "json") {
    json::array arr;
    for (const auto& k : keys) {
      json::object tags;
      for (const auto& [tag, value] : k.tags) tags[tag] = value;
      auto when = [](std::int64_t t) -> json::value {
        if (t == 0) return nullptr;
        return json::string(store::format_utc(t));
      };
      arr.push_back(json::object{
          {"name", k.name},
          {"prefix", "gh_" + k.prefix},
          {"role", k.role},
          {"project", k.project},
          {"tags", std::move(tags)},
          {"created_at", when(k.created_at)},
          {"expires_at", when(k.expires_at)},
          {"revoked_at", when(k.revoked_at)},
          {"status", std::string(store::to_string(store::status_of(k, now)))},
      });
    }
    out << json::serialize(arr) << '\n';
    return 0;
  }

  if (keys.empty()) {
    out << "no keys in " << c->store.shown() << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "PREFIX", "ROLE", "PROJECT", "TAGS", "CREATED", "EXPIRES", "STATUS"});
  auto or_dash = [](std::string s) { return s.empty() ? std::string("-") : s; };
  for (const auto& k : keys) {
    rows.push_back({k.name, shown_prefix(k), or_dash(k.role), or_dash(k.project),
                    or_dash(tags_text(k)), store::format_utc(k.created_at),
                    k.expires_at ? store::format_utc(k.expires_at) : "never",
                    std::string(store::to_string(store::status_of(k, now)))});
  }
  print_table(rows, out);
  return 0;
}

int KeysCommand::revoke(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto st = open_store(*c, config_path_, err);
  if (!st) return 1;
  auto revoked = st->revoke(name_, store::unix_now());
  if (auto* e = std::get_if<std::string>(&revoked)) {
    err << *e << '\n';
    return 1;
  }
  if (std::get<bool>(revoked)) {
    out << "revoked key '" << name_ << "'; gateways using " << c->store.shown()
        << " refuse it within about a second\n";
    if (auto e = audit_from_cli(*c, "key.revoke", "key " + name_, "{}"); !e.empty()) {
      err << "the key is revoked, but the audit chain could not record it: " << e << '\n';
      return 1;
    }
    return 0;
  }
  err << "no active key named " << name_ << " in " << c->store.shown();
  bool in_file = false;
  for (const auto& k : c->keys) in_file = in_file || k.name == name_;
  if (in_file) {
    err << " (" << name_ << " is defined in " << config_path_
        << " under keys: remove it there and reload the gateway)";
  } else if (auto listed = st->list();
             auto* keys = std::get_if<std::vector<store::StoredKey>>(&listed)) {
    for (const auto& k : *keys) {
      if (k.name == name_ && k.revoked_at)
        err << " (it was revoked at " << store::format_utc(k.revoked_at) << ")";
    }
  }
  err << '\n';
  return 1;
}

}  // namespace gatehouse::cli
