// GitHub over real HTTP: the webhook receiver attacked from outside (no, malformed, sha1
// and wrong signatures answer 401 and record nothing), the same delivery twice applied
// once, deliveries routed to the organization that links their installation, linking
// checked against a fake GitHub on 127.0.0.1, and the routes without an App configured.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "github/app.h"
#include "tests/support/event_stream.h"
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
    owner = s->user_with_token("olive", true);  // and a server admin: links installations by id
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

TEST_CASE("deliveries for an installation no organization links are kept unrouted, then applied when it is linked") {
  GithubWorld w;
  auto root = w.s->user_with_token("root", true);
  auto merged = pull_request(42, "closed");
  merged["pull_request"]["state"] = "closed";
  merged["pull_request"]["merged"] = true;
  REQUIRE(w.deliver("d-1", "pull_request", merged).status == 202);
  CHECK(w.s->call("GET", "/v1/orgs/acme/github/pulls?state=merged", w.member).body["items"].empty());
  // Kept where server admins see them (and nobody else).
  json kept;
  REQUIRE(eventually([&] {
    kept = w.s->call("GET", "/v1/github/deliveries", root).body;
    return kept["items"].size() == 1 && kept["items"][0]["outcome"] == "unrouted";
  }));
  CHECK(w.s->call("GET", "/v1/github/deliveries", w.member).status == 403);

  // Linking hands them over: applied in the organization, marked forwarded where kept.
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", 42}}).status == 200);
  json pulls;
  REQUIRE(eventually([&] {
    pulls = w.s->call("GET", "/v1/orgs/acme/github/pulls?state=merged", w.member).body;
    return pulls["items"].size() == 1;
  }));
  CHECK(pulls["items"][0]["number"] == 7);
  REQUIRE(eventually([&] {
    return w.s->call("GET", "/v1/github/deliveries", root).body["items"][0]["outcome"] == "forwarded";
  }));
  auto in_org = w.s->call("GET", "/v1/github/deliveries?org=acme", root).body["items"];
  REQUIRE(in_org.size() == 1);
  CHECK(in_org[0]["delivery_id"] == "d-1");
  CHECK(in_org[0]["outcome"] == "applied");

  // A server admin redelivers a stored delivery: applied again (after the data changed).
  auto reopened = pull_request(42, "reopened");
  REQUIRE(w.deliver("d-2", "pull_request", reopened).status == 202);
  REQUIRE(eventually([&] {
    return w.s->call("GET", "/v1/orgs/acme/github/pulls?state=merged", w.member).body["items"].empty();
  }));
  CHECK(w.s->call("POST", "/v1/github/deliveries/d-1/redeliver?org=acme", w.member).status == 403);
  CHECK(w.s->call("POST", "/v1/github/deliveries/d-nope/redeliver?org=acme", root).status == 404);
  CHECK(w.s->call("POST", "/v1/github/deliveries/d-1/redeliver?org=nope", root).status == 404);
  auto again = w.s->call("POST", "/v1/github/deliveries/d-1/redeliver?org=acme", root);
  REQUIRE_MESSAGE(again.status == 200, again.body.dump());
  CHECK(again.body["outcome"] == "applied");
  CHECK(w.s->call("GET", "/v1/orgs/acme/github/pulls?state=merged", w.member).body["items"].size() == 1);
}

TEST_CASE("installing from Hearth links only an installation the returning GitHub user can see, for the admin who started it") {
  GithubWorld w;
  auto beta_owner = w.s->user_with_token("bea");
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "bea"}, {"role", "admin"}}).status == 201);
  CHECK(w.s->call("POST", "/v1/orgs/acme/github/install", w.member).status == 403);
  auto started = w.s->call("POST", "/v1/orgs/acme/github/install", w.owner);
  REQUIRE_MESSAGE(started.status == 200, started.body.dump());
  auto url = started.body["url"].get<std::string>();
  auto at = url.find("?state=");
  REQUIRE(at != std::string::npos);
  CHECK(url.substr(0, at) == w.github.url() + "/apps/hearth-test/installations/new");
  auto state = url.substr(at + 7);  // percent-encoded, as GitHub hands it back
  // olive installs the App on GitHub as olive-gh: installation 44. Installation 42 is
  // another account's, which mallory (another GitHub user) wants linked to acme.
  w.github.add_installation({.id = 44, .account = "acme-new"});
  w.github.add_user("olive-gh", {44});
  w.github.add_user("mallory", {});
  auto setup = [&](const std::string& token, const std::string& query) {
    return w.s->call("GET", "/v1/github/setup?" + query, token);
  };
  auto with = [&](std::int64_t installation, const std::string& code) {
    return fmt::format("installation_id={}&setup_action=install&state={}&code={}", installation, state, code);
  };
  // Nobody signed in, another admin of the org, a state not made here, none at all.
  CHECK(setup("", with(44, w.github.issue_code("olive-gh"))).status == 401);
  CHECK(setup(beta_owner, with(44, w.github.issue_code("olive-gh"))).status == 403);
  auto tampered = state;
  auto at_byte = tampered.find('.') + 1;
  // A letter or digit of the state itself, not of a %XX escape (which could make the
  // query not UTF-8, refused before the state is even read).
  auto escaped = [&](std::size_t i) { return (i >= 1 && tampered[i - 1] == '%') || (i >= 2 && tampered[i - 2] == '%'); };
  while (!std::isalnum(static_cast<unsigned char>(tampered[at_byte])) || escaped(at_byte)) ++at_byte;
  tampered[at_byte] = tampered[at_byte] == 'A' ? 'B' : 'A';
  auto forged = setup(w.owner, "installation_id=44&setup_action=install&code=x&state=" + tampered);
  CHECK(forged.status == 400);
  CHECK(forged.body["error"]["message"] == "the callback's state is not one this server made");
  CHECK(setup(w.owner, "installation_id=44&setup_action=install&code=x").status == 400);
  // Back on the settings page with the reason: no code (the App does not ask GitHub for
  // one); an id the returning GitHub user cannot see (another account's, or unknown);
  // a code used already.
  auto error_of = [](const ApiResponse& r) {
    CHECK(r.status == 302);
    // (cpp-httplib's client hands header values over percent-decoded.)
    auto location = r.header("Location");
    const std::string prefix = "/orgs/acme/settings?github_error=";
    return location.starts_with(prefix) ? location.substr(prefix.size()) : "not an error: " + location;
  };
  CHECK(error_of(setup(w.owner, "installation_id=44&setup_action=install&state=" + state)).find("no authorization code") !=
        std::string::npos);
  CHECK(error_of(setup(w.owner, with(42, w.github.issue_code("olive-gh")))) ==
        "your GitHub account cannot see installation 42 of this App, so it was not linked");
  CHECK(error_of(setup(w.owner, with(44, w.github.issue_code("mallory")))) ==
        "your GitHub account cannot see installation 44 of this App, so it was not linked");
  CHECK(error_of(setup(w.owner, with(999, w.github.issue_code("olive-gh")))).find("cannot see installation 999") !=
        std::string::npos);
  auto code = w.github.issue_code("olive-gh");
  setup(w.owner, with(999, code));  // spends the code
  CHECK(error_of(setup(w.owner, with(44, code))) ==
        "GitHub did not accept the authorization: The code passed is incorrect or expired.");
  CHECK(w.s->call("GET", "/v1/orgs/acme/github", w.owner).body["installation"].is_null());
  // The admin who started it, back as the GitHub user who installed it: linked.
  auto back = setup(w.owner, with(44, w.github.issue_code("olive-gh")));
  CHECK(back.status == 302);
  CHECK(back.header("Location") == "/orgs/acme/settings?github=linked");
  auto shown = w.s->call("GET", "/v1/orgs/acme/github", w.owner).body;
  CHECK(shown["installation"]["installation_id"] == 44);
  CHECK(shown["installation"]["linked_by"] == "olive");
}

TEST_CASE("linking checks the installation with GitHub, once per organization and per installation") {
  GithubWorld w;
  // By id, only server admins link: an org's own owner who is not one cannot take an
  // installation whose id they learned (it proves nothing about whose it is).
  CHECK(w.s->call("POST", "/v1/orgs/acme/github/installation", w.member, json{{"installation_id", 42}}).status == 403);
  auto hijacker = w.s->user_with_token("hugo");
  REQUIRE(w.s->call("POST", "/v1/orgs", hijacker, json{{"name", "Hijack"}}).status == 201);
  auto hijack = w.s->call("POST", "/v1/orgs/hijack/github/installation", hijacker, json{{"installation_id", 42}});
  CHECK(hijack.status == 403);
  CHECK(hijack.body["error"]["message"].get<std::string>().find("for server admins") != std::string::npos);
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
  auto owner = s.user_with_token("olive", true);
  REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
  // Progress is live on the org's GitHub topic, from the position of a read.
  auto read = s.call("GET", "/v1/orgs/acme/github", owner);
  REQUIRE(read.body["position"].is_string());
  EventStream live(s.port, "/v1/events?topics=github:acme@" + read.body["position"].get<std::string>(), owner);
  REQUIRE(live.wait_for("ready"));
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
  CHECK(live.wait_for([](const SseFrame& f) {
    return f.name == "github.sync.progress" && f.data["topic"] == "github:acme" && f.data["payload"]["phase"] == "pull_requests";
  }));
  CHECK(live.wait_for([](const SseFrame& f) {
    return f.name == "github.data.changed" && f.data["payload"]["changed"] == "synced";
  }));
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
