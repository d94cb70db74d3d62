// The route table: a hostile method and path (with its query) against every /v1 route.
// Input: "METHOD PATH?QUERY" (first space splits). Matching must never crash, and a
// match's parameters must be segments of the path as given.
#include <cstdint>
#include <string>

#include "http/routes.h"

namespace {

const hearth::http::Router& table() {
  static const auto* router = [] {
    auto* r = new hearth::http::Router;
    using namespace hearth::http;
    for (auto add : {add_identity_routes, add_inspector_routes, add_event_routes, add_secret_routes,
                     add_network_routes, add_sandbox_routes, add_session_routes, add_repo_routes,
                     add_task_routes, add_feed_routes, add_audit_routes, add_github_routes,
                     add_github_auth_routes, add_billing_routes})
      add(*r);
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto space = input.find(' ');
  std::string method = space == std::string::npos ? "GET" : input.substr(0, space);
  std::string target = space == std::string::npos ? input : input.substr(space + 1);
  auto path = target.substr(0, target.find('?'));
  auto m = table().match(method, path);
  if (m.route)
    for (const auto& [name, value] : m.params)
      if (value.find('/') != std::string::npos) __builtin_trap();  // a parameter is one segment
  return 0;
}
