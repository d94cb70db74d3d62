// GitHub over real HTTP: the webhook receiver attacked from outside (no, malformed, sha1
// and wrong signatures answer 401 and record nothing), the same delivery twice applied
// once, deliveries routed to the organization that links their installation, linking
// checked against a fake GitHub on 127.0.0.1, and the routes without an App configured.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "github/app.h"
#include "tests/support/fake_github.h"
#include "tests/support/test_host.h"
#include "tests/support/test_server.h"

namespace hearth::test {
namespace {

using json = nlohmann::json;

constexpr const char* kSecret = "webhook-secret-for-tests";

struct GithubWorld {
  FakeGitHub github;
  std::unique_ptr<TestServer> s;
  std::string owner, member;

  GithubWorld() {
    github.add_installation({.id = 42, .account = "acme-corp", .repositories = {"web", "api"}});
    github.add_installation({.id = 43, .account = "paused-corp", .suspended = true});
    github::AppConfig config = github.app()->config();
    config.webhook_secret = kSecret;
    config.slug = "hearth-test";
    auto app = github::App::create(config);
    REQUIRE(app.ok());
    http::EdgeConfig edge;
    edge.github = std::shared_ptr<github::App>(std::move(*app));
    s = std::make_unique<TestServer>(std::move(edge));
    owner = s->user_with_token("olive");
    member = s->user_with_token("mo");
    REQUIRE(s->call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
    REQUIRE(s->call("POST", "/v1/orgs/acme/members", owner, json{{"username", "mo"}}).status == 201);
  }

  // POSTs `body` as GitHub delivers it: signed, with its event and delivery id.
  ApiResponse deliver(const std::string& id, const std::string& event, const json& body,
                      std::optional<std::string> signature = std::nullopt) {
    auto text = body.dump();
    httplib::Headers headers{{"X-GitHub-Event", event}, {"X-GitHub-Delivery", id},
                             {"User-Agent", "GitHub-Hookshot/abc"}};
    headers.emplace("X-Hub-Signature-256", signature.value_or(FakeGitHub::webhook_signature(kSecret, text)));
    return s->call("POST", "/v1/webhooks/github", "", text, headers);
  }
};

json pull_request(std::int64_t installation, const char* action = "opened") {
  return json{{"action", action},
              {"number", 7},
              {"installation", {{"id", installation}}},
              {"repository", {{"id", 1}, {"full_name", "acme-corp/web"}, {"private", true},
                              {"clone_url", "https://github.com/acme-corp/web.git"}, {"default_branch", "main"}}},
              {"pull_request", {{"number", 7}, {"title", "Fix the parser"}, {"state", "open"}, {"draft", false},
                                {"merged", false}, {"html_url", "https://github.com/acme-corp/web/pull/7"},
                                {"updated_at", "2026-11-30T10:00:00Z"}, {"head", {{"ref", "fix"}, {"sha", "abc"}}},
                                {"base", {{"ref", "main"}}}, {"user", {{"login", "ana"}}}}},
              {"sender", {{"login", "ana"}}}};
}

TEST_CASE("a delivery without a valid signature answers 401 and nothing is recorded or applied") {
  GithubWorld w;
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", 42}}).status == 200);
  auto body = pull_request(42).dump();
  auto sha1 = "sha1=" + std::string(40, 'a');
  auto forged = FakeGitHub::webhook_signature("not-the-secret", body);
  auto tampered = FakeGitHub::webhook_signature(kSecret, body + " ");
  for (const std::string& signature :
       {std::string(), std::string("sha256="), sha1, forged, tampered, std::string("sha256=zz"), std::string("garbage")}) {
    CAPTURE(signature);
    httplib::Headers headers{{"X-GitHub-Event", "pull_request"}, {"X-GitHub-Delivery", "d-forged"}};
    if (!signature.empty()) headers.emplace("X-Hub-Signature-256", signature);
    auto r = w.s->call("POST", "/v1/webhooks/github", "", body, headers);
    CHECK(r.status == 401);
    CHECK(r.body["error"]["code"] == "unauthorized");
  }
  // Not even JSON behind a bad signature is looked at: still 401, not 400.
  CHECK(w.deliver("d-junk", "pull_request", json::object(), "sha256=" + std::string(64, '0')).status == 401);
  auto deliveries = w.s->call("GET", "/v1/orgs/acme/github/deliveries", w.owner);
  REQUIRE(deliveries.status == 200);
  CHECK(deliveries.body["items"].empty());
  CHECK(w.s->call("GET", "/v1/orgs/acme/github/pulls", w.member).body["items"].empty());
}

TEST_CASE("the same delivery twice is applied once, and a signed delivery that is not JSON answers 400") {
  GithubWorld w;
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", 42}}).status == 200);
  auto first = w.deliver("d-1", "pull_request", pull_request(42));
  CHECK(first.status == 202);
  CHECK(first.body["duplicate"] == false);
  auto again = w.deliver("d-1", "pull_request", pull_request(42));
  CHECK(again.status == 200);
  CHECK(again.body["duplicate"] == true);
  json pulls;
  REQUIRE(eventually([&] {
    pulls = w.s->call("GET", "/v1/orgs/acme/github/pulls", w.member).body;
    return pulls["items"].size() == 1;
  }));
  CHECK(pulls["items"][0]["title"] == "Fix the parser");
  auto deliveries = w.s->call("GET", "/v1/orgs/acme/github/deliveries", w.owner).body["items"];
  REQUIRE(deliveries.size() == 1);
  CHECK(deliveries[0]["delivery_id"] == "d-1");
  CHECK(deliveries[0]["outcome"] == "applied");
  // Members see pull requests; deliveries are for admins.
  CHECK(w.s->call("GET", "/v1/orgs/acme/github/deliveries", w.member).status == 403);

  httplib::Headers headers{{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-2"},
                           {"X-Hub-Signature-256", FakeGitHub::webhook_signature(kSecret, "{not json")}};
  auto bad = w.s->call("POST", "/v1/webhooks/github", "", "{not json", headers);
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["message"] == "the delivery's body is not a JSON object");
}

TEST_CASE("deliveries for an installation no organization links are kept unrouted, not applied anywhere") {
  GithubWorld w;
  auto r = w.deliver("d-1", "pull_request", pull_request(42));
  CHECK(r.status == 202);
  CHECK(w.s->call("GET", "/v1/orgs/acme/github/pulls", w.member).body["items"].empty());
  auto unlinked = actors::Address{"github_data", {"_unlinked"}};
  REQUIRE(eventually([&] {
    auto kept = w.s->host->call(unlinked, "github_data.deliveries");
    return kept.ok() && (*kept)["items"].size() == 1 && (*kept)["items"][0]["outcome"] == "unrouted";
  }));
}

TEST_CASE("linking checks the installation with GitHub, once per organization and per installation") {
  GithubWorld w;
  // Only admins link.
  CHECK(w.s->call("POST", "/v1/orgs/acme/github/installation", w.member, json{{"installation_id", 42}}).status == 403);
  auto missing = w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", 999}});
  CHECK(missing.status == 404);
  CHECK(missing.body["error"]["message"] == "GitHub has no installation 999 of this App");
  auto paused = w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", 43}});
  CHECK(paused.status == 409);
  auto linked = w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", 42}});
  REQUIRE(linked.status == 200);
  CHECK(linked.body["status"] == "connected");
  CHECK(linked.body["installation"]["account_login"] == "acme-corp");
  auto shown = w.s->call("GET", "/v1/orgs/acme/github", w.member).body;
  CHECK(shown["configured"] == true);
  CHECK(shown["install_url"].get<std::string>().find("/apps/hearth-test/installations/new") != std::string::npos);
  // Another organization cannot take the same installation.
  REQUIRE(w.s->call("POST", "/v1/orgs", w.owner, json{{"name", "Beta"}}).status == 201);
  auto taken = w.s->call("POST", "/v1/orgs/beta/github/installation", w.owner, json{{"installation_id", 42}});
  CHECK(taken.status == 409);
  // Unlinked, it can.
  REQUIRE(w.s->call("DELETE", "/v1/orgs/acme/github/installation", w.owner).status == 200);
  CHECK(w.s->call("GET", "/v1/orgs/acme/github", w.member).body["status"] == "unlinked");
  CHECK(w.s->call("POST", "/v1/orgs/beta/github/installation", w.owner, json{{"installation_id", 42}}).status == 200);
}

TEST_CASE("linking syncs repositories, members and open pull requests over several pages through a rate limit") {
  FakeGitHub github;
  std::vector<std::string> names;
  for (int i = 0; i < 150; ++i) names.push_back(fmt::format("repo-{:03}", i));
  github.add_installation({.id = 42, .account = "acme-corp", .repositories = names});
  github.add_members("acme-corp", {"ana", "bo"});
  github.add_pull_requests("acme-corp/repo-007", 120);
  github.add_pull_requests("acme-corp/repo-100", 1);
  http::EdgeConfig edge;
  edge.github = github.app(kSecret);
  TestServer s(std::move(edge));
  auto owner = s.user_with_token("olive");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  // A handful of calls, then GitHub says wait until the reset: the sync waits and goes on.
  github.pause_after(4, std::chrono::seconds(1));
  REQUIRE(s.call("POST", "/v1/orgs/acme/github/installation", owner, json{{"installation_id", 42}}).status == 200);
  json shown;
  bool ended = eventually(
      [&] {
        shown = s.call("GET", "/v1/orgs/acme/github", owner).body;
        return shown["sync"]["phase"] == "done" || shown["sync"]["phase"] == "failed";
      },
      std::chrono::seconds(60));
  INFO(shown.dump());
  REQUIRE(ended);
  CHECK(shown["sync"]["phase"] == "done");
  CHECK(shown["sync"]["error"].is_null());
  CHECK(shown["repositories"] == 150);
  CHECK(shown["members"] == 2);
  CHECK(shown["open_pull_requests"] == 121);
  CHECK(github.wait_for_status(403, std::chrono::milliseconds(1)));  // the limit was hit, and waited out
  auto repos = s.call("GET", "/v1/orgs/acme/github/repositories", owner).body["items"];
  REQUIRE(repos.size() == 150);
  CHECK(repos[0]["full_name"] == "acme-corp/repo-000");
  // Each repository's pull requests were read with a token for that repository alone.
  bool narrowed = false;
  for (const auto& t : github.minted())
    narrowed = narrowed || (t.repositories == std::vector<std::string>{"repo-007"} &&
                            t.permissions == json{{"pull_requests", "read"}});
  CHECK(narrowed);
  // Another sync, asked for: 202, and it ends with the same data.
  REQUIRE(s.call("POST", "/v1/orgs/acme/github/sync", owner).status == 202);
  REQUIRE(eventually([&] {
    shown = s.call("GET", "/v1/orgs/acme/github", owner).body;
    return shown["sync"]["generation"] == 2 && shown["sync"]["phase"] == "done";
  }));
  CHECK(shown["repositories"] == 150);
  CHECK(shown["open_pull_requests"] == 121);  // seen again: stamped with the new sync, not swept
}

TEST_CASE("without a GitHub App the GitHub routes say it is not configured, and deliveries are refused") {
  TestServer s;
  auto owner = s.user_with_token("olive");
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  auto link = s.call("POST", "/v1/orgs/acme/github/installation", owner, json{{"installation_id", 42}});
  CHECK(link.status == 503);
  CHECK(link.body["error"]["message"] == "the GitHub App is not configured on this server (see docs/github.md)");
  CHECK(s.call("GET", "/v1/orgs/acme/github", owner).body["configured"] == false);
  httplib::Headers headers{{"X-GitHub-Event", "ping"}, {"X-GitHub-Delivery", "d"}, {"X-Hub-Signature-256", "sha256=00"}};
  CHECK(s.call("POST", "/v1/webhooks/github", "", "{}", headers).status == 503);
}

}  // namespace
}  // namespace hearth::test
