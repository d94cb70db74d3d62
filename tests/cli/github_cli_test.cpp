// `hearth github ...` against `hearth serve` as a separate process, with its GitHub App
// pointed at a fake GitHub on 127.0.0.1: link, status with the sync's outcome,
// repositories, pull requests, deliveries, unlink; and a sync cut short by kill -9 that
// completes after the restart.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "tests/support/fake_github.h"
#include "tests/support/served.h"
#include "tests/support/test_host.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using nlohmann::json;
using test::contains;
using test::Served;

TEST_CASE("hearth github links an installation, shows the synced repositories and pull requests, and unlinks") {
  test::FakeGitHub github;
  github.add_installation({.id = 42, .account = "acme-corp", .repositories = {"web", "api"}});
  github.add_pull_requests("acme-corp/web", 2);
  test::TempDir dir;
  auto key = dir.path() / "app.pem";
  std::ofstream(key) << github.private_key_pem();
  Served s(dir.path(), {"--github-app-id", github.app_id(), "--github-private-key-file", key.string(),
                        "--github-api-url", github.url(), "--github-app-slug", "hearth-test"});
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);

  auto before = s.hearth({"github", "status", "acme"});
  REQUIRE_MESSAGE(before.code == 0, before.out);
  CHECK(contains(before.out, "installation: none linked"));
  CHECK(contains(before.out, "/apps/hearth-test/installations/new"));

  auto install = s.hearth({"github", "install", "acme"});
  REQUIRE_MESSAGE(install.code == 0, install.out);
  CHECK(contains(install.out, "/apps/hearth-test/installations/new?state="));

  auto linked = s.hearth({"github", "link", "acme", "42"});
  REQUIRE_MESSAGE(linked.code == 0, linked.out);
  CHECK(contains(linked.out, "installation: 42 (acme-corp, connected)"));
  REQUIRE(test::eventually([&] { return contains(s.hearth({"github", "status", "acme"}).out, "sync: done"); },
                           std::chrono::seconds(30)));
  auto status = s.hearth({"github", "status", "acme"});
  CHECK(contains(status.out, "repositories: 2, members: 0, open pull requests: 2"));
  auto repos = s.hearth({"github", "repos", "acme"});
  CHECK(contains(repos.out, "acme-corp/api"));
  CHECK(contains(repos.out, "acme-corp/web"));
  // They are the org's repositories too, for tasks.
  REQUIRE(test::eventually([&] { return contains(s.hearth({"repo", "list", "acme"}).out, "github acme-corp/web"); },
                           std::chrono::seconds(30)));
  CHECK(contains(s.hearth({"repo", "list", "acme"}).out, "github acme-corp/api"));
  auto prs = s.hearth({"github", "prs", "acme", "--json"});
  REQUIRE(prs.code == 0);
  CHECK(json::parse(prs.out)["items"].size() == 2);
  CHECK(s.hearth({"github", "deliveries", "acme"}).code == 0);
  CHECK(s.hearth({"github", "stored", "--org", "acme"}).code == 0);
  auto nothing = s.hearth({"github", "redeliver", "d-nope", "--org", "acme"});
  CHECK(nothing.code != 0);
  CHECK(contains(nothing.out, "no delivery \"d-nope\" is kept there"));
  auto missing = s.hearth({"github", "link", "acme", "999"});
  CHECK(missing.code != 0);
  CHECK(contains(missing.out, "GitHub has no installation 999 of this App"));
  auto unlinked = s.hearth({"github", "unlink", "acme"});
  REQUIRE(unlinked.code == 0);
  CHECK(contains(unlinked.out, "installation: none linked"));
  REQUIRE(test::eventually([&] { return !contains(s.hearth({"repo", "list", "acme"}).out, "acme-corp/web"); },
                           std::chrono::seconds(30)));
}

TEST_CASE("a GitHub sync cut short by kill -9 completes after the restart, with every row once") {
  test::FakeGitHub github;
  std::vector<std::string> names;
  for (int i = 0; i < 30; ++i) names.push_back(fmt::format("repo-{:02}", i));
  github.add_installation({.id = 42, .account = "acme-corp", .repositories = names});
  github.add_members("acme-corp", {"ana", "bo"});
  for (const auto& n : names) github.add_pull_requests("acme-corp/" + n, 3);
  test::TempDir dir;
  auto key = dir.path() / "app.pem";
  std::ofstream(key) << github.private_key_pem();
  std::vector<std::string> flags{"--github-app-id", github.app_id(), "--github-private-key-file", key.string(),
                                 "--github-api-url", github.url()};
  Served s(dir.path(), flags);
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  // The repositories, the members and ten repositories' pull requests; then GitHub says
  // wait a minute: the sync is certainly midway when the server is killed.
  github.pause_after(1 + 1 + 10, std::chrono::seconds(60));
  REQUIRE(s.hearth({"github", "link", "acme", "42"}).code == 0);
  REQUIRE(github.wait_for_status(403, std::chrono::seconds(60)));
  auto midway = s.poll("/v1/orgs/acme/github", [](const json& b) {
    return b["sync"]["phase"] == "pull_requests" && b["sync"]["processed"] == 10;
  });
  CHECK(midway["repositories"] == 30);
  CHECK(midway["open_pull_requests"] == 30);

  ::kill(s.server->pid(), SIGKILL);
  REQUIRE(s.server->wait(std::chrono::seconds(10)).ok());
  github.lift_limits();
  s.start(flags);
  // The interrupted sync starts again by itself and ends well; nothing is doubled.
  auto done = s.poll("/v1/orgs/acme/github", [](const json& b) { return b["sync"]["phase"] == "done"; });
  CHECK(done["sync"]["generation"] == 2);
  CHECK(done["sync"]["error"].is_null());
  CHECK(done["repositories"] == 30);
  CHECK(done["members"] == 2);
  CHECK(done["open_pull_requests"] == 90);
  auto pulls = s.get("/v1/orgs/acme/github/pulls")["items"];
  CHECK(pulls.size() == 90);
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (const auto& p : pulls) seen.insert({p["repo_id"].get<std::int64_t>(), p["number"].get<std::int64_t>()});
  CHECK(seen.size() == 90);
  // The organization has the installation's repositories as its own, once each.
  CHECK(s.poll("/v1/orgs/acme/repos", [](const json& b) { return b["items"].size() == 30; })["items"].size() == 30);
}
