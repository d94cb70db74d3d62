// How a `hearth` command ends: the exit codes of docs/cli.md, numbered here and nowhere
// else. A command that fails says why on stderr through `fail` and returns its code;
// main.cpp maps the parser's own errors (unknown commands, missing arguments) to
// kExitUsage.
#pragma once

#include <iostream>
#include <string_view>

namespace hearth::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // anything else: the message says what
inline constexpr int kExitUsage = 2;         // the command line is wrong: fix it and run it again
inline constexpr int kExitNotSignedIn = 3;   // no login, a bad or revoked token, or not allowed (401, 403)
inline constexpr int kExitNotFound = 4;      // the server has no such thing (404)

// Prints "hearth: MESSAGE" on stderr and returns `code`.
inline int fail(int code, std::string_view message) {
  std::cerr << "hearth: " << message << "\n";
  return code;
}

// The exit code for a failed HTTP answer.
inline int exit_code_for(int http_status) {
  if (http_status == 401 || http_status == 403) return kExitNotSignedIn;
  if (http_status == 404) return kExitNotFound;
  return kExitFailed;
}

}  // namespace hearth::cli
