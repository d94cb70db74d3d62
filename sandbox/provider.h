// Where a sandbox's processes run. A provider turns "run this argv, with this
// environment, in this sandbox" into the command line that does it with the provider's
// isolation: `bwrap` (bubblewrap namespaces, the default) or `local` (a plain process
// in the work dir, for development only). Container and VM providers plug in here.
//
// A bwrap sandbox's processes never run as root on the host: each sandbox has a uid of
// its own (SandboxUser), bubblewrap (started by the server) builds the namespaces and
// mounts, and setpriv drops to that uid, every capability and the right to gain any,
// under a seccomp filter, before the program starts. /proc/sys is read-only and the
// kernel's sensitive /proc files are masked (docs/sandboxes.md, What a sandbox sees).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/process.h"
#include "storage/error.h"

namespace hearth::sandbox {

// What the sandbox may reach over the network.
enum class Network {
  none,   // no interface but its own loopback (the default)
  proxy,  // its own loopback, and Hearth's egress proxy (sandbox/egress.h): allowed hosts only
  host,   // the host's network, like any process on it
};
std::string_view to_string(Network n);
Result<Network> network_from(std::string_view text);

// One sandbox's files on the host: `root`, with the work dir (the checkout) at
// root/work and the home dir (HOME: agents' settings and caches, kept out of the
// checkout's diff) at root/home: the only places its processes may write that outlive
// them. root/mirror is Hearth's own git repository for the sandbox (sandbox/git.h).
struct SandboxDir {
  std::filesystem::path root;
  std::filesystem::path work() const { return root / "work"; }
  std::filesystem::path home() const { return root / "home"; }
  std::filesystem::path mirror() const { return root / "mirror"; }
};

// Who a sandbox's processes are on the host: a uid and gid of their own, never 0.
struct SandboxUser {
  uid_t uid = 0;
  gid_t gid = 0;
  bool set() const { return uid != 0 && gid != 0; }
};

// Creates `dir`'s root (root-owned, 0710, group `user`: only the sandbox's processes may
// pass through it), its work and home dirs (owned by `user`, 0700) and its logs dir
// (the server's, 0700). Existing dirs get the same owners and modes; work and home
// owned by anyone else (made before sandboxes had users of their own) are handed to
// `user`, everything in them.
Status make_sandbox_dirs(const SandboxDir& dir, SandboxUser user);

// A failure on a host file, for people: what failed and why; the path goes to the
// server's log only (answers and sandbox errors never show where the data dir is).
Error host_failure(ErrorCode code, std::string_view what, const std::filesystem::path& where, std::string_view why);

// Per-process limits.
struct Limits {
  std::chrono::milliseconds wall_clock{std::chrono::minutes(30)};  // killed past it
  std::chrono::milliseconds idle{std::chrono::minutes(10)};        // killed after this long without output
  std::size_t max_output_bytes = 8u << 20;                          // stdout + stderr kept; the rest is dropped, marked
  std::uint64_t max_memory_bytes = 0;                               // address space (RLIMIT_AS); 0: no limit
};

// A process to start in a sandbox. Nothing here goes through a shell.
struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in the sandbox's PATH
  std::vector<std::string> env;   // KEY=VALUE: the whole environment (plus PATH and HOME unless given)
  std::string cwd;                // relative to the work dir; empty: the work dir
  Network network = Network::none;
  Limits limits;
  // Host files or dirs made visible read-only at an absolute path inside (e.g. an
  // agent's program). The local provider uses the host paths instead in argv.
  std::vector<std::pair<std::string, std::string>> read_only;  // {host path, path inside}
  // Host dirs made writable inside, the same way: only for Hearth's own git processes
  // (a push into a file:// origin), never for the agent's.
  std::vector<std::pair<std::string, std::string>> read_write;
  // The sandbox's control groups (Cgroups::prepare): the process joins them before it
  // starts, so that the sandbox's process and memory ceilings cover it.
  std::vector<std::string> cgroup_procs;
  // Who the process runs as (required by bwrap; the local provider runs as the server).
  SandboxUser user;
  // The work dir read-only (Hearth's own git that only reads it).
  bool read_only_work = false;
  // Dirs under HOME (relative paths) that the program needs and does not make itself,
  // made as the sandbox's user before it starts (Runtime::prepare).
  std::vector<std::string> home_dirs;
  // With network proxy (Runtime::prepare fills them in): the sandbox's socket of the
  // egress proxy and the hearth binary that runs the relay to it inside.
  std::string egress_socket;
  std::string egress_relay;
};

// Checks argv, env names and cwd (relative, no "..") with a message naming the problem.
Status validate(const ExecRequest& request);

// The sandbox's uid and gid inside it are the host's (files it makes are owned by them);
// its user is named `hearth` in its /etc/passwd, with HOME /home/hearth.
inline constexpr const char* kSandboxUserName = "hearth";

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string_view name() const = 0;
  // Whether processes are isolated from the host (bwrap: yes; local: no).
  virtual bool isolated() const = 0;
  // The host command that runs `request` in the sandbox `dir` (validated first).
  virtual Result<ProcessSpec> command(const SandboxDir& dir, const ExecRequest& request) const = 0;
  // The work dir as the sandbox's processes see it ("/workspace" under bwrap).
  virtual std::string work_dir_inside(const SandboxDir& dir) const = 0;
  // The home dir as they see it ("/home/hearth" under bwrap): HOME unless the request sets it.
  virtual std::string home_inside(const SandboxDir& dir) const = 0;
};

// "bwrap" or "local"; invalid for anything else, unavailable when bwrap is missing.
Result<std::unique_ptr<Provider>> make_provider(std::string_view name);

}  // namespace hearth::sandbox
