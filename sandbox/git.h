// Hearth's own git for a sandbox, split by what each git process may touch, so that
// nothing the agent controls (its .git/config, hooks, .gitattributes filters, objects)
// can run with more than the agent's own power, and the origin and the credential are
// reachable only by git that reads none of it:
//
//   remote()    git on the host, in the *mirror* (<sandbox root>/mirror: a bare
//               repository whose config and hooks are Hearth's, root-owned, read-only to
//               every sandbox process), talking to the origin: the only git that holds
//               the credential or can write the origin. It reads no work tree and no
//               configuration but Hearth's (no system or global config, no hooks, only
//               the file and https protocols); its output is redacted of the credential.
//   worktree()  git in the agent's own repository (/workspace), in the sandbox as the
//               sandbox's user, with nothing the agent lacks: no credential, no origin,
//               no network, the mirror read-only. Whatever the agent's .git/config or
//               hooks make it run, the agent could have run itself.
//   import()    git in the sandbox with the mirror as its repository and the work tree
//               read-only: copies the agent's commits into the mirror through git's path
//               for untrusted repositories (upload-pack in the agent's .git), and diffs
//               the work tree with the mirror's configuration. It can write only the
//               mirror's objects and refs (the mirror's config and hooks stay read-only).
//
// checkout() builds both at provisioning: the mirror from the origin (remote), then the
// agent's repository from the mirror (worktree).
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "sandbox/provider.h"
#include "sandbox/redactor.h"

namespace hearth::sandbox {

// Where a sandbox's repository comes from.
struct Origin {
  std::string url;                    // file:///abs/path or https://host/owner/repo(.git)
  std::optional<std::string> token;   // https credential (e.g. a GitHub installation token)
  std::filesystem::path ca_file;      // certificates git trusts for https besides the system's
  // Directories a file:// origin must lie under (symlinks resolved), and the server's
  // data dir, which it must not: checked every time git reads the origin.
  std::vector<std::string> file_roots;
  std::filesystem::path data_dir;
};

// Refused with one message whatever the reason (no such directory, not a repository, not
// under an allowed root, inside the data dir), so that nobody learns what the host has.
// Returns the origin's canonical path.
Result<std::filesystem::path> check_file_origin(const Origin& origin);

struct CheckoutSpec {
  std::string base_branch;  // empty: the origin's default branch
  std::string task_branch;  // checked out: the origin's if it exists, else created from the base
  std::string author_name = "Hearth";
  std::string author_email = "hearth@localhost";
};

// Progress lines ("cloning", "creating branch …", "done") as they happen.
using Progress = std::function<void(const std::string& step)>;

// The URL's scheme, spaces and credentials (none in the URL) with a message naming the problem.
Status validate_url(const std::string& url);
// The branch names.
Status validate(const CheckoutSpec& spec);
bool valid_branch(const std::string& name);

struct GitOutput {
  int exit_code = -1;
  std::string out, err;  // each kept up to the limit given
  bool truncated = false;
};

// One sandbox's git. `base` carries the sandbox's user and control groups
// (Runtime::prepare); its argv, env, binds and network are the class's to set.
class SandboxGit {
 public:
  SandboxGit(const Provider& provider, SandboxDir dir, ExecRequest base, Origin origin);

  // Builds the mirror from the origin and the agent's checkout from the mirror (the work
  // dir must be empty). Fails with git's own words (redacted) when git fails.
  Status checkout(const CheckoutSpec& spec, const Progress& progress = {}, std::stop_token stop = {});

  // `git ARGS` on the host in the mirror, against the origin (named "origin" there).
  Result<GitOutput> remote(std::vector<std::string> args, std::stop_token stop = {}, std::size_t max_output = 64 * 1024);
  // `sh -c SCRIPT` in the agent's repository, with `env` (NAME=VALUE) added.
  Result<GitOutput> worktree(const std::string& script, std::vector<std::string> env, std::stop_token stop = {},
                             std::size_t max_output = 64 * 1024);
  // `sh -c SCRIPT` with GIT_DIR the mirror and the work tree read-only, with `env` added.
  Result<GitOutput> import(const std::string& script, std::vector<std::string> env, std::stop_token stop = {},
                           std::size_t max_output = 4u << 20);

  // `git ls-remote --symref` of the origin: for a file:// one on the host, as the
  // repository's owner; for an https one inside the sandbox with the host's network (its
  // errors are the sandbox's, never the server's loopback services answering).
  Result<GitOutput> ls_remote(std::stop_token stop = {});

  // The origin as git in the agent's repository names it (for people; it may not be
  // reachable from inside).
  const std::string& origin_url() const { return origin_.url; }

 private:
  Result<GitOutput> sandboxed(ExecRequest request, std::stop_token stop, std::size_t max_output,
                              const Redactor* redactor = nullptr);
  // `git ARGS` on the host: Hearth's configuration only, the credential through askpass.
  Result<GitOutput> host(std::vector<std::string> args, std::stop_token stop, std::size_t max_output);
  // The mirror's config and hooks are Hearth's: written here, root-owned; its objects and
  // refs are the sandbox user's (import() writes them).
  Status seal_mirror();

  const Provider& provider_;
  SandboxDir dir_;
  ExecRequest base_;
  Origin origin_;
};

}  // namespace hearth::sandbox
