// The github-data actor through a real host: linking, deliveries applied once each (the
// edge's dedupe key is the delivery id), unrouted and rejected deliveries kept and shown,
// and unlinking.
#include <doctest/doctest.h>

#include "actors/audit/audit_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/identity/identity.h"
#include "actors/organization/organization_actor.h"
#include "tests/support/test_host.h"

namespace hearth::test {
namespace {

using actors::Json;
namespace gh = actors::github_data;

struct GithubHost {
  TempDir dir;
  actors::Host host{quick_config(dir.path())};
  actors::Address at = gh::address("o_1");
  GithubHost() {
    REQUIRE(identity::register_types(host).ok());
    REQUIRE(gh::register_type(host, nullptr).ok());
    REQUIRE(host.start().ok());
    // The organization the installation's repositories are told to.
    REQUIRE(host.get_or_create(actors::organization::address("o_1"),
                               {{"org_id", "o_1"}, {"slug", "acme"}, {"name", "Acme"},
                                {"owner", {{"user_id", "u_1"}, {"username", "olive"}}}})
                .ok());
    REQUIRE(host.get_or_create(at, {{"org_id", "o_1"}}).ok());
  }
  ~GithubHost() { host.shutdown(); }

  Result<actors::SendReceipt> deliver(const std::string& id, const std::string& event, const Json& payload,
                                      const actors::Address& to) {
    auto options = waiting();
    options.dedupe_key = "delivery:" + id;
    return host.send(to, gh::kWebhook, {{"delivery_id", id}, {"event", event}, {"payload", payload}}, options);
  }
  Result<actors::SendReceipt> deliver(const std::string& id, const std::string& event, const Json& payload) {
    return deliver(id, event, payload, at);
  }
  Json read(const char* action, const Json& args = Json::object()) { return host.call(at, action, args).value(); }
  void link(std::int64_t installation) {
    REQUIRE(host.send(at, gh::kLink, {{"installation_id", installation}, {"account_login", "acme-corp"},
                                      {"account_type", "Organization"}, {"by", "ana"}},
                      waiting())
                .ok());
  }
};

Json repository(std::int64_t id, const char* full_name) {
  return Json{{"id", id}, {"full_name", full_name}, {"private", true},
              {"clone_url", std::string("https://github.com/") + full_name + ".git"}, {"default_branch", "main"}};
}

Json pull_request(const char* action, const char* state, bool merged) {
  return Json{{"action", action},
              {"installation", {{"id", 42}}},
              {"repository", repository(1, "acme-corp/web")},
              {"pull_request", {{"number", 7}, {"title", "Fix the parser"}, {"state", state}, {"draft", false},
                                {"merged", merged}, {"html_url", "https://github.com/acme-corp/web/pull/7"},
                                {"updated_at", "2026-11-30T10:00:00Z"},
                                {"head", {{"ref", "fix"}, {"sha", "abc"}}}, {"base", {{"ref", "main"}}},
                                {"user", {{"login", "ana"}}}}}};
}

TEST_CASE("a linked organization applies each delivery once, however often GitHub delivers it") {
  GithubHost g;
  g.link(42);
  auto summary = g.read(gh::kSummary);
  CHECK(summary["status"] == "connected");
  CHECK(summary["installation"]["installation_id"] == 42);
  CHECK(summary["installation"]["account_login"] == "acme-corp");

  auto first = g.deliver("d-1", "pull_request", pull_request("opened", "open", false));
  REQUIRE(first.ok());
  CHECK(first->result["outcome"] == "applied");
  auto again = g.deliver("d-1", "pull_request", pull_request("opened", "open", false));
  REQUIRE(again.ok());
  CHECK(again->duplicate);
  CHECK(g.read(gh::kDeliveries)["items"].size() == 1);
  auto pulls = g.read(gh::kPullRequests)["items"];
  REQUIRE(pulls.size() == 1);
  CHECK(pulls[0]["number"] == 7);
  CHECK(pulls[0]["state"] == "open");
  CHECK(g.read(gh::kRepositories)["items"][0]["full_name"] == "acme-corp/web");

  // Merged: no longer among the open ones, still there by state.
  REQUIRE(g.deliver("d-2", "pull_request", pull_request("closed", "closed", true)).ok());
  CHECK(g.read(gh::kPullRequests)["items"].empty());
  CHECK(g.read(gh::kPullRequests, {{"state", "merged"}})["items"].size() == 1);
  CHECK(g.read(gh::kSummary)["open_pull_requests"] == 0);
  // Past the queue's dedupe window (another key here), the kept delivery id still stops
  // GitHub's redelivery of d-1 from reopening the pull request.
  auto late = g.host.send(g.at, gh::kWebhook,
                          {{"delivery_id", "d-1"}, {"event", "pull_request"}, {"payload", pull_request("opened", "open", false)}},
                          waiting());
  REQUIRE(late.ok());
  CHECK(late->result["outcome"] == "duplicate");
  CHECK(g.read(gh::kPullRequests)["items"].empty());
  // A delivery kept as rejected is not one taken: it may come again and apply.
  auto foreign = pull_request("opened", "open", false);
  foreign["installation"]["id"] = 99;
  REQUIRE(g.deliver("d-3", "pull_request", foreign).ok());
  auto retried = g.host.send(g.at, gh::kWebhook,
                             {{"delivery_id", "d-3"}, {"event", "pull_request"}, {"payload", pull_request("reopened", "open", false)}},
                             waiting());
  REQUIRE(retried.ok());
  CHECK(retried->result["outcome"] == "applied");
  // Each accepted delivery is in the organization's audit log.
  REQUIRE(eventually([&] {
    auto log = g.host.call(actors::audit::address("o_1"), actors::audit::kList, {{"limit", 50}});
    if (!log.ok()) return false;
    int webhooks = 0;
    for (const auto& e : (*log)["items"]) webhooks += e["kind"] == "github.webhook.pull_request";
    return webhooks == 3;  // opened, closed, and the rejected one retried
  }));
}

TEST_CASE("repositories come and go with the installation, and its removal clears what GitHub showed") {
  GithubHost g;
  g.link(42);
  Json inst{{"id", 42}, {"account", {{"login", "acme-corp"}, {"type", "Organization"}}}};
  REQUIRE(g.deliver("d-1", "installation_repositories",
                    {{"action", "added"}, {"installation", inst},
                     {"repositories_added", Json::array({{{"id", 5}, {"full_name", "acme-corp/api"}, {"private", false}}})},
                     {"repositories_removed", Json::array()}})
              .ok());
  REQUIRE(g.deliver("d-2", "repository", {{"action", "edited"}, {"installation", inst},
                                          {"repository", repository(5, "acme-corp/api")}})
              .ok());
  auto repos = g.read(gh::kRepositories)["items"];
  REQUIRE(repos.size() == 1);
  CHECK(repos[0]["default_branch"] == "main");  // filled in by the later, fuller delivery
  REQUIRE(g.deliver("d-3", "installation_repositories",
                    {{"action", "removed"}, {"installation", inst}, {"repositories_added", Json::array()},
                     {"repositories_removed", Json::array({{{"id", 5}, {"full_name", "acme-corp/api"}}})}})
              .ok());
  CHECK(g.read(gh::kRepositories)["items"].empty());
  REQUIRE(g.deliver("d-4", "pull_request", pull_request("opened", "open", false)).ok());
  REQUIRE(g.deliver("d-5", "installation", {{"action", "suspend"}, {"installation", inst}}).ok());
  CHECK(g.read(gh::kSummary)["status"] == "suspended");
  REQUIRE(g.deliver("d-6", "installation", {{"action", "deleted"}, {"installation", inst}}).ok());
  auto summary = g.read(gh::kSummary);
  CHECK(summary["status"] == "removed");
  CHECK(summary["repositories"] == 0);
  CHECK(summary["open_pull_requests"] == 0);
}

TEST_CASE("deliveries that cannot apply are kept and shown: unrouted, for another installation, malformed") {
  GithubHost g;
  auto unlinked = gh::address(gh::kUnlinked);
  REQUIRE(g.host.get_or_create(unlinked, {{"org_id", gh::kUnlinked}}).ok());
  auto stray = g.deliver("d-1", "pull_request", pull_request("opened", "open", false), unlinked);
  REQUIRE(stray.ok());
  CHECK(stray->result["outcome"] == "unrouted");
  CHECK(g.host.call(unlinked, gh::kDeliveries).value()["items"][0]["installation_id"] == 42);

  g.link(43);
  auto other = g.deliver("d-2", "pull_request", pull_request("opened", "open", false));
  REQUIRE(other.ok());
  CHECK(other->result["outcome"] == "rejected");
  CHECK(g.read(gh::kPullRequests)["items"].empty());
  auto malformed = g.deliver("d-3", "pull_request", {{"action", "opened"}, {"installation", {{"id", 43}}}});
  REQUIRE(malformed.ok());
  CHECK(malformed->result["outcome"] == "rejected");
  auto listed = g.read(gh::kDeliveries)["items"];
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["error"] == "the delivery has no repository id and full_name");
  auto kept = g.read(gh::kDelivery, {{"delivery_id", "d-3"}});
  CHECK(kept["payload"]["action"] == "opened");
  // Ignored events are accepted and listed as such.
  auto starred = g.deliver("d-4", "star", {{"action", "created"}, {"installation", {{"id", 43}}}});
  REQUIRE(starred.ok());
  CHECK(starred->result["outcome"] == "ignored");
}

TEST_CASE("an organization links one installation at a time, and unlinking forgets what GitHub showed") {
  GithubHost g;
  g.link(42);
  REQUIRE(g.deliver("d-1", "pull_request", pull_request("opened", "open", false)).ok());
  auto other = g.host.send(g.at, gh::kLink, {{"installation_id", 99}, {"by", "ana"}}, waiting());
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == ErrorCode::conflict);
  CHECK(other.error().message == "this organization is linked to GitHub installation 42; unlink it first");
  g.link(42);  // the same one again: harmless
  REQUIRE(g.host.send(g.at, gh::kUnlink, {{"by", "ana"}}, waiting()).ok());
  auto summary = g.read(gh::kSummary);
  CHECK(summary["status"] == "unlinked");
  CHECK(summary["installation"].is_null());
  CHECK(summary["repositories"] == 0);
  g.link(99);
  CHECK(g.read(gh::kSummary)["installation"]["installation_id"] == 99);
}

}  // namespace
}  // namespace hearth::test
