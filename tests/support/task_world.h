// An AgentWorld with a bare origin repository connected to the org, and helpers to
// create tasks over HTTP and wait for their states and git flows.
#pragma once

#include "tests/support/agent_world.h"

namespace hearth::test {

struct TaskWorld : AgentWorld {
  explicit TaskWorld(const TestServer::SandboxSetup& setup = {}) : AgentWorld(setup) {
    // Outside the server's data dir (a repository there is refused).
    bare = elsewhere.path() / "origin.git";
    sh("git clone -q --bare '" + repo.string() + "' '" + bare.string() + "'");
    auto r = s.call("POST", "/v1/orgs/acme/repos", root, json{{"url", "file://" + bare.string()}});
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  }

  static std::string task_path(const std::string& id) { return "/v1/orgs/acme/tasks/" + id; }

  // Creates a task on the connected repository; returns its id.
  std::string create(const std::string& prompt, json extra = json::object(), const std::string& token = "") {
    extra["repo"] = "origin";
    extra["prompt"] = prompt;
    if (!extra.contains("agent")) extra["agent"] = "mock";
    auto r = s.call("POST", "/v1/orgs/acme/tasks", token.empty() ? owner : token, extra);
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
    return r.body["task_id"];
  }

  // Waits for the task to reach `status` with no turn running and no git flow running.
  json settled(const std::string& id, const std::string& status = "idle",
               std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    return poll(task_path(id), [&](const json& b) {
      return b.value("status", "") == status && b.contains("running_op") && b["running_op"].is_null();
    }, limit);
  }

  // Runs a git flow (push, sync, merge, commit, revert) and waits for its op to end.
  json flow(const std::string& id, const std::string& kind, json body = json::object()) {
    auto r = s.call("POST", task_path(id) + "/" + kind, owner, body);
    REQUIRE_MESSAGE(r.status == 202, r.body.dump());
    auto op = r.body["op_id"].get<std::int64_t>();
    return poll(task_path(id) + "/ops/" + std::to_string(op), [](const json& b) { return b["status"] != "running"; });
  }

  // git in the bare origin.
  std::string origin_git(const std::string& args) { return sh("git -C '" + bare.string() + "' " + args); }

  TempDir elsewhere;
  std::filesystem::path bare;
};

}  // namespace hearth::test
