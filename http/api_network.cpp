// An organization's egress allowlist: the hosts its sandboxes with network `proxy` may
// reach through Hearth's egress proxy (sandbox/egress.h, docs/sandboxes.md). Org admins.
//   GET  /v1/orgs/{org}/network            the list, the model API hosts every org has, counts
//   PUT  /v1/orgs/{org}/network            {allow: [pattern]}: the whole list
//   POST /v1/orgs/{org}/network/allow      {hosts: [pattern]}: added
//   POST /v1/orgs/{org}/network/deny       {hosts: [pattern]}: taken off
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "http/fields.h"
#include "http/routes.h"
#include "sandbox/egress.h"

namespace hearth::http {
namespace {

namespace egress = hearth::sandbox::egress;
constexpr std::size_t kMaxPatterns = 500;

// The patterns in `field` (an array of strings), each normalized; fails naming the first
// that is not a host pattern.
Result<Json> patterns_field(const Json& body, const char* field) {
  if (auto st = only_fields(body, {field}); !st) return st.error();
  if (!body.contains(field) || !body[field].is_array())
    return Error{ErrorCode::invalid, fmt::format("give {{\"{}\": [\"registry.npmjs.org\", \"*.github.com\", …]}}", field)};
  if (body[field].size() > kMaxPatterns)
    return Error{ErrorCode::invalid, fmt::format("an allowlist holds at most {} patterns", kMaxPatterns)};
  Json out = Json::array();
  for (const auto& p : body[field]) {
    if (!p.is_string()) return Error{ErrorCode::invalid, fmt::format("field \"{}\" must hold strings", field)};
    auto normalized = egress::normalize_pattern(p.get<std::string>());
    if (!normalized) return normalized.error();
    out.push_back(*normalized);
  }
  return out;
}

Result<Reply> get_network(Context& ctx) {
  auto network = ctx.edge.host.call(actors::organization::address(ctx.org_id), actors::organization::kNetwork);
  if (!network) return network.error();
  Json counts{{"allowed", 0}, {"refused", 0}};
  if (auto runner = ctx.edge.agent_runner(); runner) {
    auto c = (*runner)->runtime().egress_counts(ctx.org_id);
    counts = {{"allowed", c.allowed}, {"refused", c.refused}};
  }
  (*network)["defaults"] = egress::default_hosts();
  (*network)["counts"] = counts;
  return Reply{200, *network};
}

Result<Reply> change(Context& ctx, Json body, const char* what) {
  body["by"] = ctx.caller->username;
  auto r = ctx.edge.send(actors::organization::address(ctx.org_id), actors::organization::kSetNetwork, body, ctx.wait());
  if (!r) return r.error();
  spdlog::info("network.{} by={} org={}", what, ctx.caller->user_id, ctx.org_id);
  if (!ctx.wait()) return Reply{202, Json{{"message_id", r->message_id}, {"status", r->status}}};
  auto out = r->result;
  out["defaults"] = egress::default_hosts();
  return Reply{200, out};
}

Result<Reply> put_network(Context& ctx) {
  auto allow = patterns_field(ctx.body, "allow");
  if (!allow) return allow.error();
  return change(ctx, Json{{"allow", *allow}}, "set");
}

Result<Reply> allow_hosts(Context& ctx) {
  auto hosts = patterns_field(ctx.body, "hosts");
  if (!hosts) return hosts.error();
  return change(ctx, Json{{"add", *hosts}}, "allowed");
}

Result<Reply> deny_hosts(Context& ctx) {
  auto hosts = patterns_field(ctx.body, "hosts");
  if (!hosts) return hosts.error();
  return change(ctx, Json{{"remove", *hosts}}, "denied");
}

}  // namespace

void add_network_routes(Router& r) {
  r.add({"GET", "/v1/orgs/{org}/network", Policy::org_admin, "organization", get_network});
  r.add({"PUT", "/v1/orgs/{org}/network", Policy::org_admin, "organization", put_network});
  r.add({"POST", "/v1/orgs/{org}/network/allow", Policy::org_admin, "organization", allow_hosts});
  r.add({"POST", "/v1/orgs/{org}/network/deny", Policy::org_admin, "organization", deny_hosts});
}

}  // namespace hearth::http
