// Times as the CLI shows and takes them: see times.h.
#include "cli/times.h"

#include <algorithm>
#include <ctime>
#include <regex>

namespace hearth::cli {

std::string utc_text(std::int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%SZ", &tm);
  return out;
}

std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms) {
  const std::string s(text);
  std::smatch m;
  if (!s.empty() && s.size() <= 15 && s.find_first_not_of("0123456789") == std::string::npos) return std::stoll(s);

  static const std::regex duration(R"(^(\d{1,9})([smhd])$)");
  if (std::regex_match(s, m, duration)) {
    const std::int64_t unit = m[2] == "s" ? 1000 : m[2] == "m" ? 60'000 : m[2] == "h" ? 3'600'000 : 86'400'000;
    return now_ms - std::stoll(m[1]) * unit;
  }

  static const std::regex when(
      R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$)");
  if (!std::regex_match(s, m, when)) return std::nullopt;
  auto number = [&](int i) { return m[i].matched ? std::stoi(m[i]) : 0; };
  std::tm tm{};
  tm.tm_year = number(1) - 1900;
  tm.tm_mon = number(2) - 1;
  tm.tm_mday = number(3);
  tm.tm_hour = number(4);
  tm.tm_min = number(5);
  tm.tm_sec = number(6);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
    return std::nullopt;
  const std::tm asked = tm;
  std::int64_t seconds = timegm(&tm);
  if (tm.tm_mday != asked.tm_mday) return std::nullopt;  // 2026-02-30 is no day
  std::int64_t ms = seconds * 1000;
  if (m[7].matched) ms += std::stoll((m[7].str() + "00").substr(0, 3));
  if (m[8].matched && m[8] != "Z") {
    auto zone = m[8].str();
    zone.erase(std::remove(zone.begin(), zone.end(), ':'), zone.end());
    const int hours = std::stoi(zone.substr(1, 2)), minutes = std::stoi(zone.substr(3, 2));
    if (hours > 23 || minutes > 59) return std::nullopt;
    const std::int64_t offset = (hours * 60 + minutes) * 60'000;
    ms += zone[0] == '+' ? -offset : offset;  // 14:00+02:00 is 12:00Z
  }
  return ms;
}

}  // namespace hearth::cli
