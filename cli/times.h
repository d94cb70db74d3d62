// Times as the CLI shows and takes them: the server speaks Unix milliseconds; people read
// UTC text (2026-11-30 14:02:11Z) and write dates, ISO times or durations ago.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::cli {

// `ms` (Unix milliseconds) as "2026-11-30 14:02:11Z".
std::string utc_text(std::int64_t ms);

// A time given on the command line, as Unix milliseconds: a date (2026-11-30, midnight
// UTC), a date and time (2026-11-30T14:00, 2026-11-30 14:00:05, UTC unless it ends with Z
// or an offset such as +02:00), a duration meaning that long before `now_ms` (90s, 15m,
// 2h, 3d), or Unix milliseconds. nullopt for anything else.
std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms);

// What parse_time takes, for messages.
inline constexpr const char* kTimeForms =
    "a date (2026-11-30), a UTC time (2026-11-30T14:00, 2026-11-30T14:00:00Z, +02:00 for another zone), "
    "a duration ago (90s, 15m, 2h, 3d) or Unix milliseconds";

}  // namespace hearth::cli
