// Agent sessions end to end over HTTP: a sandbox with a real checkout under bwrap, the
// mock agent driven over ACP inside it, the transcript, permissions, cancel, crashes.
#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/agent_world.h"

using namespace hearth;
using nlohmann::json;
using test::AgentWorld;

TEST_CASE("a mock agent turn: every command, through the session actor, lands in the transcript in order") {
  AgentWorld w;
  auto box = w.ready_sandbox("t1");
  REQUIRE_MESSAGE(box["state"] == "ready", box.dump());
  auto session = w.session("t1");
  auto done = w.run_turn(session, "/say hello there\n/think hmm\n/plan read;fix\n/write notes.txt from the agent\n"
                                  "/read README.md\n/run cat notes.txt\njust text");
  CHECK(done["status"] == "idle");
  CHECK(done["last_turn"]["status"] == "completed");
  CHECK(done["last_turn"]["stop_reason"] == "end_turn");
  auto events = w.transcript(session);
  auto said = AgentWorld::said(events);
  CHECK(said.find("hello there") != std::string::npos);
  CHECK(said.find("read /workspace/README.md: one") != std::string::npos);
  CHECK(said.find("ran cat notes.txt, exit code 0") != std::string::npos);
  CHECK(said.find("just text") != std::string::npos);
  auto kinds = AgentWorld::kinds(events);
  CHECK(kinds.front() == "session_created");
  CHECK(kinds[1] == "user_message");
  CHECK(kinds[2] == "agent_started");
  CHECK(kinds.back() == "turn_ended");
  for (const char* k : {"agent_thought", "plan", "tool_call", "tool_call_update"})
    CHECK_MESSAGE(std::find(kinds.begin(), kinds.end(), k) != kinds.end(), k);
  for (std::size_t i = 1; i < events.size(); ++i) CHECK(events[i]["seq"].get<int>() == events[i - 1]["seq"].get<int>() + 1);
  std::ifstream written(w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work" / "notes.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(written), {}) == "from the agent");
}
