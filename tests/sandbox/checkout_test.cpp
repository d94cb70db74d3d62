// Checking out a real git repository into a bwrap sandbox: branch, identity, errors,
// and the credential files a token travels through.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "sandbox/checkout.h"
#include "sandbox/exec.h"
#include "tests/support/git_https_server.h"
#include "tests/support/git_repo.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;

using test::make_repo;
using test::sh;

TEST_CASE("a checkout clones into the work dir, on the task branch, with the git identity") {
  test::TempDir data;
  auto repo = make_repo(data.path() / "origin");
  SandboxDir box{data.path() / "box"};
  auto bwrap = make_provider("bwrap");
  REQUIRE(bwrap.ok());
  std::vector<std::string> steps;
  CheckoutSpec spec{"file://" + repo.string(), "dev", "hearth/task-1", "Hearth Bot", "bot@example.com"};
  auto st = checkout(**bwrap, box, spec, [&](const std::string& s) { steps.push_back(s); });
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  CHECK(steps == std::vector<std::string>{"cloning", "creating branch hearth/task-1", "done"});
  auto w = box.work().string();
  CHECK(sh("git -C '" + w + "' branch --show-current") == "hearth/task-1\n");
  CHECK(sh("git -C '" + w + "' config user.name") == "Hearth Bot\n");
  CHECK(sh("git -C '" + w + "' config user.email") == "bot@example.com\n");
  CHECK(std::filesystem::exists(box.work() / "src" / "b.c"));
  CHECK(sh("git -C '" + w + "' rev-parse --abbrev-ref '@{upstream}' 2>/dev/null || true") == "");

  // Again into the same (now full) work dir: refused, nothing touched.
  auto again = checkout(**bwrap, box, spec);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::conflict);
}

TEST_CASE("checkout refuses bad input and reports git's own error") {
  test::TempDir data;
  auto bwrap = make_provider("bwrap");
  REQUIRE(bwrap.ok());
  SandboxDir box{data.path() / "box"};
  auto refused = [&](CheckoutSpec spec) {
    auto st = checkout(**bwrap, box, spec);
    REQUIRE_FALSE(st.ok());
    return st.error().message;
  };
  CHECK(refused({"ssh://host/repo", "", "t"}) == "the repository URL must start with file:/// or https://");
  CHECK(refused({"https://user:pw@github.com/o/r", "", "t", "a", "b", std::nullopt, Network::host}) ==
        "put credentials in the token, not in the repository URL");
  CHECK(refused({"https://github.com/o/r", "", "t"}) == "cloning over https needs the sandbox's network policy to be host");
  CHECK(refused({"file:///x", "", "a..b"}) == "\"a..b\" is not a valid branch name");
  CHECK(refused({"file:///x", "-x", "t"}) == "\"-x\" is not a valid branch name");
  CHECK(refused({"file://" + (data.path() / "nothing").string(), "", "t"}) ==
        "no repository at file://" + (data.path() / "nothing").string());
  // A directory that is not a repository: git's own words.
  std::filesystem::create_directories(data.path() / "empty");
  auto not_repo = refused({"file://" + (data.path() / "empty").string(), "", "t"});
  CHECK(not_repo.find("clone failed (exit 128)") != std::string::npos);
  CHECK(not_repo.find("does not appear to be a git repository") != std::string::npos);
  // A base branch the origin does not have.
  auto repo = make_repo(data.path() / "origin");
  auto no_branch = refused({"file://" + repo.string(), "nope", "t"});
  CHECK(no_branch.find("Remote branch nope not found") != std::string::npos);
}

TEST_CASE("a token reaches git only through a 0600 file and an askpass program outside the work dir") {
  test::TempDir data;
  auto repo = make_repo(data.path() / "origin");
  SandboxDir box{data.path() / "box"};
  auto bwrap = make_provider("bwrap");
  REQUIRE(bwrap.ok());
  CheckoutSpec spec{"file://" + repo.string(), "", "task"};
  spec.token = "ghs_secret_installation_token";
  REQUIRE(checkout(**bwrap, box, spec).ok());
  struct stat st {};
  REQUIRE(::stat((box.root / "run" / "git-token").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((box.root / "run" / "git-askpass").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // Nothing in the work dir (the checkout, its .git) holds the token.
  CHECK(sh("grep -r ghs_secret_installation_token '" + box.work().string() + "' || echo clean") == "clean\n");
  // The askpass answers git's prompts inside the sandbox.
  ExecRequest ask{{"/run/hearth/credentials/git-askpass", "Password for 'https://github.com': "}};
  ask.read_only = {{(box.root / "run").string(), "/run/hearth/credentials"}};
  std::string out;
  auto ran = run(**bwrap, box, ask, "", [&](int s, std::string_view d) { if (s == 1) out.append(d); });
  REQUIRE(ran.ok());
  CHECK(out == "ghs_secret_installation_token");
}

TEST_CASE("a checkout over https authenticates with the token through askpass, and git's errors never show it") {
  test::TempDir data;
  make_repo(data.path() / "served" / "origin.git");
  const std::string token = "ghs_https_installation_token_0123";
  test::GitHttpsServer git(data.path() / "served", token);
  auto bwrap = make_provider("bwrap");
  REQUIRE(bwrap.ok());
  SandboxDir box{data.path() / "box"};
  CheckoutSpec spec{git.url("origin.git"), "", "hearth/t1"};
  spec.network = Network::host;
  spec.ca_file = git.certificate();
  spec.token = token;
  auto st = checkout(**bwrap, box, spec);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  CHECK(git.authorized() >= 2);
  CHECK_FALSE(git.token_elsewhere());
  CHECK(sh("git -C '" + box.work().string() + "' branch --show-current") == "hearth/t1\n");
  CHECK(sh("git -C '" + box.work().string() + "' remote get-url origin") == git.url("origin.git") + "\n");
  CHECK(sh("grep -r " + token + " '" + box.work().string() + "' || echo clean") == "clean\n");

  // A wrong token: git's own error, without the token.
  SandboxDir other{data.path() / "other"};
  spec.token = "ghs_wrong_token_that_is_long_enough";
  auto wrong = checkout(**bwrap, other, spec);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("clone failed (exit 128)") != std::string::npos);
  CHECK(wrong.error().message.find("Authentication failed") != std::string::npos);
  CHECK(wrong.error().message.find("ghs_wrong") == std::string::npos);
  // Without the CA, the server is not trusted.
  SandboxDir third{data.path() / "third"};
  spec.token = token;
  spec.ca_file.clear();
  auto untrusted = checkout(**bwrap, third, spec);
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.error().message.find("certificate") != std::string::npos);
}
