// A started host with the identity actors and an HTTP server on a free loopback port,
// plus helpers to create users and orgs and to call the API as one of them.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <functional>
#include <thread>

#include "actors/billing/billing_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/identity/identity.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "actors/session/session_actor.h"
#include "http/server.h"
#include "tests/support/temp_dir.h"

namespace hearth::test {

struct ApiResponse {
  int status = 0;
  nlohmann::json body;
  httplib::Headers headers;
  std::string text;  // the body as sent
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestServer {
 public:
  using SandboxSetup = std::function<void(actors::sandbox::RuntimeConfig&, actors::session::RunnerConfig&)>;

  explicit TestServer(http::EdgeConfig edge = {}, std::size_t threads = 8,
                      const std::function<void(actors::ActorType&)>& customize = {},
                      const SandboxSetup& sandboxes = {},
                      const std::function<void(http::ServerConfig&)>& server_setup = {}) {
    identity::set_password_cost(identity::PasswordCost::minimum);
    actors::HostConfig config;
    config.data_dir = dir.path();
    host = std::make_unique<actors::Host>(config);
    auto key = storage::MasterKey::load(dir.path());
    REQUIRE(key.ok());
    master_key = std::make_shared<const storage::MasterKey>(*key);
    actors::sandbox::RuntimeConfig rc;
    rc.data_dir = dir.path();
    rc.master_key = master_key;
    rc.hearth_binary = HEARTH_BINARY;
    // Tests keep their repositories in temporary dirs (never the data dir).
    rc.file_repo_roots = {std::filesystem::temp_directory_path().string()};
    rc.github = edge.github;
    actors::session::RunnerConfig runner_config;
    if (sandboxes) sandboxes(rc, runner_config);
    runtime = std::make_unique<actors::sandbox::Runtime>(*host, rc);
    agents = std::make_unique<actors::session::AgentRunner>(*runtime, runner_config);
    REQUIRE(identity::register_types(*host, customize).ok());
    REQUIRE(actors::github_data::register_type(*host, edge.github).ok());
    REQUIRE(actors::billing::register_type(*host, edge.billing).ok());
    REQUIRE(actors::session::register_types(*host, *agents).ok());
    auto started = runtime->start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    REQUIRE(host->start().ok());
    http::ServerConfig sc;
    sc.host = "127.0.0.1";
    sc.port = 0;
    sc.threads = threads;
    sc.edge = std::move(edge);
    if (!sc.edge.master_key) sc.edge.master_key = master_key;
    if (!sc.edge.agents) sc.edge.agents = agents.get();
    // Tests make orgs as plain users and connect repositories under /tmp; the tests of
    // the defaults (admins only, no file:// roots) undo this in `server_setup`.
    sc.edge.anyone_creates_orgs = true;
    if (server_setup) server_setup(sc);
    server = std::make_unique<http::Server>(sc, *host);
    auto p = server->start();
    REQUIRE(p.ok());
    port = *p;
    server->set_ready(true);
  }
  ~TestServer() {
    server->stop();
    agents->shutdown();
    host->shutdown();
    agents.reset();
    runtime.reset();
  }

  identity::Identity identity() { return identity::Identity(*host); }

  // A user with an API token; returns the token.
  std::string user_with_token(const std::string& username, bool admin = false) {
    auto id = identity();
    auto u = id.create_user(username, "password-" + username, admin);
    REQUIRE_MESSAGE(u.ok(), (u.ok() ? "" : u.error().message));
    auto t = id.create_token((*u)["user_id"].get<std::string>(), "test", std::nullopt);
    REQUIRE(t.ok());
    return t->secret;
  }

  // Polls GET `path` as `token` until `pred` holds on its body (up to `limit`); returns
  // the last body (failing the test when it never held).
  nlohmann::json poll(const std::string& path, const std::string& token, const std::function<bool(const nlohmann::json&)>& pred,
            std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + limit;
    nlohmann::json body;
    for (;;) {
      auto r = call("GET", path, token);
      body = r.body;
      if (r.status == 200 && pred(body)) return body;
      if (std::chrono::steady_clock::now() > until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL_CHECK("condition never held on GET " << path << ": " << body.dump());
    return body;
  }

  ApiResponse call(const std::string& method, const std::string& path, const std::string& token = "",
                   const std::string& body = "", httplib::Headers headers = {},
                   const std::string& content_type = "application/json") {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(15, 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    httplib::Result r{nullptr, httplib::Error::Unknown};
    if (method == "GET") r = cli.Get(path, headers);
    else if (method == "POST") r = cli.Post(path, headers, body, content_type);
    else if (method == "PATCH") r = cli.Patch(path, headers, body, content_type);
    else if (method == "PUT") r = cli.Put(path, headers, body, content_type);
    else if (method == "DELETE") r = cli.Delete(path, headers, body, content_type);
    REQUIRE_MESSAGE(r, "no answer to " << method << " " << path << ": " << httplib::to_string(r.error()));
    ApiResponse out{r->status, nlohmann::json::parse(r->body, nullptr, false), r->headers, r->body};
    return out;
  }
  ApiResponse call(const std::string& method, const std::string& path, const std::string& token, const char* body) {
    return call(method, path, token, std::string(body));
  }
  ApiResponse call(const std::string& method, const std::string& path, const std::string& token,
                   const nlohmann::json& body) {
    return call(method, path, token, body.dump());
  }

  TempDir dir;
  std::shared_ptr<const storage::MasterKey> master_key;
  std::unique_ptr<actors::Host> host;
  std::unique_ptr<actors::sandbox::Runtime> runtime;
  std::unique_ptr<actors::session::AgentRunner> agents;
  std::unique_ptr<http::Server> server;
  int port = 0;
};

}  // namespace hearth::test
