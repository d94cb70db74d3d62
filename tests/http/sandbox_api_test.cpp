// Sandboxes over HTTP: provisioning with progress, processes and their output, stop,
// start, destroy and retry, isolation as seen from inside, and bad input.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "tests/support/agent_world.h"
#include "tests/support/git_https_server.h"

using namespace hearth;
using nlohmann::json;
using test::AgentWorld;

namespace {

std::filesystem::path host_dir(AgentWorld& w, const std::string& org_id, const std::string& task) {
  return w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {org_id, task}}.id();
}

}  // namespace

TEST_CASE("a sandbox is provisioned with a checkout on its branch, reporting each step") {
  AgentWorld w;
  auto sub = std::shared_ptr<actors::Subscription>();
  auto created = w.s.call("POST", AgentWorld::sandbox_path("t1"), w.member,
                          json{{"repo", "checkout"}, {"base_branch", "dev"}});
  REQUIRE_MESSAGE(created.status == 201, created.body.dump());
  CHECK(created.body["state"] == "provisioning");
  CHECK(created.body["branch"] == "hearth/t1");
  CHECK(created.body["network"] == "none");
  CHECK(created.body["provider"] == "bwrap");
  auto box = w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] == "ready"; });
  std::vector<std::string> steps;
  for (const auto& s : box["steps"]) steps.push_back(s["step"]);
  CHECK(steps == std::vector<std::string>{"creating the sandbox", "cloning", "creating branch hearth/t1", "done"});
  CHECK(box["ready_at"].get<std::int64_t>() >= box["steps"][0]["at"].get<std::int64_t>());
  auto [branch, out] = w.run_process("t1", {"git", "branch", "--show-current"});
  CHECK(branch["exit_code"] == 0);
  CHECK(out == "hearth/t1\n");
  auto [who, name] = w.run_process("t1", {"git", "config", "user.name"});
  CHECK(name == "Hearth\n");
  auto again = w.s.call("POST", AgentWorld::sandbox_path("t1"), w.owner, json::object());
  CHECK(again.status == 409);
  CHECK(again.body["error"]["message"] == "task t1 has a sandbox already (ready); destroy it and retry to start over");
}

TEST_CASE("processes: output by offset, limits, kill, stdin, env, cwd, the list is kept") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto [p1, out1] = w.run_process("t1", {"sh", "-c", "cat; echo err >&2; exit 3"}, json{{"stdin", "from stdin\n"}});
  CHECK(p1["exit_code"] == 3);
  CHECK(p1["ended_by"] == "exit");
  CHECK(out1 == "from stdin\nerr\n");
  auto [p2, out2] = w.run_process("t1", {"sh", "-c", "echo $GREETING; pwd"}, json{{"env", {{"GREETING", "hi"}}}, {"cwd", "src"}});
  CHECK(out2 == "hi\n/workspace/src\n");
  auto [p3, out3] = w.run_process("t1", {"sleep", "30"}, json{{"timeout_ms", 300}});
  CHECK(p3["ended_by"] == "wall_clock");
  auto [p4, out4] = w.run_process("t1", {"/no/such/program"});
  CHECK(p4["exit_code"] != 0);
  CHECK(out4.find("No such file or directory") != std::string::npos);

  auto started = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/processes", w.owner, json{{"argv", {"sleep", "60"}}});
  auto path = AgentWorld::sandbox_path("t1") + "/processes/" + std::to_string(started.body["id"].get<int>());
  CHECK(started.body["status"] == "running");
  auto killed = w.s.call("POST", path + "/kill", w.member, json::object());
  CHECK(killed.status == 200);
  auto done = w.poll(path, [](const json& b) { return b["status"] == "exited"; });
  CHECK(done["ended_by"] == "stopped");
  CHECK(w.s.call("POST", path + "/kill", w.member, json::object()).status == 409);

  auto list = w.s.call("GET", AgentWorld::sandbox_path("t1") + "/processes?limit=2", w.owner).body;
  CHECK(list["items"].size() == 2);
  CHECK(list["items"][0]["argv"] == json::array({"sleep", "60"}));
  auto next = w.s.call("GET", AgentWorld::sandbox_path("t1") + "/processes?cursor=" +
                                  std::to_string(list["next_cursor"].get<int>()), w.owner).body;
  CHECK(next["items"].size() == 3);

  for (const auto& bad : {json{{"argv", json::array()}}, json{{"argv", "ls"}}, json{{"argv", {"ls"}}, {"cwd", "../x"}},
                          json{{"argv", {"ls"}}, {"env", {{"A B", "x"}}}}, json{{"argv", {"ls"}}, {"timeout_ms", 5}}}) {
    auto r = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/processes", w.owner, bad);
    CHECK_MESSAGE(r.status == 400, bad.dump());
  }
  CHECK(w.s.call("GET", AgentWorld::sandbox_path("t1") + "/processes/999", w.owner).status == 404);
  CHECK(w.s.call("GET", AgentWorld::sandbox_path("t1") + "/processes/abc", w.owner).status == 400);
}

TEST_CASE("stop ends every process of a sandbox, start resumes it, destroy removes it, retry rebuilds it") {
  AgentWorld w;
  auto box = w.ready_sandbox("t1");
  auto dir = host_dir(w, box["org_id"], "t1");
  auto started = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/processes", w.owner,
                          json{{"argv", {"sh", "-c", "sleep 60 & sleep 60"}}});
  auto path = AgentWorld::sandbox_path("t1") + "/processes/" + std::to_string(started.body["id"].get<int>());
  auto session = w.session("t1");
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/sleep 30000"}}).status == 202);
  w.poll(session + "/transcript", [](const json& b) {
    for (const auto& e : b["items"]) if (e["kind"] == "agent_started") return true;
    return false;
  });
  auto stopped = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/stop", w.owner, json::object());
  REQUIRE_MESSAGE(stopped.status == 200, stopped.body.dump());
  CHECK(stopped.body["state"] == "stopped");
  CHECK(w.poll(path, [](const json& b) { return b["status"] == "exited"; })["ended_by"] == "stopped");
  auto turn = w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  CHECK(turn["last_turn"]["status"] == "failed");
  CHECK(turn["last_turn"]["error"] == "the sandbox was stopped during the turn");
  if (w.s.runtime->cgroups().available()) {
    auto left = w.s.runtime->cgroups().pids(actors::Address{"sandbox", {box["org_id"], "t1"}}.id());
    std::string which;  // what is left, to know what escaped the stop
    for (int pid : left) {
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      which += std::to_string(pid) + ": " + std::string(std::istreambuf_iterator<char>(cmdline), {}) + "; ";
    }
    CHECK_MESSAGE(left.empty(), which);
  }
  auto refused = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/processes", w.owner, json{{"argv", {"true"}}});
  CHECK(refused.status == 409);
  CHECK(refused.body["error"]["message"] == "the sandbox is stopped; it cannot run processes");
  CHECK(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/say hi"}}).status == 202);
  auto no = w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  CHECK(no["last_turn"]["error"] == "the sandbox is stopped; the agent can work only in a ready sandbox");

  // Started right after a stop, it becomes ready once the stop has ended what ran.
  REQUIRE(w.s.call("POST", AgentWorld::sandbox_path("t1") + "/start", w.owner, json::object()).status == 200);
  w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] == "ready"; });
  auto intact = w.run_process("t1", {"cat", "README.md"});
  CHECK_MESSAGE(intact.second == "one\n", intact.first.dump());  // files intact

  auto destroyed = w.s.call("DELETE", AgentWorld::sandbox_path("t1"), w.owner);
  CHECK(destroyed.status == 200);
  auto gone = w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] == "destroyed"; });
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK(w.poll(session, [](const json& b) { return b["status"] == "closed"; })["status"] == "closed");
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t1") + "/start", w.owner, json::object()).status == 409);

  auto retried = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/retry", w.owner, json::object());
  CHECK(retried.status == 200);
  auto back = w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] == "ready"; });
  CHECK(back["attempt"] == 2);
  CHECK(w.run_process("t1", {"cat", "README.md"}).second == "one\n");
}

TEST_CASE("a sandbox whose checkout fails is in error with the reason, and can be retried") {
  AgentWorld w;
  // The connected repository disappears before the sandbox clones it.
  auto moved = w.repo.string() + ".away";
  std::filesystem::rename(w.repo, moved);
  auto r = w.s.call("POST", AgentWorld::sandbox_path("t1"), w.owner, json{{"repo", "checkout"}});
  REQUIRE(r.status == 201);
  auto box = w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] != "provisioning"; });
  CHECK(box["state"] == "error");
  CHECK(box["error"] == "git cannot read a repository at file://" + w.repo.string() + " (or the server does not allow it)");
  std::filesystem::rename(moved, w.repo);
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t1") + "/retry", w.owner, json::object()).status == 200);
  box = w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] != "provisioning"; });
  CHECK_MESSAGE(box["state"] == "ready", box.dump());
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t1") + "/retry", w.owner, json::object()).status == 409);
}

TEST_CASE("from inside a sandbox, other sandboxes, the data dir, the master key and the server's environment are out of reach") {
  ::setenv("HEARTH_TEST_SERVER_SECRET", "server-only-value", 1);
  AgentWorld w;
  auto a = w.ready_sandbox("a");
  auto b = w.ready_sandbox("b");
  std::ofstream(host_dir(w, b["org_id"], "b") / "work" / "private.txt") << "b's file";
  for (const auto& path : std::vector<std::string>{(host_dir(w, b["org_id"], "b") / "work" / "private.txt").string(), "/workspace/../b/work/private.txt",
                           (w.s.dir.path() / "master.key").string(), w.s.dir.path().string()}) {
    auto [p, out] = w.run_process("a", {"cat", path});
    CHECK_MESSAGE(p["exit_code"] != 0, path);
    CHECK(out.find("b's file") == std::string::npos);
  }
  // Its pid 1 is the sandbox's own init, with the sandbox's (cleared) environment.
  auto [init, init_env] = w.run_process("a", {"cat", "/proc/1/environ"});
  CHECK(init_env.find("server-only-value") == std::string::npos);
  auto [env, vars] = w.run_process("a", {"env"});
  CHECK(vars.find("HEARTH_TEST_SERVER_SECRET") == std::string::npos);
  CHECK(vars.find("server-only-value") == std::string::npos);
  auto [ps, procs] = w.run_process("a", {"sh", "-c", "ls /proc | grep -c '^[0-9]'"});
  CHECK(std::atoi(procs.c_str()) <= 4);
  // No network: not even the server's own port on the host's loopback.
  auto [net, said] = w.run_process("a", {"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(w.s.port) + " && echo connected"});
  CHECK(net["exit_code"] != 0);
  CHECK(said.find("connected") == std::string::npos);
  ::unsetenv("HEARTH_TEST_SERVER_SECRET");
}

TEST_CASE("sandbox routes check the caller's org and refuse bad input with a clear error") {
  AgentWorld w;
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t1"), w.outsider, json::object()).status == 404);
  CHECK(w.s.call("GET", AgentWorld::sandbox_path("t1"), w.owner).status == 404);
  auto bad_task = w.s.call("POST", "/v1/orgs/acme/tasks/-x/sandbox", w.owner, json::object());
  CHECK(bad_task.status == 400);
  auto bad = [&](json body, const std::string& message) {
    auto r = w.s.call("POST", AgentWorld::sandbox_path("t9"), w.owner, body);
    CHECK_MESSAGE(r.status == 400, body.dump());
    CHECK(r.body["error"]["message"] == message);
  };
  bad({{"network", "wifi"}}, "network must be none, proxy or host, not \"wifi\"");
  bad({{"repo_url", "file:///x"}}, "a sandbox clones only a repository connected to its org: name it with \"repo\" "
                                   "(see GET /v1/orgs/{org}/repos), not \"repo_url\"");
  bad({{"repo", "checkout"}, {"branch", "a..b"}}, "\"a..b\" is not a valid branch name");
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t9"), w.owner, json{{"repo", "nope"}}).status == 404);
  bad({{"agent_env", "X"}}, "field \"agent_env\" must be a list of at most 64 secret names");
  bad({{"git_credential", "NOPE"}}, "the org has no secret NOPE");
  auto empty = w.s.call("POST", AgentWorld::sandbox_path("t2"), w.owner, json::object());
  REQUIRE(empty.status == 201);
  auto box = w.poll(AgentWorld::sandbox_path("t2"), [](const json& b) { return b["state"] == "ready"; });
  CHECK(box["repo_url"].is_null());
  CHECK(w.run_process("t2", {"ls", "-A"}).second == "");
  auto events = w.s.call("GET", AgentWorld::sandbox_path("t2") + "/events", w.outsider);
  CHECK(events.status == 404);
}

TEST_CASE("an https repository is cloned with the org secret an admin names as its git credential") {
  test::TempDir served;
  test::make_repo(served.path() / "private.git");
  const std::string token = "ghs_org_secret_git_token_456789";
  test::GitHttpsServer git(served.path(), token);
  AgentWorld w([&](actors::sandbox::RuntimeConfig& rc, actors::session::RunnerConfig&) { rc.git_ca_file = git.certificate(); });
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/GIT_TOKEN", w.owner, json{{"value", token}}).status == 200);
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/STALE_TOKEN", w.owner, json{{"value", "ghs_stale_0123456789"}}).status == 200);
  auto added = w.s.call("POST", "/v1/orgs/acme/repos", w.owner, json{{"url", git.url("private.git")}, {"credential", "GIT_TOKEN"}});
  REQUIRE_MESSAGE(added.status == 201, added.body.dump());
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t1"), w.member,
                 json{{"repo", "private"}, {"git_credential", "STALE_TOKEN"}}).status == 403);
  // Any member's sandbox of the repository clones it with the repository's credential.
  auto made = w.s.call("POST", AgentWorld::sandbox_path("t1"), w.member, json{{"repo", "private"}});
  REQUIRE_MESSAGE(made.status == 201, made.body.dump());
  auto box = w.poll(AgentWorld::sandbox_path("t1"), [](const json& b) { return b["state"] != "provisioning"; });
  REQUIRE_MESSAGE(box["state"] == "ready", box.dump());
  CHECK(box["git_credential"] == "GIT_TOKEN");
  CHECK(w.run_process("t1", {"git", "log", "--format=%s"}).second == "init\n");
  CHECK_FALSE(git.token_elsewhere());
  // A wrong credential (an admin's choice): the server refuses, and the sandbox says so.
  auto denied = w.ready_sandbox("t2", json{{"repo", "private"}, {"git_credential", "STALE_TOKEN"}});
  CHECK(denied["state"] == "error");
  CHECK(denied["error"].get<std::string>().find("clone failed (exit 128)") != std::string::npos);
  // The token is kept only in the sandbox's credentials dir, nowhere else Hearth writes.
  for (const auto& f : std::filesystem::recursive_directory_iterator(w.s.dir.path())) {
    if (!f.is_regular_file() || f.path().string().find("/run/") != std::string::npos) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    CHECK_MESSAGE(bytes.find(token) == std::string::npos, f.path());
  }
}
