// A running edge for the HTTP benchmarks: a host with the identity actors (optionally
// customized), the HTTP server on a free loopback port, a user with an API token and an
// organization it owns. Passwords use the minimum Argon2id cost: sign-in is not measured.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "actors/identity/identity.h"
#include "bench/bench_util.h"
#include "http/server.h"

namespace hearth::bench {

class BenchEdge {
 public:
  BenchEdge(const std::string& name, std::size_t threads,
            const std::function<void(actors::ActorType&)>& customize = {}, http::EdgeConfig edge = {})
      : scratch_(name) {
    identity::set_password_cost(identity::PasswordCost::minimum);
    actors::HostConfig config;
    config.data_dir = scratch_.path();
    host = std::make_unique<actors::Host>(config);
    if (!identity::register_types(*host, customize).ok() || !host->start().ok()) std::exit(1);
    http::ServerConfig sc;
    sc.host = "127.0.0.1";
    sc.port = 0;
    sc.threads = threads;
    sc.edge = std::move(edge);
    server = std::make_unique<http::Server>(sc, *host);
    auto p = server->start();
    if (!p) std::exit(1);
    port = *p;
    server->set_ready(true);
    identity::Identity id(*host);
    auto user = id.create_user("bench", "bench-password", false);
    if (!user) std::exit(1);
    identity::Caller caller;
    caller.user_id = (*user)["user_id"].get<std::string>();
    caller.username = "bench";
    auto token_made = id.create_token(caller.user_id, "bench", std::nullopt);
    if (!token_made) std::exit(1);
    token = token_made->secret;
    auto org = id.create_org(caller, "Bench", "bench");
    if (!org) std::exit(1);
    org_id = (*org)["id"].get<std::string>();
  }
  ~BenchEdge() {
    server->stop();
    host->shutdown();
  }

  httplib::Headers auth() const { return {{"Authorization", "Bearer " + token}}; }

  std::unique_ptr<actors::Host> host;
  std::unique_ptr<http::Server> server;
  int port = 0;
  std::string token, org_id;

 private:
  ScratchDir scratch_;
};

}  // namespace hearth::bench
