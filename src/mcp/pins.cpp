// Tool pins: decided in memory under one mutex (the request path never touches the disk);
// first pins, pending changes and accepts are written through the store executor; a thread polls
// the table's change counter every second and reloads it when someone else wrote (an accept by
// the CLI or another gateway).
#include "mcp/pins.h"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "limit/clock.h"
#include "mcp/tools.h"
#include "record/writer.h"
#include "store/mcp_tables.h"
#include "store/store_open.h"
#include "store/store_executor.h"

namespace gatehouse::mcp {

namespace {

namespace json = boost::json;

using Key = std::pair<std::string, std::string>;  // server, tool

store::PinRow to_row(const ToolPin& p) {
  return {p.server,
          p.tool,
          p.sha256,
          p.definition,
          p.pinned_at_ms,
          p.pending_sha256,
          p.pending_definition,
          p.pending_since_ms};
}

ToolPin from_row(store::PinRow r) {
  ToolPin p;
  p.server = std::move(r.server);
  p.tool = std::move(r.tool);
  p.sha256 = std::move(r.sha256);
  p.definition = std::move(r.definition);
  p.pinned_at_ms = r.pinned_at_ms;
  p.pending_sha256 = std::move(r.pending_sha256);
  p.pending_definition = std::move(r.pending_definition);
  p.pending_since_ms = r.pending_since_ms;
  return p;
}

// What the pins share with the writes queued on the store thread and with the polling thread,
// which may outlive the ToolPins object by the few writes still queued. Not the executor: the
// last reference to this may go on the store thread, which must not be the one to join itself.
struct PinState {
  std::shared_ptr<store::PinTable> table;       // null: in memory only
  std::shared_ptr<record::RecordWriter> audit;  // null: no audit chain

  mutable std::mutex mu;
  std::map<Key, ToolPin> pins;
  // The pending digests of each tool already audited since its last accept: an upstream that
  // flips between two definitions is audited once for each, not on every tools/list.
  std::map<Key, std::set<std::string>> audited;
  // Writes queued and not yet run, and writes run so far: a reload never replaces the memory while
  // one of this process's writes is queued or ran during the reload's read (it would undo it).
  int in_flight = 0;
  std::uint64_t writes_done = 0;
  std::optional<std::uint64_t> seen_version;  // the table's counter when last loaded (poll thread)

  // Queues `write_fn` (a store call) for the store thread, or runs it here when there is no
  // executor. Called with `lock` (on `mu`) held, so that no reload slips in between the change in
  // memory and the count of writes in flight; returns with it released.
  void write(std::unique_lock<std::mutex>& lock, store::StoreExecutor* executor,
             std::function<std::optional<std::string>(store::PinTable&)> write_fn,
             std::string what) {
    if (!table) {
      lock.unlock();
      return;
    }
    ++in_flight;
    lock.unlock();
    auto run = [state = this, t = table, write_fn = std::move(write_fn), what = std::move(what)]() {
      auto error = write_fn(*t);
      if (error) spdlog::error("mcp pinning: {}: {}", what, *error);
      std::lock_guard done(state->mu);
      --state->in_flight;
      ++state->writes_done;
    };
    if (executor) {
      // `self` keeps the state alive until the write ran.
      executor->post([self = self_ref.lock(), run = std::move(run)](store::KeyStore&) { run(); });
    } else {
      run();
    }
  }

  void submit_audit(std::string kind, const Key& key, std::string detail, std::string actor) {
    if (!audit) return;
    store::AuditRecord r;
    r.time_ms = limit::system_now_ms();
    r.kind = std::move(kind);
    r.actor = std::move(actor);
    r.subject = tool_audit_subject(key.first, key.second);
    r.detail = std::move(detail);
    audit->submit(std::move(r));
  }

  // Loads the table when its counter moved; an error message when the store failed.
  std::optional<std::string> reload(bool force) {
    std::uint64_t done_before;
    {
      std::lock_guard lock(mu);
      done_before = writes_done;
    }
    auto version = table->version();
    if (auto* e = std::get_if<std::string>(&version)) return *e;
    const std::uint64_t v = std::get<std::uint64_t>(version);
    if (!force && seen_version == v) return std::nullopt;
    auto rows = table->list();
    if (auto* e = std::get_if<std::string>(&rows)) return *e;

    std::lock_guard lock(mu);
    if (in_flight != 0 || writes_done != done_before) return std::nullopt;  // the next tick reloads
    std::map<Key, ToolPin> loaded;
    for (auto& r : std::get<std::vector<store::PinRow>>(rows)) {
      Key key{r.server, r.tool};
      ToolPin p = from_row(std::move(r));
      auto old = pins.find(key);
      if (old != pins.end() && old->second.sha256 != p.sha256) {
        spdlog::info("mcp pinning: {}/{}: the definition {} is pinned now (accepted elsewhere)",
                     key.first, key.second, p.sha256.substr(0, 12));
        audited.erase(key);
      }
      // Another process recorded (and audited) this change.
      if (!p.pending_sha256.empty()) audited[key].insert(p.pending_sha256);
      loaded.emplace(std::move(key), std::move(p));
    }
    pins = std::move(loaded);
    seen_version = v;
    return std::nullopt;
  }

  std::weak_ptr<PinState> self_ref;
};

class StoredToolPins final : public ToolPins {
 public:
  StoredToolPins(std::shared_ptr<PinState> state, std::shared_ptr<store::StoreExecutor> executor,
                 std::chrono::milliseconds poll_every)
      : state_(std::move(state)), executor_(std::move(executor)), poll_every_(poll_every) {
    if (state_->table) poller_ = std::thread([this] { poll_loop(); });
  }

  ~StoredToolPins() override {
    {
      std::lock_guard lock(stop_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (poller_.joinable()) poller_.join();
  }

  Verdict check(std::string_view server, std::string_view tool,
                std::string_view definition) override {
    Key key{std::string(server), std::string(tool)};
    std::string sha = sha256_hex(definition);
    PinState& s = *state_;
    std::unique_lock lock(s.mu);
    auto it = s.pins.find(key);
    if (it == s.pins.end()) {
      ToolPin p;
      p.server = key.first;
      p.tool = key.second;
      p.sha256 = std::move(sha);
      p.definition = std::string(definition);
      p.pinned_at_ms = limit::system_now_ms();
      store::PinRow row = to_row(p);
      s.pins.emplace(key, std::move(p));
      s.write(
          lock, executor_.get(), [row = std::move(row)](store::PinTable& t) { return t.pin(row); },
          "pinning " + key.first + "/" + key.second);
      return Verdict::kFirstSeen;
    }
    ToolPin& p = it->second;
    if (p.sha256 == sha) {
      if (p.pending_sha256.empty()) return Verdict::kPinned;
      // Changed back to the pinned definition: nothing waits for an administrator any more.
      spdlog::info(
          "mcp pinning: {}/{}: the definition is the pinned one again; the pending change {} is "
          "dropped",
          key.first, key.second, p.pending_sha256.substr(0, 12));
      p.pending_sha256.clear();
      p.pending_definition.clear();
      p.pending_since_ms = 0;
      store::PinRow row = to_row(p);
      s.write(
          lock, executor_.get(),
          [row = std::move(row)](store::PinTable& t) { return t.set_pending(row); },
          "clearing the pending definition of " + key.first + "/" + key.second);
      return Verdict::kPinned;
    }
    if (p.pending_sha256 == sha) return Verdict::kChanged;

    p.pending_sha256 = sha;
    p.pending_definition = std::string(definition);
    p.pending_since_ms = limit::system_now_ms();
    store::PinRow row = to_row(p);
    const bool first_time = s.audited[key].insert(sha).second;
    s.write(
        lock, executor_.get(), [row](store::PinTable& t) { return t.set_pending(row); },
        "recording the changed definition of " + key.first + "/" + key.second);
    if (first_time) {
      spdlog::warn(
          "mcp pinning: {}/{}: the server changed the tool's definition ({} -> {}); the tool is "
          "withheld "
          "until an administrator accepts it (gatehouse mcp tools accept {}/{})",
          key.first, key.second, row.sha256.substr(0, 12), sha.substr(0, 12), key.first,
          key.second);
      s.submit_audit("mcp.tool.changed", key,
                     json::serialize(json::object{{"pinned", row.sha256}, {"seen", sha}}),
                     "gatehouse");
    }
    return Verdict::kChanged;
  }

  std::vector<ToolPin> list() const override {
    std::lock_guard lock(state_->mu);
    std::vector<ToolPin> out;
    out.reserve(state_->pins.size());
    for (const auto& [key, p] : state_->pins) out.push_back(p);
    return out;
  }

  // A lookup, not list()'s copy of every definition: it runs on every tools/call.
  std::optional<Verdict> status(std::string_view server, std::string_view tool) const override {
    std::lock_guard lock(state_->mu);
    auto it = state_->pins.find(Key{std::string(server), std::string(tool)});
    if (it == state_->pins.end()) return std::nullopt;
    return it->second.pending_sha256.empty() ? Verdict::kPinned : Verdict::kChanged;
  }

  bool accept(std::string_view server, std::string_view tool, std::string_view by) override {
    Key key{std::string(server), std::string(tool)};
    PinState& s = *state_;
    std::unique_lock lock(s.mu);
    auto it = s.pins.find(key);
    if (it == s.pins.end() || it->second.pending_sha256.empty()) return false;
    ToolPin& p = it->second;
    const std::string from = p.sha256, to = p.pending_sha256;
    const std::int64_t now = limit::system_now_ms();
    p.sha256 = std::move(p.pending_sha256);
    p.definition = std::move(p.pending_definition);
    p.pinned_at_ms = now;
    p.pending_sha256.clear();
    p.pending_definition.clear();
    p.pending_since_ms = 0;
    s.audited.erase(key);
    // Only the definition accepted here: one that arrived since is not accepted unseen.
    s.write(
        lock, executor_.get(),
        [key, now, to](store::PinTable& t) -> std::optional<std::string> {
          auto done = t.accept(key.first, key.second, now, to);
          if (auto* e = std::get_if<std::string>(&done)) return *e;
          return std::nullopt;
        },
        "accepting the definition of " + key.first + "/" + key.second);
    spdlog::info("mcp pinning: {}/{}: definition {} accepted by {} (was {})", key.first, key.second,
                 to.substr(0, 12), by, from.substr(0, 12));
    s.submit_audit("mcp.tool.accepted", key, accepted_audit_detail(from, to), std::string(by));
    return true;
  }

 private:
  void poll_loop() {
    std::string last_error;
    std::unique_lock lock(stop_mu_);
    while (!stopping_) {
      if (stop_cv_.wait_for(lock, poll_every_, [this] { return stopping_; })) break;
      lock.unlock();
      auto error = state_->reload(false);
      if (error && *error != last_error)
        spdlog::warn("mcp pinning: {} (the pins in memory stay)", *error);
      last_error = error.value_or(std::string());
      lock.lock();
    }
  }

  std::shared_ptr<PinState> state_;
  const std::shared_ptr<store::StoreExecutor> executor_;  // null: writes run on the caller's thread
  const std::chrono::milliseconds poll_every_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread poller_;
};

}  // namespace

std::string tool_audit_subject(std::string_view server, std::string_view tool) {
  std::string s = "tool ";
  s.append(server).append("/").append(tool);
  return s;
}

std::string accepted_audit_detail(std::string_view from_sha256, std::string_view to_sha256) {
  return json::serialize(json::object{{"from", from_sha256}, {"to", to_sha256}});
}

std::shared_ptr<ToolPins> make_tool_pins(const config::StoreConfig& store,
                                         std::shared_ptr<store::StoreExecutor> executor,
                                         std::shared_ptr<record::RecordWriter> audit,
                                         std::chrono::milliseconds poll_every) {
  auto state = std::make_shared<PinState>();
  state->self_ref = state;
  state->audit = std::move(audit);
  if (!store.configured()) {
    spdlog::warn(
        "mcp pinning: no store (store.sqlite or store.postgres): tool definitions are pinned in memory only, and "
        "pinned "
        "afresh after a restart");
  } else {
    auto opened = store::open_pins(store);
    if (auto* e = std::get_if<std::string>(&opened)) throw std::runtime_error(*e);
    state->table = std::move(std::get<0>(opened));
    if (auto e = state->reload(true)) throw std::runtime_error(*e);
  }
  return std::make_shared<StoredToolPins>(std::move(state), std::move(executor), poll_every);
}

}  // namespace gatehouse::mcp
