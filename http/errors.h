// The one place where error codes become HTTP statuses, and the JSON error body
// {"error":{"code":"...","message":"..."}} every failing response carries.
#pragma once

#include <string>

#include "storage/error.h"

namespace hearth::http {

int http_status(ErrorCode code);
std::string error_body(const Error& error);

}  // namespace hearth::http
