// `gatehouse serve`: builds the long-lived services and the first snapshot, starts the server,
// and handles signals — SIGHUP reloads (a new snapshot over the services, built on this thread),
// SIGTERM/SIGINT drain.
#include "app/serve.h"

#include "mcp/stdio.h"
#include "state/shared_state.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <functional>
#include <iostream>

#include "api/request.h"
#include "app/compose.h"
#include "app/logging.h"
#include "app/services.h"
#include "billing/service.h"
#include "config/load.h"
#include "mcp/stdio.h"
#include "gateway/handler.h"
#include "http/server.h"
#include "limit/clock.h"
#include "record/writer.h"
#include "runtime/worker_pools.h"

namespace gatehouse::app {

namespace {


void print_diagnostics(const std::vector<config::Diagnostic>& diags, std::ostream& out) {
  for (const auto& d : diags) out << d.to_string() << '\n';
}

http::Limits limits_of(const config::Config& c) {
  http::Limits l;
  l.max_body_bytes = c.server.max_body_bytes;
  l.max_header_bytes = c.server.max_header_bytes;
  l.header_timeout = c.server.header_timeout;
  l.keepalive_timeout = c.server.keepalive_timeout;
  return l;
}

// A gateway that can authenticate nobody answers every model request 401: said at start, since
// it is almost certainly not what its operator meant.
void warn_no_callers(const config::Config& c) {
  if (c.keys.empty() && !c.store.configured() && !c.jwt.enabled) {
    spdlog::warn("no keys, no store (store.sqlite or store.postgres) for stored keys and no auth.jwt: nobody can authenticate, so every "
                 "model request will be refused with 401 (add keys: or auth.jwt)");
  }
}

void warn_insecure(const config::Config& c) {
  for (const auto& [name, p] : c.providers) {
    if (p.tls && !p.verify_tls) {
      spdlog::warn("providers.{}.tls.verify is false: the upstream's certificate is NOT checked", name);
    }
  }
}

// A configuration reload, applied or refused, in the audit chain (when there is a store).
void audit_reload(const runtime::Services& services, const char* kind, const std::string& path,
                  const std::string& problems) {
  if (!services.writer) return;
  store::AuditRecord r;
  r.time_ms = limit::system_now_ms();
  r.kind = kind;
  r.actor = "signal SIGHUP";
  r.subject = path;
  r.detail = problems.empty() ? "{}" : "{\"problems\":" + api::json_quote(problems) + "}";
  services.writer->submit(std::move(r));
}

// SIGHUP: the file again, and, when it is valid and its services start, a new snapshot on every
// worker (requests in flight keep theirs). Otherwise the running configuration stays.
void reload(const std::string& path, std::shared_ptr<const config::Config>& config, runtime::Services& services,
            gateway::Gateway& gateway, http::Server& server) {
  auto refuse = [&](const std::string& problems) {
    spdlog::error("reload of {} refused; still serving the previous configuration:", path);
    for (std::size_t at = 0; at < problems.size();) {
      std::size_t end = problems.find('\n', at);
      if (end == std::string::npos) end = problems.size();
      spdlog::error("  {}", problems.substr(at, end - at));
      at = end + 1;
    }
    audit_reload(services, "config.reload_refused", path, problems);
  };
  auto next = config::load_file(path);
  if (!next.config) {
    std::string problems;
    for (const auto& d : next.diagnostics) problems += (problems.empty() ? "" : "\n") + d.to_string();
    return refuse(problems);
  }
  if (next.config->server.listen_host != config->server.listen_host ||
      next.config->server.listen_port != config->server.listen_port ||
      next.config->server.workers != config->server.workers ||
      next.config->server.admin_host != config->server.admin_host ||
      next.config->server.admin_port != config->server.admin_port) {
    spdlog::warn("server.listen, server.admin_listen and server.workers change only on restart");
  }
  for (const auto& w : next.warnings) spdlog::warn("{}", w.to_string());
  warn_insecure(*next.config);
  warn_no_callers(*next.config);
  auto rebuilt = make_services(*next.config, &services);
  if (auto* e = std::get_if<std::string>(&rebuilt)) return refuse(*e);
  services = std::move(std::get<runtime::Services>(rebuilt));
  if (services.billing) services.billing->configure(next.config);
  spdlog::set_level(spdlog::level::from_str(next.config->log.level));
  if (auto access = spdlog::get("access")) access->set_level(spdlog::level::info);
  gateway.publish(build_snapshot(next.config, services));
  server.update_limits(limits_of(*next.config));
  config = next.config;
  spdlog::info("configuration reloaded from {} ({} models, {} keys)", path, config->models.size(), config->keys.size());
  audit_reload(services, "config.reload", path, "");
}

}  // namespace

int serve(const std::string& path) {
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    print_diagnostics(loaded.diagnostics, std::cerr);
    return 1;
  }
  auto config = loaded.config;
  setup_logging(config->log.level);
  for (const auto& w : loaded.warnings) spdlog::warn("{}", w.to_string());
  warn_insecure(*config);
  warn_no_callers(*config);

  auto started = make_services(*config, nullptr);
  if (auto* e = std::get_if<std::string>(&started)) {
    spdlog::critical("{}", *e);
    stop_logging();
    return 1;
  }
  runtime::Services services = std::move(std::get<runtime::Services>(started));
  if (services.billing) services.billing->configure(config);

  int exit_code = 0;
  {
    // The server (and the coroutines its workers still hold after a timed-out drain) must be
    // destroyed while logging still works: a request's completion hooks write the access log.
    gateway::Gateway gateway(build_snapshot(config, services));
    http::Server server(gateway, std::size_t(config->server.workers));
    services.pools->attach(server);
    gateway.attach(server);
    try {
      server.listen(config->server.listen_host, config->server.listen_port, limits_of(*config));
      if (!config->server.admin_port.empty()) server.listen_admin(config->server.admin_host, config->server.admin_port);
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      stop_logging();
      return 1;
    }
    // Signals are handled before the workers start, so a SIGTERM at any moment drains.
    boost::asio::io_context control;
    boost::asio::signal_set signals(control, SIGTERM, SIGINT, SIGHUP);
    server.start();
    spdlog::info("gatehouse {} listening on {}:{} ({} workers, {} models, {} keys)", GATEHOUSE_VERSION,
                 config->server.listen_host, server.bound_port(), server.workers(),
                 config->models.size(), config->keys.size());
    if (server.admin_port() != 0) {
      spdlog::info("admin API and console on {}:{} (server.admin_listen)", config->server.admin_host,
                   server.admin_port());
    }

    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            reload(path, config, services, gateway, server);
            signals.async_wait(on_signal);
            return;
          }
          spdlog::info("signal {}: draining (up to {} ms)", sig, config->server.drain_timeout.count());
          int left = server.drain(config->server.drain_timeout,
                                  [&services](std::size_t i) { services.pools->close(i); });
          if (left > 0) spdlog::warn("drain timed out with {} requests still in flight", left);
          // stdio MCP servers end with the requests that used them (SIGTERM, SIGKILL after 2 s).
          if (services.stdio) mcp::stop_all(*services.stdio);
          // What still waits on Redis is failed while the workers that wait exist.
          if (services.shared) services.shared->stop();
          if (services.billing) services.billing->stop();
          spdlog::info("stopped");
          exit_code = 0;
        };
    signals.async_wait(on_signal);
    control.run();
  }
  // The services' threads (JWKS refresher, key watcher, store executor) may still log: stop them
  // while logging works.
  services = {};
  stop_logging();
  return exit_code;
}

}  // namespace gatehouse::app
