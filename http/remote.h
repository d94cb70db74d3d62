// What a repository's remote holds, asked from the edge before anything about it is
// stored: connecting a repository (its default branch), listing its branches, and
// checking a new task's base branch.
#pragma once

#include <string>

#include "actors/host/host.h"

namespace hearth::actors::sandbox {
class Runtime;
}

namespace hearth::http {

// The remote's branches and default branch, asked with `git ls-remote` (sandbox/git.h,
// SandboxGit::ls_remote: https from a throwaway sandbox): {default_branch, items}. When
// git cannot read it, one message whatever git said (git's words go to the log only),
// so that connecting repositories cannot probe what the server's network or disk holds.
Result<actors::Json> describe_remote(actors::sandbox::Runtime& rt, const std::string& org_id, const std::string& url,
                                     const std::string& credential);

}  // namespace hearth::http
