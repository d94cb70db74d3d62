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
//   diff    import: the agent's HEAD and work tree against the base
//
// Values (message, branches, path) reach git as environment variables, never in argv.
#pragma once

#include <stop_token>
#include <string>

#include "actors/host/address.h"
#include "storage/error.h"

namespace hearth::actors::sandbox {
class Runtime;
}

namespace hearth::actors::task {

struct GitPlan {
  Address sandbox;
  std::string org_id, provider, repo_url, base, branch, title, task_id;
  std::string git_credential;  // the org secret git authenticates with ("" for none)
  std::string kind;            // commit, push, sync, merge, revert, diff
  Json args;                   // message (commit), path (revert)
};

// Runs `plan` to its end. The result: "output" (what git did, line by line),
// "conflict_files" (sync stopped on conflicts; the branch is as it was), "reverted"
// (revert: false when the file had no change against the base, and nothing was done),
// and "diff" (see parse_diff) or "diff_error". Fails with git's own words (never the credential) when a
// step fails, or unavailable when the server stopped meanwhile.
Result<Json> run_git_flow(sandbox::Runtime& rt, const GitPlan& plan, std::stop_token server_stop);

// The diff step's output as {base_commit, head_commit, files: [{path, status, added,
// removed, patch, patch_truncated}]}: patches past 64 KiB a file or 512 KiB in all are
// left out and marked.
Json parse_diff(const std::string& out);

}  // namespace hearth::actors::task
