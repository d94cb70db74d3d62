// Checking a repository out into a sandbox's work dir: clone (file:// or https://), the
// task branch, the git identity. git runs inside the sandbox through the exec channel.
// A token for https reaches git only through an askpass program and a token file (mode
// 0600) under the sandbox's root, bound read-only at /run/hearth: never argv, never the
// URL, never the work dir.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "sandbox/provider.h"

namespace hearth::sandbox {

struct CheckoutSpec {
  std::string repo_url;                  // file:///abs/path or https://host/owner/repo(.git)
  std::string base_branch;               // empty: the remote's default branch
  std::string task_branch;               // checked out: the remote's if it exists, else created from the base
  std::string author_name = "Hearth";
  std::string author_email = "hearth@localhost";
  std::optional<std::string> token;      // https credentials (e.g. a GitHub installation token)
  Network network = Network::none;       // https needs host
  std::vector<std::string> cgroup_procs;  // the sandbox's control groups (git joins them)
  // Certificates git trusts for https besides the system's (a company's own CA); bound
  // read-only into the sandbox for the clone.
  std::filesystem::path ca_file;
};

// Progress lines ("cloning", "creating branch …", "done") as they happen.
using Progress = std::function<void(const std::string& step)>;

// Validates the spec (URL scheme, branch names) with a message naming the problem.
Status validate(const CheckoutSpec& spec);
bool valid_branch(const std::string& name);

// How git inside the sandbox reaches the origin: the environment, the binds (a
// file:// origin at /run/hearth/origin, read-only unless `writable_origin`; the
// credentials at /run/hearth/credentials), the network and control groups. argv is
// left empty for the caller.
struct GitAccess {
  ExecRequest request;
  std::string origin_url;  // the origin as git inside sees it
  std::vector<std::pair<std::string, std::string>> secrets;  // redacted from output
};
Result<GitAccess> git_access(const Provider& provider, const SandboxDir& dir, const CheckoutSpec& spec,
                             bool writable_origin = false);

struct GitOutput {
  int exit_code = -1;
  std::string out, err;  // each kept up to the limit given
  bool truncated = false;
};
// Runs `argv` (a git command, or sh -c with a script) the way `access` says, in the
// work dir (or `cwd` under it), keeping up to `max_output` bytes of each stream.
Result<GitOutput> run_git(const Provider& provider, const SandboxDir& dir, const GitAccess& access,
                          std::vector<std::string> argv, std::stop_token stop = {},
                          std::size_t max_output = 4u << 20);

// Clones into `dir`'s (empty) work dir. Fails with git's own message (redacted of the
// token) when git fails.
Status checkout(const Provider& provider, const SandboxDir& dir, const CheckoutSpec& spec, const Progress& progress = {});

}  // namespace hearth::sandbox
