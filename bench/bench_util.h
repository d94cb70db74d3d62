// Small helpers shared by the benchmarks: timing, percentiles, process RSS, a scratch
// directory, and the rule that the last line printed is one JSON object of figures.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

inline double millis_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The p-th percentile (0..100) of `values`, nearest-rank.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

// A size in /proc/self/status ("VmRSS:", "VmHWM:") in MiB; 0 when absent.
inline double status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == field) {
      double kib;
      status >> kib;
      return kib / 1024.0;
    }
  }
  return 0;
}

// Resident set size of this process in MiB, now and at its peak.
inline double rss_mib() { return status_mib("VmRSS:"); }
inline double peak_rss_mib() { return status_mib("VmHWM:"); }

// A scratch directory beside the build (so on the same disk as a real data dir),
// removed at exit. HEARTH_BENCH_DIR overrides where it goes.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    const char* base = std::getenv("HEARTH_BENCH_DIR");
    auto root = base ? std::filesystem::path(base) : std::filesystem::current_path() / "bench-data";
    path_ = root / (name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void print_figures(const nlohmann::json& figures) { std::cout << figures.dump() << std::endl; }

}  // namespace hearth::bench
