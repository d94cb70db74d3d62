// Error code -> HTTP status, and the JSON error body.
#include "http/errors.h"

#include <nlohmann/json.hpp>

#include "storage/text.h"

namespace hearth::http {

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::conflict: return 409;
    case ErrorCode::too_large: return 413;
    case ErrorCode::unavailable: return 503;
    case ErrorCode::timeout: return 504;
    case ErrorCode::internal: return 500;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::unsupported_media_type: return 415;
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::interrupted: return 503;  // as `unavailable`: the server is stopping
    case ErrorCode::payment_required: return 402;
  }
  return 500;
}

std::string error_body(const Error& error) {
  return json_text(nlohmann::json{{"error", error_to_json(error)}});
}

}  // namespace hearth::http
