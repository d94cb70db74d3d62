// The agent's view of the work dir: reads and writes stay inside it, whatever the path
// or the symlinks say.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>

#include "sandbox/workdir_fs.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST_CASE("reads and writes by the agent's path land in the work dir, parents created") {
  test::TempDir dir;
  auto work = dir.path() / "work";
  std::filesystem::create_directories(work);
  WorkdirFs fs(work, "/workspace");
  REQUIRE(fs.write("/workspace/src/deep/a.txt", "one\ntwo\nthree\n").ok());
  CHECK(slurp(work / "src/deep/a.txt") == "one\ntwo\nthree\n");
  CHECK(*fs.read("/workspace/src/deep/a.txt") == "one\ntwo\nthree\n");
  CHECK(*fs.read("/workspace/src/deep/a.txt", 2, 1) == "two\n");
  CHECK(*fs.read("/workspace/src/deep/a.txt", 2) == "two\nthree\n");
  CHECK(*fs.read("/workspace/./src/../src/deep/a.txt") == "one\ntwo\nthree\n");  // normalized, still inside
  REQUIRE(fs.write("/workspace/src/deep/a.txt", "replaced").ok());
  CHECK(slurp(work / "src/deep/a.txt") == "replaced");
  CHECK(fs.read("/workspace/missing.txt").error().code == ErrorCode::not_found);
  CHECK(fs.read("/workspace/src").error().code == ErrorCode::invalid);
}

TEST_CASE("paths and symlinks that lead out of the work dir are refused") {
  test::TempDir dir;
  auto work = dir.path() / "work";
  std::filesystem::create_directories(work / "sub");
  std::ofstream(dir.path() / "outside.txt") << "host secret";
  std::filesystem::create_symlink(dir.path() / "outside.txt", work / "link-out");
  std::filesystem::create_symlink("../..", work / "sub" / "up");
  std::filesystem::create_symlink("sub", work / "link-in");
  std::ofstream(work / "sub" / "inside.txt") << "fine";
  WorkdirFs fs(work, "/workspace");

  CHECK(fs.read("/workspace/../outside.txt").error().code == ErrorCode::forbidden);
  CHECK(fs.read("/etc/passwd").error().code == ErrorCode::forbidden);
  CHECK(fs.read("/workspace").error().code == ErrorCode::forbidden);
  CHECK(fs.read("relative.txt").error().code == ErrorCode::invalid);
  CHECK(fs.read("/workspace/link-out").error().code == ErrorCode::forbidden);
  CHECK(fs.read("/workspace/sub/up/outside.txt").error().code == ErrorCode::forbidden);
  CHECK(*fs.read("/workspace/link-in/inside.txt") == "fine");  // a link that stays inside is fine

  CHECK(fs.write("/workspace/link-out", "overwritten").error().code == ErrorCode::forbidden);
  CHECK(fs.write("/workspace/sub/up/new.txt", "x").error().code == ErrorCode::forbidden);
  CHECK(fs.write("/workspace/../escape.txt", "x").error().code == ErrorCode::forbidden);
  CHECK(slurp(dir.path() / "outside.txt") == "host secret");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "new.txt"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "escape.txt"));
}

TEST_CASE("a FIFO, socket or device in the work dir is refused at once, never waited on") {
  test::TempDir dir;
  auto work = dir.path() / "work";
  std::filesystem::create_directories(work);
  REQUIRE(::mkfifo((work / "pipe").c_str(), 0644) == 0);
  WorkdirFs fs(work, "/workspace");
  // Before, the read opened the FIFO and waited for a writer forever (a server thread
  // wedged, the session with it, and shutdown hung). Now it answers at once.
  auto read = fs.read("/workspace/pipe");
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().message == "/workspace/pipe: not a regular file");
  auto wrote = fs.write("/workspace/pipe", "data");
  REQUIRE_FALSE(wrote.ok());
  CHECK(wrote.error().message == "/workspace/pipe: not a regular file");
  CHECK(std::filesystem::is_fifo(work / "pipe"));
  auto device = fs.read("/workspace/../../../dev/zero");
  CHECK_FALSE(device.ok());
}

TEST_CASE("the agent's reads and writes are made as the sandbox's user: its files, its permissions") {
  test::TempDir dir;
  SandboxDir box{dir.path() / "box"};
  constexpr SandboxUser user{1'900'000'501, 1'900'000'501};
  REQUIRE(make_sandbox_dirs(box, user).ok());
  WorkdirFs fs(box.work(), "/workspace", user);
  REQUIRE(fs.write("/workspace/made/by/agent.txt", "hi").ok());
  struct stat st {};
  REQUIRE(::stat((box.work() / "made/by/agent.txt").c_str(), &st) == 0);
  CHECK(st.st_uid == user.uid);
  REQUIRE(::stat((box.work() / "made").c_str(), &st) == 0);
  CHECK(st.st_uid == user.uid);
  // A file the sandbox cannot read (root's, 0600): Hearth does not read it on its behalf.
  std::ofstream(box.work() / "roots.txt") << "not yours";
  ::chmod((box.work() / "roots.txt").c_str(), 0600);
  auto denied = fs.read("/workspace/roots.txt");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::forbidden);
  CHECK_FALSE(fs.write("/workspace/roots.txt", "overwritten").ok());
  CHECK(slurp(box.work() / "roots.txt") == "not yours");
}
