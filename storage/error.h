// The one error type every Hearth layer returns, and Result<T>: a value or an Error.
// It lives in storage, the bottom library, so that every other library can use it.
// Codes map to HTTP statuses in exactly one place: http/errors.cpp. Errors travel in
// JSON as {"code", "message"} (error_to_json / error_from_json, the one codec).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hearth {

enum class ErrorCode {
  invalid,       // the request is malformed or names something that does not exist in it
  not_found,     // the addressed thing does not exist
  conflict,      // the request clashes with the current state
  too_large,     // a payload over its size limit
  timeout,       // no answer within the deadline; the work may still complete
  unavailable,   // the service is starting, stopping, or cannot persist right now
  unauthorized,  // no valid identity
  forbidden,     // identity known, permission missing
  internal,      // a bug or an unexpected failure; the message says what failed
  method_not_allowed,      // the path exists, the method does not
  unsupported_media_type,  // a body that is not JSON
  rate_limited,            // too many attempts; try again later
  interrupted,             // the server stopped (or restarted) before the work finished; run it again
  payment_required,        // the organization's plan does not cover it (billing)
};

std::string_view to_string(ErrorCode code);
std::optional<ErrorCode> error_code_from_string(std::string_view text);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

// {"code": "not_found", "message": "..."}: how an Error is stored and sent between actors.
nlohmann::json error_to_json(const Error& e);
// The Error in `j`; an unknown code reads as internal, a value that is not an object as
// an internal "malformed error".
Error error_from_json(const nlohmann::json& j);

// A value of T, or an Error. Constructed implicitly from either.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success without a value, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace hearth
