#include "pipeline/access_log.h"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace gatehouse::pipeline {

namespace {

// A JSON string literal (RFC 8259 escapes).
void quoted(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Control bytes, DEL and non-ASCII (a client's raw path need not be UTF-8) as \u00XX,
        // so every line is valid JSON.
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

void field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  if (value.empty()) {
    out += "null";
  } else {
    quoted(out, value);
  }
}

void field(std::string& out, std::string_view name, double value, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, ",\"%.*s\":%.*f", int(name.size()), name.data(), digits, value);
  out += buf;
}

void field(std::string& out, std::string_view name, long long value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

void field(std::string& out, std::string_view name, bool value) {
  out += ",\"";
  out += name;
  out += value ? "\":true" : "\":false";
}

double ms(std::chrono::microseconds d) { return double(d.count()) / 1000.0; }

}  // namespace

AccessLogStage::AccessLogStage() : logger_(spdlog::get("access")) {}

void AccessLogStage::on_complete(RequestContext& ctx) const noexcept {
  try {
    const auto now = std::chrono::steady_clock::now();
    const auto total = std::chrono::duration_cast<std::chrono::microseconds>(now - ctx.ingress.started);
    std::string line;
    line.reserve(512);
    // The access logger's pattern opens the object with its timestamp: {"ts":"...",
    line += "\"type\":\"access\"";
    field(line, "request_id", ctx.ingress.request_id);
    field(line, "method", ctx.ingress.method);
    field(line, "path", ctx.ingress.path.substr(0, 256));
    field(line, "status", static_cast<long long>(ctx.outcome.status));
    field(line, "key", ctx.identity.key_name);
    field(line, "user", ctx.identity.user);
    field(line, "project", ctx.identity.project);
    field(line, "model", ctx.request.model.substr(0, 256));
    field(line, "target", ctx.attempted_model() ? std::string_view(ctx.attempted_model()->name) : "");
    field(line, "provider", ctx.attempted_provider());
    field(line, "attempts", static_cast<long long>(ctx.upstream.attempts));
    field(line, "stream", ctx.request.stream);
    field(line, "error", ctx.outcome.error_code);
    field(line, "total_ms", ms(total), 3);
    field(line, "upstream_ms", ms(ctx.upstream.upstream_time), 3);
    field(line, "overhead_ms", ms(total - ctx.upstream.upstream_time), 3);
    if (ctx.upstream.first_token != std::chrono::steady_clock::time_point{}) {
      field(line, "ttft_ms", ms(std::chrono::duration_cast<std::chrono::microseconds>(ctx.upstream.first_token - ctx.ingress.started)), 3);
    }
    if (ctx.accounting.usage.known || ctx.accounting.usage.estimated) {
      field(line, "input_tokens", ctx.accounting.usage.input_tokens);
      field(line, "output_tokens", ctx.accounting.usage.output_tokens);
      field(line, "cost_usd", ctx.accounting.cost_usd, 6);
    }
    field(line, "client_gone", ctx.upstream.client_gone);
    if (!ctx.guard.hits.empty()) field(line, "guardrails", ctx.guard.summary());
    line += '}';
    // The access logger writes the line as it is (one JSON object per line, on stderr, through
    // spdlog's background thread); without one (tests), the default logger does.
    if (logger_) {
      logger_->info(line);
    } else {
      spdlog::info(line);
    }
  } catch (...) {
    // Logging must never take a request down.
  }
}

}  // namespace gatehouse::pipeline
