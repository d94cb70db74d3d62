// The HTTP server behind http/server.h.
#include "http/server.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "http/errors.h"

namespace hearth::http {
namespace {

std::string new_request_id() {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof bytes);
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return hex;
}

// A request id the client sent, if it is short and plain enough to echo and log.
bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

}  // namespace

struct Server::Impl {
  Impl(ServerConfig c, actors::Host& h) : config(std::move(c)), host(h) {}
  ServerConfig config;
  actors::Host& host;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> ready{false};
};

Server::Server(ServerConfig config, actors::Host& host) : impl_(std::make_unique<Impl>(std::move(config), host)) {
  auto& svr = impl_->server;
  auto threads = impl_->config.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_keep_alive_timeout(5);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  svr.set_payload_max_length(1 << 20);
  // httplib's default adds SO_REUSEPORT, which would let a second server share our port
  // silently. SO_REUSEADDR alone allows a quick restart and refuses a taken port.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    auto id = req.get_header_value("x-request-id");
    res.set_header("x-request-id", acceptable_request_id(id) ? id : new_request_id());
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::info("http.access method={} path={} status={} request_id={}", req.method, req.path, res.status,
                 res.get_header_value("x-request-id"));
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already answered with its own error body
    auto code = res.status == 404   ? ErrorCode::not_found
                : res.status == 413 ? ErrorCode::too_large
                : res.status == 400 ? ErrorCode::invalid
                                    : ErrorCode::internal;
    auto message = res.status == 404 ? "no route for " + req.method + " " + req.path
                                     : "request failed with HTTP status " + std::to_string(res.status);
    res.set_content(error_body(Error{code, message}), "application/json");
  });
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http.exception method={} path={} error={}", req.method, req.path, what);
    send_json(res, 500, error_body(Error{ErrorCode::internal, "the server failed while handling " + req.method + " " +
                                                                  req.path + ": " + what}));
  });

  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, R"({"status":"ok"})");
  });
  svr.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (!impl_->ready || !impl_->host.running()) {
      send_json(res, 503, error_body(Error{ErrorCode::unavailable, "hearth is starting or stopping"}));
      return;
    }
    auto stats = impl_->host.stats();
    send_json(res, 200,
              nlohmann::json{{"status", "ready"}, {"active_actors", stats.active_actors}}.dump());
  });
}

Server::~Server() { stop(); }

Result<int> Server::start() {
  auto& impl = *impl_;
  int port = impl.config.port == 0 ? impl.server.bind_to_any_port(impl.config.host)
                                   : (impl.server.bind_to_port(impl.config.host, impl.config.port) ? impl.config.port : -1);
  if (port < 0)
    return Error{ErrorCode::unavailable,
                 fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", impl.config.host,
                             impl.config.port)};
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs, so a stop() that came
  // too early would leave the thread listening forever: wait for the loop first.
  for (int i = 0; i < 5000 && !impl.server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void Server::stop() {
  if (!impl_) return;
  impl_->ready = false;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Server::set_ready(bool ready) { impl_->ready = ready; }

}  // namespace hearth::http
