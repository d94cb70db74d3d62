// The route table of the /v1 API: every route declares its method, path pattern,
// who may call it (a Policy, required: a route without one is refused at start and
// fails the authorization test), the actor it targets, and its handler. The server
// matches a request to a route, authenticates the caller, applies the policy (for org
// routes: resolves {org} and the caller's role there), parses the JSON body, and then
// runs the handler with a Context, which reads through actions or mutates through
// queues (actor_calls.h). The route groups are in routes.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/edge.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::http {

enum class Policy {
  unset,         // no policy: refused (every route must say who may call it)
  anyone,        // no sign-in needed (sign-in itself)
  signed_in,     // any signed-in user
  org_member,    // member of {org} (anyone else gets 404: existence is not leaked)
  org_admin,     // admin or owner of {org}
  org_owner,     // owner of {org}
  server_admin,  // a user with the server-wide admin flag
};
std::string_view to_string(Policy p);

struct Context {
  const httplib::Request& req;
  httplib::Response& res;
  Edge& edge;
  std::map<std::string, std::string> params;  // from the path pattern
  Json body;                                  // the parsed JSON body (null when none)
  std::string raw;                            // the body as sent, for raw_body routes only
  std::optional<identity::Caller> caller;
  std::string secret;      // the caller's credential as presented (never logged)
  bool via_cookie = false;  // signed in by session cookie (CSRF rules apply)
  std::string org_id, org_slug, role;  // org routes: the resolved org and the caller's role
  bool streaming = false;      // the handler set up a streamed response itself

  const std::string& param(const std::string& name) const { return params.at(name); }
  std::string query(const std::string& name, const std::string& fallback = "") const;
  // The client's address: the peer, or what a trusted proxy says it forwarded for.
  std::string client_address() const;
  // An integer query parameter in [min, max], `fallback` when absent; invalid (naming
  // the parameter) when it is not such an integer.
  Result<std::int64_t> int_query(const std::string& name, std::int64_t fallback, std::int64_t min,
                                 std::int64_t max) const;
  bool wait() const;  // ?wait=false turns a mutation into 202 + message id
};

// The server's own address, as people reach it (no trailing slash): --public-url, or the
// Host asked for (behind a TLS proxy without --public-url, https when it says so).
std::string own_url(const Context& ctx);

struct Reply {
  int status = 200;
  Json body;
};

using Handler = std::function<Result<Reply>(Context&)>;

struct Route {
  std::string method;   // GET, POST, PATCH, DELETE
  std::string pattern;  // /v1/orgs/{org}/members/{username}
  Policy policy = Policy::unset;
  std::string target;   // the actor type it reads or sends to, for docs and the inspector
  Handler handler;
  // Whether its calls go to the audit log (mutations only). Off for marks that change
  // nothing anyone else sees (read-marks, drafts): they would drown the log.
  bool audited = true;
  // The largest body it takes; 0: the edge's max_body_bytes.
  std::size_t max_body_bytes = 0;
  // Whether its handler reads the body as sent (Context::raw), not parsed as JSON by the
  // edge: a webhook whose signature covers the exact bytes.
  bool raw_body = false;
};

class Router {
 public:
  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // methods of the path, when the method does not match
  };
  Match match(const std::string& method, const std::string& path) const;

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // each route's pattern, split once
};

}  // namespace hearth::http
