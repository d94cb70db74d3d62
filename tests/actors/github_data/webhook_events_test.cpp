// What each GitHub delivery means (actors/github_data/webhook_events.h), on payloads
// shaped as GitHub sends them (trimmed to the fields that matter, plus some that do not).
#include <doctest/doctest.h>

#include "actors/github_data/webhook_events.h"

namespace hearth::test {
namespace {

using actors::github_data::ChangeKind;
using actors::github_data::Json;
using actors::github_data::parse_delivery;

Json installation(std::int64_t id, const char* suspended_at = nullptr) {
  return Json{{"id", id},
              {"account", {{"login", "acme-corp"}, {"id", 9}, {"type", "Organization"}}},
              {"suspended_at", suspended_at ? Json(suspended_at) : Json(nullptr)},
              {"node_id", "MDIz"}};
}

Json repository(std::int64_t id, const char* full_name) {
  return Json{{"id", id},
              {"name", std::string(full_name).substr(std::string(full_name).find('/') + 1)},
              {"full_name", full_name},
              {"private", true},
              {"archived", false},
              {"clone_url", std::string("https://github.com/") + full_name + ".git"},
              {"default_branch", "main"},
              {"owner", {{"login", "acme-corp"}}}};
}

Json pull(const char* state, bool draft, bool merged) {
  return Json{{"number", 7},
              {"title", "Fix the parser"},
              {"state", state},
              {"draft", draft},
              {"merged", merged},
              {"html_url", "https://github.com/acme-corp/web/pull/7"},
              {"updated_at", "2026-11-30T10:00:00Z"},
              {"head", {{"ref", "hearth/fix-parser"}, {"sha", "abc123"}}},
              {"base", {{"ref", "main"}, {"sha", "def456"}}},
              {"user", {{"login", "ana"}}}};
}

TEST_CASE("installation deliveries say connected, suspended or removed, with the account") {
  auto created = parse_delivery("installation", {{"action", "created"},
                                                 {"installation", installation(42)},
                                                 {"repositories", Json::array({repository(1, "acme-corp/web")})},
                                                 {"sender", {{"login", "ana"}}}});
  REQUIRE(created.ok());
  CHECK(created->kind == ChangeKind::installation);
  CHECK(created->installation_id == 42);
  CHECK(created->installation_status == "connected");
  CHECK(created->account_login == "acme-corp");
  CHECK(created->account_type == "Organization");
  REQUIRE(created->repositories.size() == 1);
  CHECK(created->repositories[0].full_name == "acme-corp/web");
  auto status = [](const char* action) {
    return parse_delivery("installation", {{"action", action}, {"installation", installation(42, "2026-01-01T00:00:00Z")}})
        ->installation_status;
  };
  CHECK(status("suspend") == "suspended");
  CHECK(status("unsuspend") == "connected");
  CHECK(status("deleted") == "removed");
  CHECK(status("new_permissions_accepted") == "connected");
}

TEST_CASE("installation_repositories deliveries add and remove repositories without a full sync") {
  // As GitHub sends them: id, name, full_name and private only (no clone URL, no default branch).
  Json slim{{"id", 5}, {"name", "api"}, {"full_name", "acme-corp/api"}, {"private", false}};
  auto added = parse_delivery("installation_repositories", {{"action", "added"},
                                                            {"installation", installation(42)},
                                                            {"repository_selection", "selected"},
                                                            {"repositories_added", Json::array({slim})},
                                                            {"repositories_removed", Json::array()}});
  REQUIRE(added.ok());
  CHECK(added->kind == ChangeKind::repositories_added);
  REQUIRE(added->repositories.size() == 1);
  CHECK(added->repositories[0].id == 5);
  CHECK(added->repositories[0].clone_url.empty());
  auto removed = parse_delivery("installation_repositories", {{"action", "removed"},
                                                              {"installation", installation(42)},
                                                              {"repositories_added", Json::array()},
                                                              {"repositories_removed", Json::array({slim})}});
  REQUIRE(removed.ok());
  CHECK(removed->kind == ChangeKind::repositories_removed);
  CHECK(removed->removed_repository_ids == std::vector<std::int64_t>{5});
}

TEST_CASE("pull request deliveries carry the state Hearth keeps: open, draft, closed or merged") {
  auto state = [](const char* action, Json pr) {
    auto c = parse_delivery("pull_request", {{"action", action}, {"number", 7}, {"pull_request", pr},
                                             {"repository", repository(1, "acme-corp/web")},
                                             {"installation", {{"id", 42}}}});
    REQUIRE(c.ok());
    REQUIRE(c->pull);
    return c->pull->state;
  };
  CHECK(state("opened", pull("open", false, false)) == "open");
  CHECK(state("converted_to_draft", pull("open", true, false)) == "draft");
  CHECK(state("closed", pull("closed", false, true)) == "merged");
  CHECK(state("closed", pull("closed", false, false)) == "closed");
  auto c = parse_delivery("pull_request", {{"action", "synchronize"}, {"pull_request", pull("open", false, false)},
                                           {"repository", repository(1, "acme-corp/web")},
                                           {"installation", {{"id", 42}}}});
  REQUIRE(c.ok());
  CHECK(c->installation_id == 42);
  CHECK(c->pull->repo_id == 1);
  CHECK(c->pull->number == 7);
  CHECK(c->pull->head_ref == "hearth/fix-parser");
  CHECK(c->pull->head_sha == "abc123");
  CHECK(c->pull->base_ref == "main");
  CHECK(c->pull->author == "ana");
  CHECK(c->pull->updated_at_ms == 1'796'032'800'000);
  CHECK(c->summary == "pull request acme-corp/web#7 synchronize");
  // An action Hearth does not follow is ignored, not refused.
  auto labeled = parse_delivery("pull_request", {{"action", "labeled"}, {"pull_request", pull("open", false, false)},
                                                 {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(labeled.ok());
  CHECK(labeled->kind == ChangeKind::ignored);
}

TEST_CASE("reviews and comments on the diff carry the pull request and what the reviewer said") {
  // As GitHub's pull_request_review.submitted: review.state in lower case, a null body.
  Json review{{"id", 237895671}, {"body", nullptr}, {"state", "changes_requested"}, {"commit_id", "abc123"},
              {"html_url", "https://github.com/acme-corp/web/pull/7#pullrequestreview-237895671"},
              {"user", {{"login", "rita"}, {"type", "User"}}}, {"submitted_at", "2026-11-30T10:00:00Z"}};
  auto c = parse_delivery("pull_request_review", {{"action", "submitted"}, {"review", review},
                                                  {"pull_request", pull("open", false, false)},
                                                  {"repository", repository(1, "acme-corp/web")},
                                                  {"installation", {{"id", 42}}}, {"sender", {{"login", "rita"}}}});
  REQUIRE(c.ok());
  CHECK(c->kind == ChangeKind::pull_request);
  REQUIRE(c->pull);
  CHECK(c->pull->number == 7);
  CHECK(c->review["kind"] == "review");
  CHECK(c->review["state"] == "changes_requested");
  CHECK(c->review["author"] == "rita");
  CHECK(c->review["said"] == false);  // a null body
  CHECK(c->review["trusted"] == false);  // no author_association: not taken as review
  CHECK(c->summary == "review of acme-corp/web#7 changes_requested");
  auto dismissed = parse_delivery("pull_request_review", {{"action", "dismissed"}, {"review", review},
                                                          {"pull_request", pull("open", false, false)},
                                                          {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(dismissed.ok());
  CHECK(dismissed->review["state"] == "dismissed");
  auto edited = parse_delivery("pull_request_review", {{"action", "edited"}, {"review", review},
                                                       {"pull_request", pull("open", false, false)},
                                                       {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(edited.ok());
  CHECK(edited->kind == ChangeKind::ignored);

  Json comment{{"id", 1}, {"body", "Rename this?"}, {"path", "src/parser.cpp"}, {"line", 12},
               {"user", {{"login", "rita"}}}, {"html_url", "https://github.com/acme-corp/web/pull/7#discussion_r1"}};
  auto commented = parse_delivery("pull_request_review_comment",
                                  {{"action", "created"}, {"comment", comment}, {"pull_request", pull("open", false, false)},
                                   {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(commented.ok());
  CHECK(commented->kind == ChangeKind::pull_request);
  CHECK(commented->review["kind"] == "comment");
  CHECK(commented->review["path"] == "src/parser.cpp");
  CHECK(commented->review["said"] == true);
  Json member_comment = comment;
  member_comment["author_association"] = "COLLABORATOR";
  CHECK(parse_delivery("pull_request_review_comment",
                       {{"action", "created"}, {"comment", member_comment}, {"pull_request", pull("open", false, false)},
                        {"repository", repository(1, "acme-corp/web")}})
            ->review["trusted"] == true);
  // A fork's branch: its head repository is another.
  Json forked = pull("open", false, false);
  forked["head"]["repo"] = {{"id", 99}};
  CHECK(parse_delivery("pull_request", {{"action", "opened"}, {"pull_request", forked},
                                        {"repository", repository(1, "acme-corp/web")}})
            ->pull->fork);
  Json own = pull("open", false, false);
  own["head"]["repo"] = {{"id", 1}};
  CHECK_FALSE(parse_delivery("pull_request", {{"action", "opened"}, {"pull_request", own},
                                              {"repository", repository(1, "acme-corp/web")}})
                  ->pull->fork);
  // A review without its review is refused, naming the field.
  auto bare = parse_delivery("pull_request_review", {{"action", "submitted"}, {"pull_request", pull("open", false, false)},
                                                     {"repository", repository(1, "acme-corp/web")}});
  REQUIRE_FALSE(bare.ok());
  CHECK(bare.error().message == "the delivery has no review");
}

TEST_CASE("check runs, check suites and statuses say how one check stands on one commit") {
  // As GitHub's check_run.completed (which carries no installation in the example).
  Json run{{"id", 128620228}, {"name", "Octocoders-linter"}, {"head_sha", "ec26c3e"}, {"status", "completed"},
           {"conclusion", "success"}, {"html_url", "https://github.com/acme-corp/web/runs/128620228"},
           {"check_suite", {{"id", 118578147}, {"head_branch", "changes"}, {"head_sha", "ec26c3e"}}},
           {"pull_requests", Json::array({{{"number", 2}, {"head", {{"ref", "changes"}, {"sha", "ec26c3e"}}}}})}};
  auto c = parse_delivery("check_run", {{"action", "completed"}, {"check_run", run}, {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(c.ok());
  CHECK(c->kind == ChangeKind::checks);
  CHECK(c->installation_id == 0);
  CHECK(c->repo_id == 1);
  CHECK(c->head_sha == "ec26c3e");
  CHECK(c->check == Json{{"name", "Octocoders-linter"}, {"state", "success"}, {"url", "https://github.com/acme-corp/web/runs/128620228"}});
  CHECK(c->check_pulls == std::vector<std::int64_t>{2});
  auto state = [](const char* status, const char* conclusion) {
    Json r{{"name", "x"}, {"head_sha", "a"}, {"status", status}, {"conclusion", conclusion ? Json(conclusion) : Json()}};
    return parse_delivery("check_run", {{"action", "completed"}, {"check_run", r}, {"repository", repository(1, "acme-corp/web")}})
        ->check["state"];
  };
  CHECK(state("queued", nullptr) == "pending");
  CHECK(state("in_progress", nullptr) == "pending");
  CHECK(state("completed", "neutral") == "neutral");
  CHECK(state("completed", "skipped") == "neutral");
  CHECK(state("completed", "cancelled") == "neutral");  // superseded, usually: fails nothing
  CHECK(state("completed", "timed_out") == "failure");
  CHECK(state("completed", "action_required") == "failure");
  // A suite is named by its App.
  Json suite{{"head_sha", "b"}, {"status", "completed"}, {"conclusion", "failure"}, {"app", {{"name", "GitHub Actions"}}},
             {"pull_requests", Json::array()}};
  auto s = parse_delivery("check_suite", {{"action", "completed"}, {"check_suite", suite}, {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(s.ok());
  CHECK(s->check["name"] == "GitHub Actions");
  CHECK(s->check["state"] == "failure");
  CHECK(s->check_pulls.empty());
  // A status: no action, no pull request; by its commit.
  auto st = parse_delivery("status", {{"sha", "c"}, {"state", "error"}, {"context", "ci/build"}, {"target_url", "https://ci"},
                                      {"repository", repository(1, "acme-corp/web")}, {"installation", {{"id", 42}}}});
  REQUIRE(st.ok());
  CHECK(st->kind == ChangeKind::checks);
  CHECK(st->head_sha == "c");
  CHECK(st->check["state"] == "failure");
  CHECK(st->check["name"] == "ci/build");
  CHECK(st->summary == "status ci/build failure on c");
  auto no_sha = parse_delivery("status", {{"state", "success"}, {"repository", repository(1, "acme-corp/web")}});
  REQUIRE_FALSE(no_sha.ok());
}

TEST_CASE("repository, push and ping deliveries, and events Hearth does not follow") {
  auto renamed = parse_delivery("repository", {{"action", "renamed"}, {"repository", repository(1, "acme-corp/site")}});
  REQUIRE(renamed.ok());
  CHECK(renamed->kind == ChangeKind::repository_changed);
  CHECK(renamed->repositories[0].full_name == "acme-corp/site");
  auto deleted = parse_delivery("repository", {{"action", "deleted"}, {"repository", repository(1, "acme-corp/site")}});
  CHECK(deleted->kind == ChangeKind::repository_deleted);
  auto push = parse_delivery("push", {{"ref", "refs/heads/main"}, {"after", "0a1b"}, {"deleted", false},
                                      {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(push.ok());
  CHECK(push->kind == ChangeKind::push);
  CHECK(push->ref == "refs/heads/main");
  CHECK(push->head_sha == "0a1b");
  auto tag_deleted = parse_delivery("push", {{"ref", "refs/tags/v1"}, {"after", "0000"}, {"deleted", true},
                                             {"repository", repository(1, "acme-corp/web")}});
  CHECK(tag_deleted->head_sha.empty());
  CHECK(parse_delivery("ping", {{"zen", "Keep it logically awesome."}, {"hook_id", 1}})->kind == ChangeKind::ping);
  auto starred = parse_delivery("star", {{"action", "created"}, {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(starred.ok());
  CHECK(starred->kind == ChangeKind::ignored);
  auto requested = parse_delivery("check_suite", {{"action", "requested"}, {"check_suite", {{"head_sha", "a"}, {"status", "queued"}}},
                                                  {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(requested.ok());
  CHECK(requested->kind == ChangeKind::checks);  // a suite starts: pending
  CHECK(requested->check["state"] == "pending");
  auto rerun = parse_delivery("check_run", {{"action", "requested_action"}, {"check_run", {{"head_sha", "a"}}},
                                            {"repository", repository(1, "acme-corp/web")}});
  REQUIRE(rerun.ok());
  CHECK(rerun->kind == ChangeKind::ignored);
}

TEST_CASE("a delivery of a followed event without what it must carry is invalid, naming the field") {
  auto no_repo = parse_delivery("pull_request", {{"action", "opened"}, {"pull_request", pull("open", false, false)}});
  REQUIRE_FALSE(no_repo.ok());
  CHECK(no_repo.error().code == ErrorCode::invalid);
  CHECK(no_repo.error().message == "the delivery has no repository id and full_name");
  CHECK_FALSE(parse_delivery("push", Json::array()).ok());
  CHECK(actors::github_data::parse_github_time("2019-05-15T15:20:33Z") == 1'557'933'633'000);
  CHECK(actors::github_data::parse_github_time("yesterday") == 0);
  // Years the clock cannot hold, signs and spaces where digits go (found by fuzzing).
  for (const char* odd : {"1009-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "-019-05-15T15:20:33Z",
                          "2019-+5-15T15:20:33Z", "2019-05- 5T15:20:33Z", "2019-13-15T15:20:33Z"})
    CHECK_MESSAGE(actors::github_data::parse_github_time(odd) == 0, odd);
  // As GitHub also writes them: with milliseconds (installations), with an offset.
  CHECK(actors::github_data::parse_github_time("2019-05-15T15:20:33.000Z") == 1'557'933'633'000);
  CHECK(actors::github_data::parse_github_time("2019-05-15T08:20:33-07:00") == 1'557'933'633'000);
  CHECK(actors::github_data::parse_github_time("2019-05-15T17:20:33+02:00") == 1'557'933'633'000);
  for (const char* bad : {"2019-05-15T15:20:33", "2019-05-15T15:20:33.Z", "2019-05-15T15:20:33+0200",
                          "2019-05-15 15:20:33Z", "2019-05-15T15:20:33Zjunk"})
    CHECK_MESSAGE(actors::github_data::parse_github_time(bad) == 0, bad);
}

}  // namespace
}  // namespace hearth::test
