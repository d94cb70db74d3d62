// What a GitHub webhook delivery means for an organization's GitHub data, with no I/O:
// the event header and the parsed payload in, one typed change out. The github-data
// actor applies the change; the edge uses the installation id to route the delivery.
//
// Handled (issue 18): installation (created, deleted, suspend, unsuspend,
// new_permissions_accepted), installation_repositories (added, removed),
// repository (renamed, archived, unarchived, deleted, edited: the default branch),
// pull_request (opened, edited, reopened, closed, synchronize, ready_for_review,
// converted_to_draft), push, ping; (issue 19) pull_request_review (submitted, dismissed),
// pull_request_review_comment (created), check_run (created, completed, rerequested),
// check_suite (requested, completed, rerequested), status. Anything else is `ignored`, which is not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/error.h"

namespace hearth::actors::github_data {

using Json = nlohmann::json;

// A repository as the installation shows it. Deliveries of installation_repositories
// carry no clone URL and no default branch: those are empty until a sync fills them in.
struct RepoFacts {
  std::int64_t id = 0;
  std::string full_name, clone_url, default_branch;
  bool is_private = false, archived = false;
};

// A pull request: state is open, draft, closed or merged.
struct PullFacts {
  std::int64_t repo_id = 0, number = 0;
  std::string repo_full_name, title, state, head_ref, base_ref, author, url, head_sha;
  std::int64_t updated_at_ms = 0;
  std::optional<bool> mergeable;  // GitHub's answer once computed (deliveries of pull_request)
  bool fork = false;              // its head is another repository's branch (head.repo.id)
};

enum class ChangeKind {
  ping,                  // nothing to apply
  installation,          // the installation's status: connected, suspended or removed
  repositories_added,    // `repositories`
  repositories_removed,  // `removed_repository_ids`
  repository_changed,    // `repositories[0]` renamed, archived, its default branch changed
  repository_deleted,    // `removed_repository_ids[0]`
  pull_request,          // `pull`, and `review` for a review or review comment
  checks,                // `check` on commit `head_sha` of `repo_id`, for pull requests `check_pulls`
  push,                  // `repo_id`, `ref`, `head_sha` (empty when the ref was deleted)
  ignored,               // an event or action Hearth does not follow
};

struct WebhookChange {
  ChangeKind kind = ChangeKind::ignored;
  std::string event, action;         // as GitHub named them ("pull_request", "opened")
  std::int64_t installation_id = 0;  // 0: the delivery names none (a repository hook's ping)
  std::string account_login, account_type;
  std::string installation_status;  // installation: connected, suspended or removed
  std::vector<RepoFacts> repositories;
  std::vector<std::int64_t> removed_repository_ids;
  std::optional<PullFacts> pull;
  std::int64_t repo_id = 0;
  std::string ref, head_sha;
  // pull_request_review / pull_request_review_comment: {kind: review|comment, state
  // (approved, changes_requested, commented, dismissed), author, body, url, path?,
  // trusted: the author is an owner, member or collaborator of the repository (anyone
  // may comment on a public one; only these are taken as review)}.
  Json review;
  // check_run, check_suite, status: {name, state (pending, success, failure, neutral),
  // url, suite?}; the
  // pull requests it names (check runs and suites do; statuses name none: by head_sha).
  Json check;
  std::vector<std::int64_t> check_pulls;
  std::string sender;   // the GitHub login whose doing it was (payload.sender.login)
  std::string summary;  // one line for the deliveries list and the audit log
};

// Whether GitHub's author_association of a review or comment makes it the repository's
// own people's (OWNER, MEMBER, COLLABORATOR), not anyone's who can comment.
bool trusted_reviewer(std::string_view author_association);

// A pull request as GitHub's API and deliveries show it (`pr`), of repository `repo`.
PullFacts pull_facts(const RepoFacts& repo, const Json& pr);
// The pull request as a task records it: {number, url, state, draft, title, head_ref,
// base_ref, head_sha, author, repository, repo_github_id, updated_at, mergeable?, fork?}.
Json pull_json(const PullFacts& p);

// The installation id a payload names (payload.installation.id), or 0.
std::int64_t installation_of(const Json& payload);

// The change delivery `event` (X-GitHub-Event) with `payload` makes. Fails with invalid
// (naming the field) when a payload of a handled event lacks what it must carry.
Result<WebhookChange> parse_delivery(std::string_view event, const Json& payload);

// "2019-05-15T15:20:33Z" as unix milliseconds; 0 when it is not such a time.
std::int64_t parse_github_time(std::string_view text);

}  // namespace hearth::actors::github_data
