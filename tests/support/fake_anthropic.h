// A fake of Anthropic's Messages API on 127.0.0.1, speaking its wire format: POST
// /v1/messages answered as a server-sent event stream (message_start,
// content_block_start/delta/stop, message_delta, message_stop) or as one JSON message,
// and /v1/messages/count_tokens. Its "model" is a script: asked to write a file while
// a Write tool is offered (Claude Code's mcp__acp__Write, OpenCode's write), it calls
// the tool; asked to run the command while a Bash tool is offered (mcp__acp__Bash,
// bash), it runs one; with the asked-for tool's result in hand, it says it is done;
// otherwise it says hello. It records each request's API key, version, model and the
// people's prompts it carried.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/loopback_server.h"

namespace hearth::test {

class FakeAnthropic {
 public:
  // Over HTTPS with `tls`, at `address` (127.0.0.2: apart from the server's 127.0.0.1).
  explicit FakeAnthropic(const TestCertificate* tls = nullptr, std::string address = "127.0.0.1")
      : http_(tls, std::move(address)) {
    http_.server().Post("/v1/messages/count_tokens", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"input_tokens":10})", "application/json");
    });
    http_.server().Post("/v1/messages", [this](const httplib::Request& req, httplib::Response& res) { messages(req, res); });
    http_.start();
  }

  std::string url() const { return http_.url(); }
  // The shell command its model runs when asked to run the command (set before a turn).
  std::string run_command = "echo ran in $(pwd) > ran.txt && cat ran.txt";

  struct Seen {
    std::string api_key, version, model;
    bool stream = false;
    std::vector<std::string> prompts;  // the text blocks of every user message in the request, in order
  };
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  using json = nlohmann::json;

  static std::string event(const std::string& name, const json& data) {
    return "event: " + name + "\ndata: " + data.dump() + "\n\n";
  }

  void messages(const httplib::Request& req, httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      res.status = 400;
      res.set_content(R"({"type":"error","error":{"type":"invalid_request_error","message":"bad JSON"}})", "application/json");
      return;
    }
    auto model = body.value("model", std::string("claude"));
    const auto& messages = body.value("messages", json::array());
    {
      Seen seen{req.get_header_value("x-api-key"), req.get_header_value("anthropic-version"), model,
                body.value("stream", false), {}};
      for (const auto& m : messages) {
        if (m.value("role", "") != "user") continue;
        if (m["content"].is_string()) seen.prompts.push_back(m["content"]);
        if (!m["content"].is_array()) continue;
        for (const auto& c : m["content"])
          if (c.is_object() && c.value("type", "") == "text") seen.prompts.push_back(c.value("text", ""));
      }
      std::lock_guard lock(mu_);
      seen_.push_back(std::move(seen));
    }
    json last = messages.empty() ? json::object() : messages.back();
    // A message carrying a tool's result is that tool's follow-up: the model is done.
    // Otherwise the message is a prompt, and what it asks decides.
    auto content = last.value("content", json());
    // Claude Code puts tools' results and the next prompt in one message (results of
    // earlier turns too). The model calls the tool the prompt asks for unless that
    // tool's result is already there; then it is done.
    std::set<std::string> results;
    json prompt = json::array();
    if (content.is_array()) {
      for (const auto& c : content) {
        if (!c.is_object()) continue;
        if (c.value("type", "") == "tool_result") results.insert(c.value("tool_use_id", ""));
        else prompt.push_back(c);
      }
      content = prompt;
    }
    std::string write_tool, bash_tool;  // as this agent names them
    for (const auto& t : body.value("tools", json::array())) {
      auto name = t.value("name", "");
      if (name == "mcp__acp__Write" || name == "write") write_tool = name;
      if (name == "mcp__acp__Bash" || name == "bash") bash_tool = name;
    }
    auto said = content.dump();
    bool asked_to_write = said.find("write") != std::string::npos || said.find("Write") != std::string::npos;
    bool asked_to_run = said.find("run the command") != std::string::npos;
    std::string text = results.empty() ? "Hello from the fake model." : "Done, as you asked.";
    json start{{"type", "message_start"},
               {"message", {{"id", "msg_1"}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                            {"content", json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                            {"usage", {{"input_tokens", 10}, {"output_tokens", 1}}}}}};
    if (!body.value("stream", false)) {
      res.set_content(json{{"id", "msg_1"}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                           {"content", json::array({{{"type", "text"}, {"text", text}}})}, {"stop_reason", "end_turn"},
                           {"stop_sequence", nullptr}, {"usage", {{"input_tokens", 10}, {"output_tokens", 5}}}}
                          .dump(),
                      "application/json");
      return;
    }
    std::string out = event("message_start", start);
    std::string stop = "end_turn";
    auto tool = [&](const std::string& name, const json& input) {
      out += event("content_block_start", {{"type", "content_block_start"}, {"index", 0},
                                           {"content_block", {{"type", "tool_use"}, {"id", "toolu_" + name},
                                                              {"name", name}, {"input", json::object()}}}});
      out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", 0},
                                           {"delta", {{"type", "input_json_delta"}, {"partial_json", input.dump()}}}});
      stop = "tool_use";
    };
    const std::string command = run_command;
    if (!bash_tool.empty() && asked_to_run && !results.count("toolu_" + bash_tool)) {
      if (bash_tool == "bash") tool(bash_tool, {{"command", command}, {"description", "write ran.txt"}});
      else tool(bash_tool, {{"command", command}, {"description", "write ran.txt"}, {"timeout", 60000}});
    } else if (!write_tool.empty() && asked_to_write && !results.count("toolu_" + write_tool)) {
      if (write_tool == "write") tool(write_tool, {{"filePath", "/workspace/hello.txt"}, {"content", "written by opencode\n"}});
      else tool(write_tool, {{"file_path", "/workspace/hello.txt"}, {"content", "written by claude\n"}});
    } else {
      out += event("content_block_start", {{"type", "content_block_start"}, {"index", 0},
                                           {"content_block", {{"type", "text"}, {"text", ""}}}});
      out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", 0},
                                           {"delta", {{"type", "text_delta"}, {"text", text}}}});
    }
    out += event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
    out += event("message_delta", {{"type", "message_delta"}, {"delta", {{"stop_reason", stop}, {"stop_sequence", nullptr}}},
                                   {"usage", {{"output_tokens", 5}}}});
    out += event("message_stop", {{"type", "message_stop"}});
    res.set_content(out, "text/event-stream");
  }

  std::mutex mu_;
  std::vector<Seen> seen_;
  LoopbackServer http_;  // last: stops serving before the members above go
};

}  // namespace hearth::test
