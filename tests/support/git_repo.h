// Real git repositories for tests: shell helpers and a small origin repository.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

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

// What a script said and how it ended, byte for byte.
struct ScriptRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs `script` with sh in `cwd`, `env` (NAME=VALUE) added and git's system and global
// configuration left out, as Hearth's own git runs; any exit code is returned, not checked.
inline ScriptRun run_script(const std::string& script, std::vector<std::string> env, const std::filesystem::path& cwd) {
  env.insert(env.end(), {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C"});
  sandbox::ProcessSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.extra_env = std::move(env);
  spec.cwd = cwd;
  spec.pipe_stderr = true;
  auto p = sandbox::Process::spawn(spec);
  REQUIRE(p.ok());
  ScriptRun run;
  sandbox::Chunk chunk;
  for (;;) {
    auto read = p->read_chunk(std::chrono::seconds(60), chunk);
    if (read == sandbox::Process::Read::eof) break;
    REQUIRE(read == sandbox::Process::Read::data);
    (chunk.stream == 2 ? run.err : run.out) += chunk.data;
  }
  auto code = p->wait(std::chrono::seconds(60));
  REQUIRE(code.ok());
  run.exit_code = *code;
  return run;
}

}  // namespace hearth::test
