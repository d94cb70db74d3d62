// The git flows' scripts and parsers (actors/task/git_flows.h) on real git: each test
// builds an origin, a mirror and the agent's clone in a temporary directory, runs a
// script as the sandbox would (same variables, same repositories, no sandbox), and
// reads its output with the parser the flow uses.
#include <doctest/doctest.h>

#include <set>

#include <string>

#include "actors/task/git_flows.h"
#include "tests/support/git_repo.h"
#include "tests/support/temp_dir.h"

namespace hearth::test {
namespace {

namespace task = actors::task;
using actors::Json;

constexpr const char* kIdentity =
    "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t";

// An origin (tests/support/git_repo.h's), the mirror Hearth clones of it, and the
// agent's repository on its task branch, cloned from the mirror.
struct Repos {
  Repos() {
    make_repo(origin);
    sh("set -e; git clone -q --bare '" + origin.string() + "' '" + mirror.string() + "'; git clone -q '" +
       mirror.string() + "' '" + agent.string() + "'; cd '" + agent.string() + "'; git checkout -q -b hearth/work");
  }
  // `script` run in `dir` with git's identity set.
  void in(const std::filesystem::path& dir, const std::string& script) {
    sh(std::string("set -e; export ") + kIdentity + "; cd '" + dir.string() + "'; " + script);
  }
  std::string head(const std::filesystem::path& dir, const std::string& rev = "HEAD") {
    auto out = sh("git -C '" + dir.string() + "' rev-parse " + rev);
    return out.substr(0, out.find('\n'));
  }
  // A worktree script after the prelude, as SandboxGit::worktree runs it.
  ScriptRun worktree(std::string_view script, std::vector<std::string> env = {}) {
    env.insert(env.end(), {"HEARTH_MIRROR=" + mirror.string(), "HEARTH_UPLOAD_PACK=git upload-pack", "BASE=main",
                           "MSG=the work", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t",
                           "GIT_COMMITTER_EMAIL=t@t"});
    return run_script(std::string(task::kWorktreePrelude) + std::string(script), env, agent);
  }
  // The import script, as SandboxGit::import runs it: the mirror as GIT_DIR, the agent's work tree.
  ScriptRun import(bool diff) {
    return run_script(std::string(task::kImportScript),
                      {"GIT_DIR=" + mirror.string(), "GIT_WORK_TREE=" + agent.string(),
                       "GIT_INDEX_FILE=" + (dir.path() / "index-diff").string(), "REF=refs/hearth/diff",
                       std::string("DIFF=") + (diff ? "1" : ""), "BASE=main"},
                      agent);
  }

  TempDir dir;
  std::filesystem::path origin = dir.path() / "origin", mirror = dir.path() / "mirror", agent = dir.path() / "agent";
};

TEST_CASE("the diff of a real work tree: committed, changed, new (untracked too), deleted and binary files") {
  Repos r;
  r.in(r.agent, "echo more >> README.md; git commit -qam readme; echo changed > src/a.c; rm src/b.c; "
                "printf 'x\\ny\\nz\\n' > new.txt; printf '\\000\\001\\002' > bin.dat");
  auto run = r.import(true);
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto diff = task::parse_diff(run.out);
  CHECK(diff["head_commit"] == r.head(r.agent));
  CHECK(diff["base_commit"] == r.head(r.origin, "main"));
  const auto& files = diff["files"];
  REQUIRE(files.size() == 5);
  auto file = [&](std::size_t i, const char* path, const char* status, Json added, Json removed) {
    CAPTURE(path);
    CHECK(files[i]["path"] == path);
    CHECK(files[i]["status"] == status);
    CHECK(files[i]["added"] == added);
    CHECK(files[i]["removed"] == removed);
    CHECK(files[i]["patch_truncated"] == false);
    CHECK(files[i]["patch"].get<std::string>().starts_with(std::string("diff --git a/") + path + " b/" + path + "\n"));
  };
  file(0, "README.md", "M", 1, 0);
  file(1, "bin.dat", "A", nullptr, nullptr);
  file(2, "new.txt", "A", 3, 0);
  file(3, "src/a.c", "M", 1, 1);
  file(4, "src/b.c", "D", 0, 1);
  CHECK(files[0]["patch"].get<std::string>().ends_with(" one\n+more\n"));
  CHECK(files[1]["patch"].get<std::string>().find("Binary files /dev/null and b/bin.dat differ") != std::string::npos);
  CHECK(files[3]["patch"].get<std::string>().ends_with("-two\n+changed\n"));
  // The agent's HEAD is in the mirror now, under the flow's ref.
  CHECK(r.head(r.mirror, "refs/hearth/diff") == r.head(r.agent));
}

TEST_CASE("a patch past 64 KiB is left out of the diff and marked while the other files keep theirs") {
  Repos r;
  r.in(r.agent, "seq 1 20000 > big.txt; echo small > small.txt");
  auto run = r.import(true);
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto files = task::parse_diff(run.out)["files"];
  REQUIRE(files.size() == 2);
  CHECK(files[0]["path"] == "big.txt");
  CHECK(files[0]["added"] == 20000);
  CHECK(files[0]["patch_truncated"] == true);
  CHECK(files[0]["patch"] == "");
  CHECK(files[1]["path"] == "small.txt");
  CHECK(files[1]["patch_truncated"] == false);
  CHECK(files[1]["patch"].get<std::string>().ends_with("+small\n"));
}

TEST_CASE("file names and contents the agent chose cannot move the diff's sections or break its counts") {
  Repos r;
  // A file whose name holds the next sections' markers, and one whose content holds them.
  r.in(r.agent, "printf 'x\\n' > \"$(printf 'a\\036STATUS\\nM\\036PATCH\\nzz')\"; "
                "printf '\\036PATCH\\nHEAD 0000\\n\\036NUMSTAT\\n' > content.txt");
  auto run = r.import(true);
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto diff = task::parse_diff(run.out);
  CHECK(diff["head_commit"] == r.head(r.agent));
  const auto& files = diff["files"];
  REQUIRE(files.size() == 2);
  std::set<std::string> paths;
  for (const auto& f : files) {
    paths.insert(f["path"].get<std::string>());
    CHECK(f["added"] == (f["path"] == "content.txt" ? 3 : 1));
    CHECK(f["status"] == "A");
    CHECK(f["patch"].get<std::string>().find("diff --git") == 0);
  }
  CHECK(paths.count("content.txt"));
  CHECK(paths.count("a\036STATUS\nM\036PATCH\nzz"));
  // Made-up output: counts that are no numbers are left out, nothing throws.
  using namespace std::string_literals;
  auto odd = task::parse_diff("HEAD h\n\036NUMSTAT\nx\ty\tf\0\036STATUS\nA\0f\0\036PATCH\n"s);
  REQUIRE(odd["files"].size() == 1);
  CHECK(odd["files"][0]["added"] == nullptr);
  CHECK(task::parse_diff(std::string("\036NUMSTAT\n1\t2\tf")).is_object());  // cut off
}

TEST_CASE("an import without a diff says only the agent's HEAD, and a work tree as the base has no files") {
  Repos r;
  auto head_only = r.import(false);
  REQUIRE_MESSAGE(head_only.exit_code == 0, head_only.err);
  CHECK(head_only.out == "HEAD " + r.head(r.agent) + "\n");
  auto diff = task::parse_diff(head_only.out);
  CHECK(diff["head_commit"] == r.head(r.agent));
  CHECK(diff["base_commit"] == nullptr);
  CHECK(diff["files"].empty());
  auto same = r.import(true);
  REQUIRE_MESSAGE(same.exit_code == 0, same.err);
  CHECK(task::parse_diff(same.out)["files"].empty());
  CHECK(task::parse_diff("")["files"].empty());
}

TEST_CASE("commit_all commits the whole work tree and says so, and says nothing when nothing changed") {
  Repos r;
  auto nothing = r.worktree("commit_all\n");
  CHECK(nothing.exit_code == 0);
  CHECK(nothing.out == "");
  r.in(r.agent, "echo new > new.txt; rm src/b.c");
  auto made = r.worktree("commit_all\n");
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  CHECK(made.out == "committed " + r.head(r.agent) + "\n");
  CHECK(sh("git -C '" + r.agent.string() + "' log -1 --format=%s") == "the work\n");
  CHECK(sh("git -C '" + r.agent.string() + "' status --porcelain") == "");
}

TEST_CASE("sync commits the work and rebases it onto the base as the mirror has it") {
  Repos r;
  r.in(r.origin, "echo upstream > src/a.c; git commit -qam upstream");
  sh("git -C '" + r.mirror.string() + "' fetch -q origin +refs/heads/main:refs/heads/main");
  r.in(r.agent, "echo mine >> README.md");
  auto run = r.worktree(task::kSyncScript);
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(run.out.starts_with("committed "));
  CHECK(run.out.ends_with("rebased " + r.head(r.agent) + "\n"));
  sh("git -C '" + r.agent.string() + "' merge-base --is-ancestor " + r.head(r.origin, "main") + " HEAD");
  CHECK(task::parse_conflicts(run.out).empty());
}

TEST_CASE("sync stopped by conflicts names the files and leaves the branch as it was") {
  Repos r;
  r.in(r.origin, "echo theirs > README.md; git commit -qam upstream");
  sh("git -C '" + r.mirror.string() + "' fetch -q origin +refs/heads/main:refs/heads/main");
  r.in(r.agent, "echo ours > README.md; echo also > src/a.c");
  auto run = r.worktree(task::kSyncScript);
  CHECK(run.exit_code == task::kConflicted);
  auto committed = r.head(r.agent);
  CHECK(run.out.starts_with("committed " + committed + "\nCONFLICT\n"));
  CHECK(task::parse_conflicts(run.out) == Json::array({"README.md"}));
  // The rebase was aborted: the work commit is HEAD, nothing in progress, nothing unstaged.
  CHECK(sh("git -C '" + r.agent.string() + "' status --porcelain") == "");
  CHECK_FALSE(std::filesystem::exists(r.agent / ".git" / "rebase-merge"));
  CHECK(sh("cat '" + (r.agent / "README.md").string() + "'") == "ours\n");
}

TEST_CASE("revert puts a file back as the base has it, removes one the base lacks, and leaves an unchanged one") {
  Repos r;
  r.in(r.agent, "echo changed > README.md; git commit -qam change; echo new > new.txt");
  auto changed = r.worktree(task::kRevertScript, {"FILE=README.md"});
  REQUIRE_MESSAGE(changed.exit_code == 0, changed.err);
  CHECK(changed.out == "reverted README.md\n");
  CHECK(sh("cat '" + (r.agent / "README.md").string() + "'") == "one\n");
  auto added = r.worktree(task::kRevertScript, {"FILE=new.txt"});
  REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  CHECK(added.out == "reverted new.txt\n");
  CHECK_FALSE(std::filesystem::exists(r.agent / "new.txt"));
  auto unchanged = r.worktree(task::kRevertScript, {"FILE=src/a.c"});
  CHECK(unchanged.exit_code == task::kUnchanged);
  CHECK(unchanged.out == "no change to src/a.c\n");
}

TEST_CASE("a sync's conflicts are the lines after CONFLICT, and output without one lists none") {
  CHECK(task::parse_conflicts("committed abc\nCONFLICT\na.c\nsrc/b c.h\n") == Json::array({"a.c", "src/b c.h"}));
  CHECK(task::parse_conflicts("CONFLICT\n").empty());
  CHECK(task::parse_conflicts("rebased abc\n").empty());
}

}  // namespace
}  // namespace hearth::test
