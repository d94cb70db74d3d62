// Repository checkout inside a sandbox: see checkout.h.
#include "sandbox/checkout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "sandbox/exec.h"

namespace hearth::sandbox {

namespace {

}  // namespace

// git's rules for ref names, the parts that matter here.
bool valid_branch(const std::string& b) {
  if (b.empty() || b.size() > 200 || b.front() == '-' || b.front() == '/' || b.back() == '/' || b.back() == '.' ||
      b.find("..") != std::string::npos || b.find("@{") != std::string::npos || b.find("//") != std::string::npos ||
      b.ends_with(".lock"))
    return false;
  for (unsigned char c : b)
    if (c < 0x21 || c == 0x7f || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' || c == '\\')
      return false;
  return true;
}

namespace {

Status write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Error{ErrorCode::unavailable, fmt::format("cannot write {}: {}", path.string(), std::strerror(errno))};
  ::fchmod(fd, mode);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return Error{ErrorCode::unavailable, "cannot write " + path.string()};
  return {};
}

}  // namespace

Status validate(const CheckoutSpec& s) {
  bool file = s.repo_url.rfind("file:///", 0) == 0;
  bool https = s.repo_url.rfind("https://", 0) == 0;
  if (!file && !https) return Error{ErrorCode::invalid, "the repository URL must start with file:/// or https://"};
  if (s.repo_url.find_first_of(std::string_view(" \n\r\t\0", 5)) != std::string::npos)
    return Error{ErrorCode::invalid, "the repository URL must not hold spaces or control characters"};
  if (https && s.repo_url.find('@') != std::string::npos)
    return Error{ErrorCode::invalid, "put credentials in the token, not in the repository URL"};
  if (!s.base_branch.empty() && !valid_branch(s.base_branch))
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not a valid branch name", s.base_branch)};
  if (!valid_branch(s.task_branch))
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not a valid branch name", s.task_branch)};
  if (https && s.network != Network::host)
    return Error{ErrorCode::invalid, "cloning over https needs the sandbox's network policy to be host"};
  return {};
}

Result<GitAccess> git_access(const Provider& provider, const SandboxDir& dir, const CheckoutSpec& spec,
                             bool writable_origin) {
  GitAccess access;
  auto& git = access.request;
  git.network = spec.network;
  git.cgroup_procs = spec.cgroup_procs;
  git.env = {"HOME=/tmp", "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"};
  std::error_code ec;
  access.origin_url = spec.repo_url;
  if (spec.repo_url.rfind("file:///", 0) == 0) {
    // The origin at a fixed path inside: read-only, except for Hearth's own push.
    auto origin = spec.repo_url.substr(7);
    if (!std::filesystem::is_directory(origin, ec))
      return Error{ErrorCode::not_found, fmt::format("no repository at {}", spec.repo_url)};
    if (provider.isolated()) {
      (writable_origin ? git.read_write : git.read_only).emplace_back(origin, "/run/hearth/origin");
      access.origin_url = "file:///run/hearth/origin";
    }
  }
  if (spec.token) {
    auto run_dir = dir.root / "run";
    std::filesystem::create_directories(run_dir, ec);
    ::chmod(run_dir.c_str(), 0700);
    if (auto st = write_file(run_dir / "git-token", *spec.token, 0600); !st) return st.error();
    auto inside = provider.isolated() ? std::string("/run/hearth/credentials") : run_dir.string();
    if (auto st = write_file(run_dir / "git-askpass",
                             "#!/bin/sh\ncase \"$1\" in\n  Username*) echo x-access-token ;;\n  *) cat " + inside +
                                 "/git-token ;;\nesac\n",
                             0700);
        !st)
      return st.error();
    if (provider.isolated()) git.read_only.emplace_back(run_dir.string(), inside);
    git.env.push_back("GIT_ASKPASS=" + inside + "/git-askpass");
    access.secrets.emplace_back("GIT_TOKEN", *spec.token);
  }
  if (!spec.ca_file.empty()) {
    if (!std::filesystem::is_regular_file(spec.ca_file, ec))
      return Error{ErrorCode::invalid, fmt::format("the CA file {} does not exist", spec.ca_file.string())};
    auto inside = provider.isolated() ? std::string("/run/hearth/ca.pem") : spec.ca_file.string();
    if (provider.isolated()) git.read_only.emplace_back(spec.ca_file.string(), inside);
    git.env.push_back("GIT_SSL_CAINFO=" + inside);
  }
  return access;
}

Result<GitOutput> run_git(const Provider& provider, const SandboxDir& dir, const GitAccess& access,
                          std::vector<std::string> argv, std::stop_token stop, std::size_t max_output) {
  auto r = access.request;
  r.argv = std::move(argv);
  Redactor redactor(access.secrets);
  GitOutput output;
  auto outcome = run(provider, dir, r, "", [&](int stream, std::string_view d) {
    auto& into = stream == 1 ? output.out : output.err;
    if (into.size() + d.size() <= max_output) into.append(d);
    else output.truncated = true;
  }, stop, &redactor);
  if (!outcome) return outcome.error();
  output.exit_code = outcome->exit_code;
  output.truncated = output.truncated || outcome->truncated;
  return output;
}

Status checkout(const Provider& provider, const SandboxDir& dir, const CheckoutSpec& spec, const Progress& progress) {
  if (auto st = validate(spec); !st) return st;
  auto say = [&](const std::string& step) {
    if (progress) progress(step);
  };
  std::error_code ec;
  if (std::filesystem::exists(dir.work(), ec) && !std::filesystem::is_empty(dir.work(), ec))
    return Error{ErrorCode::conflict, "the work dir is not empty"};
  std::filesystem::create_directories(dir.work(), ec);
  auto access = git_access(provider, dir, spec);
  if (!access) return access.error();
  // One process (one sandbox to start, not two): the clone, which writes the identity
  // into the new repository's config, then the task's branch: the remote's when it has
  // one (a task provisioned again after its work was pushed resumes from it), else a new
  // one from the base. A failed checkout exits
  // with 97 to tell the two apart; the arguments come after the script, never inside it.
  say("cloning");
  std::vector<std::string> argv{"sh", "-c",
                                "git clone --quiet --origin origin --config \"user.name=$1\" --config \"user.email=$2\" "
                                "${4:+--branch \"$4\"} -- \"$5\" . || exit $?\n"
                                "if git rev-parse -q --verify \"refs/remotes/origin/$3\" >/dev/null; then\n"
                                "  git checkout --quiet -b \"$3\" \"origin/$3\" || exit 97\n"
                                "else\n"
                                "  git checkout --quiet -b \"$3\" || exit 97\n"
                                "fi\n",
                                "checkout", spec.author_name, spec.author_email, spec.task_branch, spec.base_branch,
                                access->origin_url};
  auto out = run_git(provider, dir, *access, std::move(argv), {}, 4096);
  if (!out) return out.error();
  if (out->exit_code != 0) {
    auto text = out->out + out->err;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return Error{ErrorCode::unavailable, out->exit_code == 97
                                             ? fmt::format("creating branch {} failed: {}", spec.task_branch, text)
                                             : fmt::format("clone failed (exit {}): {}", out->exit_code, text)};
  }
  say("creating branch " + spec.task_branch);
  say("done");
  return {};
}

}  // namespace hearth::sandbox
