// Control groups for sandboxes: see cgroup.h.
#include "sandbox/cgroup.h"

#include "sandbox/provider.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hearth::sandbox {
namespace {

namespace fs = std::filesystem;

constexpr long kCgroup2Magic = 0x63677270;

bool write_text(const fs::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// This process's group in hierarchy `controller` ("" for v2's unified one), from
// /proc/self/cgroup lines "N:controllers:/path".
std::string own_path(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::stringstream names(line.substr(a + 1, b - a - 1));
    std::string name;
    if (controller.empty() && b == a + 1) return line.substr(b + 1);
    while (std::getline(names, name, ','))
      if (name == controller) return line.substr(b + 1);
  }
  return "/";
}

// A short stable name for the data dir: the parent group of its sandboxes.
std::string scope_name(const fs::path& data_dir) {
  std::error_code ec;
  auto abs = fs::weakly_canonical(fs::absolute(data_dir, ec), ec).string();
  unsigned char hash[8];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(abs.data()), abs.size(), nullptr, 0);
  std::string hex;
  for (auto b : hash) hex += fmt::format("{:02x}", b);
  return "hearth-" + hex;
}

// Makes `dir` and checks that a child group can be made in it.
bool usable(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return false;
  auto probe = dir / ".probe";
  if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) return false;
  ::rmdir(probe.c_str());
  return true;
}

std::vector<int> read_pids(const fs::path& procs) {
  std::vector<int> out;
  std::ifstream in(procs);
  int pid;
  while (in >> pid) out.push_back(pid);
  return out;
}

}  // namespace

Cgroups Cgroups::detect(const fs::path& data_dir) {
  Cgroups c;
  auto scope = scope_name(data_dir);
  struct statfs st {};
  bool v2 = ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == kCgroup2Magic;
  if (!v2 && fs::exists("/sys/fs/cgroup/pids/cgroup.procs")) {
    auto pids = fs::path("/sys/fs/cgroup/pids") / own_path("pids").substr(1) / scope;
    if (!usable(pids)) {
      c.description_ = "cgroup v1 pids hierarchy is not writable: process and memory ceilings are not enforced";
      return c;
    }
    c.version_ = Version::v1;
    c.dirs_.push_back(pids);
    auto memory = fs::path("/sys/fs/cgroup/memory") / own_path("memory").substr(1) / scope;
    if (fs::exists("/sys/fs/cgroup/memory/cgroup.procs") && usable(memory)) {
      c.dirs_.push_back(memory);
      c.description_ = "cgroup v1 (pids, memory)";
    } else {
      c.description_ = "cgroup v1 (pids; memory not writable, so no memory ceiling)";
    }
    return c;
  }
  if (v2) {
    auto parent = fs::path("/sys/fs/cgroup") / own_path("").substr(1);
    auto dir = parent / scope;
    // Child groups get the pids and memory controllers only if every ancestor passes
    // them down; the server's own group must allow that (it does at the root, or when
    // delegated to the server's user).
    (void)write_text(parent / "cgroup.subtree_control", "+pids +memory");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !write_text(dir / "cgroup.subtree_control", "+pids +memory") || !usable(dir)) {
      c.description_ = fmt::format("cgroup v2 at {} does not delegate the pids and memory controllers: process and "
                                   "memory ceilings are not enforced",
                                   parent.string());
      return c;
    }
    c.version_ = Version::v2;
    c.dirs_.push_back(dir);
    c.description_ = "cgroup v2";
    return c;
  }
  c.description_ = "no writable cgroup hierarchy: process and memory ceilings are not enforced";
  return c;
}

Result<std::vector<std::string>> Cgroups::prepare(const std::string& name, const GroupLimits& limits) const {
  std::vector<std::string> procs;
  for (std::size_t i = 0; i < dirs_.size(); ++i) {
    auto dir = dirs_[i] / name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return host_failure(ErrorCode::unavailable, "cannot create the sandbox's control group", dir, std::strerror(errno));
    bool ok = true;
    auto n = [](std::int64_t v, const char* none) { return v > 0 ? std::to_string(v) : std::string(none); };
    if (version_ == Version::v2) {
      ok = write_text(dir / "pids.max", n(limits.max_processes, "max")) &&
           write_text(dir / "memory.max", n(limits.max_memory_bytes, "max"));
    } else if (i == 0) {
      ok = write_text(dir / "pids.max", n(limits.max_processes, "max"));
    } else {
      ok = write_text(dir / "memory.limit_in_bytes", n(limits.max_memory_bytes, "-1"));
    }
    if (!ok)
      return host_failure(ErrorCode::unavailable, "cannot set the limits of the sandbox's control group", dir,
                          std::strerror(errno));
    procs.push_back((dir / "cgroup.procs").string());
  }
  return procs;
}

std::vector<int> Cgroups::pids(const std::string& name) const {
  std::vector<int> out;
  for (const auto& d : dirs_)
    for (int pid : read_pids(d / name / "cgroup.procs"))
      if (std::find(out.begin(), out.end(), pid) == out.end()) out.push_back(pid);
  return out;
}

bool Cgroups::destroy(const std::string& name) const {
  if (dirs_.empty()) return true;
  for (int round = 0; round < 250; ++round) {
    auto left = pids(name);
    for (int pid : left) ::kill(pid, SIGKILL);
    if (left.empty()) {
      bool gone = true;
      for (const auto& d : dirs_) {
        auto dir = d / name;
        if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) gone = false;
      }
      if (gone) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  spdlog::warn("sandbox.cgroup_not_removed group={} pids={}", name, pids(name).size());
  return false;
}

std::vector<std::string> Cgroups::groups() const {
  std::vector<std::string> out;
  if (dirs_.empty()) return out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dirs_[0], ec))
    if (e.is_directory() && e.path().filename().string()[0] != '.') out.push_back(e.path().filename().string());
  return out;
}

void Cgroups::remove_empty() const {
  for (const auto& group : groups())
    if (pids(group).empty())
      for (const auto& d : dirs_) ::rmdir((d / group).c_str());
  for (const auto& d : dirs_) ::rmdir(d.c_str());  // fails, harmlessly, while groups remain
}

}  // namespace hearth::sandbox
