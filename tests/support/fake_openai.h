// A fake of OpenAI's Responses API on 127.0.0.1, speaking its wire format as codex uses
// it (a model provider with wire_api="responses"): POST /v1/responses answered as a
// server-sent event stream (response.created, response.output_item.added/done,
// response.output_text.delta, response.completed). Its "model" is a script: asked to
// write a file while codex's apply_patch tool is offered, it adds hello.txt with a
// patch; asked to run the command while exec_command is offered, it runs one; given a
// tool's output, it says it is done; otherwise it says hello. It records each request's
// API key (the bearer token), model and the people's prompts it carried.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/loopback_server.h"

namespace hearth::test {

class FakeOpenAI {
 public:
  FakeOpenAI() {
    http_.server().Post("/v1/responses", [this](const httplib::Request& req, httplib::Response& res) { responses(req, res); });
    http_.start();
  }

  // The base URL as OPENAI_BASE_URL takes it: with /v1.
  std::string url() const { return http_.url() + "/v1"; }

  struct Seen {
    std::string api_key, model;
    bool stream = false;
    std::vector<std::string> prompts;  // the text of every user message in the request, in order
  };
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  using json = nlohmann::json;

  static std::string event(const std::string& type, json data) {
    data["type"] = type;
    return "event: " + type + "\ndata: " + data.dump() + "\n\n";
  }

  void responses(const httplib::Request& req, httplib::Response& res) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("input")) {
      res.status = 400;
      res.set_content(R"({"error":{"type":"invalid_request_error","message":"bad request"}})", "application/json");
      return;
    }
    auto auth = req.get_header_value("Authorization");
    Seen seen{auth.starts_with("Bearer ") ? auth.substr(7) : "", body.value("model", ""), body.value("stream", false), {}};
    const auto& input = body["input"];
    for (const auto& item : input)
      if (item.value("type", "") == "message" && item.value("role", "") == "user")
        for (const auto& c : item.value("content", json::array()))
          if (c.value("type", "") == "input_text") seen.prompts.push_back(c.value("text", ""));
    int n;
    {
      std::lock_guard lock(mu_);
      seen_.push_back(seen);
      n = ++responses_;
    }
    bool offers_patch = false, offers_exec = false;
    for (const auto& t : body.value("tools", json::array())) {
      offers_patch = offers_patch || t.value("name", "") == "apply_patch";
      offers_exec = offers_exec || t.value("name", "") == "exec_command";
    }
    // The last item decides: a tool's output is the follow-up of the model's call (it is
    // done); a prompt asks for what its words say.
    json last = input.empty() ? json::object() : input.back();
    auto kind = last.value("type", "");
    bool after_tool = kind == "function_call_output" || kind == "custom_tool_call_output";
    std::string prompt = seen.prompts.empty() ? "" : seen.prompts.back();
    bool asked_to_write = prompt.find("write") != std::string::npos;
    bool asked_to_run = prompt.find("run the command") != std::string::npos;
    auto id = "resp_" + std::to_string(n);
    std::string out = event("response.created", {{"response", {{"id", id}}}});
    if (!after_tool && offers_exec && asked_to_run) {
      out += event("response.output_item.done",
                   {{"output_index", 0},
                    {"item", {{"type", "function_call"}, {"name", "exec_command"}, {"call_id", "call_exec"},
                              {"arguments", json{{"cmd", "echo ran in $(pwd) > ran.txt && cat ran.txt"}}.dump()}}}});
    } else if (!after_tool && offers_patch && asked_to_write) {
      out += event("response.output_item.done",
                   {{"output_index", 0},
                    {"item", {{"type", "custom_tool_call"}, {"name", "apply_patch"}, {"call_id", "call_patch"},
                              {"input", "*** Begin Patch\n*** Add File: hello.txt\n+written by codex\n*** End Patch\n"}}}});
    } else {
      std::string text = after_tool ? "Done, as you asked." : "Hello from the fake model.";
      json message{{"type", "message"}, {"role", "assistant"}, {"id", "msg_" + id}, {"content", json::array()}};
      out += event("response.output_item.added", {{"output_index", 0}, {"item", message}});
      out += event("response.output_text.delta",
                   {{"output_index", 0}, {"content_index", 0}, {"item_id", message["id"]}, {"delta", text}});
      message["content"].push_back({{"type", "output_text"}, {"text", text}, {"annotations", json::array()}});
      out += event("response.output_item.done", {{"output_index", 0}, {"item", message}});
    }
    out += event("response.completed",
                 {{"response", {{"id", id}, {"usage", {{"input_tokens", 10}, {"input_tokens_details", nullptr},
                                                       {"output_tokens", 5}, {"output_tokens_details", nullptr},
                                                       {"total_tokens", 15}}}}}});
    res.set_content(out, "text/event-stream");
  }

  std::mutex mu_;
  std::vector<Seen> seen_;
  int responses_ = 0;
  LoopbackServer http_;  // last: stops serving before the members above go
};

}  // namespace hearth::test
