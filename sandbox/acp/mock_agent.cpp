// The scripted ACP agent: see mock_agent.h.
//
// One thread reads stdin: responses to the agent's own requests wake the turn waiting
// for them; `session/cancel` flags the running turn; every other message is handled in
// order. A prompt turn runs on a thread of its own, so that the reader stays free to
// deliver the answers and cancellations the turn waits for.
#include "sandbox/acp/mock_agent.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::sandbox::acp {
namespace {

using Json = nlohmann::json;

class MockAgent {
 public:
  MockAgent(std::FILE* in, std::FILE* out) : in_(in), out_(out) {}

  int run() {
    std::string line;
    while (read_line(line)) {
      auto msg = Json::parse(line, nullptr, false);
      if (msg.is_discarded() || !msg.is_object()) {
        send({{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", -32700}, {"message", "Parse error"}}}});
        continue;
      }
      if (!msg.contains("method")) {
        answer_received(msg);
        continue;
      }
      // A message of the wrong shape (a method or params not as ACP has them) gets an
      // error answer, never an end of the agent.
      try {
        handle(msg);
      } catch (const Json::exception& e) {
        if (msg.contains("id"))
          reply_error(msg["id"], -32602, "Invalid params", {{"details", std::string(e.what())}});
      }
    }
    // stdin closed: the client is gone. Stop a running turn and leave.
    cancelled_ = true;
    wake_all();
    if (turn_.joinable()) turn_.join();
    return 0;
  }

 private:
  // --- Wire ---------------------------------------------------------------------
  bool read_line(std::string& line) {
    line.clear();
    int c;
    while ((c = std::fgetc(in_)) != EOF) {
      if (c == '\n') {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;  // blank lines are skipped
        return true;
      }
      line.push_back(static_cast<char>(c));
    }
    return !line.empty();
  }

  void send(const Json& msg) {
    std::lock_guard lock(out_mu_);
    auto text = msg.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
  }

  void reply(const Json& id, Json result) { send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}); }
  void reply_error(const Json& id, int code, const std::string& message, Json data = nullptr) {
    Json error{{"code", code}, {"message", message}};
    if (!data.is_null()) error["data"] = std::move(data);
    send({{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}});
  }
  void update(Json u) {
    send({{"jsonrpc", "2.0"},
          {"method", "session/update"},
          {"params", {{"sessionId", session_id_}, {"update", std::move(u)}}}});
  }

  // A request to the client; waits for its answer (nullopt when the client went away).
  std::optional<Json> request(const std::string& method, Json params) {
    std::int64_t id;
    {
      std::lock_guard lock(mu_);
      id = next_id_++;
    }
    params["sessionId"] = session_id_;
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    std::unique_lock lock(mu_);
    answered_.wait(lock, [&] { return answers_.count(id) || closed_; });
    if (!answers_.count(id)) return std::nullopt;
    auto answer = std::move(answers_[id]);
    answers_.erase(id);
    return answer;
  }

  void answer_received(const Json& msg) {
    if (!msg.contains("id") || !msg["id"].is_number_integer()) return;
    std::lock_guard lock(mu_);
    answers_[msg["id"].get<std::int64_t>()] = msg;
    answered_.notify_all();
  }

  void wake_all() {
    std::lock_guard lock(mu_);
    closed_ = true;
    answered_.notify_all();
    slept_.notify_all();
  }

  // --- Client -> agent ------------------------------------------------------------
  void handle(const Json& msg) {
    auto method = msg.value("method", std::string());
    bool is_request = msg.contains("id");
    Json id = is_request ? msg["id"] : Json(nullptr);
    const Json params = msg.value("params", Json::object());
    if (method == "session/cancel") {
      cancelled_ = true;
      std::lock_guard lock(mu_);
      slept_.notify_all();
      return;
    }
    if (!is_request) return;  // other notifications: nothing to do
    if (method == "initialize") {
      reply(id, {{"protocolVersion", 1},
                 {"agentCapabilities", {{"loadSession", !state_dir().empty()}, {"promptCapabilities", Json::object()}}},
                 {"authMethods", Json::array()},
                 {"agentInfo", {{"name", "hearth-mock"}, {"title", "Hearth mock agent"}, {"version", "1"}}}});
    } else if (method == "session/new") {
      if (!params.contains("cwd") || !params["cwd"].is_string())
        return reply_error(id, -32602, "Invalid params", {{"details", "cwd is required"}});
      cwd_ = params["cwd"].get<std::string>();
      session_id_ = new_session_id();
      history_ = Json::array();
      save();
      reply(id, {{"sessionId", session_id_}});
    } else if (method == "session/load") {
      auto wanted = params.value("sessionId", std::string());
      auto saved = load(wanted);
      if (!saved) return reply_error(id, -32002, "Resource not found", {{"details", "no session " + wanted}});
      cwd_ = params.value("cwd", std::string());
      session_id_ = wanted;
      history_ = *saved;
      for (const auto& prompt : history_)  // the history, replayed before the answer
        update({{"sessionUpdate", "user_message_chunk"}, {"content", {{"type", "text"}, {"text", prompt}}}});
      reply(id, Json::object());
    } else if (method == "session/prompt") {
      if (params.value("sessionId", std::string()) != session_id_ || session_id_.empty())
        return reply_error(id, -32002, "Resource not found", {{"details", "unknown session"}});
      if (turn_running_) return reply_error(id, -32600, "Invalid request", {{"details", "a turn is running"}});
      if (turn_.joinable()) turn_.join();
      std::string text;
      for (const auto& block : params.value("prompt", Json::array()))
        if (block.value("type", "") == "text") text += block.value("text", "") + "\n";
      history_.push_back(text);
      save();
      cancelled_ = false;
      turn_running_ = true;
      turn_ = std::thread([this, id, text] {
        try {
          run_turn(id, text);
        } catch (const Json::exception& e) {  // an answer of the wrong shape from the client
          reply_error(id, -32603, "Internal error", {{"details", std::string(e.what())}});
        }
        turn_running_ = false;  // also when the client went away mid-turn
      });
    } else {
      reply_error(id, -32601, "\"Method not found\": " + method, {{"method", method}});
    }
  }

  // --- Sessions kept in $HOME, so that session/load works in a later process ------------
  static std::string state_dir() {
    const char* home = std::getenv("HOME");
    return home && *home ? std::string(home) + "/.hearth-mock" : std::string();
  }

  static std::string new_session_id() {
    std::random_device rd;
    std::string id = "mock-";
    for (int i = 0; i < 4; ++i) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "%04x", rd() & 0xffff);
      id += hex;
    }
    return id;
  }

  void save() const {
    if (state_dir().empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(state_dir(), ec);
    std::ofstream(state_dir() + "/" + session_id_ + ".json") << history_.dump();
  }

  static std::optional<Json> load(const std::string& session) {
    if (state_dir().empty() || session.find('/') != std::string::npos || session.empty()) return std::nullopt;
    std::ifstream in(state_dir() + "/" + session + ".json");
    if (!in) return std::nullopt;
    auto j = Json::parse(in, nullptr, false);
    if (!j.is_array()) return std::nullopt;
    return j;
  }

  // --- The scripted turn -------------------------------------------------------------
  std::string absolute(const std::string& path) const {
    return std::filesystem::path(path).is_absolute() ? path : (std::filesystem::path(cwd_) / path).string();
  }

  void say(const std::string& text, const char* kind = "agent_message_chunk") {
    // Several chunks: words, each with the space that follows it.
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find(' ', start);
      end = end == std::string::npos ? text.size() : end + 1;
      update({{"sessionUpdate", kind}, {"content", {{"type", "text"}, {"text", text.substr(start, end - start)}}}});
      start = end;
    }
  }

  void tool(const std::string& id, const std::string& title, const char* kind, const char* status, Json content = nullptr) {
    Json u{{"sessionUpdate", "tool_call"}, {"toolCallId", id}, {"title", title}, {"kind", kind}, {"status", status}};
    if (!content.is_null()) u["content"] = std::move(content);
    update(std::move(u));
  }
  void tool_done(const std::string& id, const char* status, Json content = nullptr) {
    Json u{{"sessionUpdate", "tool_call_update"}, {"toolCallId", id}, {"status", status}};
    if (!content.is_null()) u["content"] = std::move(content);
    update(std::move(u));
  }
  static Json text_content(const std::string& text) {
    return Json::array({{{"type", "content"}, {"content", {{"type", "text"}, {"text", text}}}}});
  }

  // Runs one line; false ends the turn (its answer already sent).
  bool step(const Json& id, const std::string& line) {
    auto space = line.find(' ');
    auto command = line.substr(0, space);
    auto rest = space == std::string::npos ? std::string() : line.substr(space + 1);
    auto call_id = "call-" + std::to_string(++tool_calls_);
    if (command == "/say") {
      say(rest);
    } else if (command == "/think") {
      say(rest, "agent_thought_chunk");
    } else if (command == "/write") {
      auto sp = rest.find(' ');
      auto path = absolute(rest.substr(0, sp));
      auto content = sp == std::string::npos ? std::string() : rest.substr(sp + 1);
      tool(call_id, "Write " + path, "edit", "in_progress",
           Json::array({{{"type", "diff"}, {"path", path}, {"oldText", nullptr}, {"newText", content}}}));
      auto r = request("fs/write_text_file", {{"path", path}, {"content", content}});
      if (!r) return false;
      if (r->contains("error")) {
        tool_done(call_id, "failed", text_content((*r)["error"].value("message", "write failed")));
        say("could not write " + path + ": " + (*r)["error"].value("message", std::string()));
      } else {
        tool_done(call_id, "completed");
      }
    } else if (command == "/read") {
      auto path = absolute(rest);
      tool(call_id, "Read " + path, "read", "in_progress");
      auto r = request("fs/read_text_file", {{"path", path}});
      if (!r) return false;
      if (r->contains("error")) {
        tool_done(call_id, "failed", text_content((*r)["error"].value("message", "read failed")));
        say("could not read " + path + ": " + (*r)["error"].value("message", std::string()));
      } else {
        auto content = (*r)["result"].value("content", std::string());
        tool_done(call_id, "completed", text_content(content));
        say("read " + path + ": " + content);
      }
    } else if (command == "/run") {
      std::istringstream words(rest);
      std::vector<std::string> argv;
      for (std::string w; words >> w;) argv.push_back(w);
      if (argv.empty()) {
        say("/run needs a command");
        return true;
      }
      tool(call_id, "Run " + rest, "execute", "in_progress");
      Json args = Json::array();
      for (std::size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i]);
      auto created = request("terminal/create", {{"command", argv[0]}, {"args", args}, {"cwd", cwd_}});
      if (!created) return false;
      if (created->contains("error")) {
        tool_done(call_id, "failed", text_content((*created)["error"].value("message", "")));
        return true;
      }
      auto terminal = (*created)["result"].value("terminalId", std::string());
      update({{"sessionUpdate", "tool_call_update"},
              {"toolCallId", call_id},
              {"content", Json::array({{{"type", "terminal"}, {"terminalId", terminal}}})}});
      auto exited = request("terminal/wait_for_exit", {{"terminalId", terminal}});
      auto output = request("terminal/output", {{"terminalId", terminal}});
      (void)request("terminal/release", {{"terminalId", terminal}});
      if (!exited || !output) return false;
      auto code = (*exited)["result"].value("exitCode", Json(nullptr));
      tool_done(call_id, code == 0 ? "completed" : "failed",
                text_content((*output)["result"].value("output", std::string())));
      say("ran " + rest + ", exit code " + code.dump());
    } else if (command == "/ask" || command == "/tool") {
      // /ask TEXT: a request of kind "other". /tool NAME KIND TEXT: as claude-code-acp
      // does, a tool_call (with its kind and _meta.claudeCode.toolName) first, then a
      // request that names only the call's id and title.
      Json call{{"toolCallId", call_id}, {"title", rest}, {"kind", "other"}, {"status", "pending"}};
      if (command == "/tool") {
        std::istringstream words(rest);
        std::string name, kind;
        words >> name >> kind;
        std::string title;
        std::getline(words >> std::ws, title);
        rest = title;
        update({{"sessionUpdate", "tool_call"}, {"toolCallId", call_id}, {"title", title}, {"kind", kind},
                {"status", "pending"}, {"_meta", {{"claudeCode", {{"toolName", name}}}}}});
        call = {{"toolCallId", call_id}, {"title", title}};
      }
      auto r = request("session/request_permission",
                       {{"toolCall", call},
                        {"options", Json::array({{{"optionId", "allow"}, {"name", "Allow"}, {"kind", "allow_once"}},
                                                 {{"optionId", "allow_always"}, {"name", "Always allow"}, {"kind", "allow_always"}},
                                                 {{"optionId", "reject"}, {"name", "Reject"}, {"kind", "reject_once"}}})}});
      if (!r) return false;
      auto outcome = (*r)["result"]["outcome"];
      if (outcome.value("outcome", "") == "cancelled" || cancelled_) {
        finish(id, {{"stopReason", "cancelled"}});
        return false;
      }
      auto option = outcome.value("optionId", std::string());
      if (option != "allow" && option != "allow_always") {
        say("permission to " + rest + " was refused; stopping");
        finish(id, {{"stopReason", "end_turn"}});
        return false;
      }
      say("permission to " + rest + " was granted (" + option + ")");
    } else if (command == "/plan") {
      Json entries = Json::array();
      std::istringstream steps(rest);
      for (std::string s; std::getline(steps, s, ';');)
        if (!s.empty()) entries.push_back({{"content", s}, {"priority", "medium"}, {"status", "pending"}});
      update({{"sessionUpdate", "plan"}, {"entries", entries}});
    } else if (command == "/sleep") {
      auto ms = std::atoll(rest.c_str());
      std::unique_lock lock(mu_);
      slept_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return cancelled_.load() || closed_; });
    } else if (command == "/await") {
      // Until the file exists (a test makes it when it is ready), at most a minute.
      auto path = absolute(rest);
      std::unique_lock lock(mu_);
      for (int i = 0; i < 6000 && !std::filesystem::exists(path); ++i)
        if (slept_.wait_for(lock, std::chrono::milliseconds(10), [&] { return cancelled_.load() || closed_; })) break;
    } else if (command == "/stream") {
      auto n = std::atoll(rest.c_str());
      for (long long i = 0; i < n && !cancelled_; ++i)
        update({{"sessionUpdate", "agent_message_chunk"},
                {"content", {{"type", "text"}, {"text", "chunk " + std::to_string(i) + "\n"}}}});
    } else if (command == "/fail") {
      turn_running_ = false;
      reply_error(id, -32603, "Internal error", {{"details", rest}});
      return false;
    } else if (command == "/history") {
      say("this session has seen " + std::to_string(history_.size()) + " prompts");
    } else if (command == "/crash") {
      std::fflush(out_);
      std::_Exit(3);
    } else {
      say(line);
    }
    return true;
  }

  void run_turn(const Json& id, const std::string& script) {
    std::istringstream lines(script);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      if (cancelled_) break;
      if (!step(id, line)) return;
    }
    finish(id, {{"stopReason", cancelled_ ? "cancelled" : "end_turn"}});
  }

  // The turn's answer: the next prompt may come as soon as the client reads it.
  void finish(const Json& id, Json result) {
    turn_running_ = false;
    reply(id, std::move(result));
  }

  std::FILE* in_;
  std::FILE* out_;
  std::mutex out_mu_;
  std::mutex mu_;
  std::condition_variable answered_, slept_;
  std::map<std::int64_t, Json> answers_;
  std::int64_t next_id_ = 0;
  bool closed_ = false;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> turn_running_{false};
  std::thread turn_;
  std::string session_id_, cwd_;
  Json history_ = Json::array();  // the prompts this session has seen
  int tool_calls_ = 0;
};

}  // namespace

int run_mock_agent(std::FILE* in, std::FILE* out) { return MockAgent(in, out).run(); }

}  // namespace hearth::sandbox::acp
