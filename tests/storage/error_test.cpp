// The one error type: every code's name round-trips, the JSON codec reads back what it
// writes, and `interrupted` answers HTTP as `unavailable` did before it had a code.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "http/errors.h"
#include "storage/error.h"

using namespace hearth;

TEST_CASE("every error code reads back from its name, and an unknown name reads as none") {
  for (int i = 0; i <= static_cast<int>(ErrorCode::interrupted); ++i) {
    auto code = static_cast<ErrorCode>(i);
    CAPTURE(i);
    CHECK(error_code_from_string(to_string(code)) == code);
  }
  CHECK(to_string(ErrorCode::interrupted) == "interrupted");
  CHECK_FALSE(error_code_from_string("exploded").has_value());
}

TEST_CASE("an error written as JSON reads back with its code and message") {
  Error e{ErrorCode::interrupted, "interrupted: the server stopped during git push"};
  auto j = error_to_json(e);
  CHECK(j == nlohmann::json{{"code", "interrupted"}, {"message", e.message}});
  auto back = error_from_json(j);
  CHECK(back.code == ErrorCode::interrupted);
  CHECK(back.message == e.message);
}

TEST_CASE("an error JSON with an unknown code reads as internal, and a non-object as a malformed error") {
  auto unknown = error_from_json(nlohmann::json{{"code", "exploded"}, {"message", "m"}});
  CHECK(unknown.code == ErrorCode::internal);
  CHECK(unknown.message == "m");
  auto malformed = error_from_json(nlohmann::json("oops"));
  CHECK(malformed.code == ErrorCode::internal);
  CHECK(malformed.message == "malformed error");
}

TEST_CASE("an interrupted error answers HTTP 503 as unavailable does, in the one error body") {
  CHECK(http::http_status(ErrorCode::interrupted) == 503);
  CHECK(http::http_status(ErrorCode::unavailable) == 503);
  auto body = nlohmann::json::parse(http::error_body(Error{ErrorCode::not_found, "no task \"t_1\""}));
  CHECK(body == nlohmann::json{{"error", {{"code", "not_found"}, {"message", "no task \"t_1\""}}}});
}
