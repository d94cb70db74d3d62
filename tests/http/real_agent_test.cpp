// A real coding agent, not ours: Claude Code (claude-code-acp from npm, as `hearth agents
// install claude` installs it) in a bwrap sandbox, its model API replaced by a fake
// Anthropic server on 127.0.0.1 that speaks the real wire format. The first turn: the
// model calls the Write tool, the agent asks permission, a person allows it, the agent
// writes the file through Hearth (fs/write_text_file), and the model answers. The
// second: the model runs a shell command, through Hearth's terminal/* in the sandbox.
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/agent_world.h"
#include "tests/support/fake_anthropic.h"
#include "tests/support/serve_process.h"

using namespace hearth;
using nlohmann::json;
using test::AgentWorld;

TEST_CASE("Claude Code writes a file and runs a command, each allowed by a person, against a fake Anthropic API") {
  AgentWorld w;
  auto install = test::run_hearth({"agents", "install", "claude", "--data-dir", w.s.dir.path().string()}, {}, "",
                                  std::chrono::seconds(300));
  REQUIRE_MESSAGE(install.code == 0, install.out);
  test::FakeAnthropic model;
  const std::string key = "sk-ant-test-" + std::string(32, 'k');
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/ANTHROPIC_API_KEY", w.owner, json{{"value", key}}).status == 200);
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/ANTHROPIC_BASE_URL", w.owner, json{{"value", model.url()}}).status == 200);
  auto agents = w.s.call("GET", "/v1/orgs/acme/agents", w.owner).body["items"];
  CHECK(agents[1]["installed_version"] == "0.16.2");
  CHECK(agents[1]["credentials_configured"] == true);

  auto box = w.ready_sandbox("t1", json{{"network", "host"}});
  REQUIRE(box["state"] == "ready");
  auto session = w.session("t1", "claude");
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "Please write hello.txt"}}).status == 202);
  auto pending = w.poll(session + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); },
                        std::chrono::seconds(90));
  REQUIRE(!pending["items"].empty());
  auto p = pending["items"][0];
  CHECK(p["tool_call"]["title"] == "Write /workspace/hello.txt");
  // "Always allow" covers Claude Code's Write only (its kind and tool name come from its
  // tool_call, not from the request), and Claude Code hears allow-once: the Bash command
  // of the next turn must still ask.
  CHECK(p["always_allow"]["rule"] == "edit:mcp__acp__Write");  // Claude Code's Write, served through its ACP bridge
  CHECK(p["always_allow"]["label"] == "every Write (edit)");
  auto always = w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.member,
                         json{{"decision", "allow_always"}});
  REQUIRE_MESSAGE(always.status == 200, always.body.dump());
  CHECK(always.body["decision"] == "allow_always");
  for (const auto& o : p["options"])
    if (o["optionId"] == always.body["option_id"]) CHECK(o["kind"] == "allow_once");
  auto done = w.poll(session, [](const json& b) { return b["status"] != "running"; }, std::chrono::seconds(90));
  CHECK(done["last_turn"]["status"] == "completed");
  CHECK(done["last_turn"]["stop_reason"] == "end_turn");

  auto work = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work";
  std::ifstream written(work / "hello.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(written), {}) == "written by claude\n");
  auto events = w.transcript(session);
  json started;
  for (const auto& e : events) if (e["kind"] == "agent_started") started = e;
  CHECK(started["data"]["agent_info"]["name"] == "@zed-industries/claude-code-acp");
  CHECK(AgentWorld::said(events).find("Done, as you asked.") != std::string::npos);
  auto kinds = AgentWorld::kinds(events);
  for (const char* k : {"tool_call", "tool_call_update", "permission_requested", "permission_resolved", "turn_ended"})
    CHECK_MESSAGE(std::find(kinds.begin(), kinds.end(), k) != kinds.end(), k);
  CHECK(events.dump().find(key) == std::string::npos);

  // A second turn: the model runs a shell command (Claude Code's Bash, through Hearth's
  // terminal/* in the same sandbox).
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "Now please run the command"}}).status == 202);
  // Allow what it asks until the turn ends.
  std::vector<std::string> asked;
  for (int i = 0; i < 900; ++i) {
    auto now = w.s.call("GET", session, w.owner).body;
    if (now["status"] != "running") break;
    auto open = w.s.call("GET", session + "/permissions?status=pending", w.owner).body;
    for (const auto& p : open["items"]) {
      asked.push_back(p["tool_call"].value("title", ""));
      w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
               json{{"decision", "allow_once"}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(asked.size() == 1);
  CHECK(asked[0] == "`echo ran in $(pwd) > ran.txt && cat ran.txt`");
  done = w.s.call("GET", session, w.owner).body;
  CHECK(done["last_turn"]["status"] == "completed");
  std::ifstream ran(work / "ran.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(ran), {}) == "ran in /workspace\n");
  // The agent reached the model with the org's key, through the configured base URL.
  auto seen = model.seen();
  REQUIRE(!seen.empty());
  for (const auto& s : seen) {
    CHECK(s.api_key == key);
    CHECK(!s.version.empty());
  }
}
