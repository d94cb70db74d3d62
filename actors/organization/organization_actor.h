// The organization actor: one organization (address `organization / [org_id]`), its
// name, slug and members with their roles, its repositories, and the index of its
// tasks: a summary of each, pushed by the task actors, so that listing and searching
// tasks never wakes one. Membership changes are copied to the directory, which the
// edge reads to authorize every request.
// Roles, from most to least: owner, admin, member. An organization always keeps at
// least one owner.
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::organization {

inline Address address(const std::string& org_id) { return {"organization", {org_id}}; }

// Created with {org_id, slug, name, owner: {user_id, username}}.
// Queues.
inline constexpr const char* kAddMember = "organization.command.add_member";      // {user_id, username, role}
inline constexpr const char* kSetRole = "organization.command.set_role";          // {user_id, role}
inline constexpr const char* kRemoveMember = "organization.command.remove_member";  // {user_id}
inline constexpr const char* kSetSecret = "organization.command.set_secret";        // {name, nonce, ciphertext} (sealed)
inline constexpr const char* kDeleteSecret = "organization.command.delete_secret";  // {name}
// {allow?: [pattern] (the whole list), add?: [pattern], remove?: [pattern], by}: the egress
// allowlist; patterns are normalized (sandbox/egress.h normalize_pattern), invalid when
// one is not a pattern.
inline constexpr const char* kSetNetwork = "organization.command.set_network";
// {conventional_titles?, auto_archive_prs?}
inline constexpr const char* kSetSettings = "organization.command.set_settings";
// {repo_id, url, name, default_branch, credential?, by}: the edge checked the URL with git.
inline constexpr const char* kAddRepo = "organization.command.add_repo";
inline constexpr const char* kRemoveRepo = "organization.command.remove_repo";  // {repo_id}
// From the github-data actor: {upsert?: [{github_id, full_name, clone_url, default_branch,
// html_url, archived}], remove?: [github_id], remove_all?, complete? (upsert lists every
// one: the others are gone; after each full sync), pulls?: [{pull (github_data::pull_json),
// action, sender, generation}], pulls_swept_before? (a full sync's generation)}. The
// installation's repositories as repositories of the org (credential "github:<id>"); one
// that leaves while live tasks use it is kept and marked (github.removed_at), its tasks
// listed. A pull request goes to the live task on its branch (task::kPullChanged), or is
// listed among the tasks while it is open (a row with no actor: kind "pull_request").
inline constexpr const char* kGitHubRepos = "organization.command.github_repos";
// {task_id, repo_id | pull_id, prompt, agent, title?, base_branch?, branch?, owner: {user_id,
//  username}, permission_timeout_ms?} (pull_id: a listed pull request, whose repository,
//  branch, base and title the task takes): decides what the task is not told (its title from the prompt
//  under the org's conventional_titles, its branch, its sandbox's network), reserves the
//  branch, indexes the task, creates its actor. The prompt arrives redacted.
inline constexpr const char* kCreateTask = "organization.command.create_task";
inline constexpr const char* kTaskChanged = "organization.command.task_changed";  // a task's summary (versioned)

// Actions.
inline constexpr const char* kGet = "organization.get";
inline constexpr const char* kMembers = "organization.members";
// -> {members, running_tasks (provisioning or running), live_tasks (not archived or killed)}
inline constexpr const char* kUsage = "organization.usage";
// {username} -> the member; not_found "no member \"NAME\"" for anyone who is not one
// (whether or not such a user exists: the answer tells nothing of other orgs' people).
inline constexpr const char* kMemberNamed = "organization.member_named";
inline constexpr const char* kSecrets = "organization.secrets";               // names and times, never values
// {names} -> {name: {nonce, ciphertext}} for those of `names` the org has.
inline constexpr const char* kSealedSecrets = "organization.sealed_secrets";
// -> {allow: [pattern], items: [{pattern, added_by, added_at}]}
inline constexpr const char* kNetwork = "organization.network";
inline constexpr const char* kRepos = "organization.repos";
inline constexpr const char* kRepo = "organization.repo";  // {repo_id}
// {repo?, status?, owner?, archived?: "only"|"include"|"exclude", pulls?: "include"|
// "exclude"|"only", q?, after?, limit?} -> {items, next_cursor}, newest change first; open
// pull requests no task works on are included (status "pull_request") unless excluded.
inline constexpr const char* kTasks = "organization.tasks";
inline constexpr const char* kTask = "organization.task";  // {task_id} -> its summary (or a listed pull request's)

// The context a secret of an org is sealed under (storage::MasterKey).
inline std::string secret_context(const std::string& org_id, const std::string& name) {
  return "org " + org_id + "/secret " + name;
}

// 0 for an unknown role; higher is more.
int role_rank(const std::string& role);

ActorType make_type();

}  // namespace hearth::actors::organization
