// The sandbox's git with real repositories: the checkout (mirror on the host, the
// agent's clone in the sandbox as the sandbox's user), which file:// origins may be
// read and the one answer for those that may not, and https with a token that never
// enters a sandbox.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "sandbox/git.h"
#include "tests/support/git_https_server.h"
#include "tests/support/git_repo.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;

using test::make_repo;
using test::sh;

namespace {

constexpr SandboxUser kUser{1'900'000'201, 1'900'000'201};

struct Box {
  explicit Box(const std::filesystem::path& root) : dir{root} {
    auto made = make_sandbox_dirs(dir, kUser);
    REQUIRE_MESSAGE(made.ok(), (made.ok() ? "" : made.error().message));
    base.user = kUser;
  }
  SandboxDir dir;
  ExecRequest base;
};

std::unique_ptr<Provider> bwrap() {
  auto p = make_provider("bwrap");
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  return std::move(*p);
}

Origin file_origin(const std::filesystem::path& repo, const std::filesystem::path& root,
                   const std::filesystem::path& data_dir = "/nonexistent-data-dir") {
  Origin o;
  o.url = "file://" + repo.string();
  o.file_roots = {root.string()};
  o.data_dir = data_dir;
  return o;
}

std::string owner_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return std::to_string(st.st_uid);
}

}  // namespace

TEST_CASE("a checkout makes the mirror on the host and the agent's clone in the sandbox, on the task branch") {
  test::TempDir data;
  auto repo = make_repo(data.path() / "repos" / "origin");
  Box box(data.path() / "box");
  auto provider = bwrap();
  SandboxGit git(*provider, box.dir, box.base, file_origin(repo, data.path() / "repos"));
  std::vector<std::string> steps;
  auto st = git.checkout({"dev", "hearth/task-1", "Hearth Bot", "bot@example.com"},
                         [&](const std::string& s) { steps.push_back(s); });
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  CHECK(steps == std::vector<std::string>{"cloning", "creating branch hearth/task-1", "done"});
  auto w = box.dir.work().string();
  CHECK(sh("git -C '" + w + "' branch --show-current") == "hearth/task-1\n");
  CHECK(sh("git -C '" + w + "' config user.name") == "Hearth Bot\n");
  CHECK(sh("git -C '" + w + "' config user.email") == "bot@example.com\n");
  CHECK(sh("git -C '" + w + "' remote get-url origin") == "file://" + repo.string() + "\n");
  CHECK(sh("git -C '" + w + "' rev-parse origin/main") == sh("git -C '" + repo.string() + "' rev-parse main"));
  CHECK(std::filesystem::exists(box.dir.work() / "src" / "b.c"));
  // The agent's files are the sandbox user's; the mirror's config and hooks are root's.
  CHECK(owner_of(box.dir.work() / "src" / "b.c") == std::to_string(kUser.uid));
  CHECK(owner_of(box.dir.work() / ".git" / "config") == std::to_string(kUser.uid));
  CHECK(owner_of(box.dir.mirror()) == "0");
  CHECK(owner_of(box.dir.mirror() / "config") == "0");
  CHECK(owner_of(box.dir.mirror() / "hooks") == "0");
  CHECK(owner_of(box.dir.mirror() / "objects") == std::to_string(kUser.uid));
  CHECK(sh("git config --file '" + (box.dir.mirror() / "config").string() + "' core.hooksPath") == "/dev/null\n");

  // Again into the same (now full) work dir: refused, nothing touched.
  auto again = git.checkout({"", "hearth/task-1"});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::conflict);
}

TEST_CASE("a file:// origin whose real path would break out of a shell word is refused, whatever its link says") {
  test::TempDir data;
  auto allowed = data.path() / "repos";
  // A repository a local user renamed so that its path ends a quoted word and runs a
  // command (git hands the path to sh, as root), reached through an innocent-looking link.
  auto hostile = allowed / "x'$(touch${IFS}pwned-by-a-path)'y";
  std::filesystem::rename(make_repo(allowed / "plain"), hostile);
  std::filesystem::create_symlink(hostile, allowed / "innocent");
  auto o = file_origin(allowed / "innocent", allowed);
  auto r = check_file_origin(o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "git cannot read a repository at file://" + (allowed / "innocent").string() +
                                 " (or the server does not allow it)");
  std::filesystem::remove("pwned-by-a-path");
  Box box(data.path() / "box");
  auto provider = bwrap();
  SandboxGit git(*provider, box.dir, box.base, o);
  CHECK_FALSE(git.ls_remote().ok());
  CHECK_FALSE(git.checkout({"", "t"}).ok());
  CHECK_FALSE(std::filesystem::exists("pwned-by-a-path"));
}

TEST_CASE("a file:// origin is read only under an allowed root, and everything else gets one answer") {
  test::TempDir data;
  auto allowed = data.path() / "repos";
  auto repo = make_repo(allowed / "origin");
  auto outside = make_repo(data.path() / "elsewhere" / "secret");
  std::filesystem::create_directories(allowed / "plain-dir");
  std::filesystem::create_symlink(outside, allowed / "link-out");
  auto data_dir = data.path() / "repos" / "hearth-data";
  make_repo(data_dir / "sandboxes" / "other" / "work");
  auto answer = [&](const std::filesystem::path& path, std::vector<std::string> roots) {
    Origin o = file_origin(path, allowed, data_dir);
    o.file_roots = std::move(roots);
    auto r = check_file_origin(o);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  CHECK(answer(repo, {allowed.string()}) == "ok");
  CHECK(answer(repo, {}).find("not allowed on this server") != std::string::npos);
  CHECK(answer(outside, {allowed.string()}).find("does not lie under") != std::string::npos);
  // No such directory, not a repository, a symlink out of the root, the data dir: the same words.
  const auto unreadable = [&](const std::filesystem::path& p) {
    return "git cannot read a repository at file://" + p.string() + " (or the server does not allow it)";
  };
  CHECK(answer(allowed / "missing", {allowed.string()}) == unreadable(allowed / "missing"));
  CHECK(answer(allowed / "plain-dir", {allowed.string()}) == unreadable(allowed / "plain-dir"));
  CHECK(answer(allowed / "link-out", {allowed.string()}) == unreadable(allowed / "link-out"));
  CHECK(answer(data_dir / "sandboxes" / "other" / "work", {allowed.string()}) ==
        unreadable(data_dir / "sandboxes" / "other" / "work"));
  CHECK(answer(allowed / "origin" / ".." / ".." / "elsewhere" / "secret", {allowed.string()})
            .find("does not lie under") != std::string::npos);
}

TEST_CASE("checkout refuses bad input and reports git's own error") {
  test::TempDir data;
  auto provider = bwrap();
  Box box(data.path() / "box");
  auto refused = [&](Origin origin, CheckoutSpec spec) {
    SandboxGit git(*provider, box.dir, box.base, std::move(origin));
    auto st = git.checkout(spec);
    REQUIRE_FALSE(st.ok());
    return st.error().message;
  };
  Origin ssh;
  ssh.url = "ssh://host/repo";
  CHECK(refused(ssh, {"", "t"}) == "the repository URL must start with file:/// or https://");
  Origin creds;
  creds.url = "https://user:pw@github.com/o/r";
  CHECK(refused(creds, {"", "t"}) == "put credentials in the token, not in the repository URL");
  auto repo = make_repo(data.path() / "origin");
  CHECK(refused(file_origin(repo, data.path()), {"", "a..b"}) == "\"a..b\" is not a valid branch name");
  CHECK(refused(file_origin(repo, data.path()), {"-x", "t"}) == "\"-x\" is not a valid branch name");
  // A base branch the origin does not have: git's words.
  auto no_branch = refused(file_origin(repo, data.path()), {"nope", "t"});
  CHECK(no_branch.find("Remote branch nope not found") != std::string::npos);
}

TEST_CASE("over https the token reaches Hearth's git on the host only, never a sandbox, a file in one, or git's errors") {
  test::TempDir data;
  make_repo(data.path() / "served" / "origin.git");
  const std::string token = "ghs_https_installation_token_0123";
  test::GitHttpsServer server(data.path() / "served", token);
  auto provider = bwrap();
  Box box(data.path() / "box");
  Origin origin;
  origin.url = server.url("origin.git");
  origin.ca_file = server.certificate();
  origin.token = token;
  SandboxGit git(*provider, box.dir, box.base, origin);
  auto st = git.checkout({"", "hearth/t1"});
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  CHECK(server.authorized() >= 2);
  CHECK_FALSE(server.token_elsewhere());
  CHECK(sh("git -C '" + box.dir.work().string() + "' branch --show-current") == "hearth/t1\n");
  CHECK(sh("git -C '" + box.dir.work().string() + "' remote get-url origin") == server.url("origin.git") + "\n");
  // No file anywhere holds it: not the sandbox's dirs, not the server's run dir.
  CHECK(sh("grep -r " + token + " '" + box.dir.root.string() + "' || echo clean") == "clean\n");
  // ls-remote from a sandbox: the credential through a read-only bind of that sandbox's own.
  auto listed = git.ls_remote();
  REQUIRE(listed.ok());
  CHECK(listed->exit_code == 0);
  CHECK(listed->out.find("refs/heads/main") != std::string::npos);

  // A wrong token: git's own error, without the token.
  Box other(data.path() / "other");
  origin.token = "ghs_wrong_token_that_is_long_enough";
  SandboxGit wrong_git(*provider, other.dir, other.base, origin);
  auto wrong = wrong_git.checkout({"", "hearth/t1"});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("clone failed (exit 128)") != std::string::npos);
  CHECK(wrong.error().message.find("Authentication failed") != std::string::npos);
  CHECK(wrong.error().message.find("ghs_wrong") == std::string::npos);
  // Without the CA, the server is not trusted.
  Box third(data.path() / "third");
  origin.token = token;
  origin.ca_file.clear();
  SandboxGit untrusted_git(*provider, third.dir, third.base, origin);
  auto untrusted = untrusted_git.checkout({"", "hearth/t1"});
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.error().message.find("certificate") != std::string::npos);
}
