// mockllm: a fast fake model provider speaking the OpenAI, Anthropic Messages and Databricks
// serving wire shapes (and Databricks' OAuth M2M token endpoint and SQL Statement Execution API
// over a fake warehouse), with per-request
// latency and fault injection, for Gatehouse's tests, benchmarks and quickstart.
//
//   mockllm --listen 127.0.0.1:9911 [--threads N] [--tls-cert FILE --tls-key FILE]
//           [--require-token TOKEN] [--oauth-client-id ID --oauth-client-secret SECRET]
//           [--no-record] [--quiet]
//
// Prints "mockllm listening on HOST:PORT" once every worker accepts, so scripts can wait for
// that line (and learn the port when asked for port 0). Exits 0 on SIGINT or SIGTERM.
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "server.h"

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct ListenAddress {
  std::string host;  // as given, for the ready line
  tcp::endpoint endpoint;
};

ListenAddress parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen must be HOST:PORT");
  ListenAddress a;
  a.host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  std::string host = a.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  net::io_context resolver_io;
  tcp::resolver resolver(resolver_io);
  auto results = resolver.resolve(host, port, tcp::resolver::numeric_service);
  if (results.empty()) throw std::runtime_error("cannot resolve " + host);
  // "localhost" may resolve to ::1 first; clients of a mock mostly dial 127.0.0.1.
  a.endpoint = results.begin()->endpoint();
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) {
      a.endpoint = r.endpoint();
      break;
    }
  }
  return a;
}

// Every worker binds the same port with SO_REUSEPORT and the kernel spreads connections over
// them. Because SO_REUSEPORT would also let us join a port another mockllm already holds (and
// silently share its traffic), a plain probe bind first checks the port is really free — and,
// for port 0, picks it.
unsigned short claim_port(const tcp::endpoint& endpoint) {
  net::io_context io;
  tcp::acceptor probe(io);
  probe.open(endpoint.protocol());
  probe.set_option(net::socket_base::reuse_address(true));
  probe.bind(endpoint);
  return probe.local_endpoint().port();
}

tcp::acceptor open_acceptor(net::io_context& io, const tcp::endpoint& endpoint) {
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  const int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw std::runtime_error("cannot set SO_REUSEPORT");
  }
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "mockllm: a fast fake LLM provider (OpenAI, Anthropic, Databricks wire shapes) with "
      "latency and fault injection, for tests and benchmarks"};
  std::string listen = "127.0.0.1:9911";
  int threads = 1;
  std::string cert_file, key_file, token, oauth_client_id, oauth_client_secret;
  bool quiet = false, no_record = false;
  cli.add_option("--listen", listen, "HOST:PORT to listen on; port 0 picks a free one")
      ->capture_default_str();
  cli.add_option("--threads", threads, "worker threads, each with its own acceptor")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  auto* cert = cli.add_option("--tls-cert", cert_file, "PEM certificate chain: serve HTTPS")
                   ->check(CLI::ExistingFile);
  auto* key = cli.add_option("--tls-key", key_file, "PEM private key for --tls-cert")
                  ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  cli.add_option(
      "--require-token", token,
      "answer 401 to API requests without 'Authorization: Bearer TOKEN' (Anthropic path: or "
      "'x-api-key: TOKEN')");
  auto* oauth_id =
      cli.add_option("--oauth-client-id", oauth_client_id,
                     "serve Databricks' OAuth M2M token endpoint POST /oidc/v1/token for this "
                     "client; API requests then need an issued, unexpired token (or "
                     "--require-token)");
  auto* oauth_secret = cli.add_option("--oauth-client-secret", oauth_client_secret,
                                      "the client secret for --oauth-client-id");
  oauth_id->needs(oauth_secret);
  oauth_secret->needs(oauth_id);
  cli.add_flag("--no-record", no_record,
               "do not keep recent requests for /__mock/requests (for benchmarks)");
  cli.add_flag("--quiet", quiet, "log errors only");
  CLI11_PARSE(cli, argc, argv);

  auto logger = spdlog::stderr_color_mt("mockllm");
  spdlog::set_default_logger(logger);
  spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  std::signal(SIGPIPE, SIG_IGN);

  // Declared before the io_contexts: connections still open at exit refer to it while the
  // io_contexts destroy them.
  mockllm::ServerContext context;
  context.settings.require_token = token;
  context.settings.record = !no_record;
  context.settings.defaults = &context.defaults;
  context.settings.sql = &context.sql;
  if (!oauth_client_id.empty()) {
    context.oauth = std::make_unique<mockllm::oauth::Issuer>(oauth_client_id, oauth_client_secret);
    context.settings.oauth = context.oauth.get();
  }
  context.quiet = quiet;
  std::unique_ptr<net::ssl::context> tls;
  std::vector<std::unique_ptr<net::io_context>> workers;
  std::string host;
  unsigned short port = 0;

  if (!cert_file.empty()) {
    try {
      tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
      tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1);
      tls->use_certificate_chain_file(cert_file);
      tls->use_private_key_file(key_file, net::ssl::context::pem);
      context.tls = tls.get();
    } catch (const std::exception& e) {
      std::cerr << "mockllm: cannot use --tls-cert/--tls-key: " << e.what() << "\n";
      return 1;
    }
  }
  try {
    ListenAddress address = parse_listen(listen);
    host = address.host;
    port = claim_port(address.endpoint);
    address.endpoint.port(port);
    for (int i = 0; i < threads; ++i) {
      // One thread per io_context: the hint lets Asio skip its internal locking.
      auto& io = *workers.emplace_back(std::make_unique<net::io_context>(1));
      net::co_spawn(io, mockllm::accept_loop(open_acceptor(io, address.endpoint), context),
                    [](std::exception_ptr e) {
                      if (e) std::rethrow_exception(e);
                    });
    }
  } catch (const boost::system::system_error& e) {
    std::cerr << "mockllm: cannot listen on " << listen << ": " << e.code().message() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mockllm: " << e.what() << "\n";
    return 1;
  }

  std::cout << "mockllm listening on " << host << ":" << port << std::endl;  // endl flushes

  std::vector<std::thread> running;
  for (auto& io : workers) running.emplace_back([&io] { io->run(); });

  net::io_context signals_io;
  net::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: stopping", signal);
    for (auto& io : workers) io->stop();
  });
  signals_io.run();
  for (auto& t : running) t.join();
  return 0;
}
