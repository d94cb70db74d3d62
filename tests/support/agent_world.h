// A server with sandboxes and agents, an org with an owner, a member and an outsider,
// a local origin repository, and helpers to drive sandboxes and sessions over HTTP.
#pragma once

#include <thread>

#include "tests/support/git_repo.h"
#include "tests/support/test_server.h"

namespace hearth::test {

using nlohmann::json;

struct AgentWorld {
  explicit AgentWorld(const TestServer::SandboxSetup& setup = {}) : s({}, 16, {}, setup) {
    owner = s.user_with_token("owner");
    member = s.user_with_token("member");
    outsider = s.user_with_token("outsider");
    REQUIRE(s.call("POST", "/v1/orgs", owner, json{{"name", "Acme"}}).status == 201);
    REQUIRE(s.call("POST", "/v1/orgs", outsider, json{{"name", "Other"}}).status == 201);
    REQUIRE(s.call("POST", "/v1/orgs/acme/members", owner, json{{"username", "member"}}).status == 201);
    // Repositories on the server's disk are connected by a server admin (here an org
    // admin too), from a directory the server allows (TestServer: the temp dir).
    root = s.user_with_token("root", true);
    REQUIRE(s.call("POST", "/v1/orgs/acme/members", owner, json{{"username", "root"}, {"role", "admin"}}).status == 201);
    repo = make_repo(repos.path() / "checkout");
    auto r = s.call("POST", "/v1/orgs/acme/repos", root, json{{"url", "file://" + repo.string()}});
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
  }

  static std::string sandbox_path(const std::string& task) { return "/v1/orgs/acme/tasks/" + task + "/sandbox"; }
  static std::string sessions_path(const std::string& task) { return "/v1/orgs/acme/tasks/" + task + "/sessions"; }

  // Polls GET `path` until `pred` holds on its body (up to `limit`); returns the last body.
  json poll(const std::string& path, const std::function<bool(const json&)>& pred,
            std::chrono::milliseconds limit = std::chrono::seconds(30), const std::string& token = "") {
    return s.poll(path, token.empty() ? owner : token, pred, limit);
  }

  // A ready sandbox for `task` with the origin checked out; returns its state.
  json ready_sandbox(const std::string& task, json body = json::object()) {
    if (!body.contains("repo")) body["repo"] = "checkout";
    auto r = s.call("POST", sandbox_path(task), owner, body);
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
    return poll(sandbox_path(task), [](const json& b) { return b["state"] != "provisioning"; });
  }

  // Runs `argv` in `task`'s sandbox (POST …/processes, with `extra` fields) and waits for
  // it to exit; returns the process and its whole output.
  std::pair<json, std::string> run_process(const std::string& task, json argv, json extra = json::object()) {
    extra["argv"] = std::move(argv);
    auto r = s.call("POST", sandbox_path(task) + "/processes", owner, extra);
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
    auto path = sandbox_path(task) + "/processes/" + std::to_string(r.body["id"].get<int>());
    auto done = poll(path, [](const json& b) { return b["status"] == "exited"; });
    std::string out;
    std::int64_t offset = 0;
    for (;;) {
      auto page = s.call("GET", path + "/output?offset=" + std::to_string(offset), owner).body;
      for (const auto& c : page["chunks"]) out += c["data"].get<std::string>();
      if (page["done"].get<bool>() || page["chunks"].empty()) break;
      offset = page["next_offset"];
    }
    return {done, out};
  }

  // A session of `agent` in `task`'s sandbox; returns its path.
  std::string session(const std::string& task, const std::string& agent = "mock", json extra = json::object()) {
    extra["agent"] = agent;
    auto r = s.call("POST", sessions_path(task), owner, extra);
    REQUIRE_MESSAGE(r.status == 201, r.body.dump());
    return sessions_path(task) + "/" + r.body["session_id"].get<std::string>();
  }

  // Every transcript event of the session at `path`.
  json transcript(const std::string& path) {
    json all = json::array();
    std::int64_t after = 0;
    for (;;) {
      auto r = s.call("GET", path + "/transcript?limit=1000&after_seq=" + std::to_string(after), owner);
      REQUIRE(r.status == 200);
      for (auto& e : r.body["items"]) all.push_back(e);
      after = r.body["next_after_seq"];
      if (!r.body["more"].get<bool>()) return all;
    }
  }

  // Prompts and waits for the turn's end; returns the session.
  json run_turn(const std::string& path, const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto r = s.call("POST", path + "/prompt", owner, json{{"text", text}});
    REQUIRE_MESSAGE(r.status == 202, r.body.dump());
    auto turn = r.body["turn"].get<std::int64_t>();
    return poll(path, [turn](const json& b) {
      return b["last_turn"].is_object() && b["last_turn"]["turn"] == turn && b["last_turn"]["status"] != "running";
    }, limit);
  }

  // The text the agent said in `events` (its message events, concatenated).
  static std::string said(const json& events, std::int64_t turn = 0) {
    std::string out;
    for (const auto& e : events)
      if (e["kind"] == "agent_message" && (turn == 0 || e["turn"] == turn)) out += e["data"]["text"].get<std::string>();
    return out;
  }
  static std::vector<std::string> kinds(const json& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e["kind"]);
    return out;
  }

  TempDir repos;  // origins live here, outside the server's data dir
  TestServer s;
  std::string owner, member, outsider, root;
  std::filesystem::path repo;
};

}  // namespace hearth::test
