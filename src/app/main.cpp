// gatehouse: the composition root. Subcommands: serve, check-config, keys, usage.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "app/gateway.h"
#include "app/logging.h"
#include "app/services.h"
#include "app/keys_cli.h"
#include "app/records_cli.h"
#include "app/usage_cli.h"
#include "app/snapshot.h"
#include "api/openai.h"
#include "limit/clock.h"
#include "record/writer.h"
#include "config/load.h"
#include "http/server.h"

namespace {

using namespace gatehouse;

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

void warn_insecure(const config::Config& c) {
  for (const auto& [name, p] : c.providers) {
    if (p.tls && !p.verify_tls) {
      spdlog::warn("providers.{}.tls.verify is false: the upstream's certificate is NOT checked", name);
    }
  }
}

// A configuration reload, applied or refused, in the audit chain (when there is a store).
void audit_reload(const pipeline::Services& services, const char* kind, const std::string& path,
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

int serve(const std::string& path) {
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    print_diagnostics(loaded.diagnostics, std::cerr);
    return 1;
  }
  auto config = loaded.config;
  app::setup_logging(config->log.level);
  warn_insecure(*config);

  auto started = app::make_services(*config, nullptr);
  if (auto* e = std::get_if<std::string>(&started)) {
    spdlog::critical("{}", *e);
    app::stop_logging();
    return 1;
  }
  pipeline::Services services = std::move(std::get<pipeline::Services>(started));

  int exit_code = 0;
  {
    // The server (and the coroutines its workers still hold after a timed-out drain) must be
    // destroyed while logging still works: a request's completion hooks write the access log.
    app::Gateway gateway(app::build_snapshot(config, services));
    http::Server server(gateway, std::size_t(config->server.workers));
    gateway.attach(server);
    try {
      server.listen(config->server.listen_host, config->server.listen_port, limits_of(*config));
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      app::stop_logging();
      return 1;
    }
    // Signals are handled before the workers start, so a SIGTERM at any moment drains.
    boost::asio::io_context control;
    boost::asio::signal_set signals(control, SIGTERM, SIGINT, SIGHUP);
    server.start();
    spdlog::info("gatehouse {} listening on {}:{} ({} workers, {} models, {} keys)", GATEHOUSE_VERSION,
                 config->server.listen_host, server.bound_port(), server.workers(),
                 config->models.size(), config->keys.size());

    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            auto next = config::load_file(path);
            if (!next.config) {
              spdlog::error("reload of {} refused; still serving the previous configuration:", path);
              std::string problems;
              for (const auto& d : next.diagnostics) {
                spdlog::error("  {}", d.to_string());
                problems += (problems.empty() ? "" : "\n") + d.to_string();
              }
              audit_reload(services, "config.reload_refused", path, problems);
            } else {
              if (next.config->server.listen_host != config->server.listen_host ||
                  next.config->server.listen_port != config->server.listen_port ||
                  next.config->server.workers != config->server.workers) {
                spdlog::warn("server.listen and server.workers change only on restart");
              }
              warn_insecure(*next.config);
              auto rebuilt = app::make_services(*next.config, &services);
              if (auto* e = std::get_if<std::string>(&rebuilt)) {
                spdlog::error("reload of {} refused; still serving the previous configuration:", path);
                spdlog::error("  {}", *e);
                audit_reload(services, "config.reload_refused", path, *e);
                signals.async_wait(on_signal);
                return;
              }
              services = std::move(std::get<pipeline::Services>(rebuilt));
              spdlog::set_level(spdlog::level::from_str(next.config->log.level));
              if (auto access = spdlog::get("access")) access->set_level(spdlog::level::info);
              gateway.publish(app::build_snapshot(next.config, services));
              server.update_limits(limits_of(*next.config));
              config = next.config;
              spdlog::info("configuration reloaded from {} ({} models, {} keys)", path,
                           config->models.size(), config->keys.size());
              audit_reload(services, "config.reload", path, "");
            }
            signals.async_wait(on_signal);
            return;
          }
          spdlog::info("signal {}: draining (up to {} ms)", sig, config->server.drain_timeout.count());
          int left = server.drain(config->server.drain_timeout,
                                  [&gateway](std::size_t i) { gateway.on_worker_stop(i); });
          if (left > 0) spdlog::warn("drain timed out with {} requests still in flight", left);
          spdlog::info("stopped");
          exit_code = 0;
        };
    signals.async_wait(on_signal);
    control.run();
  }
  // The services' threads (JWKS refresher, key watcher, store executor) may still log: stop them
  // while logging works.
  services = {};
  app::stop_logging();
  return exit_code;
}

int check_config(const std::string& path) {
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    print_diagnostics(loaded.diagnostics, std::cout);
    return 1;
  }
  const auto& c = *loaded.config;
  std::cout << path << ": OK (" << c.providers.size() << " providers, " << c.models.size()
            << " models, " << c.keys.size() << " keys)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Gatehouse: an AI gateway. One endpoint in front of every model provider."};
  cli.set_version_flag("--version", std::string("gatehouse ") + GATEHOUSE_VERSION);
  cli.require_subcommand(1);

  std::string serve_path;
  auto* serve_cmd = cli.add_subcommand("serve", "Serve the gateway with a configuration file");
  serve_cmd->add_option("-c,--config", serve_path, "YAML configuration file")->required();

  std::string check_path;
  auto* check_cmd = cli.add_subcommand(
      "check-config", "Validate a configuration file; prints FILE:LINE:COL: message per problem");
  check_cmd->add_option("file", check_path, "YAML configuration file")->required();

  gatehouse::app::KeysCommand keys;
  auto* keys_cmd =
      cli.add_subcommand("keys", "Create, list and revoke the keys kept in the store (store.sqlite)");
  keys.add_to(*keys_cmd);

  gatehouse::app::LogsCommand logs;
  auto* logs_cmd = cli.add_subcommand("logs", "The inference log: requests and answers of the logged models (from the store)");
  logs.add_to(*logs_cmd);
  gatehouse::app::AuditCommand audit;
  auto* audit_cmd = cli.add_subcommand("audit", "The audit chain: gatehouse audit verify --config FILE");
  audit.add_to(*audit_cmd);

  gatehouse::app::UsageCommand usage;
  auto* usage_cmd = cli.add_subcommand("usage", "Requests, tokens and cost per project, key, user or model (from the store)");
  usage.add_to(*usage_cmd);

  CLI11_PARSE(cli, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  if (*serve_cmd) return serve(serve_path);
  if (*check_cmd) return check_config(check_path);
  if (*keys_cmd) return keys.run(std::cout, std::cerr);
  if (*usage_cmd) return usage.run(std::cout, std::cerr);
  if (*logs_cmd) return logs.run(std::cout, std::cerr);
  if (*audit_cmd) return audit.run(std::cout, std::cerr);
  return 2;
}
