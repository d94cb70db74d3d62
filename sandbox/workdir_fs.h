// A work dir's files as an agent names them (ACP fs/read_text_file and
// fs/write_text_file): absolute paths under the agent's view of the work dir, resolved
// by the kernel beneath the work dir (openat2 RESOLVE_BENEATH), so that "..", absolute
// paths elsewhere and symlinks that lead out are all refused.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "storage/error.h"

namespace hearth::sandbox {

class WorkdirFs {
 public:
  static constexpr std::size_t kMaxReadBytes = 16u << 20;

  // `host_root`: the work dir on the host; `agent_root`: the same dir as the agent sees
  // it ("/workspace" inside bwrap, the host path for the local provider).
  WorkdirFs(std::filesystem::path host_root, std::string agent_root);

  // The text, or lines [line, line + limit) (1-based). not_found, forbidden (outside the
  // work dir), invalid (not a regular file, too large).
  Result<std::string> read(const std::string& agent_path, std::optional<std::int64_t> line = std::nullopt,
                           std::optional<std::int64_t> limit = std::nullopt) const;
  // Creates or replaces the file, and its missing parent directories.
  Status write(const std::string& agent_path, const std::string& content) const;

 private:
  Result<std::string> relative(const std::string& agent_path) const;

  std::filesystem::path host_root_;
  std::string agent_root_;
};

}  // namespace hearth::sandbox
