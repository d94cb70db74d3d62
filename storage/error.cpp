// Names for error codes, as they appear in JSON errors ({"error":{"code":...}}).
#include "storage/error.h"

#include <nlohmann/json.hpp>

#include <array>

namespace hearth {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 14> kNames{{
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
    {ErrorCode::interrupted, "interrupted"},
    {ErrorCode::payment_required, "payment_required"},
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

nlohmann::json error_to_json(const Error& e) {
  return nlohmann::json{{"code", to_string(e.code)}, {"message", e.message}};
}

Error error_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Error{ErrorCode::internal, "malformed error"};
  auto code = error_code_from_string(j.value("code", "internal"));
  return Error{code.value_or(ErrorCode::internal), j.value("message", "")};
}

}  // namespace hearth
