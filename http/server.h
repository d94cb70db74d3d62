// The HTTP edge: a cpp-httplib server on its own thread, in front of the actor host.
// Today it answers liveness and readiness; the /v1 API routes are added on top of it.
// Every response carries x-request-id, every error is a JSON error body, and each
// request leaves one access-log line.
#pragma once

#include <memory>
#include <string>

#include "actors/host/host.h"

namespace hearth::http {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 7741;              // 0: any free port (start() returns it)
  std::size_t threads = 32;     // worker threads; each open connection holds one
};

class Server {
 public:
  Server(ServerConfig config, actors::Host& host);
  ~Server();

  // Binds and starts serving on a background thread; returns the bound port.
  Result<int> start();
  // Stops accepting, finishes requests in flight, and joins the thread.
  void stop();
  // /readyz answers 503 until ready and again while draining.
  void set_ready(bool ready);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::http
