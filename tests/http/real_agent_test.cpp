// Real coding agents, not ours, each installed from npm as `hearth agents install NAME`
// installs it and run in a bwrap sandbox, with its model API replaced by a fake on
// 127.0.0.1 that speaks that API's real wire format, streaming: Claude Code and OpenCode
// against Anthropic's Messages API, Codex against OpenAI's Responses API, Gemini CLI
// against Gemini's streamGenerateContent. Each does a text turn, writes a file with a
// tool (a person allows it over HTTP), runs a shell command in the sandbox in
// /workspace (allowed too), and after a restart of its agent resumes the conversation
// with session/load: the fake sees the earlier prompts. Each prints its timings:
// session created -> agent_started -> first text -> turn end.
#include <doctest/doctest.h>

#include <fstream>

#include "sandbox/egress.h"
#include "tests/support/agent_world.h"
#include "tests/support/fake_anthropic.h"
#include "tests/support/fake_gemini.h"
#include "tests/support/fake_openai.h"
#include "tests/support/proc.h"
#include "tests/support/serve_process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using nlohmann::json;
using test::AgentWorld;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The first event of `kind` in `turn`, or null.
json first_event(const json& events, const std::string& kind, std::int64_t turn) {
  for (const auto& e : events)
    if (e["kind"] == kind && e["turn"] == turn) return e;
  return nullptr;
}

// Prints how long `agent` took from the session's creation (at `created`) to its agent
// starting, its first text and the end of `turn`.
void print_timings(const std::string& agent, std::int64_t created, const json& events, std::int64_t turn) {
  auto at = [&](const std::string& kind) {
    auto e = first_event(events, kind, turn);
    return e.is_object() ? e["at"].get<std::int64_t>() - created : -1;
  };
  std::cout << "real agent " << agent << ": create -> agent_started " << at("agent_started") << " ms -> first text "
            << at("agent_message") << " ms -> turn end " << at("turn_ended") << " ms" << std::endl;
}

// The fakes of the model APIs are on 127.0.0.1, which this server's admin lets sandboxes
// with network proxy reach (as --egress-allow-address would a company gateway).
void allow_loopback(actors::sandbox::RuntimeConfig& rc, actors::session::RunnerConfig&) {
  rc.egress.allowed_addresses.push_back(sandbox::egress::Cidr::parse("127.0.0.1").value());
}

// Installs `agent` with `hearth agents install` into the world's data dir.
void install(AgentWorld& w, const std::string& agent) {
  auto r = test::run_hearth({"agents", "install", agent, "--data-dir", w.s.dir.path().string()}, {}, "",
                            std::chrono::seconds(300));
  REQUIRE_MESSAGE(r.code == 0, r.out);
}

// Prompts `text`; a person (the member, over HTTP) allows each permission the agent asks
// until the turn ends. Returns the session and the requests that were asked.
struct Allowed {
  json session, asked;
};
Allowed run_allowing(AgentWorld& w, const std::string& session, const std::string& text) {
  auto r = w.s.call("POST", session + "/prompt", w.owner, json{{"text", text}});
  REQUIRE_MESSAGE(r.status == 202, r.body.dump());
  auto turn = r.body["turn"].get<std::int64_t>();
  json asked = json::array();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  json now;
  while (std::chrono::steady_clock::now() < until) {
    now = w.s.call("GET", session, w.owner).body;
    if (now["last_turn"]["turn"] == turn && now["last_turn"]["status"] != "running") return {now, asked};
    auto pending = w.s.call("GET", session + "/permissions?status=pending", w.owner).body;
    for (const auto& p : pending["items"]) {
      asked.push_back(p);
      auto answer = w.s.call("POST", session + "/permissions/" + p["permission_id"].get<std::string>(), w.member,
                             json{{"decision", "allow_once"}});
      CHECK_MESSAGE(answer.status == 200, answer.body.dump());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("turn " << turn << " did not end: " << now.dump());
  return {now, asked};
}

// Sets the org's secrets, as its owner.
void set_secrets(AgentWorld& w, const std::vector<std::pair<std::string, std::string>>& secrets) {
  for (const auto& secret : secrets) {
    auto r = w.s.call("PUT", "/v1/orgs/acme/secrets/" + secret.first, w.owner, json{{"value", secret.second}});
    REQUIRE_MESSAGE(r.status == 200, secret.first << ": " << r.body.dump());
  }
}

// The prompts of each request `model` saw that `counts` (by default, every one).
template <class Fake>
std::function<std::vector<std::vector<std::string>>()> prompts_of(Fake& model, std::function<bool(const typename Fake::Seen&)> counts = {}) {
  return [&model, counts] {
    std::vector<std::vector<std::string>> out;
    for (const auto& s : model.seen())
      if (!counts || counts(s)) out.push_back(s.prompts);
    return out;
  };
}

struct RealAgent {
  std::string name;          // as the registry names it
  std::string package_name;  // agent_info.name, as it introduces itself
  std::string written;       // what its model's write leaves in hello.txt
  std::string key;           // its API key: never in the transcript
  bool resumes;              // whether a restarted agent resumes its session with session/load
  std::function<std::vector<std::vector<std::string>>()> prompts_seen;  // per request to the fake, its prompts
};

bool has_prompt(const std::vector<std::string>& prompts, const std::string& text) {
  for (const auto& p : prompts)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

// The whole run of one agent, secrets set: a text turn, a file written, a command run,
// each tool call allowed by a person; a restart, and the conversation resumed.
void exercise(AgentWorld& w, const RealAgent& agent) {
  auto box = w.ready_sandbox("t1", json{{"network", "proxy"}});
  REQUIRE(box["state"] == "ready");
  auto work = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id() / "work";
  auto created = now_ms();
  auto session = w.session("t1", agent.name);

  auto said = w.run_turn(session, "Say hello", std::chrono::seconds(90));
  CHECK(said["last_turn"]["status"] == "completed");
  auto events = w.transcript(session);
  print_timings(agent.name, created, events, 1);
  auto started = first_event(events, "agent_started", 1);
  REQUIRE(started.is_object());
  CHECK(started["data"]["agent_info"]["name"] == agent.package_name);
  CHECK(AgentWorld::said(events, 1).find("Hello from the fake model.") != std::string::npos);

  // A file written with the agent's own tool, allowed by a person.
  auto wrote = run_allowing(w, session, "Please write hello.txt");
  const auto& asked_write = wrote.asked;
  CHECK(wrote.session["last_turn"]["status"] == "completed");
  REQUIRE_MESSAGE(asked_write.size() == 1, asked_write.dump());
  CHECK(asked_write[0]["tool_call"]["kind"] == "edit");
  CHECK(read_file(work / "hello.txt") == agent.written);
  // Its key is the egress proxy's: in no process's environment or command line here.
  CHECK(test::processes_holding(agent.key).empty());
  events = w.transcript(session);
  CHECK(AgentWorld::said(events, 2).find("Done, as you asked.") != std::string::npos);

  // A shell command, allowed by a person, run in the sandbox in /workspace.
  auto ran = run_allowing(w, session, "Now please run the command");
  const auto& asked_run = ran.asked;
  CHECK(ran.session["last_turn"]["status"] == "completed");
  REQUIRE_MESSAGE(asked_run.size() == 1, asked_run.dump());
  CHECK(asked_run[0]["tool_call"]["kind"] == "execute");
  CHECK(read_file(work / "ran.txt") == "ran in /workspace\n");

  // A restart: a fresh agent process resumes the conversation with session/load, and
  // the model sees the earlier prompts.
  auto restarted = w.s.call("POST", session + "/restart", w.member, json::object());
  REQUIRE_MESSAGE(restarted.status == 200, restarted.body.dump());
  auto requests_before = agent.prompts_seen().size();
  auto again = w.run_turn(session, "Say hello again", std::chrono::seconds(90));
  CHECK(again["last_turn"]["status"] == "completed");
  events = w.transcript(session);
  auto restarted_agent = first_event(events, "agent_started", 4);
  REQUIRE(restarted_agent.is_object());
  CHECK(restarted_agent["data"]["resumed"] == agent.resumes);
  CHECK((restarted_agent["data"]["agent_session_id"] == started["data"]["agent_session_id"]) == agent.resumes);
  auto seen = agent.prompts_seen();
  REQUIRE(seen.size() > requests_before);
  bool remembered = false;
  for (auto i = requests_before; i < seen.size(); ++i)
    remembered = remembered || (has_prompt(seen[i], "Say hello again") && has_prompt(seen[i], "Please write hello.txt"));
  CHECK_MESSAGE(remembered == agent.resumes, "after the restart, the model saw the earlier prompts: " << remembered);
  CHECK(events.dump().find(agent.key) == std::string::npos);
  print_timings(agent.name + " restarted, from its prompt", first_event(events, "user_message", 4)["at"], events, 4);
}

}  // namespace

TEST_CASE("Claude Code under network proxy writes a file and runs a command, each allowed by a person, its key never in the sandbox, and resumes after a restart, against a fake Anthropic API over TLS") {
  // The fake Anthropic is on 127.0.0.2 over HTTPS with a test CA: the address this
  // server's admin allowed, and the CA its egress proxy trusts.
  test::TempDir certs;
  test::TestCertificate cert(certs.path());
  AgentWorld w([&](actors::sandbox::RuntimeConfig& rc, actors::session::RunnerConfig&) {
    rc.egress.allowed_addresses.push_back(sandbox::egress::Cidr::parse("127.0.0.2").value());
    rc.egress.ca_file = cert.cert;
  });
  auto install = test::run_hearth({"agents", "install", "claude", "--data-dir", w.s.dir.path().string()}, {}, "",
                                  std::chrono::seconds(300));
  REQUIRE_MESSAGE(install.code == 0, install.out);
  test::FakeAnthropic model(&cert, "127.0.0.2");
  const std::string key = "sk-ant-test-" + std::string(32, 'k');
  set_secrets(w, {{"ANTHROPIC_API_KEY", key}, {"ANTHROPIC_BASE_URL", model.url()}});
  auto agents = w.s.call("GET", "/v1/orgs/acme/agents", w.owner).body["items"];
  CHECK(agents[1]["installed_version"] == "0.16.2");
  CHECK(agents[1]["credentials_configured"] == true);

  auto box = w.ready_sandbox("t1", json{{"network", "proxy"}});
  REQUIRE(box["state"] == "ready");
  auto created = now_ms();
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
  print_timings("claude (its first turn waits on a person)", created, events, 1);
  json started;
  for (const auto& e : events) if (e["kind"] == "agent_started") started = e;
  CHECK(started["data"]["agent_info"]["name"] == "@zed-industries/claude-code-acp");
  CHECK(AgentWorld::said(events).find("Done, as you asked.") != std::string::npos);
  auto kinds = AgentWorld::kinds(events);
  for (const char* k : {"tool_call", "tool_call_update", "permission_requested", "permission_resolved", "turn_ended"})
    CHECK_MESSAGE(std::find(kinds.begin(), kinds.end(), k) != kinds.end(), k);
  CHECK(events.dump().find(key) == std::string::npos);
  // The key is in no process's environment or command line on this machine (the agent's
  // among them, alive), while the agent has the placeholder; nor in the sandbox's files.
  CHECK(test::processes_holding(key).empty());
  CHECK(!test::processes_holding(sandbox::egress::kPlaceholderKey).empty());
  auto sandbox_root = w.s.dir.path() / "sandboxes" / actors::Address{"sandbox", {box["org_id"], "t1"}}.id();
  CHECK(test::files_holding(sandbox_root / "home", key).empty());
  CHECK(test::files_holding(sandbox_root / "work", key).empty());

  // A second turn: the model runs a shell command (Claude Code's Bash, through Hearth's
  // terminal/* in the same sandbox, with the agent's environment), which keeps what its
  // environment holds.
  model.run_command = "echo ran in $(pwd) > ran.txt && cat ran.txt && tr '\\0' '\\n' < /proc/self/environ > environ.txt";
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
  CHECK(asked[0] == "`" + model.run_command + "`");
  done = w.s.call("GET", session, w.owner).body;
  CHECK(done["last_turn"]["status"] == "completed");
  std::ifstream ran(work / "ran.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(ran), {}) == "ran in /workspace\n");
  auto environ = read_file(work / "environ.txt");
  CHECK(environ.find("ANTHROPIC_API_KEY=hearth-egress-placeholder\n") != std::string::npos);
  CHECK(environ.find("ANTHROPIC_BASE_URL=http://127.0.0.1:3128/v/anthropic\n") != std::string::npos);
  CHECK(environ.find("HTTPS_PROXY=http://127.0.0.1:3128\n") != std::string::npos);
  CHECK(environ.find(key) == std::string::npos);
  // The model saw the org's key, put in by the egress proxy on the way to the configured
  // base URL.
  auto seen = model.seen();
  REQUIRE(!seen.empty());
  for (const auto& s : seen) {
    CHECK(s.api_key == key);
    CHECK(!s.version.empty());
  }

  // A changed key is used from the next request on, the live agent unchanged (the key is
  // the proxy's, never the agent's); restarted, the agent resumes the conversation with
  // session/load (the model sees the earlier prompts).
  const std::string next_key = "sk-ant-next-" + std::string(32, 'n');
  set_secrets(w, {{"ANTHROPIC_API_KEY", next_key}});
  auto before = model.seen().size();
  CHECK(w.run_turn(session, "Say hello", std::chrono::seconds(90))["last_turn"]["status"] == "completed");
  seen = model.seen();
  REQUIRE(seen.size() > before);
  for (auto i = before; i < seen.size(); ++i) CHECK(seen[i].api_key == next_key);
  auto restarted = w.s.call("POST", session + "/restart", w.member, json::object());
  REQUIRE_MESSAGE(restarted.status == 200, restarted.body.dump());
  before = seen.size();
  CHECK(w.run_turn(session, "Say hello again", std::chrono::seconds(90))["last_turn"]["status"] == "completed");
  events = w.transcript(session);
  auto resumed = first_event(events, "agent_started", 4);
  REQUIRE(resumed.is_object());
  CHECK(resumed["data"]["resumed"] == true);
  CHECK(resumed["data"]["agent_session_id"] == started["data"]["agent_session_id"]);
  print_timings("claude restarted, from its prompt", first_event(events, "user_message", 4)["at"], events, 4);
  seen = model.seen();
  REQUIRE(seen.size() > before);
  bool remembered = false;
  for (auto i = before; i < seen.size(); ++i) {
    CHECK(seen[i].api_key == next_key);
    remembered = remembered || (has_prompt(seen[i].prompts, "Say hello again") &&
                                has_prompt(seen[i].prompts, "Please write hello.txt"));
  }
  CHECK_MESSAGE(remembered, "after the restart, the model never saw the earlier prompts with the new one");
  CHECK(events.dump().find(next_key) == std::string::npos);
}

TEST_CASE("Codex under network proxy writes a file and runs a command in the sandbox, each allowed by a person, and resumes after a restart, against a fake OpenAI Responses API") {
  AgentWorld w(allow_loopback);
  install(w, "codex");
  test::FakeOpenAI model;
  const std::string key = "sk-openai-test-" + std::string(32, 'k');
  // A model codex knows: for one it does not, it offers no apply_patch tool.
  set_secrets(w, {{"OPENAI_API_KEY", key}, {"OPENAI_BASE_URL", model.url()}, {"CODEX_MODEL", "gpt-5.4-mini"}});
  exercise(w, {"codex", "codex-acp", "written by codex\n", key, true, prompts_of(model)});
  auto seen = model.seen();
  REQUIRE(!seen.empty());
  for (const auto& s : seen) {
    CHECK(s.api_key == key);  // put in by the egress proxy: codex has a placeholder
    CHECK(s.model == "gpt-5.4-mini");
    CHECK(s.stream);
  }
}

TEST_CASE("Gemini CLI under network proxy writes a file and runs a command in the sandbox, each allowed by a person, and resumes after a restart, against a fake Gemini API") {
  AgentWorld w(allow_loopback);
  install(w, "gemini");
  test::FakeGemini model;
  const std::string key = "AIza-test-" + std::string(32, 'k');
  set_secrets(w, {{"GEMINI_API_KEY", key}, {"GOOGLE_GEMINI_BASE_URL", model.url()}, {"GEMINI_MODEL", "gemini-fake-1"}});
  // Gemini CLI 0.61 loses a session it loads within the minute the session began (it
  // names the session's file by that minute and writes its fresh start into it): the
  // restart here comes seconds after the start, so Hearth waits for the next minute.
  exercise(w, {"gemini", "gemini-cli", "written by gemini\n", key, true,
               prompts_of<test::FakeGemini>(model, [](const auto& s) { return s.method == "streamGenerateContent"; })});
  auto seen = model.seen();
  REQUIRE(!seen.empty());
  bool streamed_with_model = false;
  for (const auto& s : seen) {
    CHECK(s.api_key == key);
    streamed_with_model = streamed_with_model || (s.method == "streamGenerateContent" && s.model == "gemini-fake-1");
  }
  CHECK(streamed_with_model);
}

TEST_CASE("OpenCode under network proxy writes a file and runs a command in the sandbox, each allowed by a person, and resumes after a restart, against a fake Anthropic API") {
  AgentWorld w(allow_loopback);
  install(w, "opencode");
  test::FakeAnthropic model;
  const std::string key = "sk-ant-test-" + std::string(32, 'k');
  // The base as Claude Code takes it, without /v1: Hearth adds /v1 for OpenCode's SDK.
  set_secrets(w, {{"ANTHROPIC_API_KEY", key}, {"ANTHROPIC_BASE_URL", model.url()},
                  {"OPENCODE_MODEL", "anthropic/claude-fake-1"}});
  exercise(w, {"opencode", "OpenCode", "written by opencode\n", key, true, prompts_of(model)});
  auto seen = model.seen();
  REQUIRE(!seen.empty());
  bool with_model = false;
  for (const auto& s : seen) {
    CHECK(s.api_key == key);
    with_model = with_model || s.model == "claude-fake-1";  // not in OpenCode's catalog: Hearth declares it
  }
  CHECK(with_model);
}
