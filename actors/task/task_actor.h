// The task actor: one task (address `task / [org_id, task_id]`): a repository, a
// branch of its own, a sandbox with the branch checked out, and the agent sessions
// working there. It brings its sandbox and sessions into being, follows what they
// report, derives its status from them, runs the git flows in the sandbox, and pushes
// its summary to the organization (the index every listing reads) and the events that
// matter to the feeds of the people concerned.
//
//   provisioning ──▶ running ⇄ idle ──(archive)──▶ archived ──(unarchive)──▶ provisioning
//        │             (conflict: a sync stopped on conflicting files)
//        ▼
//      error ──(retry)──▶ provisioning            any ──(kill)──▶ killed
//
// Git flows (diff, commit, push, sync, merge, revert, pr) run as long work off the loop
// through the exec channel in the sandbox; one at a time; each is an "op" whose
// outcome is kept and broadcast. See docs/tasks.md.
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::sandbox {
class Runtime;
}

namespace hearth::actors::task {

inline Address address(const std::string& org_id, const std::string& task_id) { return {"task", {org_id, task_id}}; }

// Created with {org_id, task_id, repo_id, repo_url, base_branch, branch, title, prompt,
// agent, owner: {user_id, username}, git_credential?, network, permission_timeout_ms?}.

// Queues people's commands reach (each body also carries {by, by_id}: who asked).
inline constexpr const char* kPrompt = "task.command.prompt";                  // {text, session_id?}
inline constexpr const char* kStop = "task.command.stop";                      // {session_id?}: cancels running turns
inline constexpr const char* kCreateSession = "task.command.create_session";  // {agent?, title?, prompt?}
inline constexpr const char* kCloseSession = "task.command.close_session";    // {session_id}
inline constexpr const char* kRenameSession = "task.command.rename_session";  // {session_id, title}
inline constexpr const char* kRename = "task.command.rename";                  // {title}
inline constexpr const char* kChangeOwner = "task.command.change_owner";      // {user_id, username}
inline constexpr const char* kArchive = "task.command.archive";
inline constexpr const char* kUnarchive = "task.command.unarchive";
inline constexpr const char* kKill = "task.command.kill";
inline constexpr const char* kRetry = "task.command.retry";
inline constexpr const char* kRefreshDiff = "task.command.refresh_diff";
inline constexpr const char* kCommit = "task.command.commit";  // {message?}
inline constexpr const char* kPush = "task.command.push";
inline constexpr const char* kSync = "task.command.sync";
inline constexpr const char* kMerge = "task.command.merge";
inline constexpr const char* kRevert = "task.command.revert";  // {path}
// {title, body, draft}: push the branch, then open its pull request on GitHub (or link
// the one open for it already). Only for a repository connected through GitHub.
inline constexpr const char* kPublishPr = "task.command.publish_pr";
// From the organization, what GitHub says of the pull request of the task's branch:
// {pull (github_data::pull_json), action (GitHub's: opened, closed, reopened,
// synchronize, ...), sender, auto_archive}. Merged or closed: archived (when
// auto_archive) with the reason; reopened: unarchived; another's push: sync offered.
inline constexpr const char* kPullChanged = "task.command.pull_changed";
// Queues its sandbox and sessions report on.
inline constexpr const char* kSandboxChanged = "task.command.sandbox_changed";  // {state, error?, step?}
// {session_id, status, turn, event: status|turn_ended|permission_requested|permission_resolved,
//  turn_status?, error?, tool?}
inline constexpr const char* kSessionChanged = "task.command.session_changed";

// Actions.
inline constexpr const char* kGet = "task.get";            // the task, its sessions, the running op, diff totals
inline constexpr const char* kSummary = "task.summary";    // what the organization's index keeps
inline constexpr const char* kDiff = "task.diff";          // {after?, limit?} -> files (no patches), page by page
inline constexpr const char* kDiffFile = "task.diff_file";  // {path} -> one file with its patch
inline constexpr const char* kOps = "task.ops";            // {before_id?, limit?}
inline constexpr const char* kOp = "task.op";              // {op_id}
// {agent, secret_names}: the org secrets the task's agent is given, named from its
// definition (for the edge, which redacts prompts with them; no route answers it).
inline constexpr const char* kSecretNames = "task.secret_names";

// Statuses (TaskStatus), derived and checked in task_state.h.

ActorType make_type(sandbox::Runtime& runtime);

}  // namespace hearth::actors::task
