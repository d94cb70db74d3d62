// A running edge for the HTTP benchmarks: a host with the identity actors (optionally
// customized), the HTTP server on a free loopback port, a user with an API token and an
// organization it owns. Passwords use the minimum Argon2id cost: sign-in is not measured.
// With `agents`, also sandboxes and agent sessions (bwrap, the mock agent from `hearth`).
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "actors/billing/billing_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/identity/identity.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "sandbox/egress.h"
#include "actors/session/session_actor.h"
#include "bench/bench_util.h"
#include "http/server.h"
#include "storage/secret_box.h"

namespace hearth::bench {

class BenchEdge {
 public:
  BenchEdge(const std::string& name, std::size_t threads,
            const std::function<void(actors::ActorType&)>& customize = {}, http::EdgeConfig edge = {},
            bool agents_too = false, std::chrono::milliseconds hibernate_after = std::chrono::seconds(60))
      : scratch_(name) {
    identity::set_password_cost(identity::PasswordCost::minimum);
    actors::HostConfig config;
    config.data_dir = scratch_.path();
    config.hibernate_after = hibernate_after;
    host = std::make_unique<actors::Host>(config);
    if (!identity::register_types(*host, customize).ok()) std::exit(1);
    if (!actors::github_data::register_type(*host, edge.github).ok()) std::exit(1);
    if (!actors::billing::register_type(*host, edge.billing).ok()) std::exit(1);
    if (agents_too) {
      auto key = storage::MasterKey::load(scratch_.path());
      if (!key) std::exit(1);
      actors::sandbox::RuntimeConfig rc;
      rc.data_dir = scratch_.path();
      rc.master_key = std::make_shared<const storage::MasterKey>(*key);
      rc.hearth_binary = HEARTH_BINARY;
      rc.file_repo_roots = {scratch_.path().parent_path().string()};  // the benchmarks' scratch dirs
      rc.github = edge.github;
      // Real agents' tasks get network proxy; the fakes of their model APIs are on the
      // loopback, which a server admin lets sandboxes reach here.
      rc.egress.allowed_addresses.push_back(hearth::sandbox::egress::Cidr::parse("127.0.0.1").value());
      runtime = std::make_unique<actors::sandbox::Runtime>(*host, rc);
      agents = std::make_unique<actors::session::AgentRunner>(*runtime);
      if (!actors::session::register_types(*host, *agents).ok() || !runtime->start().ok()) std::exit(1);
      edge.master_key = rc.master_key;
      edge.agents = agents.get();
    }
    if (!host->start().ok()) std::exit(1);
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
    auto user = id.create_user("bench", "bench-password", true);  // a server admin: connects file:// repos
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
    if (agents) agents->shutdown();
    host->shutdown();
    agents.reset();
    runtime.reset();
  }

  httplib::Headers auth() const { return {{"Authorization", "Bearer " + token}}; }

  // Creates the sandbox of `task` in the bench org (an empty work dir) and waits until it
  // is ready; exits the benchmark when it cannot.
  void ready_sandbox(const std::string& task) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(30, 0);
    auto path = "/v1/orgs/bench/tasks/" + task + "/sandbox";
    auto made = cli.Post(path, auth(), "{}", "application/json");
    if (!made || made->status != 201) std::exit(1);
    for (int i = 0; i < 1000; ++i) {
      auto s = cli.Get(path, auth());
      if (s && nlohmann::json::parse(s->body)["state"] == "ready") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::exit(1);
  }

  const std::filesystem::path& data_dir() const { return scratch_.path(); }

  // A bare repository (main with one file) outside the data dir, connected to the bench
  // org as "origin"; exits the benchmark when it cannot.
  void connect_repo(const std::filesystem::path& at) {
    auto dir = at.string();
    auto script = "set -e; git init -q -b main '" + dir + "/work'; cd '" + dir +
                  "/work'; echo hello > README.md; git add -A; git -c user.name=b -c user.email=b@b commit -qm init; "
                  "git clone -q --bare '" + dir + "/work' '" + dir + "/origin.git'";
    if (std::system(("sh -c \"" + script + "\"").c_str()) != 0) std::exit(1);
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(30, 0);
    auto r = cli.Post("/v1/orgs/bench/repos", auth(), nlohmann::json{{"url", "file://" + dir + "/origin.git"}}.dump(),
                      "application/json");
    if (!r || r->status != 201) {
      std::cerr << "cannot connect the repository: " << (r ? r->body : "no answer") << "\n";
      std::exit(1);
    }
  }

  std::unique_ptr<actors::Host> host;
  std::unique_ptr<actors::sandbox::Runtime> runtime;
  std::unique_ptr<actors::session::AgentRunner> agents;
  std::unique_ptr<http::Server> server;
  int port = 0;
  std::string token, org_id;

 private:
  ScratchDir scratch_;
};

}  // namespace hearth::bench
