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
  return p;
}

Json pull_json(const PullFacts& p) {
  return Json{{"number", p.number},     {"url", p.url},           {"state", p.state},
              {"draft", p.state == "draft"}, {"title", p.title}, {"head_ref", p.head_ref},
              {"base_ref", p.base_ref}, {"head_sha", p.head_sha}, {"author", p.author},
              {"repository", p.repo_full_name}, {"repo_github_id", p.repo_id}, {"updated_at", p.updated_at_ms}};
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
  } else if (event == "push") {
    st = push_change(c, payload);
  }
  if (!st) return st.error();
  return c;
}

}  // namespace hearth::actors::github_data
