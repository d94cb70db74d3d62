// Helpers for tests that run `hearth serve` as a child process.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <regex>
#include <string>

#include "sandbox/process.h"

namespace hearth::test {

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
