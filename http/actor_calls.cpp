// Actor calls from the edge: see actor_calls.h.
#include "http/actor_calls.h"

#include <fmt/format.h>

#include "actors/organization/organization_actor.h"
#include "http/streams.h"

namespace hearth::http {

Reply accepted(const Context& ctx, const actors::SendReceipt& r, int status) {
  if (!ctx.wait()) return Reply{202, Json{{"message_id", r.message_id}, {"status", r.status}}};
  return Reply{status, r.result};
}

Result<Reply> read(Context& ctx, const Result<actors::Address>& address, const char* action, const Json& args) {
  if (!address) return address.error();
  auto at = position(ctx, address->id());
  auto r = ctx.edge.host.call(*address, action, args);
  if (!r) return r.error();
  return positioned(ctx, at, std::move(*r));
}

Status must_exist(Context& ctx, const Result<actors::Address>& address, const char* what) {
  if (!address) return address.error();
  auto exists = ctx.edge.host.exists(*address);
  if (!exists) return exists.error();
  if (!*exists) return Error{ErrorCode::not_found, fmt::format("no such {}", what)};
  return {};
}

Result<Reply> change(Context& ctx, const Result<actors::Address>& address, const char* queue, const Json& body,
                     int status) {
  if (!address) return address.error();
  auto r = ctx.edge.send(*address, queue, body, ctx.wait());
  if (!r) return r.error();
  return accepted(ctx, *r, status);
}

Result<Json> member_named(Context& ctx, const std::string& username) {
  namespace org = actors::organization;
  return ctx.edge.host.call(org::address(ctx.org_id), org::kMemberNamed, {{"username", username}});
}

}  // namespace hearth::http
