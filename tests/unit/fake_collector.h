// A fake OTLP/HTTP collector on 127.0.0.1 for the tests: keeps every request it gets (method,
// target, headers, body) and answers each with `status`. Used by the trace exporter's tests and by
// the tracing stage's.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gatehouse::test_util {

// The spans of one OTLP/HTTP JSON export body (one resource, one scope).
inline const boost::json::array& spans_of(const boost::json::value& body) {
  return body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array();
}

// A collector on 127.0.0.1 that records each POST and answers `status`.
class FakeCollector {
  using tcp = boost::asio::ip::tcp;

 public:
  struct Request {
    std::string method, target, content_type, body;
    std::map<std::string, std::string> headers;  // every field, by its lower-case name
  };
  explicit FakeCollector(int status) : status_(status), acceptor_(ioc_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeCollector() {
    stop_ = true;
    boost::system::error_code ec;
    boost::asio::io_context c;
    tcp::socket wake(c);
    wake.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);  // unblocks accept()
    thread_.join();
  }
  std::string url(const std::string& path = "/v1/traces") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  unsigned short port() const { return port_; }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t spans_received() {
    std::size_t n = 0;
    for (const auto& r : requests()) n += spans_of(boost::json::parse(r.body)).size();
    return n;
  }

 private:
  void serve() {
    for (;;) {
      tcp::socket sock(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (stop_) return;
      if (ec) continue;
      boost::beast::flat_buffer buffer;
      boost::beast::http::request_parser<boost::beast::http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      boost::beast::http::read(sock, buffer, parser, ec);
      if (ec) continue;
      const auto& req = parser.get();
      {
        std::lock_guard lock(mu_);
        Request r{std::string(req.method_string()), std::string(req.target()),
                  std::string(req[boost::beast::http::field::content_type]), req.body(), {}};
        for (const auto& f : req) {
          std::string name(f.name_string());
          for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
          r.headers[name] = std::string(f.value());
        }
        requests_.push_back(std::move(r));
      }
      boost::beast::http::response<boost::beast::http::string_body> res{static_cast<boost::beast::http::status>(status_), 11};
      res.set(boost::beast::http::field::content_type, "application/json");
      res.body() = "{}";
      res.prepare_payload();
      boost::beast::http::write(sock, res, ec);
      sock.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  const int status_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace gatehouse::test_util
