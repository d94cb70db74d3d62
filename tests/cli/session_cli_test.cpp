// Sandboxes and agent sessions through the `hearth` CLI against `hearth serve` running
// as a separate process: turns watched live, permissions answered, cancel, processes;
// a server killed mid-turn and restarted; orphans reaped; and an ACP agent we did not
// write (the ACP SDK's example agent, installed from npm) through a full turn.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <set>
#include <sstream>
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "sandbox/process.h"
#include "tests/support/proc.h"
#include "tests/support/git_repo.h"
#include "tests/support/served.h"
#include "tests/support/serve_process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace std::chrono_literals;
using nlohmann::json;
using test::contains;
using test::run_hearth;

using test::Served;

namespace {

std::string api_path(const std::string& ref) {
  auto a = ref.find('/'), b = ref.find('/', a + 1);
  return "/v1/orgs/" + ref.substr(0, a) + "/tasks/" + ref.substr(a + 1, b - a - 1) + "/sessions/" + ref.substr(b + 1);
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Processes on this machine whose command line mentions `text`.
std::vector<int> processes_mentioning(const std::string& text) {
  std::vector<int> pids;
  for (int pid : test::proc_pids()) {
    auto dir = "/proc/" + std::to_string(pid);
    auto cmd = test::read_proc_file(dir + "/cmdline");
    auto st = test::read_proc_file(dir + "/stat");
    auto close = st.rfind(')');
    bool zombie = close != std::string::npos && close + 2 < st.size() && st[close + 2] == 'Z';
    if (!zombie && cmd.find(text) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

// Live processes on this machine running as the users of the sandboxes under
// `sandboxes` (each sandbox's root dir has its user's group).
std::vector<int> sandbox_processes(const std::string& sandboxes) {
  std::set<std::string> uids;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(sandboxes, ec)) {
    struct stat st {};
    if (::stat(d.path().c_str(), &st) == 0 && st.st_gid != 0) uids.insert(std::to_string(st.st_gid));
  }
  std::vector<int> pids;
  for (int pid : test::proc_pids()) {
    std::istringstream status(test::read_proc_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line, uid, state;
    while (std::getline(status, line)) {
      if (line.rfind("State:", 0) == 0) state = line;
      if (line.rfind("Uid:", 0) == 0) {
        std::istringstream fields(line.substr(4));
        fields >> uid;
      }
    }
    if (uids.count(uid) && state.find("zombie") == std::string::npos) pids.push_back(pid);
  }
  return pids;
}

}  // namespace

TEST_CASE("the CLI runs an agent session: turns watched live, permissions answered, a turn cancelled, processes run") {
  test::TempDir dir;
  auto repo = test::make_repo(dir.path() / "origin");
  Served s(dir.path());
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);

  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + repo.string()}).code == 0);
  auto box = s.hearth({"sandbox", "create", "acme/t1", "--repo", "origin"});
  CHECK(box.code == 0);
  CHECK(contains(box.out, "  cloning\n"));
  CHECK(contains(box.out, "acme/t1: ready"));
  auto made = s.hearth({"session", "create", "acme/t1"});
  REQUIRE(made.code == 0);
  auto ref = trim(made.out);
  CHECK(std::regex_match(ref, std::regex("acme/t1/s_[0-9a-f]+")));

  auto turn = s.hearth({"session", "prompt", ref, "--watch", "/say hello from the agent\n/plan look;fix"});
  CHECK(turn.code == 0);
  CHECK(contains(turn.out, "> /say hello from the agent"));
  CHECK(contains(turn.out, "hello from the agent\n"));
  CHECK(contains(turn.out, "[plan] 1. look (pending) 2. fix (pending)"));
  CHECK(contains(turn.out, "[turn 1 ended: end_turn]"));

  // A permission request, approved from another command.
  CHECK(s.hearth({"session", "prompt", ref, "/ask ship it\n/say shipped"}).code == 0);
  s.poll(api_path(ref) + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); });
  auto pending = s.hearth({"session", "permissions", ref, "--status", "pending"});
  CHECK(contains(pending.out, "ship it"));
  auto approved = s.hearth({"session", "approve", ref});
  CHECK(approved.code == 0);
  CHECK(contains(approved.out, "allowed"));
  auto watched = s.hearth({"session", "watch", ref, "--until-idle"});
  CHECK(watched.code == 0);
  CHECK(contains(watched.out, "shipped"));

  CHECK(s.hearth({"session", "prompt", ref, "/ask delete everything\n/say deleted"}).code == 0);
  s.poll(api_path(ref) + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); });
  CHECK(s.hearth({"session", "reject", ref}).code == 0);
  watched = s.hearth({"session", "watch", ref, "--until-idle"});
  CHECK(contains(watched.out, "permission to delete everything was refused"));
  CHECK(count(watched.out, "deleted") == 1);  // in the prompt only: the agent never said it
  CHECK(s.hearth({"session", "approve", ref}).code == 1);  // nothing pending

  // Allow always: the prompt says what it covers; the rule is listed and revoked.
  CHECK(s.hearth({"session", "prompt", ref, "/tool Write edit write a.txt\n/tool Write edit write b.txt"}).code == 0);
  s.poll(api_path(ref) + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); });
  CHECK(s.hearth({"session", "approve", ref, "--always"}).code == 0);
  watched = s.hearth({"session", "watch", ref, "--until-idle"});
  CHECK(contains(watched.out, "(--always: every Write (edit) in this session)"));
  CHECK(contains(watched.out, "allowed by policy (every Write (edit))"));
  auto rules = s.hearth({"session", "always-allow", ref});
  CHECK(contains(rules.out, "edit:Write"));
  CHECK(contains(rules.out, "every Write (edit)"));
  auto revoked = s.hearth({"session", "revoke", ref, "edit:Write"});
  CHECK(revoked.code == 0);
  CHECK(contains(revoked.out, "revoked edit:Write"));
  CHECK(contains(s.hearth({"session", "always-allow", ref}).out, "nothing: every tool call"));
  CHECK(s.hearth({"session", "revoke", ref, "edit:Write"}).code == 4);  // no such rule any more

  // Cancel.
  CHECK(s.hearth({"session", "prompt", ref, "/sleep 30000"}).code == 0);
  s.poll(api_path(ref), [](const json& b) { return b["status"] == "running"; });
  auto cancelled = s.hearth({"session", "cancel", ref});
  CHECK(cancelled.code == 0);
  watched = s.hearth({"session", "watch", ref, "--until-idle"});
  CHECK(contains(watched.out, "[turn 5 ended: cancelled]"));

  // Restart: the next prompt starts a fresh agent that resumes the conversation.
  auto restarted = s.hearth({"session", "restart", ref});
  CHECK(restarted.code == 0);
  CHECK(contains(restarted.out, "restarted: the next prompt starts a fresh agent"));
  auto resumed = s.hearth({"session", "prompt", ref, "--watch", "/history"});
  CHECK(resumed.code == 0);
  CHECK(contains(resumed.out, "[agent mock resumed]"));
  CHECK(contains(resumed.out, "this session has seen 6 prompts"));

  // Processes: output streamed, the exit code passed on.
  auto exec = s.hearth({"sandbox", "exec", "acme/t1", "--", "sh", "-c", "echo out; echo err >&2; exit 7"});
  CHECK(exec.code == 7);
  CHECK(contains(exec.out, "out\n"));
  CHECK(contains(exec.out, "err\n"));
  CHECK(contains(s.hearth({"sandbox", "ps", "acme/t1"}).out, "exited"));
  CHECK(contains(s.hearth({"agents", "list", "acme"}).out, "built in"));
  CHECK(contains(s.hearth({"session", "list", "acme/t1"}).out, "mock"));

  // Mistakes.
  CHECK(s.hearth({"session", "prompt", "acme/t1", "hi"}).code == 2);
  CHECK(s.hearth({"session", "prompt", "acme/t1/s_0000", "hi"}).code == 4);
  CHECK(s.hearth({"sandbox", "create", "acme/t1"}).code == 1);  // it has one
  auto stopped = s.hearth({"sandbox", "stop", "acme/t1"});
  CHECK(contains(stopped.out, "stopped"));
  CHECK(s.hearth({"sandbox", "destroy", "acme/t1"}).code == 0);
  ::kill(s.server->pid(), SIGTERM);
  CHECK(s.server->wait(20s).ok());
}

TEST_CASE("a server killed mid-turn restarts with the transcript intact, the session interrupted, and no sandbox process left") {
  test::TempDir dir;
  auto repo = test::make_repo(dir.path() / "origin");
  Served s(dir.path());
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"repo", "add", "acme", "file://" + repo.string()}).code == 0);
  REQUIRE(s.hearth({"sandbox", "create", "acme/t1", "--repo", "origin"}).code == 0);
  auto ref = trim(s.hearth({"session", "create", "acme/t1"}).out);
  REQUIRE(s.hearth({"session", "prompt", ref, "--watch", "/say first turn"}).code == 0);
  REQUIRE(s.hearth({"session", "prompt", ref, "/say before the crash\n/run sleep 600\n/say never"}).code == 0);
  s.poll(api_path(ref) + "/transcript", [](const json& b) {
    for (const auto& e : b["items"])
      if (e["kind"] == "tool_call" && e["data"].value("title", "") == "Run sleep 600") return true;
    return false;
  });
  auto data = (dir.path() / "data" / "sandboxes").string();
  CHECK_FALSE(sandbox_processes(data).empty());  // the agent and its command, under bwrap
  auto before = s.get(api_path(ref) + "/transcript?limit=1000")["items"];

  ::kill(s.server->pid(), SIGKILL);
  REQUIRE(s.server->wait(10s).ok());
  // bubblewrap ends its processes with the server; one caught starting at the instant of
  // the kill can miss that, and is reaped through the sandbox's cgroup at restart.
  for (int i = 0; i < 100 && !sandbox_processes(data).empty(); ++i) std::this_thread::sleep_for(50ms);

  s.start();
  auto left = sandbox_processes(data);
  CHECK_MESSAGE(left.empty(), left.size() << " processes of the sandbox outlived the server and its restart");
  auto session = s.get(api_path(ref));
  CHECK(session["status"] == "interrupted");
  session = s.poll(api_path(ref), [](const json& b) { return b["last_turn"]["status"] == "interrupted"; });
  auto after = s.get(api_path(ref) + "/transcript?limit=1000")["items"];
  REQUIRE(after.size() > before.size());
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i] == before[i]);  // every event intact, in order
  CHECK(after.back()["kind"] == "turn_interrupted");
  auto said = s.hearth({"session", "watch", ref, "--until-idle"}).out;
  CHECK(count(said, "before the crash") == 2);  // the prompt, and the agent saying it
  CHECK(count(said, "never") == 1);             // the prompt only

  // The next prompt starts a fresh agent that resumes the agent's own session.
  auto next = s.hearth({"session", "prompt", ref, "--watch", "/history"});
  CHECK(next.code == 0);
  CHECK(contains(next.out, "[agent mock resumed]"));
  CHECK(contains(next.out, "this session has seen 3 prompts"));
  ::kill(s.server->pid(), SIGTERM);
  CHECK(s.server->wait(20s).ok());
}

TEST_CASE("processes a killed server leaves behind are reaped when it starts again") {
  test::TempDir dir;
  Served s(dir.path(), {"--sandbox-provider", "local"});
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"sandbox", "create", "acme/t1"}).code == 0);
  httplib::Client cli(s.url);
  auto marker = "hearth-orphan-" + std::to_string(::getpid());
  auto r = cli.Post("/v1/orgs/acme/tasks/t1/sandbox/processes", {{"Authorization", "Bearer " + s.token}},
                    json{{"argv", {"bash", "-c", "exec -a " + marker + " sleep 600"}}}.dump(), "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  std::vector<int> running;
  for (int i = 0; i < 100 && running.empty(); ++i) {
    running = processes_mentioning(marker);
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE_FALSE(running.empty());
  ::kill(s.server->pid(), SIGKILL);
  REQUIRE(s.server->wait(10s).ok());
  std::this_thread::sleep_for(200ms);
  bool groups = std::filesystem::exists("/sys/fs/cgroup/pids/cgroup.procs") || std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers");
  if (processes_mentioning(marker).empty()) {
    MESSAGE("the orphan died with the server already");
  } else if (groups) {
    s.start({"--sandbox-provider", "local"});
    std::vector<int> left = processes_mentioning(marker);
    for (int i = 0; i < 100 && !left.empty(); ++i) {
      std::this_thread::sleep_for(20ms);
      left = processes_mentioning(marker);
    }
    CHECK_MESSAGE(left.empty(), "the orphan survived the restart");
    auto p = s.poll("/v1/orgs/acme/tasks/t1/sandbox/processes", [](const json& b) { return b["items"][0]["status"] == "exited"; });
    CHECK(p["items"][0]["ended_by"] == "interrupted");
    ::kill(s.server->pid(), SIGTERM);
    CHECK(s.server->wait(20s).ok());
  }
  for (int pid : processes_mentioning(marker)) ::kill(pid, SIGKILL);
}

TEST_CASE("an ACP agent we did not write, the ACP SDK's example agent from npm, completes a full turn") {
  test::TempDir dir;
  auto install = run_hearth({"agents", "install", "sdk-example", "--data-dir", (dir.path() / "data").string()}, {}, "",
                            std::chrono::seconds(240));
  REQUIRE_MESSAGE(install.code == 0, install.out);
  CHECK(contains(install.out, "installed sdk-example 1.9.0"));
  Served s(dir.path());
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  CHECK(contains(s.hearth({"agents", "list", "acme"}).out, "1.9.0    1.9.0"));
  REQUIRE(s.hearth({"sandbox", "create", "acme/t1"}).code == 0);
  auto ref = trim(s.hearth({"session", "create", "acme/t1", "--agent", "sdk-example"}).out);
  REQUIRE(s.hearth({"session", "prompt", ref, "Hello, agent!"}).code == 0);
  s.poll(api_path(ref) + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); });
  CHECK(s.hearth({"session", "approve", ref}).code == 0);
  auto done = s.poll(api_path(ref), [](const json& b) { return b["status"] == "idle"; });
  CHECK(done["last_turn"]["status"] == "completed");
  CHECK(done["last_turn"]["stop_reason"] == "end_turn");
  auto watched = s.hearth({"session", "watch", ref, "--until-idle"}).out;
  CHECK(contains(watched, "[agent sdk-example started]"));
  CHECK(contains(watched, "Reading project files (read, pending)"));
  CHECK(contains(watched, "Modifying critical configuration file"));
  CHECK(contains(watched, "Perfect! I've successfully updated the configuration."));
  CHECK(contains(watched, "[turn 1 ended: end_turn]"));
  ::kill(s.server->pid(), SIGTERM);
  CHECK(s.server->wait(20s).ok());
}
