// Real git repositories for tests: a shell helper and a small origin repository.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "sandbox/process.h"

namespace hearth::test {

// Runs `script` with sh; requires exit 0 and returns its stdout and stderr. Its git
// trusts every repository: the tests look into sandboxes' work dirs, which belong to
// the sandboxes' own users.
inline std::string sh(const std::string& script) {
  auto p = sandbox::Process::spawn(
      {{"sh", "-c", script}, {"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*"}, {}, true});
  REQUIRE(p.ok());
  std::string out;
  while (auto line = p->read_line(std::chrono::seconds(60))) out += *line + "\n";
  auto code = p->wait(std::chrono::seconds(60));
  REQUIRE(code.ok());
  REQUIRE_MESSAGE(*code == 0, script << "\n" << out);
  return out;
}

// A repository at `at` with a main branch (README.md, src/a.c, src/b.c) and a dev branch.
inline std::filesystem::path make_repo(const std::filesystem::path& at) {
  sh("set -e; git init -q -b main '" + at.string() + "'; cd '" + at.string() +
     "'; mkdir src; echo one > README.md; echo two > src/a.c; echo three > src/b.c; "
     "git add -A; git -c user.name=t -c user.email=t@t commit -qm init; git branch -q dev");
  return at;
}

}  // namespace hearth::test
