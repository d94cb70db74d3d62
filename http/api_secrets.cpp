// Org secrets: set, list (names and times only), delete; org admins. Values are sealed
// here, at the edge, with the master key, so the plaintext is never queued, stored or
// logged; the organization actor keeps only the sealed bytes.
#include <httplib.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/organization/organization_actor.h"
#include "http/fields.h"
#include "http/routes.h"

namespace hearth::http {
namespace {

constexpr std::size_t kMaxValueBytes = 64 * 1024;

// Secrets become environment variables: NAME of A-Z, 0-9 and '_', not starting with a digit.
Status validate_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return Error{ErrorCode::invalid, "a secret name is 1 to 64 characters"};
  if (std::isdigit(static_cast<unsigned char>(name[0])))
    return Error{ErrorCode::invalid, "a secret name must not start with a digit"};
  for (unsigned char c : name)
    if (!(std::isupper(c) || std::isdigit(c) || c == '_'))
      return Error{ErrorCode::invalid,
                   fmt::format("a secret name holds only A-Z, 0-9 and '_' (it becomes an environment variable); got \"{}\"",
                               name)};
  return {};
}

Result<Reply> list_secrets(Context& ctx) {
  auto items = ctx.edge.host.call(actors::organization::address(ctx.org_id), actors::organization::kSecrets);
  if (!items) return items.error();
  return Reply{200, Json{{"items", *items}}};
}

Result<Reply> set_secret(Context& ctx) {
  const auto& key = ctx.edge.config.master_key;
  if (!key) return Error{ErrorCode::unavailable, "this server has no master key, so it cannot keep secrets"};
  const auto& name = ctx.param("name");
  if (auto st = validate_name(name); !st) return st.error();
  auto value = string_field(ctx.body, "value");
  if (!value) return value.error();
  if (value->empty() || value->size() > kMaxValueBytes)
    return Error{ErrorCode::invalid, fmt::format("field \"value\" must be 1 to {} bytes", kMaxValueBytes)};
  if (value->find('\0') != std::string::npos) return Error{ErrorCode::invalid, "field \"value\" must not hold NUL bytes"};
  auto sealed = key->seal(actors::organization::secret_context(ctx.org_id, name), *value);
  auto r = ctx.edge.send(actors::organization::address(ctx.org_id), actors::organization::kSetSecret,
                         Json{{"name", name}, {"nonce", sealed.nonce}, {"ciphertext", sealed.ciphertext}}, ctx.wait());
  if (!r) return r.error();
  spdlog::info("secrets.set by={} org={} name={}", ctx.caller->user_id, ctx.org_id, name);
  if (!ctx.wait()) return Reply{202, Json{{"message_id", r->message_id}, {"status", r->status}}};
  return Reply{200, r->result};
}

Result<Reply> delete_secret(Context& ctx) {
  const auto& name = ctx.param("name");
  if (auto st = validate_name(name); !st) return st.error();
  auto r = ctx.edge.send(actors::organization::address(ctx.org_id), actors::organization::kDeleteSecret,
                         Json{{"name", name}}, ctx.wait());
  if (!r) return r.error();
  spdlog::info("secrets.deleted by={} org={} name={}", ctx.caller->user_id, ctx.org_id, name);
  if (!ctx.wait()) return Reply{202, Json{{"message_id", r->message_id}, {"status", r->status}}};
  return Reply{200, r->result};
}

}  // namespace

void add_secret_routes(Router& r) {
  r.add({"GET", "/v1/orgs/{org}/secrets", Policy::org_admin, "organization", list_secrets});
  r.add({"PUT", "/v1/orgs/{org}/secrets/{name}", Policy::org_admin, "organization", set_secret});
  r.add({"DELETE", "/v1/orgs/{org}/secrets/{name}", Policy::org_admin, "organization", delete_secret});
}

}  // namespace hearth::http
