// The ACP client driving a real agent process (`hearth mock-agent`) inside a bwrap
// sandbox: full turns, fs and terminal served inside the work dir, permissions, cancel,
// agent errors and crashes, and agents that do not speak ACP.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <thread>

#include "sandbox/acp/client.h"
#include "tests/support/proc.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Fixture {
  test::TempDir data;
  SandboxDir box{data.path() / "box"};
  std::unique_ptr<Provider> bwrap;
  std::vector<json> updates;
  std::mutex mu;
  std::string permission_answer = "allow";

  static constexpr SandboxUser kUser{1'900'000'301, 1'900'000'301};

  Fixture() {
    REQUIRE(make_sandbox_dirs(box, kUser).ok());
    auto p = make_provider("bwrap");
    REQUIRE(p.ok());
    bwrap = std::move(*p);
  }

  acp::AgentSpec mock() {
    acp::AgentSpec spec;
    spec.exec.argv = {"/opt/hearth/hearth", "mock-agent"};
    spec.exec.read_only = {{HEARTH_BINARY, "/opt/hearth/hearth"}};
    spec.exec.user = kUser;
    return spec;
  }

  acp::AgentCallbacks callbacks() {
    acp::AgentCallbacks c;
    c.on_update = [this](const json& u) {
      std::lock_guard lock(mu);
      updates.push_back(u);
    };
    c.on_permission = [this](const json&) -> json {
      return {{"outcome", "selected"}, {"optionId", permission_answer}};
    };
    return c;
  }

  std::string said() {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& u : updates)
      if (u["sessionUpdate"] == "agent_message_chunk") out += u["content"]["text"].get<std::string>();
    return out;
  }
};

// A python agent (run in the sandbox) that opens session s1 and answers each prompt `m`
// with `on_prompt`: python at the indentation of an if's body (8 spaces); `send(m)` writes
// one message, `say(text)` one agent message chunk.
std::string python_agent(const std::string& on_prompt) {
  return R"PY(
import json, subprocess, sys, time
def send(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
def say(text):
    send({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1",
          "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}}})
for line in sys.stdin:
    m = json.loads(line)
    if m.get("method") == "initialize":
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"protocolVersion": 1, "agentCapabilities": {}}})
    elif m.get("method") == "session/new":
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"sessionId": "s1"}})
    elif m.get("method") == "session/prompt":
)PY" + on_prompt;
}

}  // namespace

TEST_CASE("ACP client: a full turn with the mock agent in a bwrap sandbox") {
  Fixture f;
  auto conn = acp::AgentConnection::start(*f.bwrap, f.box, f.mock(), f.callbacks());
  REQUIRE_MESSAGE(conn.ok(), (conn.ok() ? "" : conn.error().message));
  CHECK((*conn)->agent_info()["agentInfo"]["name"] == "hearth-mock");
  CHECK_FALSE((*conn)->session_id().empty());

  auto stop = (*conn)->prompt("/say hi there\n/write notes/todo.txt fix the parser\n/read notes/todo.txt\n"
                              "/run ls notes\n/ask push the branch\n/plan a;b");
  REQUIRE_MESSAGE(stop.ok(), (stop.ok() ? "" : stop.error().message));
  CHECK(*stop == "end_turn");
  std::ifstream in(f.box.work() / "notes" / "todo.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "fix the parser");
  auto said = f.said();
  CHECK(said.find("hi there") != std::string::npos);
  CHECK(said.find("read /workspace/notes/todo.txt: fix the parser") != std::string::npos);
  CHECK(said.find("ran ls notes, exit code 0") != std::string::npos);
  CHECK(said.find("permission to push the branch was granted") != std::string::npos);
  bool terminal_output = false;
  for (const auto& u : f.updates)
    if (u["sessionUpdate"] == "tool_call_update" && u.contains("content") && u["content"].dump().find("todo.txt") != std::string::npos)
      terminal_output = true;
  CHECK(terminal_output);  // the command's output came back through terminal/output

  // A second turn on the same session.
  f.permission_answer = "reject";
  auto again = (*conn)->prompt("/ask delete everything\n/say deleted");
  REQUIRE(again.ok());
  CHECK(f.said().find("was refused") != std::string::npos);
  CHECK(f.said().find("deleted") == std::string::npos);
}

TEST_CASE("ACP client: the agent cannot read or write outside the work dir") {
  Fixture f;
  std::ofstream(f.data.path() / "server-secret.txt") << "top-secret-content";
  auto conn = acp::AgentConnection::start(*f.bwrap, f.box, f.mock(), f.callbacks());
  REQUIRE(conn.ok());
  auto stop = (*conn)->prompt("/write ../escape.txt x\n/read /etc/passwd\n/read ../server-secret.txt");
  REQUIRE(stop.ok());
  auto said = f.said();
  CHECK(said.find("could not write /workspace/../escape.txt") != std::string::npos);
  CHECK(said.find("could not read /etc/passwd") != std::string::npos);
  CHECK(said.find("could not read /workspace/../server-secret.txt") != std::string::npos);
  CHECK(said.find("top-secret-content") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.data.path() / "escape.txt"));
}

TEST_CASE("ACP client: cancel ends a turn, agent errors and crashes end it with the reason") {
  Fixture f;
  auto conn = acp::AgentConnection::start(*f.bwrap, f.box, f.mock(), f.callbacks());
  REQUIRE(conn.ok());
  std::stop_source stop;
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  auto cancelled = (*conn)->prompt("/sleep 20000\n/say too late", stop.get_token());
  canceller.join();
  REQUIRE(cancelled.ok());
  CHECK(*cancelled == "cancelled");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  auto failed = (*conn)->prompt("/fail the model is down");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("the model is down") != std::string::npos);

  auto crashed = (*conn)->prompt("/say about to crash\n/crash");
  REQUIRE_FALSE(crashed.ok());
  CHECK(crashed.error().message == "the agent exited while running a turn");
}

TEST_CASE("ACP client: a program that does not speak ACP, or says nothing, fails to start with the reason") {
  Fixture f;
  acp::AgentSpec chatty;
  chatty.exec.argv = {"sh", "-c", "echo hello, I am not an agent; sleep 5"};
  chatty.exec.user = Fixture::kUser;
  auto c1 = acp::AgentConnection::start(*f.bwrap, f.box, chatty, f.callbacks());
  REQUIRE_FALSE(c1.ok());
  CHECK(c1.error().message.find("broke the protocol while initializing: not JSON-RPC: hello, I am not an agent") !=
        std::string::npos);

  acp::AgentSpec silent;
  silent.exec.argv = {"sleep", "30"};
  silent.exec.user = Fixture::kUser;
  silent.start_timeout = 500ms;
  auto t0 = std::chrono::steady_clock::now();
  auto c2 = acp::AgentConnection::start(*f.bwrap, f.box, silent, f.callbacks());
  REQUIRE_FALSE(c2.ok());
  CHECK(c2.error().message == "the agent did not answer while initializing");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);

  acp::AgentSpec missing;
  missing.exec.argv = {"/no/such/agent"};
  missing.exec.user = Fixture::kUser;
  auto c3 = acp::AgentConnection::start(*f.bwrap, f.box, missing, f.callbacks());
  REQUIRE_FALSE(c3.ok());
  CHECK(c3.error().message ==
        "the agent exited while initializing; its stderr ended with: /no/such/agent: No such file or directory (no "
        "such program in the sandbox)");
}

TEST_CASE("ACP client: an agent flooding requests gets at most 32 served at once, the rest refused at once") {
  Fixture f;
  // An agent (python, in the sandbox) that answers a prompt by asking for 100
  // permissions at once, says when all are sent, and reports what it got back.
  auto agent = python_agent(R"PY(        for i in range(100):
            send({"jsonrpc": "2.0", "id": 1000 + i, "method": "session/request_permission",
                  "params": {"sessionId": "s1", "toolCall": {"toolCallId": "t%d" % i},
                             "options": [{"optionId": "allow", "name": "Allow", "kind": "allow_once"}]}})
        chunk = lambda text: {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}
        send({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1", "update": chunk("sent ")}})
        errors = answered = 0
        while errors + answered < 100:
            r = json.loads(sys.stdin.readline())
            if "error" in r: errors += 1
            else: answered += 1
        send({"jsonrpc": "2.0", "method": "session/update",
              "params": {"sessionId": "s1", "update": chunk("errors %d answered %d" % (errors, answered))}})
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"stopReason": "end_turn"}})
)PY");
  acp::AgentSpec spec;
  spec.exec.argv = {"python3", "-c", agent};
  spec.exec.user = Fixture::kUser;
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0, most = 0;
  bool all_sent = false, released = false;
  auto callbacks = f.callbacks();
  callbacks.on_update = [&](const json& u) {
    {
      std::lock_guard lock(f.mu);
      f.updates.push_back(u);
    }
    std::lock_guard lock(mu);
    all_sent = true;
    cv.notify_all();
  };
  // Each request is held until every one the client took is in, and the agent has sent
  // them all: then the count in flight is the bound, whatever the machine's speed.
  callbacks.on_permission = [&](const json&) -> json {
    std::unique_lock lock(mu);
    most = std::max(most, ++inflight);
    cv.notify_all();
    cv.wait_for(lock, 20s, [&] {
      released = released || (all_sent && inflight >= static_cast<int>(acp::kMaxRequestsAtOnce));
      return released;
    });
    --inflight;
    return {{"outcome", "selected"}, {"optionId", "allow"}};
  };
  auto conn = acp::AgentConnection::start(*f.bwrap, f.box, spec, callbacks);
  REQUIRE_MESSAGE(conn.ok(), (conn.ok() ? "" : conn.error().message));
  auto turn = (*conn)->prompt("go");
  REQUIRE_MESSAGE(turn.ok(), (turn.ok() ? "" : turn.error().message));
  CHECK(most == static_cast<int>(acp::kMaxRequestsAtOnce));
  CHECK(f.said() == "sent errors 68 answered 32");
}

TEST_CASE("ACP client: a process the agent starts cannot speak for it on the stdout it inherited") {
  Fixture f;
  // An agent whose tool (a child that inherits its stdout, as a careless agent's would)
  // writes ACP of its own: a message the agent never said, and an answer to the turn.
  auto agent = python_agent(R"PY(        forged = [{"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1", "update":
                   {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "INJECTED "}}}},
                  {"jsonrpc": "2.0", "id": m["id"], "result": {"stopReason": "refusal"}}]
        script = "".join("printf '%s\\n' '" + json.dumps(x) + "'\n" for x in forged)
        subprocess.run(["sh", "-c", script])  # inherits stdout
        say("genuine")
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"stopReason": "end_turn"}})
)PY");
  acp::AgentSpec spec;
  spec.exec.argv = {"python3", "-c", agent};
  spec.exec.user = Fixture::kUser;
  auto conn = acp::AgentConnection::start(*f.bwrap, f.box, spec, f.callbacks());
  REQUIRE_MESSAGE(conn.ok(), (conn.ok() ? "" : conn.error().message));
  auto turn = (*conn)->prompt("go");
  REQUIRE_MESSAGE(turn.ok(), (turn.ok() ? "" : turn.error().message));
  CHECK(*turn == "end_turn");  // the agent's answer, not the forged one
  CHECK(f.said() == "genuine");
}

TEST_CASE("ACP client: an agent flooding 100 MB of updates is streamed through, a 50 MB line with no newline ends the "
          "turn with the reason, memory stays bounded") {
  Fixture f;
  // Answers "flood" with 1,600 updates of 64 KiB (100 MiB), "line" with 50 MB and no newline.
  auto agent = python_agent(R"PY(        what = m["params"]["prompt"][0]["text"]
        if what == "flood":
            text = "x" * 65536
            update = json.dumps({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1",
                "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}}}) + "\n"
            for i in range(1600):
                sys.stdout.write(update)
            sys.stdout.flush()
            send({"jsonrpc": "2.0", "id": m["id"], "result": {"stopReason": "end_turn"}})
        else:
            block = "y" * (1 << 20)
            for i in range(50):
                sys.stdout.write(block)
            sys.stdout.flush()
            time.sleep(60)
)PY");
  acp::AgentSpec spec;
  spec.exec.argv = {"python3", "-c", agent};
  spec.exec.user = Fixture::kUser;
  std::atomic<std::size_t> bytes{0}, updates{0};
  auto callbacks = f.callbacks();
  callbacks.on_update = [&](const json& u) {
    ++updates;
    bytes += u["content"]["text"].get<std::string>().size();
  };
  using test::rss_mib;
  auto before = rss_mib();
  auto conn = acp::AgentConnection::start(*f.bwrap, f.box, spec, callbacks);
  REQUIRE_MESSAGE(conn.ok(), (conn.ok() ? "" : conn.error().message));
  auto flood = (*conn)->prompt("flood");
  REQUIRE_MESSAGE(flood.ok(), (flood.ok() ? "" : flood.error().message));
  CHECK(*flood == "end_turn");
  CHECK(updates == 1600);
  CHECK(bytes == 1600u * 65536u);
  // Streamed: nothing like the 100 MiB that passed is held.
  if (test::kRssMeaningful) CHECK_MESSAGE(rss_mib() - before < 64, "RSS grew " << rss_mib() - before << " MiB");

  auto line = (*conn)->prompt("line");
  REQUIRE_FALSE(line.ok());
  CHECK_MESSAGE(line.error().message.find("a line longer than 32 MiB") != std::string::npos, line.error().message);
  if (test::kRssMeaningful) CHECK_MESSAGE(rss_mib() - before < 128, "RSS grew " << rss_mib() - before << " MiB");
}
