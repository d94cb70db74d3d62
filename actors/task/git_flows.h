// A task's git flows: commit, push, sync, merge, revert and diff, run off the task's loop
// (spawn_io) through the sandbox's git (sandbox/git.h), so that nothing the agent put in
// its repository runs with the credential or near the origin:
//
//   commit  worktree: commit everything                     -> import: the diff
//   push    worktree: commit       -> import (the commit)   -> remote: push it -> (diff)
//   sync    remote: fetch the base -> worktree: take it from the mirror, commit, rebase
//                                  -> import: the diff
//   merge   worktree: commit       -> import  -> remote: fetch the base, check it
//           fast-forwards, push it to the base and the branch -> worktree: take the base
//                                  -> import: the diff
//   revert  worktree: the file as it is in the base          -> import: the diff
//   pr      as push, then GitHub: open the branch's pull request into the base (or
//           link the one open already), with a token for that repository and
//           pull_requests write (github_data::open_pull)
//   diff    import: the agent's HEAD and work tree against the base
//
// Values (message, branches, path) reach git as environment variables, never in argv.
#pragma once

#include <stop_token>
#include <string>
#include <string_view>

#include "actors/host/address.h"
#include "actors/task/task_state.h"
#include "storage/error.h"

namespace hearth::actors::sandbox {
class Runtime;
}

namespace hearth::actors::task {

struct GitPlan {
  Address sandbox;
  std::string org_id, provider, repo_url, base, branch, title, task_id;
  std::string git_credential;  // the org secret git authenticates with ("" for none)
  GitFlow kind = GitFlow::diff;
  Json args;                   // message (commit), path (revert), title, body, draft (pr)
};

// Runs `plan` to its end. The result: "output" (what git did, line by line),
// "conflict_files" (sync stopped on conflicts; the branch is as it was), "reverted"
// (revert: false when the file had no change against the base, and nothing was done),
// "pushed_head" (push, pr: the commit pushed), "pull" (pr: github_data::pull_json with
// "linked"),
// and "diff" (see parse_diff) or "diff_error". Fails with git's own words (never the credential) when a
// step fails, or unavailable when the server stopped meanwhile.
Result<Json> run_git_flow(sandbox::Runtime& rt, const GitPlan& plan, std::stop_token server_stop);

// The diff step's output (kImportScript's with $DIFF) as {base_commit, head_commit,
// files: [{path, status, added, removed, patch, patch_truncated}]}, files in path
// order; a binary file has null counts; patches past 64 KiB a file or 512 KiB in all
// are left out and marked. Output without the sections gives what it has (nulls, no files).
Json parse_diff(const std::string& out);

// The files kSyncScript's output lists after "CONFLICT" (none without it).
Json parse_conflicts(std::string_view out);

// The shell scripts the flows run, public so that tests run them on real git.
//
// The worktree scripts run in the agent's repository (SandboxGit::worktree, which sets
// $HEARTH_MIRROR and $HEARTH_UPLOAD_PACK to reach the mirror), each after
// kWorktreePrelude, with $MSG, $BASE, $BRANCH and $FILE from the plan:
//   kWorktreePrelude  `g` (git with hooks, fsmonitor and signing off); `commit_all`
//                     (commits everything with $MSG and prints "committed <sha>", or
//                     nothing when nothing changed); `base_from_mirror` (the base into
//                     refs/remotes/origin/$BASE). Before any script, it undoes a sync's
//                     rebase that a server stop cut off (the marker .git/hearth-rebase
//                     is left) and says so.
//   kSyncScript       the base from the mirror, the work committed, a rebase onto the
//                     base: prints "rebased <sha>"; on conflicts aborts the rebase (the
//                     branch as it was), prints "CONFLICT" and the files, exits kConflicted.
//   kRevertScript     $FILE as it is in the merge base with the base (removed when the
//                     base lacks it): prints "reverted $FILE"; exits kUnchanged, touching
//                     nothing, when the file is as in the base.
// kImportScript runs in the mirror (SandboxGit::import: GIT_DIR the mirror, GIT_WORK_TREE
// the agent's work tree, read-only): fetches the agent's HEAD into $REF and prints
// "HEAD <sha>"; with $DIFF set, also "BASE <merge base with $BASE>" and the work tree
// against it in the sections parse_diff reads, through the index at $GIT_INDEX_FILE.
extern const std::string_view kWorktreePrelude;
extern const std::string_view kSyncScript;
extern const std::string_view kRevertScript;
extern const std::string_view kImportScript;
inline constexpr int kConflicted = 3;  // kSyncScript's exit code when it stopped on conflicts
inline constexpr int kUnchanged = 3;   // kRevertScript's when there was nothing to revert

}  // namespace hearth::actors::task
