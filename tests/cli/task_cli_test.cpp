// Tasks through the `hearth` CLI against `hearth serve` as a separate process: the
// quickstart in docs/quickstart.md run word for word, `task create` streaming its first
// turn (for people and as NDJSON), a sync that stops on conflicts, the feed and the audit log.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
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

TEST_CASE("every CLI command that takes a prompt reads it from stdin with - or from a file with --prompt-file") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + origin.string()}).code == 0);

  auto made = s.hearth({"task", "create", "acme", "--repo", "origin", "-"}, "/say said from stdin\n");
  INFO(made.out);
  REQUIRE(made.code == 0);
  CHECK(contains(made.out, "> /say said from stdin\n"));  // the trailing newline dropped
  CHECK(contains(made.out, "said from stdin\n[turn 1 ended: end_turn]"));
  std::smatch m;
  REQUIRE(std::regex_search(made.out, m, std::regex("acme/t_[0-9a-f]+")));
  auto ref = m.str();
  auto task_api = "/v1/orgs/acme/tasks/" + ref.substr(5);

  auto file = dir.path() / "prompt.md";
  std::ofstream(file) << "/say said from a file\n\n";
  CHECK(s.hearth({"task", "prompt", ref, "--prompt-file", file.string()}).code == 0);
  auto session = s.poll(task_api, [](const json& t) {
    return t["sessions"][0]["turn"] == 2 && t["sessions"][0]["status"] == "idle";
  })["sessions"][0]["session_id"].get<std::string>();
  auto session_ref = ref + "/" + session;
  auto from_file = s.hearth({"session", "prompt", session_ref, "--watch", "--prompt-file", file.string()});
  CHECK(from_file.code == 0);
  CHECK(contains(from_file.out, "> /say said from a file\n"));
  auto from_stdin = s.hearth({"session", "prompt", session_ref, "--watch", "-"}, "/say said from stdin again\n");
  CHECK(contains(from_stdin.out, "said from stdin again\n[turn 4 ended: end_turn]"));
  auto transcript = s.get(task_api + "/sessions/" + session + "/transcript?limit=1000");
  std::vector<std::string> prompts;
  for (const auto& e : transcript["items"])
    if (e["kind"] == "user_message") prompts.push_back(e["data"]["text"]);
  CHECK(prompts == std::vector<std::string>{"/say said from stdin", "/say said from a file", "/say said from a file",
                                            "/say said from stdin again"});

  // Mistakes are usage errors, said before anything is sent.
  auto both = s.hearth({"task", "prompt", ref, "hello", "--prompt-file", file.string()});
  CHECK(both.code == 2);
  CHECK(contains(both.out, "not both"));
  auto none = s.hearth({"task", "create", "acme", "--repo", "origin"});
  CHECK(none.code == 2);
  CHECK(contains(none.out, "give a prompt"));
  auto empty = s.hearth({"session", "prompt", session_ref, "-"}, "");
  CHECK(empty.code == 2);
  CHECK(contains(empty.out, "the prompt on stdin is empty"));
  auto missing = s.hearth({"task", "prompt", ref, "--prompt-file", (dir.path() / "nope.md").string()});
  CHECK(missing.code == 1);
  CHECK(contains(missing.out, "cannot read " + (dir.path() / "nope.md").string() + ": No such file or directory"));
  CHECK(s.get(task_api)["sessions"][0]["turn"] == 4);
}

TEST_CASE("task prompt --watch and task watch in the CLI show the latest turn, not the whole transcript again") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + origin.string()}).code == 0);
  auto made = s.hearth({"task", "create", "acme", "--repo", "origin", "/say words of the first turn"});
  REQUIRE(made.code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(made.out, m, std::regex("acme/t_[0-9a-f]+")));
  auto ref = m.str();

  auto second = s.hearth({"task", "prompt", ref, "--watch", "/say words of the second turn"});
  INFO(second.out);
  CHECK(second.code == 0);
  CHECK(contains(second.out, "> /say words of the second turn\n"));
  CHECK(contains(second.out, "words of the second turn\n[turn 2 ended: end_turn]"));
  CHECK_FALSE(contains(second.out, "first turn"));
  CHECK_FALSE(contains(second.out, "[turn 1"));

  auto watched = s.hearth({"task", "watch", ref});
  INFO(watched.out);
  CHECK(watched.code == 0);
  CHECK(contains(watched.out, "words of the second turn\n[turn 2 ended: end_turn]"));
  CHECK_FALSE(contains(watched.out, "first turn"));

  // --json: the new turn's events only, as NDJSON.
  auto third = s.hearth({"task", "prompt", ref, "--watch", "--json", "/say words of the third turn"});
  CHECK(third.code == 0);
  std::istringstream lines(third.out);
  int events = 0;
  for (std::string line; std::getline(lines, line);) {
    auto e = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(!e.is_discarded(), line);
    CHECK(e["turn"] == 3);
    ++events;
  }
  CHECK(events >= 3);
}

namespace {

// Pending permission requests of a task's sessions, polled until there are `n`.
std::vector<json> wait_pending(Served& s, const std::string& task_api, std::size_t n) {
  std::vector<json> pending;
  s.poll(task_api, [&](const json& t) {
    pending.clear();
    for (const auto& session : t["sessions"]) {
      auto page = s.get(task_api + "/sessions/" + session["session_id"].get<std::string>() + "/permissions?status=pending");
      for (const auto& p : page["items"]) pending.push_back(p);
    }
    return pending.size() == n;
  });
  return pending;
}

}  // namespace

TEST_CASE("the CLI prints the command that answers a permission request, and task approve and reject answer them") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + origin.string()}).code == 0);
  auto made = s.hearth({"task", "create", "acme", "--repo", "origin", "--detach", "/ask ship it\n/say shipped"});
  REQUIRE(made.code == 0);
  auto ref = made.out.substr(0, made.out.find('\n'));
  auto task_api = "/v1/orgs/acme/tasks/" + ref.substr(5);

  // `task watch` prints the request with the commands that answer it; the one printed works.
  auto watch = sandbox::Process::spawn({{HEARTH_BINARY, "task", "watch", ref}, s.env, {}, true});
  REQUIRE(watch.ok());
  std::string said, allow;
  while (!contains(said, "refuse: ")) {
    auto line = watch->read_line(std::chrono::seconds(60));
    REQUIRE_MESSAGE(line, said);
    said += *line + "\n";
    if (auto at = line->find("allow:  hearth "); at != std::string::npos)
      allow = line->substr(at + 15, line->find("   (") - at - 15);
  }
  auto pending = wait_pending(s, task_api, 1);
  auto id = pending[0]["permission_id"].get<std::string>();
  CHECK(contains(said, "[permission " + id + "] the agent asks: ship it\n"));
  CHECK(allow == "task approve " + ref + " " + id);
  CHECK(contains(said, "refuse: hearth task reject " + ref + " " + id + "\n"));
  std::vector<std::string> args;
  std::istringstream words(allow);
  for (std::string w; words >> w;) args.push_back(w);
  auto approved = s.hearth(args);
  CHECK(approved.code == 0);
  CHECK(approved.out == id + " allowed\n");
  while (!contains(said, "[turn 1 ended")) {
    auto line = watch->read_line(std::chrono::seconds(60));
    REQUIRE_MESSAGE(line, said);
    said += *line + "\n";
  }
  CHECK(contains(said, "shipped"));
  CHECK(contains(said, "[turn 1 ended: end_turn]"));
  auto ended = watch->wait(std::chrono::seconds(10));
  REQUIRE(ended.ok());
  CHECK(*ended == 0);

  // Two sessions, each waiting: without an id, approve lists both and asks for one.
  auto second = s.hearth({"session", "create", ref});
  REQUIRE(second.code == 0);
  auto second_ref = second.out.substr(0, second.out.find('\n'));
  REQUIRE(s.hearth({"task", "prompt", ref, "--session", second_ref.substr(ref.size() + 1), "/tool Bash execute deploy it"}).code == 0);
  auto first_session = s.get(task_api)["sessions"][0]["session_id"].get<std::string>();
  REQUIRE(s.hearth({"session", "prompt", ref + "/" + first_session, "/ask delete it"}).code == 0);
  pending = wait_pending(s, task_api, 2);
  auto several = s.hearth({"task", "approve", ref});
  CHECK(several.code == 2);
  CHECK(contains(several.out, "2 permission requests are pending; name one:"));
  std::string deploy, remove;
  for (const auto& p : pending) {
    auto title = p["tool_call"]["title"].get<std::string>();
    (contains(title, "deploy") ? deploy : remove) = p["permission_id"].get<std::string>();
    CHECK(contains(several.out, "  hearth task approve " + ref + " " + p["permission_id"].get<std::string>() + "   # " + title));
  }
  REQUIRE_FALSE(deploy.empty());
  REQUIRE_FALSE(remove.empty());

  auto rejected = s.hearth({"task", "reject", ref, remove});
  CHECK(rejected.code == 0);
  CHECK(rejected.out == remove + " rejected\n");
  auto again = s.hearth({"task", "reject", ref, remove});  // settled: the session says how
  CHECK(again.code == 1);
  CHECK(contains(again.out, "settled already"));
  wait_pending(s, task_api, 1);
  auto always = s.hearth({"task", "approve", ref, "--always"});  // the only one left
  CHECK(always.code == 0);
  CHECK(always.out == deploy + " allowed\n");
  auto none = s.hearth({"task", "approve", ref});
  CHECK(none.code == 1);
  CHECK(contains(none.out, "no permission request is pending"));
  CHECK(s.hearth({"task", "approve", ref, "perm_nope"}).code == 4);
}

namespace {

// `ms` as "YYYY-MM-DDTHH:MM:SS" on a clock `offset_h` hours ahead of UTC.
std::string iso(std::int64_t ms, int offset_h = 0) {
  std::time_t t = ms / 1000 + offset_h * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
  return out;
}

}  // namespace

TEST_CASE("audit list in the CLI prints UTC times and takes dates, ISO times and durations for --since and --until") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + origin.string()}).code == 0);
  auto entries = json::parse(s.hearth({"audit", "list", "acme", "--json"}).out)["items"];
  REQUIRE(entries.size() == 1);
  auto at = entries[0]["at"].get<std::int64_t>();

  auto listed = s.hearth({"audit", "list", "acme"});
  CHECK(listed.code == 0);
  auto shown = iso(at);
  shown[10] = ' ';
  CHECK_MESSAGE(contains(listed.out, shown + "Z"), listed.out);  // not the milliseconds
  CHECK_FALSE(contains(listed.out, std::to_string(at)));

  auto has = [&](std::vector<std::string> filter) {
    std::vector<std::string> args{"audit", "list", "acme"};
    args.insert(args.end(), filter.begin(), filter.end());
    auto r = s.hearth(args);
    REQUIRE_MESSAGE(r.code == 0, r.out);
    return contains(r.out, "POST /repos");
  };
  CHECK(has({"--since", "1h"}));
  CHECK(has({"--since", "15m", "--until", "0s"}));            // from a quarter of an hour ago until now
  CHECK_FALSE(has({"--until", "1h"}));
  CHECK_FALSE(has({"--since", iso(at + 86'400'000).substr(0, 10)}));  // tomorrow
  CHECK(has({"--until", iso(at + 86'400'000).substr(0, 10)}));
  CHECK(has({"--since", iso(at - 1000).substr(0, 16)}));       // to the minute
  CHECK(has({"--until", iso(at + 1000) + "Z"}));
  CHECK_FALSE(has({"--since", iso(at + 1000) + "Z"}));
  CHECK(has({"--until", iso(at + 1000, 2) + "+02:00"}));       // the same instant, two hours east
  CHECK_FALSE(has({"--until", iso(at - 1000, -5) + "-05:00"}));
  CHECK(has({"--since", std::to_string(at)}));                 // milliseconds still work

  for (std::string bad : {"yesterday", "2026-02-30", "2026-11-30T25:00", "5y", "2026-11-30T14:00+25:00"}) {
    auto r = s.hearth({"audit", "list", "acme", "--since", bad});
    CHECK_MESSAGE(r.code == 2, bad);
    CHECK(contains(r.out, "--since: not a time: \"" + bad + "\""));
  }
}

TEST_CASE("counts the CLI prints agree with their number: 1 file, 1 entry") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + origin.string()}).code == 0);
  auto verified = s.hearth({"audit", "verify", "acme"});
  CHECK(verified.code == 0);
  CHECK(contains(verified.out, "ok: 1 entry, chain intact"));

  auto made = s.hearth({"task", "create", "acme", "--repo", "origin", "/write notes.txt one line"});
  REQUIRE(made.code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(made.out, m, std::regex("acme/t_[0-9a-f]+")));
  auto ref = m.str();
  s.poll("/v1/orgs/acme/tasks/" + ref.substr(5), [](const json& t) {
    return t.contains("diff") && t["diff"].is_object() && t["diff"]["files"] == 1;
  });
  auto shown = s.hearth({"task", "show", ref});
  CHECK_MESSAGE(contains(shown.out, "diff: 1 file, +1 -0\n"), shown.out);
  CHECK(contains(s.hearth({"audit", "verify", "acme"}).out, " entries, chain intact"));
  // task stop says how many turns it stops.
  REQUIRE(s.hearth({"task", "prompt", ref, "/sleep 30000"}).code == 0);
  s.poll("/v1/orgs/acme/tasks/" + ref.substr(5), [](const json& t) { return t["status"] == "running"; });
  auto stopped = s.hearth({"task", "stop", ref});
  CHECK(stopped.code == 0);
  CHECK(stopped.out == "stopping 1 running turn\n");
}

TEST_CASE("task revert in the CLI says when a file has no change to revert, and reverts one that has") {
  test::TempDir dir;
  Served s(dir.path());
  auto origin = test::make_repo(dir.path() / "origin");
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + origin.string()}).code == 0);
  auto made = s.hearth({"task", "create", "acme", "--repo", "origin", "/write notes.txt one line\n/write README.md changed"});
  REQUIRE(made.code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(made.out, m, std::regex("acme/t_[0-9a-f]+")));
  auto ref = m.str();

  for (std::string untouched : {"src/a.c", "no/such/file.txt"}) {
    auto r = s.hearth({"task", "revert", ref, untouched});
    CHECK_MESSAGE(r.code == 0, r.out);
    CHECK(contains(r.out, untouched + " has no change to revert\n"));
    CHECK_FALSE(contains(r.out, "reverted"));
  }
  for (std::string changed : {"README.md", "notes.txt"}) {  // tracked and changed, and new
    auto r = s.hearth({"task", "revert", ref, changed});
    CHECK_MESSAGE(r.code == 0, r.out);
    CHECK(contains(r.out, "reverted " + changed + "\nrevert: succeeded\n"));
  }
  auto stat = s.hearth({"task", "diff", ref, "--stat"});
  CHECK_MESSAGE(contains(stat.out, "(none)"), stat.out);
  auto again = s.hearth({"task", "revert", ref, "README.md"});  // now as in the base
  CHECK(contains(again.out, "README.md has no change to revert\n"));
  auto json_out = s.hearth({"task", "revert", ref, "notes.txt", "--json"});
  CHECK(json::parse(json_out.out)["result"]["reverted"] == false);
}
