// Tasks through the `hearth` CLI against `hearth serve` as a separate process: the
// quickstart in docs/quickstart.md run word for word, `task create` streaming its first
// turn (for people and as NDJSON), a sync that stops on conflicts, the feed and the audit log.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tests/support/git_repo.h"
#include "tests/support/served.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using nlohmann::json;
using test::contains;
using test::Served;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

// The ```sh blocks of a markdown file, but the one that starts the server.
std::string shell_blocks(const std::filesystem::path& md) {
  std::ifstream in(md);
  REQUIRE(in);
  std::string line, script;
  bool inside = false;
  std::string block;
  while (std::getline(in, line)) {
    if (!inside && line == "```sh") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      if (!contains(block, "scripts/serve")) script += block;
    } else if (inside) {
      block += line + "\n";
    }
  }
  return script;
}

test::Run bash(const std::string& script, const std::vector<std::string>& env) {
  auto p = sandbox::Process::spawn({{"bash", "-euo", "pipefail", "-c", script}, env, {}, true});
  REQUIRE(p.ok());
  p->close_stdin();
  test::Run r;
  while (auto line = p->read_line(std::chrono::seconds(90))) r.out += *line + "\n";
  auto code = p->wait(std::chrono::seconds(10));
  REQUIRE(code.ok());
  r.code = *code;
  return r;
}

}  // namespace

TEST_CASE("the quickstart (docs/quickstart.md) works word for word") {
  test::TempDir dir;
  Served s(dir.path());
  std::ofstream(dir.path() / "admin-password") << "admin-password-1\n";
  auto script = shell_blocks(std::filesystem::path(HEARTH_SOURCE_DIR) / "docs/quickstart.md");
  REQUIRE(contains(script, "build/hearth task push"));
  // The page starts the server as Served does here: repositories under /tmp allowed.
  std::ifstream page(std::filesystem::path(HEARTH_SOURCE_DIR) / "docs/quickstart.md");
  std::string text((std::istreambuf_iterator<char>(page)), {});
  CHECK(contains(text, "HEARTH_FILE_REPO_ROOTS=/tmp bash scripts/serve"));
  // Its own port, data dir and paths instead of the defaults; otherwise as written.
  script = replace_all(script, "http://127.0.0.1:7741", s.url);
  script = replace_all(script, ".hearth/initial-admin-password", (dir.path() / "admin-password").string());
  script = replace_all(script, "/tmp/demo", (dir.path() / "demo").string());
  script = replace_all(script, "build/hearth", HEARTH_BINARY);
  auto env = s.env;
  env.push_back("HOME=" + dir.path().string());
  auto r = bash(script, env);
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "demo (default branch main)"));
  CHECK(contains(r.out, "[turn 1 ended: end_turn]"));
  CHECK(contains(r.out, "+Hello from Hearth"));
  CHECK(contains(r.out, "push: succeeded"));
  CHECK(contains(r.out, "write hello.txt Hello from Hearth"));  // the commit, in the remote's log
  auto branches = test::sh("git -C '" + (dir.path() / "demo.git").string() + "' branch --list 'hearth/*'");
  CHECK(contains(branches, "hearth/write-hello-txt-hello-from-hearth-"));
}

TEST_CASE("task create streams provisioning and the first turn, --json is NDJSON, sync conflicts and the audit log via the CLI") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  auto bare = dir.path() / "origin.git";
  test::sh("git clone -q --bare '" + origin.string() + "' '" + bare.string() + "'");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  auto added = s.hearth({"repo", "add", "acme", "file://" + bare.string()});
  REQUIRE_MESSAGE(added.code == 0, added.out);
  CHECK(contains(s.hearth({"repo", "list", "acme"}).out, "origin"));
  CHECK(contains(s.hearth({"repo", "branches", "acme/origin"}).out, "dev"));

  auto made = s.hearth({"task", "create", "acme", "--repo", "origin", "/say working on it\n/write README.md mine"});
  INFO(made.out);
  REQUIRE(made.code == 0);
  CHECK(contains(made.out, "task acme/t_"));
  CHECK(contains(made.out, "on branch hearth/"));
  CHECK(contains(made.out, "working on it"));
  CHECK(contains(made.out, "[turn 1 ended: end_turn]"));
  auto ref = made.out.substr(made.out.find("acme/t_"), 23);

  auto json_run = s.hearth({"task", "create", "acme", "--repo", "origin", "--json", "/say in json"});
  REQUIRE(json_run.code == 0);
  std::istringstream lines(json_run.out);
  int events = 0;
  bool saw_task = false, saw_turn_end = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;  // stderr lines ("task …") are not events
    auto e = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(!e.is_discarded(), line);
    ++events;
    saw_task = saw_task || e.value("event", "") == "task";
    saw_turn_end = saw_turn_end || e.value("kind", "") == "turn_ended";
  }
  CHECK(events >= 4);
  CHECK(saw_task);
  CHECK(saw_turn_end);

  // Someone changes README.md on main: sync stops on the conflict and says which file.
  test::sh("set -e; git clone -q '" + bare.string() + "' '" + (dir.path() / "other").string() + "'; cd '" +
           (dir.path() / "other").string() +
           "'; echo theirs > README.md; git -c user.name=o -c user.email=o@o commit -qam theirs; git push -q origin main");
  auto sync = s.hearth({"task", "sync", ref});
  CHECK(sync.code == 1);
  CHECK(contains(sync.out, "conflicts in:\n  README.md"));
  CHECK(contains(s.hearth({"task", "show", ref}).out, "status: conflict"));
  CHECK(contains(s.hearth({"task", "list", "acme", "--status", "conflict"}).out, ref.substr(5)));
  auto diff = s.hearth({"task", "diff", ref, "--stat"});
  CHECK(contains(diff.out, "README.md"));

  CHECK(s.hearth({"task", "archive", ref}).code == 0);
  CHECK(contains(s.hearth({"task", "list", "acme", "--archived", "only"}).out, ref.substr(5)));
  CHECK(contains(s.hearth({"feed"}).out, "finished"));
  auto verify = s.hearth({"audit", "verify", "acme"});
  CHECK(verify.code == 0);
  CHECK(contains(verify.out, "chain intact"));
  auto listed = s.hearth({"audit", "list", "acme", "--kind", "task.git"});
  CHECK(contains(listed.out, "task.git.sync"));
  auto exported = s.hearth({"audit", "export", "acme"});
  CHECK(exported.code == 0);
  CHECK(contains(exported.out, "\"kind\":\"POST /repos\""));
  CHECK(s.hearth({"task", "show", "acme/nope"}).code == 4);
}
