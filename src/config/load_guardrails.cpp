// guardrails: content rules on what models read and write (docs/guardrails.md), and the lists
// that apply them (models.X.guardrails, roles.Y.guardrails).
#include <set>

#include "config/reader.h"

namespace gatehouse::config {

namespace {

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

std::optional<guard::Action> read_action(Reader& r, const YAML::Node& n, const std::string& what) {
  auto v = r.string(n, what);
  if (!v) return std::nullopt;
  auto a = guard::parse_action(*v);
  if (!a) r.error(n, what + " must be one of block, mask, log, got '" + *v + "'");
  return a;
}

std::optional<guard::Kind> parse_kind(std::string_view s) {
  for (auto k : {guard::Kind::kPii, guard::Kind::kRegex, guard::Kind::kSecrets, guard::Kind::kPromptInjection,
                 guard::Kind::kModel}) {
    if (guard::to_string(k) == s) return k;
  }
  return std::nullopt;
}

// A mask label and a metrics label: letters, digits, '-', '_', '.'.
bool label_ok(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char ch : s) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) return false;
  }
  return true;
}

void read_entities(Reader& r, const YAML::Node& n, const std::string& where, std::span<const std::string_view> known,
                   std::vector<std::string>& out) {
  if (!n.IsSequence()) {
    r.error(n, where + " must be a list, e.g. [" + std::string(known.front()) + "]");
    return;
  }
  for (const auto& e : n) {
    auto v = r.string(e, where + "[]");
    if (!v) continue;
    bool ok = false;
    for (auto k : known) ok = ok || k == *v;
    if (!ok) {
      r.error(e, where + ": unknown entity '" + *v + "' (known: " + joined(known) + ")");
    } else if (std::find(out.begin(), out.end(), *v) == out.end()) {
      out.push_back(*v);
    }
  }
}

void read_patterns(Reader& r, const YAML::Node& n, const std::string& where, guard::GuardrailSpec& g) {
  if (!n.IsSequence() || n.size() == 0) {
    r.error(n, where + " must be a non-empty list of {name, regex, action}");
    return;
  }
  std::set<std::string> names;
  std::size_t i = 0;
  for (const auto& p : n) {
    const std::string at = where + "[" + std::to_string(i++) + "]";
    if (!r.expect_map(p, at, {"name", "regex", "action", "flags"})) continue;
    guard::PatternSpec spec;
    if (!p["name"] || !p["regex"]) {
      r.error(p, at + " needs a name (the mask label: <name>) and a regex");
      continue;
    }
    if (auto v = r.string(p["name"], at + ".name")) spec.name = *v;
    if (!label_ok(spec.name)) {
      r.error(p["name"], at + ".name must be 1-64 letters, digits, '-', '_' or '.' (it is the mask label <" +
                             spec.name + ">)");
      continue;
    }
    if (!names.insert(spec.name).second) r.error(p["name"], at + ": pattern '" + spec.name + "' is named twice");
    if (p["action"]) spec.action = read_action(r, p["action"], at + ".action");
    if (p["flags"]) {
      auto f = r.string(p["flags"], at + ".flags");
      if (f && *f == "i") {
        spec.caseless = true;
      } else if (f) {
        r.error(p["flags"], at + ".flags may only be \"i\" (case-insensitive)");
      }
    }
    auto regex = r.string(p["regex"], at + ".regex");
    if (!regex) continue;
    if (regex->empty()) {
      r.error(p["regex"], at + ".regex must not be empty");
      continue;
    }
    if (auto e = guard::check_pattern(*regex, spec.caseless)) {
      r.error(p["regex"], at + " (" + spec.name + "): the regex does not compile: " + *e);
      continue;
    }
    spec.regex = *regex;
    spec.line = p["regex"].Mark().line + 1;
    spec.column = p["regex"].Mark().column + 1;
    g.patterns.push_back(std::move(spec));
  }
}

void read_guardrail(Reader& r, const std::string& name, const YAML::Node& n, guard::GuardrailSpec& g) {
  const std::string where = "guardrails." + name;
  if (!r.expect_map(n, where, {"kind", "action", "entities", "region", "patterns", "model", "timeout_ms", "on_error"})) {
    return;
  }
  g.name = name;
  if (!label_ok(name)) r.error(n, where + ": a guardrail's name must be 1-64 letters, digits, '-', '_' or '.'");
  std::optional<guard::Kind> kind;
  if (!n["kind"]) {
    r.error(n, where + ".kind is required: one of pii, regex, secrets, prompt_injection, model");
  } else if (auto v = r.string(n["kind"], where + ".kind")) {
    kind = parse_kind(*v);
    if (!kind) r.error(n["kind"], where + ".kind must be one of pii, regex, secrets, prompt_injection, model, got '" + *v + "'");
  }
  if (!kind) return;
  g.kind = *kind;
  if (n["action"]) {
    if (auto a = read_action(r, n["action"], where + ".action")) g.action = *a;
  }
  // What each kind takes; a key another kind uses is a mistake, not a no-op.
  auto only = [&](const char* key, std::initializer_list<guard::Kind> kinds) {
    if (!n[key]) return false;
    for (auto k : kinds) {
      if (k == g.kind) return true;
    }
    r.error(n[key], where + "." + key + " does not apply to a " + std::string(guard::to_string(g.kind)) + " guardrail");
    return false;
  };
  if (only("entities", {guard::Kind::kPii, guard::Kind::kSecrets})) {
    read_entities(r, n["entities"], where + ".entities",
                  g.kind == guard::Kind::kPii ? guard::pii_entities() : guard::secret_kinds(), g.entities);
  }
  if (only("region", {guard::Kind::kPii})) {
    auto v = r.string(n["region"], where + ".region");
    if (v && v->size() == 2 && std::isupper(static_cast<unsigned char>((*v)[0])) &&
        std::isupper(static_cast<unsigned char>((*v)[1]))) {
      g.region = *v;
    } else if (v) {
      r.error(n["region"], where + ".region must be a two-letter region code, e.g. US, GB, DE");
    }
  }
  if (g.kind == guard::Kind::kRegex) {
    if (!n["patterns"]) {
      r.error(n, where + ".patterns is required: [{name, regex, action}]");
    } else {
      read_patterns(r, n["patterns"], where + ".patterns", g);
    }
  } else {
    only("patterns", {});
  }
  if (g.kind == guard::Kind::kModel) {
    if (!n["model"]) {
      r.error(n, where + ".model is required: the gateway model that classifies the text (e.g. a Llama Guard endpoint)");
    } else if (auto v = r.string(n["model"], where + ".model")) {
      g.model = *v;
    }
    if (n["timeout_ms"]) {
      if (auto v = r.integer(n["timeout_ms"], where + ".timeout_ms", 1, 60'000)) g.timeout = Millis(*v);
    }
    if (n["on_error"]) {
      auto v = r.string(n["on_error"], where + ".on_error");
      if (v && (*v == "allow" || *v == "block")) {
        g.block_on_error = *v == "block";
      } else if (v) {
        r.error(n["on_error"], where + ".on_error must be allow or block");
      }
    }
    if (g.action == guard::Action::kMask) {
      r.error(n["action"], where + ".action: a model guardrail judges the whole text; it can block or log, not mask");
    }
  } else {
    only("model", {});
    only("timeout_ms", {});
    only("on_error", {});
  }
}

// One list of a models.X.guardrails / roles.Y.guardrails: names of defined guardrails.
void check_list(Reader& r, const YAML::Node& n, const std::string& where, bool output, const Config& c,
                std::vector<std::string>& out) {
  if (!n.IsSequence()) {
    r.error(n, where + " must be a list of guardrail names, e.g. [pii, secrets]");
    return;
  }
  for (const auto& e : n) {
    auto v = r.string(e, where + "[]");
    if (!v) continue;
    const auto* g = c.find_guardrail(*v);
    if (!g) {
      std::string known;
      for (const auto& d : c.guardrails) known += (known.empty() ? "" : ", ") + d.name;
      r.error(e, where + ": guardrail '" + *v + "' is not defined under guardrails" +
                     (known.empty() ? "" : " (defined: " + known + ")"));
      continue;
    }
    if (output && g->kind == guard::Kind::kModel) {
      r.error(e, where + ": '" + *v + "' is a model guardrail; those check inputs only (docs/guardrails.md)");
      continue;
    }
    if (std::find(out.begin(), out.end(), *v) != out.end()) {
      r.error(e, where + ": guardrail '" + *v + "' is listed twice");
      continue;
    }
    out.push_back(*v);
  }
}

void check_lists(Reader& r, const YAML::Node& n, const std::string& where, const Config& c, GuardrailLists& lists) {
  if (!r.expect_map(n, where, {"input", "output"})) return;
  if (n["input"]) check_list(r, n["input"], where + ".input", false, c, lists.input);
  if (n["output"]) check_list(r, n["output"], where + ".output", true, c, lists.output);
}

}  // namespace

void check_guardrail_lists(Reader& r, const YAML::Node& n, const std::string& where, const Config& c,
                           GuardrailLists& lists) {
  check_lists(r, n, where, c, lists);
}

void read_guardrails(Reader& r, const YAML::Node& n, Config& c) {
  if (!n.IsMap()) {
    r.error(n, "guardrails must be a mapping of guardrail name to {kind, action, ...}");
    return;
  }
  for (const auto& kv : n) {
    if (c.guardrails.size() == guard::kMaxGuardrails) {
      r.error(kv.first, "at most " + std::to_string(guard::kMaxGuardrails) + " guardrails may be defined");
      return;
    }
    guard::GuardrailSpec g;
    read_guardrail(r, kv.first.Scalar(), kv.second, g);
    if (!g.name.empty()) c.guardrails.push_back(std::move(g));
  }
}

void check_guardrails(Reader& r, const YAML::Node& root, Config& c) {
  // A model guardrail asks a model with a provider (the classifier call goes to it directly).
  if (const auto& gs = root["guardrails"]; gs && gs.IsMap()) {
    for (const auto& g : c.guardrails) {
      if (g.kind != guard::Kind::kModel || g.model.empty()) continue;
      auto it = c.models.find(g.model);
      if (it == c.models.end()) {
        r.error(gs[g.name]["model"], "guardrails." + g.name + ".model: model '" + g.model + "' is not defined under models");
      }
    }
  }
  if (!c.guardrails.empty() && r.diagnostics().empty()) {
    auto built = guard::Scanner::build(c.guardrails);
    if (auto* e = std::get_if<guard::Scanner::BuildError>(&built)) {
      const auto& g = c.guardrails[e->guardrail];
      YAML::Node at = root["guardrails"][g.name];
      std::string what = "guardrails." + g.name;
      if (g.kind == guard::Kind::kRegex && e->pattern < g.patterns.size()) {
        at = at["patterns"][e->pattern]["regex"];
        what += ".patterns[" + std::to_string(e->pattern) + "] (" + g.patterns[e->pattern].name + ")";
      }
      r.error(at, what + ": the guardrails' patterns do not compile: " + e->message);
    } else {
      c.scanner = std::get<std::shared_ptr<const guard::Scanner>>(std::move(built));
    }
  }
  if (const auto& ms = root["models"]; ms && ms.IsMap()) {
    for (const auto& kv : ms) {
      const std::string name = kv.first.Scalar();
      auto it = c.models.find(name);
      if (it == c.models.end() || !kv.second.IsMap() || !kv.second["guardrails"]) continue;
      check_lists(r, kv.second["guardrails"], "models." + name + ".guardrails", c, it->second.guardrails);
    }
  }
  if (const auto& rs = root["roles"]; rs && rs.IsMap()) {
    for (const auto& kv : rs) {
      const std::string name = kv.first.Scalar();
      auto it = c.roles.find(name);
      if (it == c.roles.end() || !kv.second.IsMap() || !kv.second["guardrails"]) continue;
      check_lists(r, kv.second["guardrails"], "roles." + name + ".guardrails", c, it->second.guardrails);
    }
  }
}

}  // namespace gatehouse::config
