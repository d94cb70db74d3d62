// The sandbox providers: bubblewrap and local. See provider.h.
#include "sandbox/provider.h"

#include <unistd.h>

#include <fmt/format.h>

namespace hearth::sandbox {

std::string_view to_string(Network n) { return n == Network::host ? "host" : "none"; }

Result<Network> network_from(std::string_view text) {
  if (text == "none") return Network::none;
  if (text == "host") return Network::host;
  return Error{ErrorCode::invalid, fmt::format("network must be none or host, not \"{}\"", text)};
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

Status make_home(const SandboxDir& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir.home(), ec);
  if (ec) return Error{ErrorCode::unavailable, fmt::format("cannot create {}: {}", dir.home().string(), ec.message())};
  return {};
}

// Runs the command under prlimit when a memory limit is set.
std::vector<std::string> with_limits(const Limits& limits, std::vector<std::string> argv) {
  if (limits.max_memory_bytes == 0) return argv;
  std::vector<std::string> out{"/usr/bin/prlimit", fmt::format("--as={}", limits.max_memory_bytes), "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

class BwrapProvider final : public Provider {
 public:
  std::string_view name() const override { return "bwrap"; }
  bool isolated() const override { return true; }

  Result<ProcessSpec> command(const SandboxDir& dir, const ExecRequest& r) const override {
    if (auto st = validate(r); !st) return st.error();
    if (auto st = make_home(dir); !st) return st.error();
    std::vector<std::string> a{"/usr/bin/bwrap",
                               "--unshare-all",  // user, pid, ipc, uts, mount, cgroup and network namespaces
                               "--die-with-parent",
                               "--new-session",  // no terminal ioctls into the server's session
                               "--clearenv",
                               "--hostname", "hearth-sandbox",
                               "--ro-bind", "/usr", "/usr",
                               "--symlink", "usr/lib", "/lib",
                               "--symlink", "usr/lib64", "/lib64",
                               "--symlink", "usr/bin", "/bin",
                               "--symlink", "usr/sbin", "/sbin",
                               "--ro-bind-try", "/etc/ssl", "/etc/ssl",
                               "--ro-bind-try", "/etc/ca-certificates", "/etc/ca-certificates",
                               "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
                               "--proc", "/proc",
                               "--dev", "/dev",
                               "--tmpfs", "/tmp",
                               "--bind", dir.work().string(), "/workspace",
                               "--bind", dir.home().string(), "/home/hearth",
                               "--chdir", r.cwd.empty() ? "/workspace" : "/workspace/" + r.cwd,
                               "--cap-drop", "ALL"};
    for (const auto& [host, inside] : r.read_only) a.insert(a.end() - 2, {"--ro-bind", host, inside});
    for (const auto& [host, inside] : r.read_write) a.insert(a.end() - 2, {"--bind", host, inside});
    if (r.network == Network::host) {
      a.insert(a.begin() + 2, "--share-net");
      for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"})
        a.insert(a.end() - 2, {"--ro-bind-try", f, f});
    }
    for (const auto& [k, v] : environment(r, "/home/hearth")) a.insert(a.end(), {"--setenv", k, v});
    a.push_back("--");
    a.insert(a.end(), r.argv.begin(), r.argv.end());
    ProcessSpec spec;
    spec.argv = with_limits(r.limits, std::move(a));
    spec.inherit_env = false;  // bwrap itself needs nothing from the server's environment
    spec.pipe_stderr = true;
    spec.cgroup_procs = r.cgroup_procs;
    return spec;
  }
  std::string work_dir_inside(const SandboxDir&) const override { return "/workspace"; }
  std::string home_inside(const SandboxDir&) const override { return "/home/hearth"; }
};

class LocalProvider final : public Provider {
 public:
  std::string_view name() const override { return "local"; }
  bool isolated() const override { return false; }

  Result<ProcessSpec> command(const SandboxDir& dir, const ExecRequest& r) const override {
    if (auto st = validate(r); !st) return st.error();
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
  if (!r.cwd.empty()) {
    std::filesystem::path cwd(r.cwd);
    if (cwd.is_absolute()) return Error{ErrorCode::invalid, "cwd must be relative to the work dir"};
    for (const auto& part : cwd)
      if (part == "..") return Error{ErrorCode::invalid, "cwd must stay inside the work dir (no \"..\")"};
  }
  return {};
}

Result<std::unique_ptr<Provider>> make_provider(std::string_view name) {
  if (name == "local") return std::unique_ptr<Provider>(std::make_unique<LocalProvider>());
  if (name != "bwrap")
    return Error{ErrorCode::invalid, fmt::format("sandbox provider must be bwrap or local, not \"{}\"", name)};
  if (::access("/usr/bin/bwrap", X_OK) != 0)
    return Error{ErrorCode::unavailable, "bubblewrap is not installed (/usr/bin/bwrap): apt-get install bubblewrap"};
  return std::unique_ptr<Provider>(std::make_unique<BwrapProvider>());
}

}  // namespace hearth::sandbox
