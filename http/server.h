// The HTTP edge: a cpp-httplib server on its own thread, in front of the actor host.
// It serves /healthz, /readyz, /metrics and the /v1 API (the route table in
// router.h). Every response carries x-request-id, every error is a JSON error body,
// and each request leaves one access-log line (method, route, status, duration,
// request id, user id; never a credential).
#pragma once

#include <filesystem>

#include <memory>
#include <string>

#include "actors/host/host.h"
#include "http/connection_gate.h"
#include "http/router.h"

namespace hearth::http {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 7741;           // 0: any free port (start() returns it)
  std::size_t threads = 32;  // workers for ordinary requests; event streams get their own on top
  EdgeConfig edge;
  GateConfig gate;  // how long and how many connections may wait for their request head
  // The built web frontend (index.html, assets/): served at / with a strict
  // Content-Security-Policy. Empty or missing: / says the frontend is not built.
  std::filesystem::path web_dir;
};

class Server {
 public:
  // `host` must have the identity actor types registered (identity::register_types).
  Server(ServerConfig config, actors::Host& host);
  ~Server();

  // Binds and starts serving on a background thread; returns the bound port.
  Result<int> start();
  // Stops accepting, ends event streams, finishes requests in flight, joins the thread.
  void stop();
  // /readyz and the /v1 API answer 503 until ready and again while draining.
  void set_ready(bool ready);

  // Connections waiting in the gate for their request head.
  std::size_t waiting_connections() const;
  // Workers reading a request body now.
  std::size_t reading_bodies() const;
  // Requests waiting for an actor's answer to a change now.
  std::size_t waiting_sends() const;

  // The route table, for the authorization test and the docs.
  const Router& router() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::http
