// Process-wide metrics in the Prometheus text format: counters, gauges and histograms
// with labels, rendered by `render()` for GET /metrics. No Debian package provides a
// client library, and the format is small, so this is ours. Updates are a mutex-held
// map lookup: cheap next to a SQLite commit or an HTTP request.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::actors {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  static Metrics& global();

  // Declares a family once (later calls are ignored); `kind` is counter, gauge or histogram.
  void describe(const std::string& name, const std::string& kind, const std::string& help,
                std::vector<double> buckets = {});
  void add(const std::string& name, const Labels& labels, double value = 1);
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double value);
  // Removes one series of a gauge (an actor that hibernated).
  void erase(const std::string& name, const Labels& labels);

  // The whole registry in text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Series {
    double value = 0;
    std::vector<double> bucket_counts;  // histograms: per upper bound, not cumulative
    double sum = 0;
    double count = 0;
  };
  struct Family {
    std::string kind, help;
    std::vector<double> buckets;
    std::map<Labels, Series> series;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace hearth::actors
