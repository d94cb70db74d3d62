// An outside service's base URL as configured (GitHub's API or web, GitHub Enterprise
// Server's /api/v3, Stripe's API, or a test's fake on 127.0.0.1).
#pragma once

#include <string>
#include <string_view>

#include "storage/error.h"

namespace hearth {

// An http(s) base URL split into its origin (scheme://host[:port]), which requests go
// to, and its path prefix ("/api/v3", or empty), which every API path is put under.
struct BaseUrl {
  std::string origin;
  std::string prefix;
  // Fails with invalid for anything but an http:// or https:// URL with a host.
  static Result<BaseUrl> parse(std::string_view url);
};

}  // namespace hearth
