// GitHub repositories as repositories of the organization, over real HTTP: linking an
// installation makes each of its repositories one; a task on one clones and pushes
// through a git smart-HTTP server (test::GitHttpsServer) that accepts only installation
// tokens the fake GitHub minted, narrowed to that repository and to read (clone, fetch)
// or write (push); repositories added to the installation arrive with their details read
// from GitHub; one removed while a live task uses it is kept and marked (its live tasks
// listed), not deleted; uninstalling the App takes them all away.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "actors/organization/organization_actor.h"
#include "github/app.h"
#include "tests/support/github_world.h"
#include "tests/support/test_host.h"

namespace hearth::test {
namespace {

using json = nlohmann::json;

TEST_CASE("a task on a GitHub repository clones and pushes with installation tokens minted for each operation") {
  GitHubRepoWorld w;
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", kInstallation}})
              .status == 200);
  // The sync makes each repository of the installation a repository of the org.
  w.poll("/v1/orgs/acme/github", [](const json& b) { return b["sync"]["phase"] == "done"; });
  auto repos = w.poll("/v1/orgs/acme/repos", [](const json& b) { return b["items"].size() == 2; });
  auto widgets = GitHubRepoWorld::find(repos, "widgets");
  REQUIRE_MESSAGE(widgets.is_object(), repos.dump());
  CHECK(widgets["source"] == "github");
  CHECK(widgets["url"] == w.git.url("acme-corp/widgets.git"));
  CHECK(widgets["default_branch"] == "main");
  CHECK(widgets["credential"] == "github:" + std::to_string(widgets["github"]["repository_id"].get<std::int64_t>()));
  CHECK(widgets["github"]["full_name"] == "acme-corp/widgets");
  CHECK(widgets["github"]["removed_at"].is_null());
  // It is the installation's to remove, not an admin's.
  CHECK(w.s->call("DELETE", "/v1/orgs/acme/repos/widgets", w.owner).status == 409);

  auto before = w.github.minted().size();
  auto made = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                        json{{"repo", "widgets"}, {"prompt", "/write hello.txt Hello from GitHub"}, {"agent", "mock"}});
  REQUIRE_MESSAGE(made.status == 201, made.body.dump());
  auto path = "/v1/orgs/acme/tasks/" + made.body["task_id"].get<std::string>();
  auto task = w.poll(path, [](const json& b) {
    return b.value("status", "") == "idle" && b.contains("running_op") && b["running_op"].is_null();
  });
  REQUIRE_MESSAGE(task["status"] == "idle", task.dump());
  auto pushed = w.s->call("POST", path + "/push", w.owner, json::object());
  REQUIRE_MESSAGE(pushed.status == 202, pushed.body.dump());
  auto op = w.poll(path + "/ops/" + std::to_string(pushed.body["op_id"].get<std::int64_t>()),
                   [](const json& b) { return b["status"] != "running"; });
  REQUIRE_MESSAGE(op["status"] == "succeeded", op.dump());
  auto branch = task["branch"].get<std::string>();
  CHECK(sh("git -C '" + w.bare("widgets") + "' show " + branch + ":hello.txt; echo") == "Hello from GitHub\n");

  // The clone read with a token for widgets alone with contents read; the push wrote
  // with one for widgets alone with contents write. No token covered more.
  auto minted = w.github.minted();
  bool read = false, write = false;
  for (std::size_t i = before; i < minted.size(); ++i) {
    const auto& t = minted[i];
    CAPTURE(t.permissions.dump());
    CHECK(t.repositories == std::vector<std::string>{"widgets"});
    CHECK(t.permissions.size() == 1);
    read = read || t.permissions == json{{"contents", "read"}};
    write = write || t.permissions == json{{"contents", "write"}};
  }
  CHECK(read);
  CHECK(write);
  CHECK(w.git.refused() > 0);  // git asked without credentials first, then through askpass
  CHECK_FALSE(w.git.token_elsewhere());
  // No token is written anywhere Hearth keeps files, nor in any answer.
  for (const auto& f : std::filesystem::recursive_directory_iterator(w.s->dir.path())) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    for (const auto& t : minted) CHECK_MESSAGE(bytes.find(t.value) == std::string::npos, f.path());
  }
  for (const auto& t : minted) {
    CHECK(task.dump().find(t.value) == std::string::npos);
    CHECK(op.dump().find(t.value) == std::string::npos);
  }

  // Should the organization miss a change (here: told a repository went that did not),
  // the next full sync mends it: it tells the organization the whole set.
  auto org_id = w.s->call("GET", "/v1/orgs/acme", w.owner).body["id"].get<std::string>();
  auto gadgets = GitHubRepoWorld::find(repos, "gadgets");
  REQUIRE(w.s->host->send(actors::organization::address(org_id), actors::organization::kGitHubRepos,
                          json{{"remove", {gadgets["github"]["repository_id"]}}}, waiting()).ok());
  CHECK(GitHubRepoWorld::find(w.s->call("GET", "/v1/orgs/acme/repos", w.owner).body, "gadgets").is_null());
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/sync", w.owner).status == 202);
  w.poll("/v1/orgs/acme/repos", [](const json& b) { return GitHubRepoWorld::find(b, "gadgets").is_object(); });
}

TEST_CASE("repositories added to the installation appear, and removed ones go or stay marked while a live task uses them") {
  GitHubRepoWorld w;
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", kInstallation}})
              .status == 200);
  w.poll("/v1/orgs/acme/repos", [](const json& b) { return b["items"].size() == 2; });

  // Added on GitHub: the delivery lacks the clone URL and default branch, read from GitHub.
  w.github.add_repository(kInstallation, "gizmos");
  REQUIRE(w.deliver("d-added", "installation_repositories", w.installation_repositories("added", "gizmos")).status == 202);
  auto repos = w.poll("/v1/orgs/acme/repos", [](const json& b) { return b["items"].size() == 3; });
  auto gizmos = GitHubRepoWorld::find(repos, "gizmos");
  REQUIRE_MESSAGE(gizmos.is_object(), repos.dump());
  CHECK(gizmos["url"] == w.git.url("acme-corp/gizmos.git"));
  CHECK(gizmos["default_branch"] == "main");

  // widgets has a live task; gadgets has none.
  auto made = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                        json{{"repo", "widgets"}, {"prompt", "/write a.txt A"}, {"agent", "mock"}});
  REQUIRE_MESSAGE(made.status == 201, made.body.dump());
  auto task_id = made.body["task_id"].get<std::string>();
  auto path = "/v1/orgs/acme/tasks/" + task_id;
  w.poll(path, [](const json& b) { return b.value("status", "") == "idle"; });

  w.github.remove_repository(kInstallation, "gadgets");
  w.github.remove_repository(kInstallation, "widgets");
  REQUIRE(w.deliver("d-rm1", "installation_repositories", w.installation_repositories("removed", "gadgets")).status == 202);
  REQUIRE(w.deliver("d-rm2", "installation_repositories", w.installation_repositories("removed", "widgets")).status == 202);
  repos = w.poll("/v1/orgs/acme/repos", [](const json& b) {
    auto widgets = GitHubRepoWorld::find(b, "widgets");
    return GitHubRepoWorld::find(b, "gadgets").is_null() && widgets.is_object() &&
           !widgets["github"]["removed_at"].is_null();
  });
  // The live task that keeps it is listed; no new task on it.
  auto kept = w.s->call("GET", "/v1/orgs/acme/repos/widgets", w.owner).body;
  CHECK(kept["live_tasks"] == json::array({task_id}));
  auto refused = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                           json{{"repo", "widgets"}, {"prompt", "more"}, {"agent", "mock"}});
  CHECK(refused.status == 409);
  CHECK(refused.body["error"]["message"].get<std::string>().find("removed from the organization's GitHub installation") !=
        std::string::npos);
  // Its git operations now fail clearly: GitHub mints no token for a repository it left.
  auto pushed = w.s->call("POST", path + "/push", w.owner, json::object());
  REQUIRE_MESSAGE(pushed.status == 202, pushed.body.dump());
  auto op = w.poll(path + "/ops/" + std::to_string(pushed.body["op_id"].get<std::int64_t>()),
                   [](const json& b) { return b["status"] != "running"; });
  CHECK(op["status"] == "failed");
  CHECK(op.dump().find("no longer part of the organization's GitHub installation") != std::string::npos);
  // Once the task is archived, the marked repository can go.
  CHECK(w.s->call("DELETE", "/v1/orgs/acme/repos/widgets", w.owner).status == 409);
  REQUIRE(w.s->call("POST", path + "/archive", w.owner, json::object()).status < 300);
  w.poll(path, [](const json& b) { return b.value("status", "") == "archived"; });
  CHECK(w.s->call("DELETE", "/v1/orgs/acme/repos/widgets", w.owner).status == 200);

  // The App uninstalled on GitHub: its repositories go.
  json deleted{{"action", "deleted"},
               {"installation", {{"id", kInstallation}, {"account", {{"login", "acme-corp"}, {"type", "Organization"}}}}},
               {"sender", {{"login", "ana"}}}};
  REQUIRE(w.deliver("d-uninstalled", "installation", deleted).status == 202);
  w.poll("/v1/orgs/acme/repos", [](const json& b) { return b["items"].empty(); });
  CHECK(w.s->call("GET", "/v1/orgs/acme/github", w.owner).body["status"] == "removed");
}

}  // namespace
}  // namespace hearth::test
