// Metrics registry and Prometheus text rendering: see metrics.h.
#include "actors/host/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hearth::actors {

namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_text(const Labels& labels, const std::string& extra = {}) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k + "=\"" + escape(v) + "\"";
  }
  if (!extra.empty()) {
    if (!out.empty()) out += ',';
    out += extra;
  }
  return out.empty() ? "" : "{" + out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

}  // namespace

Metrics& Metrics::global() {
  static Metrics instance;
  return instance;
}

void Metrics::describe(const std::string& name, const std::string& kind, const std::string& help,
                       std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  auto& family = families_[name];
  if (!family.kind.empty()) return;
  std::sort(buckets.begin(), buckets.end());
  family.kind = kind;
  family.help = help;
  family.buckets = std::move(buckets);
}

void Metrics::add(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  families_[name].series[labels].value += value;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  families_[name].series[labels].value = value;
}

void Metrics::erase(const std::string& name, const Labels& labels) {
  std::lock_guard lock(mu_);
  if (auto f = families_.find(name); f != families_.end()) f->second.series.erase(labels);
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  auto& family = families_[name];
  auto& s = family.series[labels];
  if (s.bucket_counts.size() != family.buckets.size()) s.bucket_counts.assign(family.buckets.size(), 0);
  for (std::size_t i = 0; i < family.buckets.size(); ++i)
    if (value <= family.buckets[i]) {
      s.bucket_counts[i] += 1;
      break;
    }
  s.sum += value;
  s.count += 1;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    auto kind = family.kind.empty() ? "untyped" : family.kind;
    if (!family.help.empty()) out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + kind + "\n";
    for (const auto& [labels, s] : family.series) {
      if (kind != "histogram") {
        out += name + label_text(labels) + " " + number(s.value) + "\n";
        continue;
      }
      double cumulative = 0;
      for (std::size_t i = 0; i < family.buckets.size(); ++i) {
        cumulative += i < s.bucket_counts.size() ? s.bucket_counts[i] : 0;
        out += name + "_bucket" + label_text(labels, "le=\"" + number(family.buckets[i]) + "\"") + " " +
               number(cumulative) + "\n";
      }
      out += name + "_bucket" + label_text(labels, "le=\"+Inf\"") + " " + number(s.count) + "\n";
      out += name + "_sum" + label_text(labels) + " " + number(s.sum) + "\n";
      out += name + "_count" + label_text(labels) + " " + number(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace hearth::actors
