// The PostgreSQL key store: one database shared by the `keys` CLI and every gateway replica. Each
// create and revoke bumps key_events.version in its own transaction; the gateways' KeyWatchers
// poll that number, as they do in SQLite.
#include <cstring>
#include <map>

#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/pg_db.h"
#include "store/store_open.h"

namespace gatehouse::store {

namespace {

std::string bytea_param(const config::Sha256& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  for (unsigned char b : d) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// A bytea column in text form ("\x" and hex digits) into `out`; false when it is not 32 bytes.
bool read_digest(const std::string& t, config::Sha256& out) {
  if (t.size() != 2 + 2 * out.size() || t[0] != '\\' || t[1] != 'x') return false;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<unsigned char>(nibble(t[2 + 2 * i]) << 4 | nibble(t[3 + 2 * i]));
  }
  return true;
}

class PgKeyStore final : public KeyStore {
 public:
  explicit PgKeyStore(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  std::variant<StoredKey, std::string> create(const StoredKey& key) override {
    if (auto e = check_new_key(key)) return *e;
    StoredKey stored = key;
    if (stored.created_at == 0) stored.created_at = unix_now();
    stored.revoked_at = 0;
    return c_->call([&]() -> std::variant<StoredKey, std::string> {
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a transaction");
      auto found = c_->exec("SELECT revoked_at FROM keys WHERE name = $1", {stored.name},
                            "looking up the name");
      if (auto* e = std::get_if<std::string>(&found)) return *e;
      if (const PGresult* f = std::get<pg::Result>(found).get(); PQntuples(f) > 0) {
        return "a key named '" + stored.name + "' already exists in the store" +
               (pg::i64(f, 0, 0) != 0 ? " (revoked; a name is never reused)" : "");
      }
      pg::Result ins = c_->query(
          "INSERT INTO keys (name, digest, prefix, role, project, created_at, expires_at) "
          "VALUES ($1, $2::bytea, $3, $4, $5, $6, $7) RETURNING id",
          {stored.name, bytea_param(stored.digest), stored.prefix, stored.role, stored.project,
           pg::num(stored.created_at), pg::num(stored.expires_at)});
      if (!pg::Connection::ok(ins.get())) {
        const char* constraint = PQresultErrorField(ins.get(), PG_DIAG_CONSTRAINT_NAME);
        if (constraint && std::strcmp(constraint, "keys_digest_key") == 0) {
          return std::string("a key with this secret is already in the store");
        }
        if (constraint && std::strcmp(constraint, "keys_name_key") == 0) {
          return "a key named '" + stored.name +
                 "' already exists in the store";  // made meanwhile elsewhere
        }
        return c_->failure("inserting the key", ins.get());
      }
      const std::string id = pg::text(ins.get(), 0, 0);
      for (std::size_t i = 0; i < stored.tags.size(); ++i) {
        if (auto e = c_->run(
                "INSERT INTO key_tags (key_id, position, name, value) VALUES ($1, $2, $3, $4)",
                {id, pg::num(static_cast<std::int64_t>(i)), stored.tags[i].first,
                 stored.tags[i].second},
                "inserting tag " + stored.tags[i].first))
          return *e;
      }
      if (auto e = bump()) return *e;
      if (auto e = tx.commit()) return *e;
      return stored;
    });
  }

  std::variant<std::vector<StoredKey>, std::string> list() override {
    return c_->call([&]() -> std::variant<std::vector<StoredKey>, std::string> {
      // One REPEATABLE READ transaction: keys and tags from the same snapshot.
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a transaction");
      if (auto e =
              c_->exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", {}, "starting a read");
          std::holds_alternative<std::string>(e)) {
        return std::get<std::string>(e);
      }
      auto keys_r = c_->exec(
          "SELECT id, name, digest, prefix, role, project, created_at, expires_at, revoked_at FROM "
          "keys ORDER BY id",
          {}, "reading keys");
      if (auto* e = std::get_if<std::string>(&keys_r)) return *e;
      auto tags_r = c_->exec("SELECT key_id, name, value FROM key_tags ORDER BY key_id, position",
                             {}, "reading tags");
      if (auto* e = std::get_if<std::string>(&tags_r)) return *e;
      const PGresult* kr = std::get<pg::Result>(keys_r).get();
      const PGresult* tr = std::get<pg::Result>(tags_r).get();
      std::vector<StoredKey> keys;
      std::map<std::int64_t, std::size_t> index_of;
      for (int i = 0; i < PQntuples(kr); ++i) {
        StoredKey k;
        k.name = pg::text(kr, i, 1);
        if (!read_digest(pg::text(kr, i, 2), k.digest)) {
          return c_->what() + ": the digest of key '" + k.name + "' is damaged";
        }
        k.prefix = pg::text(kr, i, 3);
        k.role = pg::text(kr, i, 4);
        k.project = pg::text(kr, i, 5);
        k.created_at = pg::i64(kr, i, 6);
        k.expires_at = pg::i64(kr, i, 7);
        k.revoked_at = pg::i64(kr, i, 8);
        index_of[pg::i64(kr, i, 0)] = keys.size();
        keys.push_back(std::move(k));
      }
      for (int i = 0; i < PQntuples(tr); ++i) {
        auto it = index_of.find(pg::i64(tr, i, 0));
        if (it != index_of.end())
          keys[it->second].tags.emplace_back(pg::text(tr, i, 1), pg::text(tr, i, 2));
      }
      tx.commit();  // a read: nothing to lose if this fails
      return keys;
    });
  }

  std::variant<bool, std::string> revoke(const std::string& name, std::int64_t now) override {
    return c_->call([&]() -> std::variant<bool, std::string> {
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a transaction");
      auto upd =
          c_->exec("UPDATE keys SET revoked_at = $1 WHERE name = $2 AND revoked_at = 0",
                   {pg::num(now > 0 ? now : 1), name}, "revoking");  // 0 would mean "not revoked"
      if (auto* e = std::get_if<std::string>(&upd)) return *e;
      if (pg::changed(std::get<pg::Result>(upd).get()) == 0) return false;
      if (auto e = bump()) return *e;
      if (auto e = tx.commit()) return *e;
      return true;
    });
  }

  std::variant<std::uint64_t, std::string> version() override {
    return c_->call([&]() -> std::variant<std::uint64_t, std::string> {
      auto r =
          c_->exec("SELECT version FROM key_events WHERE id = 1", {}, "reading the change counter");
      if (auto* e = std::get_if<std::string>(&r)) return *e;
      const PGresult* v = std::get<pg::Result>(r).get();
      if (PQntuples(v) != 1) return c_->what() + ": reading the change counter: no row";
      return static_cast<std::uint64_t>(pg::i64(v, 0, 0));
    });
  }

 private:
  std::optional<std::string> bump() {
    if (auto e = c_->run("UPDATE key_events SET version = version + 1 WHERE id = 1", {},
                         "counting the change"))
      return *e;
    return std::nullopt;
  }

  std::unique_ptr<pg::Connection> c_;
};

}  // namespace

std::variant<std::unique_ptr<KeyStore>, std::string> open_postgres(const std::string& url) {
  return pg::open_as<KeyStore, PgKeyStore>(url, "key store", schema::kKeys);
}

}  // namespace gatehouse::store
