// A fake of Google's Gemini API on 127.0.0.1, speaking its wire format as Gemini CLI uses
// it with GOOGLE_GEMINI_BASE_URL: POST /v1beta/models/MODEL:streamGenerateContent?alt=sse
// answered as server-sent events (`data:` GenerateContentResponse chunks),
// :generateContent as one JSON answer (Gemini CLI's model router asks for JSON that
// fits a schema, and gets it), :countTokens. Its "model" is a script: asked to write a
// file while write_file is offered, it calls it; asked to run the command while
// run_shell_command is offered, it calls that (with no $(…): Gemini CLI refuses command
// substitution as "command injection"); given a function's response, it says it
// is done; otherwise it says hello. It records each request's API key (x-goog-api-key),
// model, and the people's prompts it carried.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/loopback_server.h"

namespace hearth::test {

class FakeGemini {
 public:
  FakeGemini() {
    http_.server().Post(R"(/v1beta/models/([^/:]+):(\w+))", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, req.matches[1], req.matches[2]);
    });
    http_.start();
  }

  // The base URL as GOOGLE_GEMINI_BASE_URL takes it: without /v1beta.
  std::string url() const { return http_.url(); }

  struct Seen {
    std::string api_key, model, method;  // method: streamGenerateContent, generateContent, countTokens
    std::vector<std::string> prompts;    // the text parts of every user content in the request, in order
  };
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  using json = nlohmann::json;

  static json answer(const json& parts) {
    return {{"candidates", {{{"content", {{"parts", parts}, {"role", "model"}}}, {"finishReason", "STOP"}, {"index", 0}}}},
            {"usageMetadata", {{"promptTokenCount", 10}, {"candidatesTokenCount", 5}, {"totalTokenCount", 15}}},
            {"modelVersion", "gemini-fake"}};
  }

  void generate(const httplib::Request& req, httplib::Response& res, const std::string& model, const std::string& method) {
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      res.status = 400;
      res.set_content(R"({"error":{"code":400,"message":"bad JSON","status":"INVALID_ARGUMENT"}})", "application/json");
      return;
    }
    Seen seen{req.get_header_value("x-goog-api-key"), model, method, {}};
    const auto& contents = body.value("contents", json::array());
    for (const auto& c : contents)
      if (c.value("role", "") == "user")
        for (const auto& p : c.value("parts", json::array()))
          if (p.contains("text")) seen.prompts.push_back(p["text"].get<std::string>());
    {
      std::lock_guard lock(mu_);
      seen_.push_back(seen);
    }
    if (method == "countTokens") {
      res.set_content(R"({"totalTokens":10})", "application/json");
      return;
    }
    const auto& config = body.value("generationConfig", json::object());
    if (config.value("responseMimeType", "") == "application/json") {
      // Structured output (the model router): an object with the schema's properties.
      json schema = config.contains("responseJsonSchema") ? config["responseJsonSchema"]
                                                          : config.value("responseSchema", json::object());
      json fitted = json::object();
      for (const auto& [name, prop] : schema.value("properties", json::object()).items()) {
        auto type = prop.value("type", "");
        bool number = type.find("INT") != std::string::npos || type.find("NUM") != std::string::npos ||
                      type.find("int") != std::string::npos || type.find("num") != std::string::npos;
        fitted[name] = number ? json(10) : json("simple");
      }
      res.set_content(answer({{{"text", fitted.dump()}}}).dump(), "application/json");
      return;
    }
    bool offers_write = false, offers_shell = false;
    for (const auto& t : body.value("tools", json::array()))
      for (const auto& f : t.value("functionDeclarations", json::array())) {
        offers_write = offers_write || f.value("name", "") == "write_file";
        offers_shell = offers_shell || f.value("name", "") == "run_shell_command";
      }
    json last = contents.empty() ? json::object() : contents.back();
    bool after_tool = false;
    for (const auto& p : last.value("parts", json::array())) after_tool = after_tool || p.contains("functionResponse");
    std::string prompt = seen.prompts.empty() ? "" : seen.prompts.back();
    json parts;
    if (!after_tool && offers_shell && prompt.find("run the command") != std::string::npos) {
      parts = {{{"functionCall", {{"name", "run_shell_command"},
                                  {"args", {{"command", "echo ran in $PWD > ran.txt && cat ran.txt"},
                                            {"description", "write ran.txt"}}}}}}};
    } else if (!after_tool && offers_write && prompt.find("write") != std::string::npos) {
      parts = {{{"functionCall", {{"name", "write_file"},
                                  {"args", {{"file_path", "/workspace/hello.txt"}, {"content", "written by gemini\n"}}}}}}};
    } else {
      parts = {{{"text", after_tool ? "Done, as you asked." : "Hello from the fake model."}}};
    }
    if (method == "generateContent") {
      res.set_content(answer(parts).dump(), "application/json");
      return;
    }
    res.set_content("data: " + answer(parts).dump() + "\r\n\r\n", "text/event-stream");
  }

  std::mutex mu_;
  std::vector<Seen> seen_;
  LoopbackServer http_;  // last: stops serving before the members above go
};

}  // namespace hearth::test
