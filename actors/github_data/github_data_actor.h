// The github-data actor: an organization's GitHub data (address `github_data / [org_id]`;
// `github_data / [_unlinked]` keeps deliveries for installations no organization has
// linked yet, so that linking later can replay them). It owns the installation linked
// to the organization (status connected, suspended or removed), the repositories,
// members and open pull requests GitHub shows it, the heads of pushed branches, and the
// deliveries received. Deliveries arrive on kWebhook, deduplicated by their delivery id
// (the edge sends each with the dedupe key "delivery:<id>"), and are applied in the
// order received. See docs/github.md.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>

#include "actors/host/actor_type.h"

namespace hearth::github {
class App;
}

namespace hearth::actors {
class Host;
}

namespace hearth::actors::github_data {

inline constexpr const char* kUnlinked = "_unlinked";
inline Address address(const std::string& org_id) { return {"github_data", {org_id}}; }

// Created with {org_id}.

// Queues.
// {installation_id, account_login, account_type, by}: links the installation (checked
// with GitHub by the edge first); relinking the same one is harmless.
inline constexpr const char* kLink = "github_data.command.link";
// {by}: forgets the installation and everything GitHub showed through it.
inline constexpr const char* kUnlink = "github_data.command.unlink";
// {delivery_id, event, payload, redelivery?}: one webhook delivery. One whose id is kept
// already is not applied again (outcome "duplicate"), unless `redelivery` (a server
// admin's, POST /v1/github/deliveries/{id}/redeliver).
inline constexpr const char* kWebhook = "github_data.command.webhook";
// On `github_data / [_unlinked]`: {installation_id, org_id}: the deliveries kept for that
// installation go to the org's actor (which has just linked it), in the order received.
inline constexpr const char* kHandOver = "github_data.command.hand_over";
// {by?, reason?}: a full sync (github_sync.h), unless one runs already. Linking starts one.
inline constexpr const char* kSync = "github_data.command.sync";
// spawn_io's outcome of reading repositories added by a delivery (their clone URL and
// default branch): {ok, result: {repositories} | error}.
inline constexpr const char* kRepoDetails = "github_data.command.repo_details";

// Actions.
inline constexpr const char* kSummary = "github_data.summary";  // the installation, sync state, counts
inline constexpr const char* kRepositories = "github_data.repositories";
inline constexpr const char* kPullRequests = "github_data.pull_requests";  // {state?: open|draft|closed|merged}
inline constexpr const char* kDeliveries = "github_data.deliveries";      // {limit?} newest first, no payloads
inline constexpr const char* kDelivery = "github_data.delivery";          // {delivery_id} with its payload
// {login, github_id?} -> {login, role} when GitHub showed that login (and, given, that
// account id) as a member of the installation's account (the last sync); not_found
// otherwise (logins compared without case, as GitHub's are).
inline constexpr const char* kMember = "github_data.member";
// {repo_id (GitHub's)} -> {installation_id, full_name, name}: what a git token for it is
// minted with; conflict when no installation is connected, not_found when the repository
// left it.
inline constexpr const char* kGitAccess = "github_data.git_access";

// An installation token for one git operation on GitHub repository `repo_id` of
// `org_id`: narrowed to that repository and to contents read (clone, fetch, sync) or
// write (push, merge). Lives in memory only (the App's cache).
Result<std::string> git_token(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                              bool write, std::stop_token stop = {});

// What a pull request is opened with.
struct PullDraft {
  std::string head, base, title, body;
  bool draft = false;
};

// Opens a pull request of `draft.head` into `draft.base` on GitHub repository `repo_id`
// of `org_id`, with a token narrowed to that repository and pull_requests write. The
// pull request as pull_json shows it, with "linked": true when one was open for the
// branch already (GitHub's 422 "already exists": that one is linked instead). Fails
// with conflict for "no commits between" the branches, invalid for a base GitHub does
// not have, and GitHub's words for any other refusal.
Result<Json> open_pull(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                       const PullDraft& draft, std::stop_token stop = {});

// What reviewers said on pull request `number` of GitHub repository `repo_id` since
// `since_ms` (GitHub's time, unix ms; 0: all): {reviews: [{author, state, body, url,
// at}] (those with words or a request for changes), comments: [{author, path, line,
// body, url, at}]}, oldest first, only the repository's owners', members' and
// collaborators', read with a token narrowed to that repository and pull_requests read.
Result<Json> review_feedback(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                             std::int64_t number, std::int64_t since_ms, std::stop_token stop = {});

// Merges pull request `number` (`method`: merge, squash or rebase) if its head is still
// `head_sha` (empty: whatever it is), with a token narrowed to that repository and
// contents write. {merged, sha, message, pull (as pull_json, read back)}; conflict in
// GitHub's words when it cannot be merged (405: not mergeable, checks required; 409:
// the head moved).
Result<Json> merge_pull(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                        std::int64_t number, const std::string& method, const std::string& head_sha,
                        std::stop_token stop = {});

// Changes pull request `number`'s title, body or state (open, closed) as `change` says
// (GitHub's PATCH /repos/o/r/pulls/N), with a token narrowed to the repository and
// pull_requests write: the pull request as pull_json shows it after.
Result<Json> update_pull(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                         std::int64_t number, const Json& change, std::stop_token stop = {});

// The type; `app` (null when no GitHub App is configured) syncs through `host`.
ActorType make_type(Host& host, std::shared_ptr<github::App> app);
Status register_type(Host& host, std::shared_ptr<github::App> app);

}  // namespace hearth::actors::github_data
