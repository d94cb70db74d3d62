// An HTTP server on 127.0.0.1 at a free port, serving on its own thread from start()
// until it is destroyed: what the fakes of outside services (fake_anthropic.h,
// fake_openai.h, fake_gemini.h) are built on. A fake registers its routes on server()
// first, then calls start(); it declares its LoopbackServer last, so that serving stops
// before the state its handlers use goes away.
#pragma once

#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

namespace hearth::test {

class LoopbackServer {
 public:
  LoopbackServer() = default;
  ~LoopbackServer() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  httplib::Server& server() { return server_; }

  // Binds and serves; returns once requests are answered.
  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace hearth::test
