// Names for error codes, as they appear in JSON errors ({"error":{"code":...}}).
#include "storage/error.h"

#include <array>

namespace hearth {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 12> kNames{{
    {ErrorCode::invalid, "invalid"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::conflict, "conflict"},
    {ErrorCode::too_large, "too_large"},
    {ErrorCode::timeout, "timeout"},
    {ErrorCode::unavailable, "unavailable"},
    {ErrorCode::unauthorized, "unauthorized"},
    {ErrorCode::forbidden, "forbidden"},
    {ErrorCode::internal, "internal"},
    {ErrorCode::method_not_allowed, "method_not_allowed"},
    {ErrorCode::unsupported_media_type, "unsupported_media_type"},
    {ErrorCode::rate_limited, "rate_limited"},
}};
}  // namespace

std::string_view to_string(ErrorCode code) {
  for (const auto& [c, name] : kNames)
    if (c == code) return name;
  return "internal";
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
  for (const auto& [c, name] : kNames)
    if (name == text) return c;
  return std::nullopt;
}

}  // namespace hearth
