// What a GitHub delivery means: see webhook_events.h.
#include "actors/github_data/webhook_events.h"

#include <ctime>

#include <fmt/format.h>

#include "github/app.h"

namespace hearth::actors::github_data {
namespace {

// The string at `j[key]`, or "" when absent or not a string.
std::string text(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t integer(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

bool flag(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Error missing(const char* what) { return Error{ErrorCode::invalid, fmt::format("the delivery has no {}", what)}; }

Result<RepoFacts> repo_facts(const Json& r) {
  if (!r.is_object() || integer(r, "id") == 0 || text(r, "full_name").empty()) return missing("repository id and full_name");
  return RepoFacts{integer(r, "id"), text(r, "full_name"), text(r, "clone_url"), text(r, "default_branch"),
                   flag(r, "private"), flag(r, "archived")};
}

Result<std::vector<RepoFacts>> repo_list(const Json& payload, const char* key) {
  std::vector<RepoFacts> out;
  auto it = payload.find(key);
  if (it == payload.end() || it->is_null()) return out;
  if (!it->is_array()) return missing(key);
  for (const auto& r : *it) {
    auto facts = repo_facts(r);
    if (!facts) return facts.error();
    out.push_back(std::move(*facts));
  }
  return out;
}

// A pull request's state as Hearth keeps it: merged and closed apart, drafts apart.
std::string pull_state(const Json& pr) {
  if (text(pr, "state") == "closed") return flag(pr, "merged") || !text(pr, "merged_at").empty() ? "merged" : "closed";
  return flag(pr, "draft") ? "draft" : "open";
}

Status installation_change(WebhookChange& c, const Json& payload) {
  const auto& inst = payload.value("installation", Json::object());
  c.account_login = text(inst.value("account", Json::object()), "login");
  c.account_type = text(inst.value("account", Json::object()), "type");
  if (c.action == "created" || c.action == "unsuspend" || c.action == "new_permissions_accepted") {
    c.kind = ChangeKind::installation;
    c.installation_status = "connected";
    auto repos = repo_list(payload, "repositories");
    if (!repos) return repos.error();
    c.repositories = std::move(*repos);
  } else if (c.action == "suspend") {
    c.kind = ChangeKind::installation;
    c.installation_status = "suspended";
  } else if (c.action == "deleted") {
    c.kind = ChangeKind::installation;
    c.installation_status = "removed";
  }
  c.summary = fmt::format("installation {} {} ({})", c.installation_id, c.action, c.account_login);
  return {};
}

Status repositories_change(WebhookChange& c, const Json& payload) {
  auto added = repo_list(payload, "repositories_added");
  if (!added) return added.error();
  auto removed = repo_list(payload, "repositories_removed");
  if (!removed) return removed.error();
  if (c.action == "added") {
    c.kind = ChangeKind::repositories_added;
    c.repositories = std::move(*added);
    c.summary = fmt::format("{} repositories added to installation {}", c.repositories.size(), c.installation_id);
  } else if (c.action == "removed") {
    c.kind = ChangeKind::repositories_removed;
    for (const auto& r : *removed) c.removed_repository_ids.push_back(r.id);
    c.summary = fmt::format("{} repositories removed from installation {}", c.removed_repository_ids.size(),
                            c.installation_id);
  }
  return {};
}

Status repository_change(WebhookChange& c, const Json& payload) {
  auto repo = repo_facts(payload.value("repository", Json()));
  if (!repo) return repo.error();
  if (c.action == "deleted") {
    c.kind = ChangeKind::repository_deleted;
    c.removed_repository_ids.push_back(repo->id);
  } else if (c.action == "renamed" || c.action == "archived" || c.action == "unarchived" || c.action == "edited" ||
             c.action == "privatized" || c.action == "publicized") {
    c.kind = ChangeKind::repository_changed;
    c.repositories.push_back(*repo);
  }
  c.summary = fmt::format("repository {} {}", repo->full_name, c.action);
  return {};
}

Status pull_request_change(WebhookChange& c, const Json& payload) {
  static const char* const kFollowed[] = {"opened",      "edited",           "reopened",          "closed",
                                          "synchronize", "ready_for_review", "converted_to_draft"};
  auto repo = repo_facts(payload.value("repository", Json()));
  if (!repo) return repo.error();
  const auto& pr = payload.value("pull_request", Json());
  if (!pr.is_object() || integer(pr, "number") == 0) return missing("pull_request.number");
  c.summary = fmt::format("pull request {}#{} {}", repo->full_name, integer(pr, "number"), c.action);
  if (std::find(std::begin(kFollowed), std::end(kFollowed), c.action) == std::end(kFollowed)) return {};
  c.kind = ChangeKind::pull_request;
  c.repositories.push_back(*repo);
  c.pull = pull_facts(*repo, pr);
  return {};
}

// A review (pull_request_review) or a comment on the diff (pull_request_review_comment):
// the pull request as the delivery shows it, and what the reviewer said.
Status review_change(WebhookChange& c, const Json& payload, bool comment) {
  auto repo = repo_facts(payload.value("repository", Json()));
  if (!repo) return repo.error();
  const auto& pr = payload.value("pull_request", Json());
  if (!pr.is_object() || integer(pr, "number") == 0) return missing("pull_request.number");
  const auto& said = payload.value(comment ? "comment" : "review", Json());
  if (!said.is_object()) return missing(comment ? "comment" : "review");
  c.summary = fmt::format("{} {}#{} {}", comment ? "review comment on" : "review of", repo->full_name,
                          integer(pr, "number"), comment ? c.action : text(said, "state"));
  bool followed = comment ? c.action == "created" : c.action == "submitted" || c.action == "dismissed";
  if (!followed) return {};
  c.kind = ChangeKind::pull_request;
  c.repositories.push_back(*repo);
  c.pull = pull_facts(*repo, pr);
  auto state = comment ? std::string("commented") : c.action == "dismissed" ? std::string("dismissed") : text(said, "state");
  auto association = text(said, "author_association");
  c.review = Json{{"kind", comment ? "comment" : "review"},
                  {"state", state},
                  {"author", text(said.value("user", Json::object()), "login")},
                  {"said", !text(said, "body").empty()},
                  {"url", text(said, "html_url")},
                  {"trusted", trusted_reviewer(association)}};
  if (comment) c.review["path"] = text(said, "path");
  return {};
}

// "success", "failure", "neutral" or "pending" for a check's status and conclusion, or a
// status's state. Cancelled and stale runs (superseded, usually) fail nothing.
std::string check_state(const std::string& status, const std::string& conclusion) {
  if (status != "completed") return status == "success" ? "success" : status == "failure" || status == "error" ? "failure" : "pending";
  if (conclusion == "success") return "success";
  if (conclusion == "neutral" || conclusion == "skipped" || conclusion == "cancelled" || conclusion == "stale")
    return "neutral";
  return "failure";  // failure, timed_out, action_required
}

// check_run, check_suite and status: how one check stands on one commit.
Status check_change(WebhookChange& c, std::string_view event, const Json& payload) {
  auto repo = repo_facts(payload.value("repository", Json()));
  if (!repo) return repo.error();
  c.repo_id = repo->id;
  if (event == "status") {
    c.head_sha = text(payload, "sha");
    if (c.head_sha.empty()) return missing("sha");
    auto name = text(payload, "context");
    c.check = Json{{"name", name.empty() ? "status" : name}, {"state", check_state(text(payload, "state"), "")},
                   {"url", text(payload, "target_url")}};
  } else {
    const auto& run = payload.value(std::string(event), Json());
    if (!run.is_object()) return missing(event == "check_run" ? "check_run" : "check_suite");
    c.head_sha = text(run, "head_sha");
    auto name = event == "check_run" ? text(run, "name") : text(run.value("app", Json::object()), "name");
    c.check = Json{{"name", name.empty() ? std::string(event) : name},
                   {"state", check_state(text(run, "status"), text(run, "conclusion"))},
                   {"url", text(run, "html_url")}};
    if (event == "check_suite") c.check["suite"] = true;  // its runs say more, when they come
    for (const auto& p : run.value("pull_requests", Json::array()))
      if (p.is_object() && integer(p, "number") > 0) c.check_pulls.push_back(integer(p, "number"));
  }
  c.summary = fmt::format("{} {} {} on {}", event, c.check["name"].get<std::string>(), c.check["state"].get<std::string>(),
                          c.head_sha.substr(0, 7));
  // Runs are created, suites requested; both complete and may be asked for again.
  if (event != "status" && c.action != "created" && c.action != "requested" && c.action != "completed" &&
      c.action != "rerequested")
    return {};
  c.kind = ChangeKind::checks;
  return {};
}

Status push_change(WebhookChange& c, const Json& payload) {
  auto repo = repo_facts(payload.value("repository", Json()));
  if (!repo) return repo.error();
  c.kind = ChangeKind::push;
  c.repo_id = repo->id;
  c.ref = text(payload, "ref");
  c.head_sha = flag(payload, "deleted") ? std::string() : text(payload, "after");
  c.summary = fmt::format("push to {} {}", repo->full_name, c.ref);
  return {};
}

}  // namespace

bool trusted_reviewer(std::string_view author_association) {
  return author_association == "OWNER" || author_association == "MEMBER" || author_association == "COLLABORATOR";
}

PullFacts pull_facts(const RepoFacts& repo, const Json& pr) {
  PullFacts p;
  p.repo_id = repo.id;
  p.repo_full_name = repo.full_name;
  p.number = integer(pr, "number");
  p.title = text(pr, "title");
  p.state = pull_state(pr);
  p.head_ref = text(pr.value("head", Json::object()), "ref");
  p.head_sha = text(pr.value("head", Json::object()), "sha");
  p.base_ref = text(pr.value("base", Json::object()), "ref");
  p.author = text(pr.value("user", Json::object()), "login");
  p.url = text(pr, "html_url");
  p.updated_at_ms = parse_github_time(text(pr, "updated_at"));
  if (auto it = pr.find("mergeable"); it != pr.end() && it->is_boolean()) p.mergeable = it->get<bool>();
  // The head repository, when the payload names it: another one's is a fork's branch.
  const auto& head_repo = pr.value("head", Json::object()).value("repo", Json());
  p.fork = head_repo.is_object() && integer(head_repo, "id") != 0 && integer(head_repo, "id") != repo.id;
  return p;
}

Json pull_json(const PullFacts& p) {
  Json j{{"number", p.number},     {"url", p.url},           {"state", p.state},
         {"draft", p.state == "draft"}, {"title", p.title}, {"head_ref", p.head_ref},
         {"base_ref", p.base_ref}, {"head_sha", p.head_sha}, {"author", p.author},
         {"repository", p.repo_full_name}, {"repo_github_id", p.repo_id}, {"updated_at", p.updated_at_ms}};
  if (p.mergeable) j["mergeable"] = *p.mergeable;
  if (p.fork) j["fork"] = true;
  return j;
}

std::int64_t installation_of(const Json& payload) {
  if (!payload.is_object()) return 0;
  auto it = payload.find("installation");
  return it != payload.end() && it->is_object() ? integer(*it, "id") : 0;
}

std::int64_t parse_github_time(std::string_view t) {
  auto at = github::parse_time(t);
  return at ? std::chrono::duration_cast<std::chrono::milliseconds>(at->time_since_epoch()).count() : 0;
}

Result<WebhookChange> parse_delivery(std::string_view event, const Json& payload) {
  if (!payload.is_object()) return Error{ErrorCode::invalid, "a delivery's body is a JSON object"};
  WebhookChange c;
  c.event = std::string(event);
  c.action = text(payload, "action");
  c.installation_id = installation_of(payload);
  c.sender = text(payload.value("sender", Json::object()), "login");
  c.summary = c.action.empty() ? c.event : c.event + "." + c.action;
  Status st;
  if (event == "ping") {
    c.kind = ChangeKind::ping;
    c.summary = "ping";
  } else if (event == "installation") {
    st = installation_change(c, payload);
  } else if (event == "installation_repositories") {
    st = repositories_change(c, payload);
  } else if (event == "repository") {
    st = repository_change(c, payload);
  } else if (event == "pull_request") {
    st = pull_request_change(c, payload);
  } else if (event == "pull_request_review" || event == "pull_request_review_comment") {
    st = review_change(c, payload, event == "pull_request_review_comment");
  } else if (event == "check_run" || event == "check_suite" || event == "status") {
    st = check_change(c, event, payload);
  } else if (event == "push") {
    st = push_change(c, payload);
  }
  if (!st) return st.error();
  return c;
}

}  // namespace hearth::actors::github_data
