// Control groups for sandboxes: a ceiling on the number of processes and on the memory
// of everything one sandbox runs (RLIMIT_NPROC does not bind root, so this is the only
// process limit that holds), and a list of every process it still has, so that stopping
// a sandbox, or reaping after a crash, misses none. Each server (data dir) gets a group
// of its own, `hearth-<hash of the data dir>`, under the groups the server itself is in;
// each sandbox a child group named by its actor id.
//
// cgroup v1 (the pids and memory hierarchies) and v2 (the unified hierarchy, where the
// server's group must allow child groups with the pids and memory controllers) are
// both understood. Where neither is writable, available() is false and the reason says
// why: sandboxes still run, without the process and memory ceilings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/error.h"

namespace hearth::sandbox {

struct GroupLimits {
  std::int64_t max_processes = 0;  // 0: no limit
  std::int64_t max_memory_bytes = 0;  // 0: no limit
};

class Cgroups {
 public:
  // Finds the writable hierarchies; `data_dir` names this server's parent group.
  static Cgroups detect(const std::filesystem::path& data_dir);

  bool available() const { return !dirs_.empty(); }
  // "cgroup v1 (pids, memory)", "cgroup v2", or why there are no groups.
  const std::string& description() const { return description_; }

  // Creates (or reuses) the group `name` with `limits`; returns the cgroup.procs files a
  // process writes its pid into to join it (empty when groups are unavailable).
  Result<std::vector<std::string>> prepare(const std::string& name, const GroupLimits& limits) const;
  // The processes in group `name` now.
  std::vector<int> pids(const std::string& name) const;
  // Kills every process in group `name` (until none is left, up to a few seconds) and
  // removes the group. True when it is gone.
  bool destroy(const std::string& name) const;
  // The sandbox groups that exist under this server's group (after a crash: orphans).
  std::vector<std::string> groups() const;
  // Removes the groups without processes, and this server's group when that leaves it
  // empty (at shutdown: nothing of a stopped server stays behind in /sys/fs/cgroup).
  void remove_empty() const;

 private:
  enum class Version { none, v1, v2 };
  Version version_ = Version::none;
  // v1: this server's group in the pids and memory hierarchies; v2: one dir.
  std::vector<std::filesystem::path> dirs_;
  std::string description_;
};

}  // namespace hearth::sandbox
