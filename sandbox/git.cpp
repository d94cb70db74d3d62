// Hearth's own git for a sandbox: see git.h. The three kinds of git process differ only
// in where they run and what they are given; each is built here and nowhere else.
#include "sandbox/git.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sandbox/exec.h"
#include "storage/text.h"

namespace hearth::sandbox {

namespace fs = std::filesystem;

namespace {

// The mirror as the sandbox's git processes see it.
constexpr const char* kMirrorInside = "/run/hearth/mirror";

// git's askpass: the user name GitHub wants with a token, and the token from git's own
// environment.
constexpr const char* kAskpass =
    "#!/bin/sh\ncase \"$1\" in\n  Username*) echo x-access-token ;;\n  *) printf '%s' \"$HEARTH_GIT_TOKEN\" ;;\nesac\n";

// No system or global configuration, no prompts, for every git Hearth runs.
const std::vector<std::string> kQuietGit = {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                                            "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"};

Status write_file(const fs::path& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return host_failure(ErrorCode::unavailable, "cannot write git's credential files", path, std::strerror(errno));
  ::fchmod(fd, mode);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return host_failure(ErrorCode::unavailable, "cannot write git's credential files", path, "short write");
  return {};
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A command for git's --upload-pack/--receive-pack that runs as the owner of the
// repository at `path` (its hooks, its files, its permissions), trusting it explicitly.
std::string as_owner(const fs::path& path, const char* program) {
  struct stat st {};
  // git runs this through sh, as root: the path is one quoted word (check_file_origin
  // also allows only plain characters in it).
  std::string git = fmt::format("git -c safe.directory={} {}", shell_quoted(path.string()), program);
  if (::stat(path.c_str(), &st) != 0 || st.st_uid == 0) return git;
  return fmt::format("setpriv --reuid={} --regid={} --clear-groups -- {}", st.st_uid, st.st_gid, git);
}

// Hands `path` and everything under it to `user` (not following symlinks).
Status hand_over(const fs::path& path, SandboxUser user) {
  std::error_code ec;
  if (::lchown(path.c_str(), user.uid, user.gid) != 0)
    return host_failure(ErrorCode::unavailable, "cannot hand git's files over", path, std::strerror(errno));
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it); it.increment(ec))
    if (::lchown(it->path().c_str(), user.uid, user.gid) != 0)
      return host_failure(ErrorCode::unavailable, "cannot hand git's files over", it->path(), std::strerror(errno));
  return {};
}

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

Status validate_url(const std::string& url) {
  bool file = url.rfind("file:///", 0) == 0;
  bool https = url.rfind("https://", 0) == 0;
  if (!file && !https) return Error{ErrorCode::invalid, "the repository URL must start with file:/// or https://"};
  if (url.find_first_of(std::string_view(" \n\r\t\0", 5)) != std::string::npos)
    return Error{ErrorCode::invalid, "the repository URL must not hold spaces or control characters"};
  if (https && url.find('@') != std::string::npos)
    return Error{ErrorCode::invalid, "put credentials in the token, not in the repository URL"};
  if (file && url.find('\'') != std::string::npos)
    return Error{ErrorCode::invalid, "a file:// repository path must not hold quotes"};
  return {};
}

Status validate(const CheckoutSpec& s) {
  if (!s.base_branch.empty() && !valid_branch(s.base_branch))
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not a valid branch name", s.base_branch)};
  if (!valid_branch(s.task_branch))
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not a valid branch name", s.task_branch)};
  return {};
}

Result<fs::path> check_file_origin(const Origin& origin) {
  auto unreadable = Error{ErrorCode::invalid, fmt::format("git cannot read a repository at {} (or the server does "
                                                          "not allow it)", origin.url)};
  if (origin.url.rfind("file:///", 0) != 0) return unreadable;
  auto under = [](const fs::path& path, const fs::path& root) {
    auto rel = path.lexically_relative(root);
    return !rel.empty() && *rel.begin() != "..";
  };
  fs::path asked = fs::path(origin.url.substr(7)).lexically_normal();
  bool allowed = false;
  for (const auto& root : origin.file_roots) allowed = allowed || under(asked, fs::path(root).lexically_normal());
  if (origin.file_roots.empty())
    return Error{ErrorCode::forbidden, "file:// repositories are not allowed on this server (a server admin may allow "
                                       "a directory of them with --file-repo-root)"};
  if (!allowed)
    return Error{ErrorCode::forbidden, fmt::format("{} does not lie under a directory this server allows file:// "
                                                   "repositories from (--file-repo-root)", origin.url)};
  // Symlinks resolved: the real place must still be allowed, and never the data dir.
  std::error_code ec;
  auto real = fs::canonical(asked, ec);
  if (ec) return unreadable;
  bool still = false;
  for (const auto& root : origin.file_roots) {
    auto real_root = fs::canonical(root, ec);
    still = still || (!ec && under(real, real_root)) || (!ec && real == real_root);
  }
  auto data = fs::weakly_canonical(origin.data_dir, ec);
  if (!still || (!origin.data_dir.empty() && (real == data || under(real, data)))) return unreadable;
  // Plain characters only: the path ends up in commands a shell reads.
  for (unsigned char c : real.string())
    if (!(std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == '@' || c == ',' ||
          c == '=' || c == '~'))
      return unreadable;
  // A git repository: a bare one, or a work tree's .git.
  bool bare = fs::is_regular_file(real / "HEAD", ec) && fs::is_directory(real / "objects", ec);
  bool work = fs::is_regular_file(real / ".git" / "HEAD", ec);
  if (!bare && !work) return unreadable;
  return real;
}

SandboxGit::SandboxGit(const Provider& provider, SandboxDir dir, ExecRequest base, Origin origin)
    : provider_(provider), dir_(std::move(dir)), base_(std::move(base)), origin_(std::move(origin)) {}

Result<GitOutput> SandboxGit::remote(std::vector<std::string> args, std::stop_token stop, std::size_t max_output) {
  // Alternates never belong in the mirror; a file there would make this git (the host's)
  // read objects from wherever it points.
  std::error_code ec;
  fs::remove(dir_.mirror() / "objects" / "info" / "alternates", ec);
  fs::remove(dir_.mirror() / "objects" / "info" / "http-alternates", ec);
  std::vector<std::string> argv{"--git-dir=" + dir_.mirror().string()};
  if (origin_.url.rfind("file:///", 0) == 0) {
    auto path = check_file_origin(origin_);
    if (!path) return path.error();
    argv.insert(argv.end(), {"-c", "remote.origin.url=" + path->string(),
                             "-c", "remote.origin.uploadpack=" + as_owner(*path, "upload-pack"),
                             "-c", "remote.origin.receivepack=" + as_owner(*path, "receive-pack")});
  } else {
    argv.insert(argv.end(), {"-c", "remote.origin.url=" + origin_.url});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return host(std::move(argv), stop, max_output);
}

Result<GitOutput> SandboxGit::host(std::vector<std::string> args, std::stop_token stop, std::size_t max_output) {
  if (auto st = validate_url(origin_.url); !st) return st.error();
  std::vector<std::string> argv{"git",
                                "-c", "protocol.allow=never",
                                "-c", "protocol.file.allow=always",
                                "-c", "protocol.https.allow=always",
                                "-c", "core.hooksPath=/dev/null",
                                "-c", "core.fsmonitor=false",
                                "-c", "credential.helper=",
                                "-c", "fetch.unpackLimit=1",
                                "-c", "transfer.unpackLimit=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.inherit_env = false;
  spec.pipe_stderr = true;
  spec.cgroup_procs = base_.cgroup_procs;
  spec.extra_env = kQuietGit;
  spec.extra_env.insert(spec.extra_env.end(), {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent"});
  std::vector<std::pair<std::string, std::string>> secrets;
  std::error_code ec;
  if (origin_.token) {
    // The credential reaches git in its environment (the server's own process, readable
    // by root only) and from there through an askpass program that prints it: never
    // argv, the URL, a file, or a sandbox.
    auto run_dir = dir_.root / "run";
    fs::create_directories(run_dir, ec);
    ::chmod(run_dir.c_str(), 0700);
    fs::remove(run_dir / "git-token", ec);  // where older versions kept it
    if (auto st = write_file(run_dir / "git-askpass", kAskpass, 0700); !st) return st.error();
    spec.extra_env.push_back("GIT_ASKPASS=" + (run_dir / "git-askpass").string());
    spec.extra_env.push_back("HEARTH_GIT_TOKEN=" + *origin_.token);
    secrets.emplace_back("GIT_TOKEN", *origin_.token);
  }
  if (!origin_.ca_file.empty()) {
    if (!fs::is_regular_file(origin_.ca_file, ec))
      return host_failure(ErrorCode::invalid, "the CA file for git (--git-ca-file) does not exist", origin_.ca_file,
                          "no such file");
    spec.extra_env.push_back("GIT_SSL_CAINFO=" + origin_.ca_file.string());
  }
  Limits limits;
  limits.wall_clock = std::chrono::minutes(10);
  Redactor redactor(secrets);
  GitOutput output;
  auto outcome = run(spec, limits, "", [&](int stream, std::string_view d) {
    auto& into = stream == 1 ? output.out : output.err;
    if (into.size() + d.size() <= max_output) into.append(d);
    else output.truncated = true;
  }, stop, &redactor);
  if (!outcome) return outcome.error();
  output.exit_code = outcome->exit_code;
  output.truncated = output.truncated || outcome->truncated;
  return output;
}

Result<GitOutput> SandboxGit::sandboxed(ExecRequest request, std::stop_token stop, std::size_t max_output,
                                        const Redactor* redactor) {
  request.user = base_.user;
  request.cgroup_procs = base_.cgroup_procs;
  request.limits.wall_clock = std::chrono::minutes(10);
  GitOutput output;
  auto outcome = run(provider_, dir_, request, "", [&](int stream, std::string_view d) {
    auto& into = stream == 1 ? output.out : output.err;
    if (into.size() + d.size() <= max_output) into.append(d);
    else output.truncated = true;
  }, stop, redactor);
  if (!outcome) return outcome.error();
  output.exit_code = outcome->exit_code;
  output.truncated = output.truncated || outcome->truncated;
  return output;
}

Result<GitOutput> SandboxGit::ls_remote(std::stop_token stop) {
  if (auto st = validate_url(origin_.url); !st) return st.error();
  if (origin_.url.rfind("file:///", 0) == 0) {
    auto path = check_file_origin(origin_);
    if (!path) return path.error();
    return host({"ls-remote", "--symref", "--upload-pack", as_owner(*path, "upload-pack"), "--", path->string()}, stop,
                4u << 20);
  }
  ExecRequest r;
  r.argv = {"git", "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "credential.helper=",
            "ls-remote", "--symref", "--", origin_.url};
  r.env = kQuietGit;
  r.env.push_back("HOME=/tmp");
  r.network = Network::host;
  r.limits.wall_clock = std::chrono::seconds(30);
  std::vector<std::pair<std::string, std::string>> secrets;
  std::error_code ec;
  if (origin_.token) {
    // This sandbox is Hearth's own (no agent runs in it): the credential reaches its git
    // in its environment (through a descriptor, never argv) and an askpass program.
    auto run_dir = dir_.root / "run";
    fs::create_directories(run_dir, ec);
    if (auto st = write_file(run_dir / "git-askpass", kAskpass, 0755); !st) return st.error();
    ::chmod(run_dir.c_str(), 0755);
    r.read_only.emplace_back(run_dir.string(), "/run/hearth/credentials");
    r.env.push_back("GIT_ASKPASS=/run/hearth/credentials/git-askpass");
    r.env.push_back("HEARTH_GIT_TOKEN=" + *origin_.token);
    secrets.emplace_back("GIT_TOKEN", *origin_.token);
  }
  if (!origin_.ca_file.empty()) {
    if (!fs::is_regular_file(origin_.ca_file, ec))
      return host_failure(ErrorCode::invalid, "the CA file for git (--git-ca-file) does not exist", origin_.ca_file,
                          "no such file");
    r.read_only.emplace_back(origin_.ca_file.string(), "/run/hearth/ca.pem");
    r.env.push_back("GIT_SSL_CAINFO=/run/hearth/ca.pem");
  }
  Redactor redactor(secrets);
  return sandboxed(std::move(r), stop, 4u << 20, &redactor);
}

Result<GitOutput> SandboxGit::worktree(const std::string& script, std::vector<std::string> env, std::stop_token stop,
                                       std::size_t max_output) {
  ExecRequest r;
  r.argv = {"sh", "-c", script};
  r.env = kQuietGit;
  r.env.push_back("HOME=/tmp");
  // Fetching from the mirror runs upload-pack there, as this user, in a repository it does
  // not own: trusted by name on that one command line.
  r.env.push_back(fmt::format("HEARTH_UPLOAD_PACK=git -c safe.directory={} upload-pack", kMirrorInside));
  r.env.push_back(fmt::format("HEARTH_MIRROR={}", kMirrorInside));
  r.env.insert(r.env.end(), env.begin(), env.end());
  std::error_code ec;
  if (fs::is_directory(dir_.mirror(), ec)) r.read_only.emplace_back(dir_.mirror().string(), kMirrorInside);
  r.network = Network::none;
  return sandboxed(std::move(r), stop, max_output);
}

Result<GitOutput> SandboxGit::import(const std::string& script, std::vector<std::string> env, std::stop_token stop,
                                     std::size_t max_output) {
  ExecRequest r;
  r.argv = {"sh", "-c", script};
  r.env = kQuietGit;
  r.env.insert(r.env.end(), {"HOME=/tmp", fmt::format("GIT_DIR={}", kMirrorInside), "GIT_WORK_TREE=/workspace",
                             fmt::format("GIT_INDEX_FILE={}/state/index", kMirrorInside)});
  r.env.insert(r.env.end(), env.begin(), env.end());
  r.read_only_work = true;
  // The mirror read-only, but for its objects and refs.
  r.read_only.emplace_back(dir_.mirror().string(), kMirrorInside);
  r.read_write.emplace_back((dir_.mirror() / "objects").string(), std::string(kMirrorInside) + "/objects");
  r.read_write.emplace_back((dir_.mirror() / "refs").string(), std::string(kMirrorInside) + "/refs");
  r.read_write.emplace_back((dir_.mirror() / "state").string(), std::string(kMirrorInside) + "/state");
  r.network = Network::none;
  return sandboxed(std::move(r), stop, max_output);
}

Status SandboxGit::seal_mirror() {
  auto config = dir_.mirror() / "config";
  // Appended to what clone wrote: for single-valued keys git takes the last one.
  std::ofstream out(config, std::ios::app);
  out << "[core]\n\thooksPath = /dev/null\n\tfsmonitor = false\n\tlogAllRefUpdates = false\n"
         "[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n"
         "[fetch]\n\twriteCommitGraph = false\n\tunpackLimit = 1\n[transfer]\n\tunpackLimit = 1\n";
  out.close();
  if (!out) return Error{ErrorCode::unavailable, "cannot write the mirror's config"};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_.mirror() / "hooks", ec)) fs::remove(entry.path(), ec);
  fs::create_directories(dir_.mirror() / "refs" / "hearth", ec);
  fs::create_directories(dir_.mirror() / "state", ec);  // import()'s index files
  // Root's, readable by all: the top, config, HEAD, hooks, info. The sandbox user's:
  // objects and refs (import() adds to them).
  if (auto st = hand_over(dir_.mirror(), SandboxUser{0, 0}); !st) return st;
  ::chmod(dir_.mirror().c_str(), 0755);
  for (auto it = fs::recursive_directory_iterator(dir_.mirror(), ec); !ec && it != fs::end(it); it.increment(ec))
    if (!it->is_symlink()) ::chmod(it->path().c_str(), it->is_directory() ? 0755 : 0644);
  for (const char* part : {"objects", "refs", "state"})
    if (auto st = hand_over(dir_.mirror() / part, base_.user); !st) return st;
  return {};
}

Status SandboxGit::checkout(const CheckoutSpec& spec, const Progress& progress, std::stop_token stop) {
  if (auto st = validate_url(origin_.url); !st) return st;
  if (auto st = validate(spec); !st) return st;
  auto say = [&](const std::string& step) {
    if (progress) progress(step);
  };
  std::error_code ec;
  if (fs::exists(dir_.work(), ec) && !fs::is_empty(dir_.work(), ec))
    return Error{ErrorCode::conflict, "the work dir is not empty"};
  say("cloning");
  // The mirror: a bare clone of the origin, by Hearth's git on the host.
  fs::remove_all(dir_.mirror(), ec);
  auto mirror_tmp = dir_.root / "mirror.partial";
  fs::remove_all(mirror_tmp, ec);
  // Its objects and refs readable by the sandbox's user (import reads them), whatever the
  // server's umask: core.sharedRepository keeps every file git writes there 0644.
  std::vector<std::string> clone{"clone", "--bare", "--no-local", "--quiet", "--config", "core.sharedRepository=0644"};
  if (origin_.url.rfind("file:///", 0) == 0) {
    auto path = check_file_origin(origin_);
    if (!path) return path.error();
    clone.insert(clone.end(), {"--upload-pack", as_owner(*path, "upload-pack"), "--", path->string()});
  } else {
    clone.insert(clone.end(), {"--", origin_.url});
  }
  clone.push_back(mirror_tmp.string());
  auto cloned = host(clone, stop, 16 * 1024);
  if (!cloned) return cloned.error();
  if (cloned->exit_code != 0) {
    fs::remove_all(mirror_tmp, ec);
    return Error{ErrorCode::unavailable,
                 fmt::format("clone failed (exit {}): {}", cloned->exit_code, trimmed(cloned->err + cloned->out))};
  }
  fs::rename(mirror_tmp, dir_.mirror(), ec);
  if (ec) return Error{ErrorCode::unavailable, fmt::format("cannot place the mirror: {}", ec.message())};
  if (auto st = seal_mirror(); !st) return st;

  // The agent's repository, cloned from the mirror by Hearth's git on the host into a new
  // dir that no sandbox process can reach (the sandbox's root is not theirs to write),
  // handed to the sandbox's user, then put in place of the (empty) work dir. It reads
  // nothing but the mirror: no agent has run in this checkout yet. The identity, the
  // origin's URL for people to read, and the task's branch: the origin's when it has one
  // (a task provisioned again after its work was pushed resumes from it), else a new one
  // from the base.
  auto work_tmp = dir_.root / "work.partial";
  fs::remove_all(work_tmp, ec);
  auto fail = [&](const std::string& what, const GitOutput& out) {
    fs::remove_all(work_tmp, ec);
    return Error{ErrorCode::unavailable, fmt::format("{} (exit {}): {}", what, out.exit_code, trimmed(out.err + out.out))};
  };
  std::vector<std::string> local{"clone", "--quiet", "--local", "--no-hardlinks", "--origin", "origin",
                                 "--config", "user.name=" + spec.author_name,
                                 "--config", "user.email=" + spec.author_email};
  if (!spec.base_branch.empty()) local.insert(local.end(), {"--branch", spec.base_branch});
  local.insert(local.end(), {"--", dir_.mirror().string(), work_tmp.string()});
  auto copied = host(local, stop, 16 * 1024);
  if (!copied) return copied.error();
  if (copied->exit_code != 0) return fail("clone failed", *copied);
  // One host process for the rest: values in the environment, never in the script.
  ProcessSpec post{{"sh", "-c",
                    "set -e\ncd \"$WORK\"\n"
                    "git remote set-url origin \"$ORIGIN_URL\"\n"
                    "if git rev-parse -q --verify \"refs/remotes/origin/$BRANCH\" >/dev/null; then\n"
                    "  git checkout --quiet -b \"$BRANCH\" \"origin/$BRANCH\" || exit 97\n"
                    "else\n"
                    "  git checkout --quiet -b \"$BRANCH\" || exit 97\n"
                    "fi\n"}};
  post.inherit_env = false;
  post.pipe_stderr = true;
  post.cgroup_procs = base_.cgroup_procs;
  post.extra_env = kQuietGit;
  post.extra_env.insert(post.extra_env.end(),
                        {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "WORK=" + work_tmp.string(),
                         "ORIGIN_URL=" + origin_.url, "BRANCH=" + spec.task_branch,
                         "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.hooksPath", "GIT_CONFIG_VALUE_0=/dev/null"});
  GitOutput branched;
  auto ran = run(post, Limits{}, "", [&](int stream, std::string_view d) {
    (stream == 1 ? branched.out : branched.err).append(d.substr(0, 16 * 1024));
  }, stop);
  if (!ran) return ran.error();
  branched.exit_code = ran->exit_code;
  if (branched.exit_code != 0)
    return fail(branched.exit_code == 97 ? fmt::format("creating branch {} failed", spec.task_branch) : "clone failed",
                branched);
  if (auto st = hand_over(work_tmp, base_.user); !st) return st;
  ::chmod(work_tmp.c_str(), 0700);
  fs::remove_all(dir_.work(), ec);
  fs::rename(work_tmp, dir_.work(), ec);
  if (ec) return Error{ErrorCode::unavailable, fmt::format("cannot place the checkout: {}", ec.message())};
  say("creating branch " + spec.task_branch);
  say("done");
  return {};
}

}  // namespace hearth::sandbox
