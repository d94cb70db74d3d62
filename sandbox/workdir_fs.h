// A work dir's files as an agent names them (ACP fs/read_text_file and
// fs/write_text_file): absolute paths under the agent's view of the work dir, resolved
// by the kernel beneath the work dir (openat2 RESOLVE_BENEATH), so that "..", absolute
// paths elsewhere and symlinks that lead out are all refused. Every access is made as
// the sandbox's user (this thread's filesystem uid and gid for the call): files it writes
// are the sandbox's, and it can read or replace nothing the sandbox could not. Only
// regular files are read or written: a FIFO, socket or device is refused at once,
// never waited on.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "sandbox/provider.h"
#include "storage/error.h"

namespace hearth::sandbox {

class WorkdirFs {
 public:
  static constexpr std::size_t kMaxReadBytes = 16u << 20;

  // `host_root`: the work dir on the host; `agent_root`: the same dir as the agent sees
  // it ("/workspace" inside bwrap, the host path for the local provider).
  WorkdirFs(std::filesystem::path host_root, std::string agent_root, SandboxUser user = {});

  // The text, or lines [line, line + limit) (1-based). not_found, forbidden (outside the
  // work dir), invalid (not a regular file, too large).
  Result<std::string> read(const std::string& agent_path, std::optional<std::int64_t> line = std::nullopt,
                           std::optional<std::int64_t> limit = std::nullopt) const;
  // Creates or replaces the file, and its missing parent directories.
  Status write(const std::string& agent_path, const std::string& content) const;
  // Creates the directory and its missing parents (0700: only its owner's); nothing to
  // do when it exists. Fails like write() when a step leads outside or is not a dir.
  Status make_dir(const std::string& agent_path) const;

 private:
  Result<std::string> relative(const std::string& agent_path) const;
  // Creates the missing dirs of `rel` (relative to `root`, an fd of the root dir), each
  // step resolved beneath it, with `mode`.
  Status make_dirs(int root, const std::filesystem::path& rel, mode_t mode, const std::string& agent_path) const;

  std::filesystem::path host_root_;
  std::string agent_root_;
  SandboxUser user_;
};

}  // namespace hearth::sandbox
