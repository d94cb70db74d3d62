// Agent sessions end to end over HTTP: a sandbox with a real checkout under bwrap, the
// mock agent driven over ACP inside it, the transcript, permissions, cancel, crashes.
#include <doctest/doctest.h>

#include <fstream>

#include "actors/session/session_actor.h"
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
  for (std::size_t i = 1; i < events.size(); ++i)  // a message stored in pieces reads as one, from_seq..seq
    CHECK(events[i].value("from_seq", events[i]["seq"]).get<int>() == events[i - 1]["seq"].get<int>() + 1);
  std::ifstream written(w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work" / "notes.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(written), {}) == "from the agent");
}

TEST_CASE("a reply the agent streams over several flushes reads as one event") {
  AgentWorld w;
  auto box = w.ready_sandbox("t1");
  auto work = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work";
  auto session = w.session("t1");
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/say first part\n/await go\n/say second part"}})
              .status == 202);
  // The first part is stored while the agent waits: the second is certain to be another flush.
  w.poll(session + "/transcript", [](const json& b) { return AgentWorld::said(b["items"]).find("first part") != std::string::npos; });
  std::ofstream(work / "go") << "";
  auto done = w.poll(session, [](const json& b) { return b["status"] != "running"; });
  CHECK(done["last_turn"]["status"] == "completed");
  json messages = json::array();
  for (const auto& e : w.transcript(session))
    if (e["kind"] == "agent_message") messages.push_back(e);
  REQUIRE(messages.size() == 1);
  auto text = messages[0]["data"]["text"].get<std::string>();
  CHECK(text.find("first part") != std::string::npos);
  CHECK(text.find("second part") != std::string::npos);
  CHECK(messages[0]["from_seq"].get<int>() < messages[0]["seq"].get<int>());
}

namespace {

// Waits until the session has a pending permission request; returns it.
json pending_permission(AgentWorld& w, const std::string& session) {
  auto page = w.poll(session + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); });
  return page["items"][0];
}

}  // namespace

TEST_CASE("a permission request waits for a person: allowed once, rejected, allowed for the whole session") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1");

  // Allowed once: the turn goes on.
  auto r = w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/ask deploy\n/say deployed"}});
  REQUIRE(r.status == 202);
  auto p = pending_permission(w, session);
  CHECK(p["tool_call"]["title"] == "deploy");
  CHECK(p["options"].size() == 3);
  CHECK(w.s.call("GET", session, w.owner).body["status"] == "running");
  auto answered = w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.member,
                           json{{"decision", "allow_once"}});
  REQUIRE_MESSAGE(answered.status == 200, answered.body.dump());
  CHECK(answered.body["status"] == "allowed");
  CHECK(answered.body["option_id"] == "allow");
  auto done = w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  auto events = w.transcript(session);
  CHECK(AgentWorld::said(events, 1).find("permission to deploy was granted (allow)") != std::string::npos);
  CHECK(AgentWorld::said(events, 1).find("deployed") != std::string::npos);
  // A second answer is refused: the request is settled.
  auto again = w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                        json{{"decision", "reject"}});
  CHECK(again.status == 409);

  // Rejected: the agent is told and ends its turn.
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/ask drop the database\n/say dropped"}}).status == 202);
  p = pending_permission(w, session);
  REQUIRE(w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                   json{{"decision", "reject"}}).status == 200);
  w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  events = w.transcript(session);
  CHECK(AgentWorld::said(events, 2).find("permission to drop the database was refused") != std::string::npos);
  CHECK(AgentWorld::said(events, 2).find("dropped") == std::string::npos);

  // Allowed always covers one kind of call of one tool: the agent's tool_call (not its
  // request, as claude-code-acp sends them) says which. Another Write is allowed by the
  // session's rule, with the agent's allow-once option (the agent keeps asking; the rule
  // stays Hearth's to revoke); a Bash command still asks.
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner,
                   json{{"text", "/tool Write edit write a.txt\n/tool Write edit write b.txt\n/tool Bash execute rm -rf build"}})
              .status == 202);
  p = pending_permission(w, session);
  CHECK(p["tool_call"]["kind"] == "edit");  // resolved from the tool call
  CHECK(p["always_allow"] == json{{"rule", "edit:Write"}, {"kind", "edit"}, {"tool", "Write"}, {"label", "every Write (edit)"}});
  auto always = w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                         json{{"decision", "allow_always"}});
  REQUIRE_MESSAGE(always.status == 200, always.body.dump());
  CHECK(always.body["option_id"] == "allow");  // never the agent's own allow-always
  auto bash = w.poll(session + "/permissions?status=pending", [](const json& b) { return !b["items"].empty(); })["items"][0];
  CHECK(bash["tool_call"]["title"] == "rm -rf build");
  CHECK(bash["always_allow"]["rule"] == "execute:Bash");
  auto by_policy = w.s.call("GET", session + "/permissions?status=allowed", w.owner).body["items"];
  bool write_b_by_policy = false;
  for (const auto& a : by_policy)
    write_b_by_policy = write_b_by_policy || (a["tool_call"]["title"] == "write b.txt" &&
                                              a["answered_by"] == "policy (every Write (edit))" && a["option_id"] == "allow");
  CHECK(write_b_by_policy);
  REQUIRE(w.s.call("POST", session + "/permissions/" + bash["permission_id"].get<std::string>(), w.owner,
                   json{{"decision", "reject"}}).status == 200);
  done = w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  REQUIRE(done["always_allow"].size() == 1);
  CHECK(done["always_allow"][0]["rule"] == "edit:Write");
  CHECK(done["always_allow"][0]["by"] == "owner");

  // A request of a kind the agent does not name cannot be allowed always.
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/ask push\n/say pushed"}}).status == 202);
  p = pending_permission(w, session);
  CHECK(p["always_allow"].is_null());
  auto blank = w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                        json{{"decision", "allow_always"}});
  CHECK(blank.status == 400);
  CHECK(blank.body["error"]["message"].get<std::string>().find("allow it once") != std::string::npos);
  CHECK(w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                 json{{"option_id", "allow_always"}}).status == 400);  // nor by naming the agent's option
  REQUIRE(w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                   json{{"decision", "allow_once"}}).status == 200);
  w.poll(session, [](const json& b) { return b["status"] == "idle"; });

  // Revoked: the next Write asks a person again.
  CHECK(w.s.call("DELETE", session + "/always-allow/execute:Bash", w.owner).status == 404);
  auto revoked = w.s.call("DELETE", session + "/always-allow/edit:Write", w.member);
  REQUIRE_MESSAGE(revoked.status == 200, revoked.body.dump());
  CHECK(revoked.body["always_allow"].empty());
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/tool Write edit write c.txt"}}).status == 202);
  p = pending_permission(w, session);
  CHECK(p["tool_call"]["title"] == "write c.txt");
  REQUIRE(w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                   json{{"decision", "allow_once"}}).status == 200);
  w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  events = w.transcript(session);
  auto kinds = AgentWorld::kinds(events);
  CHECK(std::find(kinds.begin(), kinds.end(), "always_allow_revoked") != kinds.end());
}

TEST_CASE("an unanswered permission request times out per the session's policy, and the agent is told") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1", "mock", json{{"permission_timeout_s", 1}});
  auto t0 = std::chrono::steady_clock::now();
  auto done = w.run_turn(session, "/ask anything\n/say went ahead");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8));
  CHECK(done["last_turn"]["status"] == "completed");
  auto events = w.transcript(session);
  CHECK(AgentWorld::said(events).find("permission to anything was refused") != std::string::npos);
  CHECK(AgentWorld::said(events).find("went ahead") == std::string::npos);
  auto p = w.s.call("GET", session + "/permissions", w.owner).body["items"][0];
  CHECK(p["status"] == "timed_out");
  CHECK(p["answered_by"] == "timeout");
}

TEST_CASE("cancel ends a running turn at once, a pending permission request is cancelled with it") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1");
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/say starting\n/sleep 30000\n/say too late"}}).status == 202);
  w.poll(session + "/transcript", [](const json& b) {
    for (const auto& e : b["items"]) if (e["kind"] == "agent_message") return true;
    return false;
  });
  auto busy = w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/say again"}});
  CHECK(busy.status == 409);
  auto t0 = std::chrono::steady_clock::now();
  auto c = w.s.call("POST", session + "/cancel", w.member, json::object());
  REQUIRE_MESSAGE(c.status == 202, c.body.dump());
  auto done = w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(done["last_turn"]["status"] == "cancelled");
  auto events = w.transcript(session);
  CHECK(AgentWorld::said(events).find("too late") == std::string::npos);
  auto kinds = AgentWorld::kinds(events);
  CHECK(std::find(kinds.begin(), kinds.end(), "cancel_requested") != kinds.end());
  CHECK(events.back()["kind"] == "turn_ended");
  CHECK(events.back()["data"]["stop_reason"] == "cancelled");
  CHECK(w.s.call("POST", session + "/cancel", w.owner, json::object()).status == 409);  // nothing runs

  // With a permission request pending.
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/ask may I\n/say yes"}}).status == 202);
  auto p = pending_permission(w, session);
  REQUIRE(w.s.call("POST", session + "/cancel", w.owner, json::object()).status == 202);
  done = w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  CHECK(done["last_turn"]["status"] == "cancelled");
  auto settled = w.s.call("GET", session + "/permissions", w.owner).body["items"][0];
  CHECK(settled["status"] == "cancelled");
  CHECK(settled["answered_by"] == "owner");  // who cancelled it
  // The agent is still there for the next turn.
  done = w.run_turn(session, "/say still here");
  CHECK(AgentWorld::said(w.transcript(session), 3) == "still here");
}

TEST_CASE("an agent that fails or crashes mid-turn ends the turn with the reason, the next turn gets a fresh agent") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1");
  auto failed = w.run_turn(session, "/say trying\n/fail the build is broken");
  CHECK(failed["status"] == "idle");
  CHECK(failed["last_turn"]["status"] == "failed");
  CHECK(failed["last_turn"]["error"].get<std::string>().find("the build is broken") != std::string::npos);

  auto crashed = w.run_turn(session, "/say before\n/crash\n/say after");
  CHECK(crashed["last_turn"]["status"] == "failed");
  CHECK(crashed["last_turn"]["error"].get<std::string>().find("the agent exited while running a turn") != std::string::npos);
  auto events = w.transcript(session);
  CHECK(AgentWorld::said(events, 2).find("before") != std::string::npos);
  CHECK(AgentWorld::said(events, 2).find("after") == std::string::npos);
  CHECK(events.back()["kind"] == "turn_failed");

  // A new agent process, resuming the agent's own session (the mock supports session/load).
  auto next = w.run_turn(session, "/history");
  CHECK(next["last_turn"]["status"] == "completed");
  events = w.transcript(session);
  json started;
  for (const auto& e : events) if (e["kind"] == "agent_started" && e["turn"] == 3) started = e;
  REQUIRE(started.is_object());
  CHECK(started["data"]["resumed"] == true);
  CHECK(AgentWorld::said(events, 3) == "this session has seen 3 prompts");
}

TEST_CASE("a restarted session's next prompt starts a fresh agent that resumes the conversation, and a running turn refuses it") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1");
  w.run_turn(session, "/say one");

  // While a turn runs (here waiting on a person), the agent is not restarted.
  REQUIRE(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/ask may I\n/say yes"}}).status == 202);
  auto p = pending_permission(w, session);
  auto busy = w.s.call("POST", session + "/restart", w.member, json::object());
  CHECK(busy.status == 409);
  CHECK(busy.body["error"]["code"] == "conflict");
  CHECK(busy.body["error"]["message"].get<std::string>().find("turn 2 is still running") != std::string::npos);
  REQUIRE(w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.owner,
                   json{{"decision", "allow_once"}}).status == 200);
  w.poll(session, [](const json& b) { return b["status"] == "idle"; });
  CHECK(w.s.call("POST", session + "/restart", w.outsider, json::object()).status == 404);

  auto restarted = w.s.call("POST", session + "/restart", w.member, json::object());
  REQUIRE_MESSAGE(restarted.status == 200, restarted.body.dump());
  CHECK(restarted.body["status"] == "idle");
  auto next = w.run_turn(session, "/history");
  CHECK(next["last_turn"]["status"] == "completed");
  auto events = w.transcript(session);
  std::vector<json> started;
  json requested;
  for (const auto& e : events) {
    if (e["kind"] == "agent_started") started.push_back(e);
    if (e["kind"] == "agent_restart_requested") requested = e;
  }
  REQUIRE(started.size() == 2);  // one per agent process
  CHECK(started[1]["turn"] == 3);
  CHECK(started[1]["data"]["resumed"] == true);
  CHECK(requested["data"]["by"] == "member");
  CHECK(AgentWorld::said(events, 3) == "this session has seen 3 prompts");

  // A closed session has no agent to restart.
  REQUIRE(w.s.call("DELETE", session, w.owner).status == 200);
  auto closed = w.s.call("POST", session + "/restart", w.owner, json::object());
  CHECK(closed.status == 409);
  CHECK(closed.body["error"]["message"] == "the session is closed");
}

TEST_CASE("a turn whose agent goes silent is cancelled and fails with a clear error") {
  AgentWorld w([](actors::sandbox::RuntimeConfig&, actors::session::RunnerConfig& r) {
    r.turn_silence_timeout = std::chrono::seconds(1);
  });
  w.ready_sandbox("t1");
  auto session = w.session("t1");
  auto done = w.run_turn(session, "/sleep 20000");
  CHECK(done["last_turn"]["status"] == "failed");
  CHECK(done["last_turn"]["error"] == "the agent sent nothing for 1 s, so the turn was cancelled");
}

TEST_CASE("the agent's file reads and writes stay inside the work dir") {
  AgentWorld w;
  auto box = w.ready_sandbox("t1");
  auto work = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work";
  std::filesystem::create_symlink(w.s.dir.path() / "master.key", work / "key-link");
  auto session = w.session("t1");
  w.run_turn(session, "/read ../../../master.key\n/read " + (w.s.dir.path() / "master.key").string() +
                          "\n/read key-link\n/write ../escape.txt nope\n/read README.md");
  auto said = AgentWorld::said(w.transcript(session));
  CHECK(said.find("could not read /workspace/../../../master.key") != std::string::npos);
  CHECK(said.find("could not read " + (w.s.dir.path() / "master.key").string()) != std::string::npos);
  CHECK(said.find("could not read /workspace/key-link") != std::string::npos);
  CHECK(said.find("could not write /workspace/../escape.txt") != std::string::npos);
  CHECK(said.find("read /workspace/README.md: one") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(work.parent_path() / "escape.txt"));
}

TEST_CASE("secret values never reach the transcript, process output, or the session's database") {
  AgentWorld w;
  const std::string value = "tok-" + std::string(24, 'q') + "-end";
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/DEPLOY_TOKEN", w.owner, json{{"value", value}}).status == 200);
  // Only admins choose which secrets a sandbox gets.
  auto refused = w.s.call("POST", AgentWorld::sandbox_path("t1"), w.member,
                          json{{"agent_env", {"DEPLOY_TOKEN"}}, {"repo", "checkout"}});
  CHECK(refused.status == 403);
  CHECK(w.s.call("POST", AgentWorld::sandbox_path("t1"), w.owner, json{{"agent_env", {"NOPE"}}}).status == 400);
  auto box = w.ready_sandbox("t1", json{{"agent_env", {"DEPLOY_TOKEN"}}});
  REQUIRE(box["state"] == "ready");
  CHECK(box["agent_env"] == json::array({"DEPLOY_TOKEN"}));
  auto session = w.session("t1");
  // A person who pastes the value into a prompt: the agent gets the name, not the value.
  w.run_turn(session, "/run printenv DEPLOY_TOKEN\n/say the token is " + value);
  auto events = w.transcript(session);
  auto text = events.dump();
  CHECK(text.find(value) == std::string::npos);
  CHECK(AgentWorld::said(events).find("the token is [secret DEPLOY_TOKEN]") != std::string::npos);
  bool printed = false;  // what the agent's command printed, as its tool call shows it
  for (const auto& e : events)
    if (e["kind"] == "tool_call_update" && e["data"].dump().find("[secret DEPLOY_TOKEN]") != std::string::npos) printed = true;
  CHECK(printed);
  // A process that prints it (a file in the checkout holds it).
  std::ofstream(w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work" / "leak.txt")
      << value;
  auto p = w.s.call("POST", AgentWorld::sandbox_path("t1") + "/processes", w.owner, json{{"argv", {"cat", "leak.txt"}}});
  REQUIRE(p.status == 201);
  auto path = AgentWorld::sandbox_path("t1") + "/processes/" + std::to_string(p.body["id"].get<int>());
  w.poll(path, [](const json& b) { return b["status"] == "exited"; });
  auto out = w.s.call("GET", path + "/output", w.owner).body;
  REQUIRE(out["chunks"].size() >= 1);
  CHECK(out["chunks"][0]["data"] == "[secret DEPLOY_TOKEN]");
  // Nothing stored holds the value: the session's and the sandbox's databases, the logs.
  for (const auto& f : std::filesystem::recursive_directory_iterator(w.s.dir.path())) {
    if (!f.is_regular_file() || f.path().string().find("/work/") != std::string::npos) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    CHECK_MESSAGE(bytes.find(value) == std::string::npos, f.path());
  }
}

TEST_CASE("a session names the org secrets its agent gets when it is created: its sandbox's agent_env, then the agent's") {
  AgentWorld w;
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/secrets/DEPLOY_TOKEN", w.owner, json{{"value", "tok-0123456789"}}).status == 200);
  auto box = w.ready_sandbox("t1", json{{"agent_env", {"DEPLOY_TOKEN"}}});
  REQUIRE(box["state"] == "ready");
  auto path = w.session("t1", "claude");  // not installed: a session may still be made, its turns fail
  auto session_id = path.substr(path.rfind('/') + 1);
  auto named = w.s.host->call(actors::session::address(box["org_id"], "t1", session_id), actors::session::kSecretNames);
  REQUIRE(named.ok());
  CHECK((*named)["secret_names"] == json::array({"DEPLOY_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"}));
  // Not part of what people read of the session.
  CHECK_FALSE(w.s.call("GET", path, w.owner).body.contains("secret_names"));
}

TEST_CASE("the session's event stream resumes exactly after any Last-Event-ID, then follows live") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1");
  w.run_turn(session, "/say one two three\n/plan a;b\n/say four");
  auto events = w.transcript(session);
  REQUIRE(events.size() >= 6);
  auto from = events[2]["seq"].get<std::int64_t>();
  auto last = events.back()["seq"].get<std::int64_t>();

  std::vector<std::int64_t> seqs, firsts;  // each event's seq, and its first piece's (from_seq)
  std::vector<std::string> names;
  std::atomic<bool> prompted{false};
  httplib::Client cli("127.0.0.1", w.s.port);
  cli.set_read_timeout(20, 0);
  std::string buffer;
  auto r = cli.Get(session + "/events", {{"Authorization", "Bearer " + w.owner}, {"Last-Event-ID", std::to_string(from)}},
                   [&](const char* data, std::size_t n) {
                     buffer.append(data, n);
                     std::size_t end;
                     while ((end = buffer.find("\n\n")) != std::string::npos) {
                       auto frame = buffer.substr(0, end);
                       buffer.erase(0, end + 2);
                       std::string name;
                       for (std::size_t at = 0; at < frame.size();) {
                         auto nl = frame.find('\n', at);
                         auto line = frame.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
                         if (line.rfind("id: ", 0) == 0) seqs.push_back(std::stoll(line.substr(4)));
                         if (line.rfind("data: ", 0) == 0 && !seqs.empty() && firsts.size() < seqs.size()) {
                           auto e = json::parse(line.substr(6));
                           firsts.push_back(e.value("from_seq", e["seq"]).get<std::int64_t>());
                         }
                         if (line.rfind("event: ", 0) == 0) name = line.substr(7);
                         at = nl == std::string::npos ? frame.size() : nl + 1;
                       }
                       if (!name.empty()) names.push_back(name);
                       if (!seqs.empty() && seqs.back() == last && !prompted.exchange(true)) {
                         std::thread([&] { (void)w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/say live"}}); }).detach();
                       }
                       if (std::find(names.begin(), names.end(), "transcript") != names.end() && prompted &&
                           !seqs.empty() && seqs.back() > last + 2) {
                         // Read up to this turn's end.
                         auto t = w.transcript(session);
                         for (const auto& e : t)
                           if (e["kind"] == "turn_ended" && e["turn"] == 2 && e["seq"].get<std::int64_t>() <= seqs.back()) return false;
                       }
                     }
                     return true;
                   });
  REQUIRE(!seqs.empty());
  REQUIRE(firsts.size() == seqs.size());
  CHECK(firsts.front() == from + 1);
  for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(firsts[i] == seqs[i - 1] + 1);  // none skipped
  CHECK(seqs.back() > last);
  CHECK(std::find(names.begin(), names.end(), "session.status.changed") != names.end());
  // A malformed Last-Event-ID is a clear error.
  auto bad = w.s.call("GET", session + "/events", w.owner, "", httplib::Headers{{"Last-Event-ID", "x.y"}});
  CHECK(bad.status == 400);
}

TEST_CASE("session routes check the caller's org, and bad input gets a clear error") {
  AgentWorld w;
  w.ready_sandbox("t1");
  auto session = w.session("t1");
  CHECK(w.s.call("GET", session, w.outsider).status == 404);
  CHECK(w.s.call("POST", session + "/prompt", w.outsider, json{{"text", "/say hi"}}).status == 404);
  CHECK(w.s.call("GET", session, w.member).status == 200);
  auto missing = w.s.call("POST", session + "/prompt", w.owner, json::object());
  CHECK(missing.status == 400);
  CHECK(missing.body["error"]["message"] == "field \"text\" is required");
  CHECK(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "  \n"}}).status == 400);
  CHECK(w.s.call("POST", session + "/prompt", w.owner, json{{"text", 5}}).status == 400);
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks/t1/sessions/s_nope", w.owner).status == 404);
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks/t1/sessions/..%2F..", w.owner).status == 404);
  CHECK(w.s.call("POST", session + "/permissions/perm_x", w.owner, json{{"decision", "maybe"}}).status == 400);
  CHECK(w.s.call("POST", session + "/permissions/perm_x", w.owner, json{{"decision", "reject"}}).status == 404);
  CHECK(w.s.call("GET", session + "/transcript?after_seq=-1", w.owner).status == 400);
  CHECK(w.s.call("GET", session + "/permissions?status=odd", w.owner).status == 400);
  auto unknown = w.s.call("POST", AgentWorld::sessions_path("t1"), w.owner, json{{"agent", "hal"}});
  CHECK(unknown.status == 400);
  CHECK(unknown.body["error"]["message"].get<std::string>().starts_with("unknown agent \"hal\""));
  auto no_box = w.s.call("POST", AgentWorld::sessions_path("t2"), w.owner, json{{"agent", "mock"}});
  CHECK(no_box.status == 409);
  auto no_network = w.session("t1", "claude");
  auto fails = w.run_turn(no_network, "hello");
  CHECK(fails["last_turn"]["status"] == "failed");
  CHECK(fails["last_turn"]["error"].get<std::string>().find("network is none") != std::string::npos);
  // Closed: no more prompts, and it is off the sandbox's list of open sessions.
  auto closed = w.s.call("DELETE", session, w.owner);
  REQUIRE(closed.status == 200);
  CHECK(closed.body["status"] == "closed");
  CHECK(w.s.call("POST", session + "/prompt", w.owner, json{{"text", "/say hi"}}).status == 409);
  auto listed = w.s.call("GET", AgentWorld::sessions_path("t1"), w.owner).body["items"];
  CHECK(listed.size() == 2);
  auto agents = w.s.call("GET", "/v1/orgs/acme/agents", w.member).body["items"];
  REQUIRE(agents.size() == 6);
  CHECK(agents[0]["name"] == "mock");
  CHECK(agents[0]["installed"] == true);
  CHECK(agents[1]["name"] == "claude");
  CHECK(agents[1]["credentials_configured"] == false);
}
