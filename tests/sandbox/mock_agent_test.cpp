// `hearth mock-agent` as a real child process spoken to over ACP (NDJSON JSON-RPC on
// stdio), with a small client here that answers the agent's requests.
#include <doctest/doctest.h>

#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "sandbox/process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// The client side of one connection. Agent requests are answered by `serve`.
class Client {
 public:
  using Serve = std::function<json(const std::string& method, const json& params)>;  // result, or {"error":…}

  // Sessions are kept under `home` (HOME), so that a later agent can load them.
  explicit Client(const std::filesystem::path& home) {
    auto p = sandbox::Process::spawn({{HEARTH_BINARY, "mock-agent"}, {"HOME=" + home.string()}, {}});
    REQUIRE(p.ok());
    agent_ = std::make_unique<sandbox::Process>(std::move(*p));
  }

  void send(const json& msg) { REQUIRE(agent_->write(msg.dump() + "\n").ok()); }
  void send_raw(const std::string& line) { REQUIRE(agent_->write(line + "\n").ok()); }

  // Sends a request and reads until its response; updates and agent requests on the way
  // are collected and served.
  json call(const std::string& method, const json& params, const Serve& serve = {}) {
    auto id = next_id_++;
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
    return until_response(id, serve);
  }

  json until_response(const json& id, const Serve& serve = {}) {
    for (int i = 0; i < 200000; ++i) {
      auto line = agent_->read_line(10s);
      REQUIRE_MESSAGE(line, "the agent said nothing more while we waited for response " << id);
      auto msg = json::parse(*line);
      CHECK(msg["jsonrpc"] == "2.0");
      if (!msg.contains("method")) {
        if (msg["id"] == id) return msg;
        continue;
      }
      if (msg["method"] == "session/update") {
        updates.push_back(msg["params"]["update"]);
        continue;
      }
      requests.push_back(msg);
      json answer = serve ? serve(msg["method"].get<std::string>(), msg["params"]) : json::object();
      if (answer.contains("error")) send({{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"error", answer["error"]}});
      else send({{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"result", answer}});
    }
    FAIL("no response");
    return nullptr;
  }

  // initialize + session/new; returns the session id.
  std::string start(const std::string& cwd = "/workspace") {
    auto init = call("initialize", {{"protocolVersion", 1}, {"clientCapabilities", {{"fs", {{"readTextFile", true}, {"writeTextFile", true}}}, {"terminal", true}}}});
    REQUIRE(init["result"]["protocolVersion"] == 1);
    auto made = call("session/new", {{"cwd", cwd}, {"mcpServers", json::array()}});
    session = made["result"]["sessionId"].get<std::string>();
    return session;
  }

  json prompt(const std::string& text, const Serve& serve = {}) {
    return call("session/prompt", {{"sessionId", session}, {"prompt", {{{"type", "text"}, {"text", text}}}}}, serve);
  }

  // The text of every update of `kind`, concatenated.
  std::string text_of(const std::string& kind) const {
    std::string out;
    for (const auto& u : updates)
      if (u["sessionUpdate"] == kind) out += u["content"]["text"].get<std::string>();
    return out;
  }

  std::unique_ptr<sandbox::Process> agent_;
  std::vector<json> updates, requests;
  std::string session;
  std::int64_t next_id_ = 0;
};

}  // namespace

TEST_CASE("mock agent: initialize, a session, and a turn of messages, thoughts, a plan and echoes") {
  test::TempDir home;
  Client c(home.path());
  c.start();
  CHECK(c.session.starts_with("mock-"));
  auto done = c.prompt("/say hello there world\n/think pondering deeply\n/plan read;fix;test\njust text");
  CHECK(done["result"]["stopReason"] == "end_turn");
  CHECK(c.text_of("agent_message_chunk") == "hello there world" "just text");
  int chunks = 0;
  for (const auto& u : c.updates) chunks += u["sessionUpdate"] == "agent_message_chunk";
  CHECK(chunks >= 4);  // streamed in several chunks
  CHECK(c.text_of("agent_thought_chunk") == "pondering deeply");
  bool planned = false;
  for (const auto& u : c.updates)
    if (u["sessionUpdate"] == "plan") {
      planned = true;
      CHECK(u["entries"].size() == 3);
      CHECK(u["entries"][1]["content"] == "fix");
    }
  CHECK(planned);
}

TEST_CASE("mock agent: files and commands go through the client's fs and terminal methods") {
  test::TempDir home;
  Client c(home.path());
  c.start("/workspace");
  json written;
  auto done = c.prompt("/write notes/a.txt hello file\n/read notes/a.txt\n/read missing.txt\n/run git status --short",
                       [&](const std::string& method, const json& p) -> json {
                         if (method == "fs/write_text_file") {
                           written = p;
                           return json::object();
                         }
                         if (method == "fs/read_text_file") {
                           if (p["path"] == "/workspace/missing.txt")
                             return {{"error", {{"code", -32002}, {"message", "Resource not found"}}}};
                           return {{"content", "hello file"}};
                         }
                         if (method == "terminal/create") {
                           CHECK(p["command"] == "git");
                           CHECK(p["args"] == json::array({"status", "--short"}));
                           CHECK(p["cwd"] == "/workspace");
                           return {{"terminalId", "term-1"}};
                         }
                         if (method == "terminal/wait_for_exit") return {{"exitCode", 0}, {"signal", nullptr}};
                         if (method == "terminal/output") return {{"output", " M a.txt\n"}, {"truncated", false}};
                         if (method == "terminal/release") return json::object();
                         return {{"error", {{"code", -32601}, {"message", "Method not found"}}}};
                       });
  CHECK(done["result"]["stopReason"] == "end_turn");
  CHECK(written["path"] == "/workspace/notes/a.txt");
  CHECK(written["content"] == "hello file");
  CHECK(written["sessionId"] == c.session);
  auto said = c.text_of("agent_message_chunk");
  CHECK(said.find("read /workspace/notes/a.txt: hello file") != std::string::npos);
  CHECK(said.find("could not read /workspace/missing.txt: Resource not found") != std::string::npos);
  CHECK(said.find("ran git status --short, exit code 0") != std::string::npos);
  std::vector<std::string> methods;
  for (const auto& r : c.requests) methods.push_back(r["method"]);
  CHECK(methods == std::vector<std::string>{"fs/write_text_file", "fs/read_text_file", "fs/read_text_file",
                                            "terminal/create", "terminal/wait_for_exit", "terminal/output",
                                            "terminal/release"});
  int tool_calls = 0;
  for (const auto& u : c.updates) tool_calls += u["sessionUpdate"] == "tool_call";
  CHECK(tool_calls == 4);
}

TEST_CASE("mock agent: a permission request goes on when allowed and ends the turn when rejected") {
  test::TempDir home;
  Client c(home.path());
  c.start();
  auto answer = [](const char* option) {
    return [option](const std::string& method, const json& p) -> json {
      CHECK(method == "session/request_permission");
      CHECK(p["options"].size() == 3);
      CHECK(p["toolCall"]["title"] == "delete the build");
      return {{"outcome", {{"outcome", "selected"}, {"optionId", option}}}};
    };
  };
  auto allowed = c.prompt("/ask delete the build\n/say done it", answer("allow"));
  CHECK(allowed["result"]["stopReason"] == "end_turn");
  CHECK(c.text_of("agent_message_chunk").find("done it") != std::string::npos);
  c.updates.clear();
  auto rejected = c.prompt("/ask delete the build\n/say done it", answer("reject"));
  CHECK(rejected["result"]["stopReason"] == "end_turn");
  CHECK(c.text_of("agent_message_chunk").find("was refused") != std::string::npos);
  CHECK(c.text_of("agent_message_chunk").find("done it") == std::string::npos);
}

TEST_CASE("mock agent: cancel interrupts a turn, /fail answers an error, /stream streams, /crash exits") {
  test::TempDir home;
  Client c(home.path());
  c.start();
  c.send({{"jsonrpc", "2.0"}, {"id", 100}, {"method", "session/prompt"},
          {"params", {{"sessionId", c.session}, {"prompt", {{{"type", "text"}, {"text", "/sleep 20000\n/say too late"}}}}}}});
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  c.send({{"jsonrpc", "2.0"}, {"method", "session/cancel"}, {"params", {{"sessionId", c.session}}}});
  auto cancelled = c.until_response(100);
  CHECK(cancelled["result"]["stopReason"] == "cancelled");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(c.text_of("agent_message_chunk").find("too late") == std::string::npos);

  auto failed = c.prompt("/fail the model is down");
  CHECK(failed["error"]["code"] == -32603);
  CHECK(failed["error"]["data"]["details"] == "the model is down");

  c.updates.clear();
  CHECK(c.prompt("/stream 500")["result"]["stopReason"] == "end_turn");
  CHECK(c.updates.size() == 500);

  c.send({{"jsonrpc", "2.0"}, {"id", 200}, {"method", "session/prompt"},
          {"params", {{"sessionId", c.session}, {"prompt", {{{"type", "text"}, {"text", "/crash"}}}}}}});
  auto code = c.agent_->wait(10s);
  REQUIRE(code.ok());
  CHECK(*code == 3);
}

TEST_CASE("mock agent: malformed lines, unknown methods and unknown sessions get JSON-RPC errors") {
  test::TempDir home;
  Client c(home.path());
  c.send_raw("this is not json");
  auto parse = json::parse(*c.agent_->read_line(10s));
  CHECK(parse["error"]["code"] == -32700);
  CHECK(parse["id"].is_null());
  CHECK(c.call("no/such_method", json::object())["error"]["code"] == -32601);
  c.start();
  auto unknown = c.call("session/prompt", {{"sessionId", "nope"}, {"prompt", json::array()}});
  CHECK(unknown["error"]["code"] == -32002);
  CHECK(c.call("session/new", json::object())["error"]["code"] == -32602);
  // Members of the wrong type (found by fuzzing: they ended the agent): errors, and it goes on.
  CHECK(c.call("session/load", {{"sessionId", 7}})["error"]["code"] == -32602);
  CHECK(c.call("session/prompt", json::array({1, 2}))["error"]["code"] == -32602);
  c.send({{"jsonrpc", "2.0"}, {"id", 99}, {"method", {{"not", "a string"}}}});
  CHECK(c.until_response(99)["error"]["code"] == -32602);
  CHECK(c.call("no/such_method", json::object())["error"]["code"] == -32601);  // still there
}

TEST_CASE("mock agent: a later process resumes a session with session/load, replaying its prompts") {
  test::TempDir home;
  std::string session;
  {
    Client first(home.path());
    session = first.start();
    CHECK(first.prompt("/say one")["result"]["stopReason"] == "end_turn");
    CHECK(first.prompt("/say two")["result"]["stopReason"] == "end_turn");
  }
  Client second(home.path());
  auto init = second.call("initialize", {{"protocolVersion", 1}});
  CHECK(init["result"]["agentCapabilities"]["loadSession"] == true);
  auto loaded = second.call("session/load", {{"sessionId", session}, {"cwd", "/workspace"}, {"mcpServers", json::array()}});
  CHECK(loaded["result"] == json::object());
  REQUIRE(second.updates.size() == 2);
  CHECK(second.text_of("user_message_chunk") == "/say one\n/say two\n");
  second.session = session;
  second.updates.clear();
  CHECK(second.prompt("/history")["result"]["stopReason"] == "end_turn");
  CHECK(second.text_of("agent_message_chunk") == "this session has seen 3 prompts");
  auto unknown = second.call("session/load", {{"sessionId", "mock-nope"}, {"cwd", "/workspace"}, {"mcpServers", json::array()}});
  CHECK(unknown["error"]["code"] == -32002);
}
