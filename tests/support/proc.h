// Reading other processes' /proc files from tests. Any process may exit while it is
// read: read(2) then fails (ESRCH), which an ifstream reports by throwing, so these read
// with read(2) and answer "" for a process that is gone.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace hearth::test {

// The whole file, or "" when it cannot be read (the process is gone).
inline std::string read_proc_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

// Under AddressSanitizer freed memory waits in a quarantine (256 MiB) and every byte has
// a shadow: resident memory then says nothing about leaks, and tests skip those checks.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEARTH_TEST_ASAN 1
#endif
#endif
#ifdef HEARTH_TEST_ASAN
inline constexpr bool kRssMeaningful = false;
#else
inline constexpr bool kRssMeaningful = true;
#endif

// This process's resident memory, MiB.
inline long rss_mib() {
  auto statm = read_proc_file("/proc/self/statm");
  long pages = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%ld %ld", &pages, &resident) != 2) return 0;
  return resident * ::sysconf(_SC_PAGESIZE) / (1 << 20);
}

// The pids in /proc now (some may be gone by the time they are read).
inline std::vector<int> proc_pids() {
  std::vector<int> pids;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

// The pids of the processes whose environment or command line holds `needle`.
inline std::vector<int> processes_holding(const std::string& needle) {
  std::vector<int> out;
  for (int pid : proc_pids()) {
    auto dir = std::filesystem::path("/proc") / std::to_string(pid);
    if (read_proc_file(dir / "environ").find(needle) != std::string::npos ||
        read_proc_file(dir / "cmdline").find(needle) != std::string::npos)
      out.push_back(pid);
  }
  return out;
}

// The regular files under `dir` (not following symlinks) that hold `needle`.
inline std::vector<std::filesystem::path> files_holding(const std::filesystem::path& dir, const std::string& needle) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && !it->is_symlink(ec) && read_proc_file(it->path()).find(needle) != std::string::npos)
      out.push_back(it->path());
  return out;
}

}  // namespace hearth::test
