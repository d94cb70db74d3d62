// An HTTP server on 127.0.0.1 at a free port, serving on its own thread from start()
// until it is destroyed: what the fakes of outside services (fake_anthropic.h,
// fake_openai.h, fake_gemini.h) are built on. A fake registers its routes on server()
// first, then calls start(); it declares its LoopbackServer last, so that serving stops
// before the state its handlers use goes away.
//
// With a TestCertificate it speaks HTTPS; with another loopback address (127.0.0.2) it
// is a host apart from the server's own 127.0.0.1 (the egress proxy's tests allow it
// and not the server).
#pragma once

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <cstdlib>
#include <string>
#include <thread>


namespace hearth::test {

// A self-signed certificate for 127.0.0.1, 127.0.0.2, localhost and model.test, made with
// openssl in `dir`: the server's certificate and the CA a client trusts.
struct TestCertificate {
  std::filesystem::path cert, key;
  explicit TestCertificate(const std::filesystem::path& dir) : cert(dir / "server.crt"), key(dir / "server.key") {
    auto made = std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                             "-subj /CN=hearth-test -addext subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost,"
                             "DNS:model.test -keyout '" + key.string() + "' -out '" + cert.string() + "' 2>/dev/null").c_str());
    if (made != 0) throw std::runtime_error("openssl could not make a test certificate");
  }
};

class LoopbackServer {
 public:
  explicit LoopbackServer(const TestCertificate* tls = nullptr, std::string address = "127.0.0.1")
      : address_(std::move(address)), tls_(tls != nullptr) {
    if (tls) server_ = std::make_unique<httplib::SSLServer>(tls->cert.c_str(), tls->key.c_str());
    else server_ = std::make_unique<httplib::Server>();
  }
  ~LoopbackServer() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  httplib::Server& server() { return *server_; }

  // Binds and serves; returns once requests are answered.
  void start() {
    port_ = server_->bind_to_any_port(address_);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  std::string url() const { return (tls_ ? "https://" : "http://") + address_ + ":" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  std::string address_;
  bool tls_ = false;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace hearth::test
