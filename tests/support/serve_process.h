// Helpers for tests that run `hearth serve` as a child process.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "sandbox/process.h"

namespace hearth::test {

struct Run {
  int code = -1;
  std::string out;  // stdout and stderr, interleaved
};

// Runs `hearth ARGS` with `env` (added to this process's) and `input` on stdin.
inline Run run_hearth(std::vector<std::string> args, std::vector<std::string> env, const std::string& input = "",
                      std::chrono::seconds limit = std::chrono::seconds(60)) {
  args.insert(args.begin(), HEARTH_BINARY);
  auto p = sandbox::Process::spawn({args, env, {}, true});
  REQUIRE(p.ok());
  if (!input.empty()) REQUIRE(p->write(input).ok());
  p->close_stdin();
  Run r;
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until)
    if (auto line = p->read_line(limit)) r.out += *line + "\n";
    else break;
  auto code = p->wait(std::chrono::seconds(10));
  REQUIRE_MESSAGE(code.ok(), "hearth " << args[1] << " did not end: " << r.out);
  r.code = *code;
  return r;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Reads the child's stdout until it says where it listens; returns the port.
inline int port_from(sandbox::Process& p) {
  std::regex listening(R"(hearth listening on http://127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 50; ++i) {
    auto line = p.read_line(std::chrono::seconds(10));
    REQUIRE(line);
    std::smatch m;
    if (std::regex_search(*line, m, listening)) return std::stoi(m[1]);
  }
  FAIL("hearth serve never said where it listens");
  return 0;
}

}  // namespace hearth::test
