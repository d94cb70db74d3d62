// The sandbox providers: bubblewrap and local. See provider.h.
#include "sandbox/provider.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sandbox/egress.h"
#include "sandbox/seccomp.h"
#include "storage/text.h"

namespace hearth::sandbox {

std::string_view to_string(Network n) {
  return n == Network::host ? "host" : n == Network::proxy ? "proxy" : "none";
}

Result<Network> network_from(std::string_view text) {
  if (text == "none") return Network::none;
  if (text == "proxy") return Network::proxy;
  if (text == "host") return Network::host;
  return Error{ErrorCode::invalid, fmt::format("network must be none, proxy or host, not \"{}\"", text)};
}

namespace {

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

// PATH and HOME unless the request sets them.
std::vector<std::pair<std::string, std::string>> environment(const ExecRequest& r, const std::string& home) {
  std::vector<std::pair<std::string, std::string>> out;
  bool path = false, has_home = false;
  for (const auto& e : r.env) {
    auto eq = e.find('=');
    auto name = e.substr(0, eq);
    path = path || name == "PATH";
    has_home = has_home || name == "HOME";
    out.emplace_back(name, e.substr(eq + 1));
  }
  if (!path) out.emplace_back("PATH", "/usr/local/bin:/usr/bin:/bin");
  if (!has_home) out.emplace_back("HOME", home);
  return out;
}

// The home dir, when missing (owned by the sandbox's user, when it has one).
Status make_home(const SandboxDir& dir, SandboxUser user = {}) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir.home(), ec)) return {};
  std::filesystem::create_directories(dir.home(), ec);
  if (ec) return host_failure(ErrorCode::unavailable, "cannot create the sandbox's home dir", dir.home(), ec.message());
  if (user.set() && ::chown(dir.home().c_str(), user.uid, user.gid) != 0)
    return host_failure(ErrorCode::unavailable, "cannot hand the home dir to the sandbox's user", dir.home(),
                        std::strerror(errno));
  return {};
}

// Runs the command under prlimit when a memory limit is set.
std::vector<std::string> with_limits(const Limits& limits, std::vector<std::string> argv) {
  if (limits.max_memory_bytes == 0) return argv;
  std::vector<std::string> out{"/usr/bin/prlimit", fmt::format("--as={}", limits.max_memory_bytes), "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// /proc files that tell about or act on the host's kernel (the list OCI runtimes mask),
// made unreadable; and the /proc dirs made read-only. Only those this kernel has.
constexpr const char* kMaskedFiles[] = {
    "/proc/kcore",       "/proc/keys",      "/proc/key-users",  "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/sysrq-trigger", "/proc/kmsg",     "/proc/kallsyms",
    "/proc/kpagecount",  "/proc/kpageflags", "/proc/kpagecgroup", "/proc/vmallocinfo", "/proc/slabinfo",
    "/proc/config.gz",   "/proc/modules",   "/proc/iomem",      "/proc/ioports",     "/proc/buddyinfo"};
constexpr const char* kMaskedDirs[] = {"/proc/acpi", "/proc/asound", "/proc/scsi", "/proc/driver"};
constexpr const char* kReadOnlyDirs[] = {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"};

template <std::size_t N>
std::vector<std::string> existing(const char* const (&paths)[N]) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const char* p : paths)
    if (std::filesystem::exists(p, ec)) out.emplace_back(p);
  return out;
}

// Run by sh as the sandbox's user: $1 the descriptor with the environment, $2 the cwd,
// then the program and its arguments.
constexpr const char* kEnterScript =
    ". /proc/self/fd/$1 || exit 126\n"
    "eval \"exec $1<&-\"\n"
    "cd \"$2\" || exit 126\n"
    "unset OLDPWD\n"
    "shift 2\n"
    "command -v \"$1\" >/dev/null || { echo \"$1: No such file or directory (no such program in the sandbox)\" >&2; exit 127; }\n"
    "exec \"$@\"\n";

// The options bwrap reads from descriptor 3 (--args), NUL-separated: everything but the
// program, so that environment values never appear in any process's command line.
std::string nul_joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    out += w;
    out += '\0';
  }
  return out;
}

class BwrapProvider final : public Provider {
 public:
  BwrapProvider(std::string seccomp)
      : seccomp_(std::move(seccomp)),
        masked_files_(existing(kMaskedFiles)),
        masked_dirs_(existing(kMaskedDirs)),
        read_only_dirs_(existing(kReadOnlyDirs)) {}

  std::string_view name() const override { return "bwrap"; }
  bool isolated() const override { return true; }

  Result<ProcessSpec> command(const SandboxDir& dir, const ExecRequest& r) const override {
    if (auto st = validate(r); !st) return st.error();
    if (!r.user.set())
      return Error{ErrorCode::invalid, "a sandboxed process never runs as root: the request names no sandbox user"};
    bool proxied = r.network == Network::proxy;
    if (proxied && (r.egress_socket.empty() || r.egress_relay.empty()))
      return Error{ErrorCode::internal, "a process with network proxy needs the sandbox's egress socket"};
    if (auto st = make_home(dir, r.user); !st) return st.error();
    // Under proxy: the sandbox's socket of the egress proxy, and the hearth binary that
    // relays the sandbox's 127.0.0.1:3128 to it (unless the program is that binary too).
    auto read_only = r.read_only;
    if (proxied) {
      read_only.emplace_back(r.egress_socket, egress::kSocketInside);
      bool has_relay = std::any_of(read_only.begin(), read_only.end(), [](const auto& b) { return b.second == egress::kRelayInside; });
      if (!has_relay) read_only.emplace_back(r.egress_relay, egress::kRelayInside);
    }
    ProcessSpec spec;
    // Descriptor 3: these options; 4: the program's environment (a shell reads it, and
    // dash knows only single-digit descriptors); 5: the seccomp program; then the data
    // of files.
    spec.fd_inputs = {"", "", seccomp_};
    auto data_fd = [&](std::string data) {
      spec.fd_inputs.push_back(std::move(data));
      return std::to_string(2 + spec.fd_inputs.size());
    };
    std::vector<std::string> o{"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                               "--die-with-parent",
                               "--new-session",  // no terminal ioctls into the server's session
                               "--clearenv", "--hostname", "hearth-sandbox",
                               "--ro-bind", "/usr", "/usr",
                               "--symlink", "usr/lib", "/lib",
                               "--symlink", "usr/lib64", "/lib64",
                               "--symlink", "usr/bin", "/bin",
                               "--symlink", "usr/sbin", "/sbin",
                               // bwrap makes the parents of mount points 0700 (root's only): make these
                               // readable, since the sandbox's processes are not root.
                               "--perms", "0755", "--dir", "/etc",
                               "--perms", "0755", "--dir", "/home",
                               "--ro-bind-try", "/etc/ssl", "/etc/ssl",
                               "--ro-bind-try", "/etc/ca-certificates", "/etc/ca-certificates",
                               "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
                               "--proc", "/proc"};
    if (r.network != Network::host) o.insert(o.begin(), "--unshare-net");
    for (const auto& d : read_only_dirs_) o.insert(o.end(), {"--ro-bind", d, d});
    for (const auto& f : masked_files_) o.insert(o.end(), {"--perms", "0000", "--ro-bind-data", data_fd(""), f});
    for (const auto& d : masked_dirs_) o.insert(o.end(), {"--perms", "0000", "--tmpfs", d});
    o.insert(o.end(), {"--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm", "--perms", "1777", "--tmpfs", "/tmp",
                       r.read_only_work ? "--ro-bind" : "--bind", dir.work().string(), "/workspace",
                       "--bind", dir.home().string(), "/home/hearth"});
    auto uid = std::to_string(r.user.uid), gid = std::to_string(r.user.gid);
    o.insert(o.end(), {"--perms", "0644", "--ro-bind-data",
                       data_fd("root:x:0:0:root:/root:/bin/sh\n" + std::string(kSandboxUserName) + ":x:" + uid + ":" +
                               gid + ":Hearth sandbox:/home/hearth:/bin/sh\n"),
                       "/etc/passwd"});
    o.insert(o.end(), {"--perms", "0644", "--ro-bind-data",
                       data_fd("root:x:0:\n" + std::string(kSandboxUserName) + ":x:" + gid + ":\n"), "/etc/group"});
    // The parents of bind points, readable (bwrap would make them root's only).
    std::set<std::string> parents{"/", "/etc", "/home"};
    for (const auto* binds : {&std::as_const(read_only), &r.read_write})
      for (const auto& [host, inside] : *binds)
        for (auto p = std::filesystem::path(inside).parent_path(); parents.insert(p.string()).second;
             p = p.parent_path())
          o.insert(o.end(), {"--perms", "0755", "--dir", p.string()});
    for (const auto& [host, inside] : read_only) o.insert(o.end(), {"--ro-bind", host, inside});
    for (const auto& [host, inside] : r.read_write) o.insert(o.end(), {"--bind", host, inside});
    if (r.network == Network::host)
      for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"}) o.insert(o.end(), {"--ro-bind-try", f, f});
    // The root stage (bwrap's child, setpriv) runs with no environment, in /, with only
    // the capabilities it needs to become the sandbox's user: nothing the request says
    // (LD_PRELOAD, a cwd of the agent's) can reach a process that is still root.
    o.insert(o.end(), {"--chdir", "/", "--seccomp", "5", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add",
                       "CAP_SETGID", "--cap-add", "CAP_SETPCAP"});
    spec.fd_inputs[0] = nul_joined(o);
    // The program's environment, as shell assignments a shell reads once it is the
    // sandbox's user (never argv, never the root stage).
    auto env = environment(r, "/home/hearth");
    if (proxied)
      for (const auto& e : egress::proxy_env()) {
        auto eq = e.find('=');
        auto name = e.substr(0, eq);
        if (std::none_of(env.begin(), env.end(), [&](const auto& kv) { return kv.first == name; }))
          env.emplace_back(name, e.substr(eq + 1));
      }
    env.emplace_back("USER", kSandboxUserName);
    env.emplace_back("LOGNAME", kSandboxUserName);
    std::string exports;
    for (const auto& [k, v] : env) exports += "export " + k + "=" + shell_quoted(v) + "\n";
    spec.fd_inputs[1] = std::move(exports);
    const std::string env_fd = "4";
    // bwrap (as the server) builds the sandbox; setpriv becomes the sandbox's user with
    // no capabilities, none to inherit and none to gain; a shell (as that user) takes the
    // environment, closes its descriptor, goes to the cwd and runs the program.
    std::vector<std::string> a{"/usr/bin/bwrap", "--args", "3", "--",
                               "/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups",
                               "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs",
                               "--", "/bin/sh", "-c", kEnterScript, "hearth-sandbox", env_fd,
                               r.cwd.empty() ? "/workspace" : "/workspace/" + r.cwd};
    if (proxied)
      a.insert(a.end(), {egress::kRelayInside, "egress-relay", egress::kSocketInside, std::to_string(egress::kRelayPort), "--"});
    a.insert(a.end(), r.argv.begin(), r.argv.end());
    spec.argv = with_limits(r.limits, std::move(a));
    spec.inherit_env = false;  // bwrap itself needs nothing from the server's environment
    spec.pipe_stderr = true;
    spec.cgroup_procs = r.cgroup_procs;
    return spec;
  }
  std::string work_dir_inside(const SandboxDir&) const override { return "/workspace"; }
  std::string home_inside(const SandboxDir&) const override { return "/home/hearth"; }

 private:
  std::string seccomp_;
  std::vector<std::string> masked_files_, masked_dirs_, read_only_dirs_;
};

class LocalProvider final : public Provider {
 public:
  std::string_view name() const override { return "local"; }
  bool isolated() const override { return false; }

  Result<ProcessSpec> command(const SandboxDir& dir, const ExecRequest& r) const override {
    if (auto st = validate(r); !st) return st.error();
    if (r.network == Network::proxy)
      return Error{ErrorCode::invalid, "the local provider cannot hold a process to the egress proxy (it has no network "
                                       "namespace): use network host, or the bwrap provider"};
    if (auto st = make_home(dir); !st) return st.error();
    ProcessSpec spec;
    // Paths under a read-only bind name the host's files here.
    auto argv = r.argv;
    for (auto& arg : argv)
      for (const auto* binds : {&r.read_only, &r.read_write})
        for (const auto& [host, inside] : *binds)
          if (arg == inside || arg.starts_with(inside + "/")) arg = host + arg.substr(inside.size());
    spec.argv = with_limits(r.limits, std::move(argv));
    for (const auto& [k, v] : environment(r, dir.home().string())) spec.extra_env.push_back(k + "=" + v);
    spec.cwd = r.cwd.empty() ? dir.work() : dir.work() / r.cwd;
    spec.inherit_env = false;
    spec.pipe_stderr = true;
    spec.cgroup_procs = r.cgroup_procs;
    return spec;
  }
  std::string work_dir_inside(const SandboxDir& dir) const override { return dir.work().string(); }
  std::string home_inside(const SandboxDir& dir) const override { return dir.home().string(); }
};

}  // namespace

Status validate(const ExecRequest& r) {
  if (r.argv.empty() || r.argv[0].empty()) return Error{ErrorCode::invalid, "argv must name a program"};
  for (const auto& a : r.argv)
    if (a.find('\0') != std::string::npos) return Error{ErrorCode::invalid, "argv must not hold NUL bytes"};
  for (const auto& e : r.env) {
    auto eq = e.find('=');
    if (eq == std::string::npos || !valid_env_name(std::string_view(e).substr(0, eq)))
      return Error{ErrorCode::invalid, fmt::format("env entries must be NAME=VALUE with NAME of letters, digits and "
                                                   "'_' (got \"{}\")", e.substr(0, std::min<std::size_t>(eq, 64)))};
    if (e.find('\0') != std::string::npos) return Error{ErrorCode::invalid, "env must not hold NUL bytes"};
  }
  for (const auto* binds : {&r.read_only, &r.read_write})
   for (const auto& [host, inside] : *binds)
    if (!std::filesystem::path(host).is_absolute() || !std::filesystem::path(inside).is_absolute() ||
        inside.rfind("/workspace", 0) == 0 || inside.rfind("/home/hearth", 0) == 0)
      return Error{ErrorCode::invalid,
                   "binds map an absolute host path to an absolute path outside /workspace and /home/hearth"};
  for (const auto& d : r.home_dirs) {
    std::filesystem::path dir(d);
    bool inside = !d.empty() && d.find('\0') == std::string::npos && dir.is_relative();
    for (const auto& part : dir) inside = inside && part != "..";
    if (!inside) return Error{ErrorCode::invalid, "home_dirs must be relative paths inside HOME (no \"..\")"};
  }
  if (!r.cwd.empty()) {
    std::filesystem::path cwd(r.cwd);
    if (cwd.is_absolute()) return Error{ErrorCode::invalid, "cwd must be relative to the work dir"};
    for (const auto& part : cwd)
      if (part == "..") return Error{ErrorCode::invalid, "cwd must stay inside the work dir (no \"..\")"};
  }
  return {};
}

namespace {

// Hands `path` and everything under it (not following symlinks) to `user`.
Status chown_tree(const std::filesystem::path& path, SandboxUser user) {
  std::error_code ec;
  if (::lchown(path.c_str(), user.uid, user.gid) != 0)
    return host_failure(ErrorCode::unavailable, "cannot hand the sandbox's files to its user", path, std::strerror(errno));
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec))
    if (::lchown(it->path().c_str(), user.uid, user.gid) != 0)
      return host_failure(ErrorCode::unavailable, "cannot hand the sandbox's files to its user", it->path(),
                          std::strerror(errno));
  return {};
}

Status owned_dir(const std::filesystem::path& path, uid_t uid, gid_t gid, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return host_failure(ErrorCode::unavailable, "cannot create the sandbox's dirs", path, ec.message());
  if (::chown(path.c_str(), uid, gid) != 0 || ::chmod(path.c_str(), mode) != 0)
    return host_failure(ErrorCode::unavailable, "cannot set the owner of the sandbox's dirs", path, std::strerror(errno));
  return {};
}

}  // namespace

Error host_failure(ErrorCode code, std::string_view what, const std::filesystem::path& where, std::string_view why) {
  spdlog::error("sandbox.host_failure what=\"{}\" path={} why=\"{}\"", what, where.string(), why);
  return Error{code, fmt::format("{}: {} (the server's log names the file)", what, why)};
}

Status make_sandbox_dirs(const SandboxDir& dir, SandboxUser user) {
  if (auto st = owned_dir(dir.root, 0, user.gid, 0710); !st) return st;
  for (const auto& d : {dir.work(), dir.home()}) {
    struct stat st {};
    bool handed = ::stat(d.c_str(), &st) == 0 && st.st_uid == user.uid;
    if (!handed && ::stat(d.c_str(), &st) == 0)
      if (auto r = chown_tree(d, user); !r) return r;
    if (auto r = owned_dir(d, user.uid, user.gid, 0700); !r) return r;
  }
  return owned_dir(dir.root / "logs", 0, 0, 0700);
}

Result<std::unique_ptr<Provider>> make_provider(std::string_view name) {
  if (name == "local") return std::unique_ptr<Provider>(std::make_unique<LocalProvider>());
  if (name != "bwrap")
    return Error{ErrorCode::invalid, fmt::format("sandbox provider must be bwrap or local, not \"{}\"", name)};
  if (::access("/usr/bin/bwrap", X_OK) != 0)
    return Error{ErrorCode::unavailable, "bubblewrap is not installed (/usr/bin/bwrap): apt-get install bubblewrap"};
  if (::access("/usr/bin/setpriv", X_OK) != 0)
    return Error{ErrorCode::unavailable, "setpriv is not installed (/usr/bin/setpriv): apt-get install util-linux"};
  if (::geteuid() != 0)
    return Error{ErrorCode::unavailable, "the bwrap provider runs each sandbox as a user of its own, which needs the "
                                         "server to run as root; run hearth serve as root, or use "
                                         "--sandbox-provider local for development"};
  auto seccomp = seccomp_program();
  if (!seccomp) return seccomp.error();
  return std::unique_ptr<Provider>(std::make_unique<BwrapProvider>(*seccomp));
}

}  // namespace hearth::sandbox
