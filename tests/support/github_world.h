// A world with GitHub for server tests: the fake GitHub (tests/support/fake_github.h)
// with installation 42 of "acme-corp" holding widgets and gadgets (gizmos exists but is
// not installed), a git smart-HTTP server (test::GitHttpsServer) serving them that
// accepts only installation tokens the fake minted, a TestServer configured with the App,
// and a server admin ("olive") with the org "acme". deliver() posts a signed delivery.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/fake_github.h"
#include "tests/support/git_https_server.h"
#include "tests/support/git_repo.h"
#include "tests/support/test_server.h"

namespace hearth::test {

using json = nlohmann::json;

inline constexpr const char* kSecret = "webhook-secret-for-tests";
inline constexpr std::int64_t kInstallation = 42;

struct GitHubRepoWorld {
  TempDir served;  // the git server's repositories: <account>/<name>.git
  FakeGitHub github;
  GitHttpsServer git{served.path(), [this](const std::string& token, const std::string& repository, bool write) {
                       return github.git_allows(token, repository, write);
                     }};
  std::unique_ptr<TestServer> s;
  std::string owner;

  // `configure`: more of the edge's configuration (the App is set already).
  explicit GitHubRepoWorld(const std::function<void(http::EdgeConfig&)>& configure = {}) {
    for (const char* name : {"widgets", "gadgets", "gizmos"}) {
      auto work = make_repo(served.path() / "work" / name);
      sh("git clone -q --bare '" + work.string() + "' '" + (served.path() / "acme-corp" / name).string() + ".git'");
    }
    auto base = git.url("");
    base.pop_back();  // no trailing slash
    github.set_git_base(base);
    github.add_installation({.id = kInstallation, .account = "acme-corp", .repositories = {"widgets", "gadgets"}});
    http::EdgeConfig edge;
    edge.github = github.app(kSecret);
    if (configure) configure(edge);
    auto ca = git.certificate();
    s = std::make_unique<TestServer>(std::move(edge), 16, nullptr,
                                     [ca](actors::sandbox::RuntimeConfig& rc, actors::session::RunnerConfig&) {
                                       rc.git_ca_file = ca;
                                     });
    owner = s->user_with_token("olive", true);  // a server admin: links by id
    REQUIRE(s->call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  }

  json poll(const std::string& path, const std::function<bool(const json&)>& pred) {
    return s->poll(path, owner, pred, std::chrono::seconds(60));
  }

  static json find(const json& repos, const std::string& id) {
    for (const auto& r : repos["items"])
      if (r["repo_id"] == id) return r;
    return nullptr;
  }

  ApiResponse deliver(const std::string& id, const std::string& event, const json& body) {
    auto text = body.dump();
    httplib::Headers headers{{"X-GitHub-Event", event}, {"X-GitHub-Delivery", id},
                             {"X-Hub-Signature-256", FakeGitHub::webhook_signature(kSecret, text)}};
    return s->call("POST", "/v1/webhooks/github", "", text, headers);
  }

  json installation_repositories(const std::string& action, const std::string& name) {
    auto repo = github.repository(kInstallation, name);
    json slim{{"id", repo["id"]}, {"name", name}, {"full_name", repo["full_name"]}, {"private", true}};
    return json{{"action", action},
                {"installation", {{"id", kInstallation}, {"account", {{"login", "acme-corp"}, {"type", "Organization"}}}}},
                {"repository_selection", "selected"},
                {"repositories_added", action == "added" ? json::array({slim}) : json::array()},
                {"repositories_removed", action == "removed" ? json::array({slim}) : json::array()},
                {"sender", {{"login", "ana"}}}};
  }

  std::string bare(const std::string& name) { return (served.path() / "acme-corp" / (name + ".git")).string(); }
};

}  // namespace hearth::test
