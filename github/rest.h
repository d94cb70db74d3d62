// Requests to GitHub's REST API at a configured base URL (https://api.github.com, or
// GitHub Enterprise Server's https://ghe.example.com/api/v3, or a test's fake), with
// GitHub's headers, its errors mapped onto Hearth's codes, and its rate limits waited out.
// App (app.h) builds on it; nothing else should need it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "storage/base_url.h"
#include "storage/error.h"

namespace httplib {
class Client;
}

namespace hearth::github {

using hearth::BaseUrl;

struct RestResponse {
  int status = 0;
  nlohmann::json body;    // null for an empty body
  std::string link_next;  // the Link header's rel="next" URL, or empty
};

// How long a response asks the caller to pause before trying again, or nothing when it
// is not a rate limit: a 403/429 with retry-after (secondary: that many seconds), a
// 403/429 naming a secondary rate limit without one (a minute), or a 403/429 with
// x-ratelimit-remaining 0 (primary: until x-ratelimit-reset, epoch seconds).
struct RateLimitSignals {
  int status = 0;
  std::string retry_after, remaining, reset, message;
};
std::optional<std::chrono::milliseconds> rate_limit_pause(const RateLimitSignals& signals,
                                                          std::chrono::system_clock::time_point now);

// The URL marked rel="next" in a Link header (`<url>; rel="next", <url>; rel="last"`),
// or empty.
std::string next_link(std::string_view link_header);

// One connection's worth of requests to the API (keep-alive across pages). Not shared
// between threads: each operation makes its own.
class RestClient {
 public:
  RestClient(BaseUrl base, std::chrono::milliseconds timeout, std::chrono::seconds max_rate_limit_wait);
  ~RestClient();

  // `method` ("GET", "POST" or "PATCH") `target` (a path under the base, with its query)
  // with the Authorization header `authorization` and, for POST and PATCH, `body`. Rate limits are waited
  // out (interrupted when `stop` is requested; unavailable past max_rate_limit_wait).
  // A 2xx answers its response; otherwise an Error naming the method, the path and
  // GitHub's message (with a 422's details): 401 unauthorized, 403 forbidden, 404 not_found, 422 invalid, 5xx
  // and unreachable unavailable, others internal. `authorization` is never in a message.
  // `accept`: the Accept header (the API's media type unless told otherwise); an empty
  // `authorization` sends none.
  Result<RestResponse> send(std::string_view method, const std::string& target, const std::string& authorization,
                            const nlohmann::json* body, std::stop_token stop,
                            const std::string& accept = "application/vnd.github+json");

  // The target (path and query) of `url`, an absolute URL GitHub gave (a Link), when it
  // is on the base's origin; invalid when it points elsewhere (a token must not follow).
  Result<std::string> target_of(std::string_view url) const;

  const BaseUrl& base() const { return base_; }

 private:
  BaseUrl base_;
  std::chrono::seconds max_rate_limit_wait_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace hearth::github
