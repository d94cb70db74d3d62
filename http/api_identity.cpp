// Routes for sign-in, sessions, API tokens, users, organizations and members.
#include <httplib.h>

#include "storage/text.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/organization/organization_actor.h"
#include "http/actor_calls.h"
#include "http/billing.h"
#include "http/fields.h"
#include "http/routes.h"
#include "http/streams.h"
#include "storage/database.h"

namespace hearth::http {

// The session cookie: Secure with --secure-cookies, or when a TLS proxy in front says the
// request came over HTTPS (X-Forwarded-Proto; trusting it only ever makes the cookie stricter).
std::string session_cookie(const Context& ctx, const std::string& value, std::int64_t max_age_s) {
  bool secure = ctx.edge.config.secure_cookies || ctx.req.get_header_value("X-Forwarded-Proto") == "https";
  return fmt::format("hearth_session={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}", value, max_age_s,
                     secure ? "; Secure" : "");
}

namespace {

Json caller_json(const identity::Caller& c) {
  return Json{{"id", c.user_id}, {"username", c.username}, {"is_admin", c.is_admin}};
}

Result<Reply> sign_in(Context& ctx) {
  auto username = string_field(ctx.body, "username");
  if (!username) return username.error();
  auto password = string_field(ctx.body, "password");
  if (!password) return password.error();
  auto& edge = ctx.edge;
  // Password checks are slow and run a few at a time: a flood of sign-ins may hold a
  // quarter of the workers, no more.
  struct Slot {
    std::atomic<std::size_t>& n;
    ~Slot() { --n; }
  } slot{edge.signing_in};
  if (++edge.signing_in > std::max<std::size_t>(1, edge.config.max_waiting_total / 2)) {
    ctx.res.set_header("Retry-After", "1");
    return Error{ErrorCode::unavailable, "too many sign-ins at once; retry in a second"};
  }
  // Failures slow down the same username from the same address (and, far later, one
  // address across usernames); they never lock an account: its owner signing in from
  // elsewhere is not affected.
  auto address = throttle_key(ctx.client_address());
  auto account_key = address + "|" + *username;
  auto wait = std::max(edge.per_account.wait(account_key), edge.per_address.wait(address));
  if (wait.count() > 0) {
    auto seconds = (wait.count() + 999) / 1000;
    ctx.res.set_header("Retry-After", std::to_string(seconds));
    return Error{ErrorCode::rate_limited,
                 fmt::format("too many failed sign-ins from this address; wait {} s before trying again", seconds)};
  }
  auto user = edge.identity.check_password(*username, *password);
  if (!user) {
    if (user.error().code == ErrorCode::unauthorized) {
      edge.per_account.failed(account_key);
      edge.per_address.failed(address);
      spdlog::info("auth.sign_in_failed username={} address={}", printable(*username, 64), address);
    }
    return user.error();
  }
  edge.per_account.succeeded(account_key);
  auto user_id = (*user)["user_id"].get<std::string>();
  auto session = edge.identity.create_session(user_id, edge.config.session_ttl, sanitize_utf8(ctx.req.get_header_value("User-Agent").substr(0, 256)));
  if (!session) return session.error();
  ctx.res.set_header("Set-Cookie", session_cookie(ctx, session->secret, edge.config.session_ttl.count() / 1000));
  spdlog::info("auth.sign_in user_id={} session={}", user_id, session->info["id"].get<std::string>());
  return Reply{200, Json{{"user", {{"id", user_id}, {"username", (*user)["username"]}, {"is_admin", (*user)["is_admin"]}}},
                         {"session", session->info},
                         {"csrf_token", identity::keyed_hash("csrf", session->secret)}}};
}

Result<Reply> sign_out(Context& ctx) {
  if (ctx.caller->kind == "session")
    if (auto st = ctx.edge.identity.revoke(ctx.caller->user_id, ctx.caller->credential_id, "session"); !st)
      return st.error();
  ctx.res.set_header("Set-Cookie", session_cookie(ctx, "", 0));
  return Reply{200, Json{{"signed_out", true}}};
}

Result<Reply> current_session(Context& ctx) {
  Json out{{"user", caller_json(*ctx.caller)},
           {"credential", {{"id", ctx.caller->credential_id}, {"kind", ctx.caller->kind},
                           {"expires_at", ctx.caller->expires_at ? Json(*ctx.caller->expires_at) : Json(nullptr)}}}};
  if (ctx.via_cookie) out["csrf_token"] = identity::keyed_hash("csrf", ctx.secret);
  return Reply{200, out};
}

Result<Reply> list_sessions(Context& ctx) {
  auto items = ctx.edge.identity.sessions(ctx.caller->user_id);
  if (!items) return items.error();
  for (auto& s : *items) s["current"] = s["id"] == ctx.caller->credential_id;
  return Reply{200, Json{{"items", *items}}};
}

Result<Reply> revoke_session(Context& ctx) {
  if (auto st = ctx.edge.identity.revoke(ctx.caller->user_id, ctx.param("session"), "session"); !st) return st.error();
  return Reply{200, Json{{"revoked", ctx.param("session")}}};
}

Result<Reply> create_token(Context& ctx) {
  auto name = string_field(ctx.body, "name");
  if (!name) return name.error();
  if (name->empty() || name->size() > 100)
    return Error{ErrorCode::invalid, "field \"name\" must be 1 to 100 bytes"};
  auto days = int_field(ctx.body, "expires_in_days", 1, 3650);
  if (!days) return days.error();
  std::optional<std::int64_t> expires;
  if (*days) expires = storage::now_ms() + **days * 24LL * 3600 * 1000;
  auto token = ctx.edge.identity.create_token(ctx.caller->user_id, *name, expires);
  if (!token) return token.error();
  auto body = token->info;
  body["token"] = token->secret;
  spdlog::info("auth.token_created user_id={} token_id={}", ctx.caller->user_id, body["id"].get<std::string>());
  return Reply{201, body};
}

Result<Reply> list_tokens(Context& ctx) {
  auto items = ctx.edge.identity.tokens(ctx.caller->user_id);
  if (!items) return items.error();
  return Reply{200, Json{{"items", *items}}};
}

Result<Reply> revoke_token(Context& ctx) {
  if (auto st = ctx.edge.identity.revoke(ctx.caller->user_id, ctx.param("token"), "token"); !st) return st.error();
  return Reply{200, Json{{"revoked", ctx.param("token")}}};
}

// --- Users (server admins) ------------------------------------------------------

Result<Reply> list_users(Context& ctx) {
  auto limit = ctx.int_query("limit", 100, 1, 500);
  if (!limit) return limit.error();
  auto items = ctx.edge.identity.list_users(ctx.query("after"), static_cast<std::size_t>(*limit));
  if (!items) return items.error();
  Json next = items->size() == static_cast<std::size_t>(*limit) ? items->back()["username"] : Json(nullptr);
  return Reply{200, Json{{"items", *items}, {"next_cursor", next}}};
}

Result<Reply> create_user(Context& ctx) {
  auto username = string_field(ctx.body, "username");
  if (!username) return username.error();
  auto password = string_field(ctx.body, "password");
  if (!password) return password.error();
  auto admin = bool_field(ctx.body, "is_admin");
  if (!admin) return admin.error();
  auto user = ctx.edge.identity.create_user(*username, *password, admin->value_or(false));
  if (!user) return user.error();
  spdlog::info("auth.user_created by={} user_id={}", ctx.caller->user_id, (*user)["user_id"].get<std::string>());
  return Reply{201, *user};
}

Result<Reply> update_user(Context& ctx) {
  auto user = ctx.edge.identity.find_user(ctx.param("username"));
  if (!user) return user.error();
  auto user_id = (*user)["user_id"].get<std::string>();
  auto disabled = bool_field(ctx.body, "disabled");
  if (!disabled) return disabled.error();
  auto password = string_field(ctx.body, "password", false);
  if (!password) return password.error();
  auto keep_tokens = bool_field(ctx.body, "keep_tokens");
  if (!keep_tokens) return keep_tokens.error();
  if (!*disabled && password->empty())
    return Error{ErrorCode::invalid, "give at least one of the fields \"disabled\" and \"password\""};
  if (*disabled) {
    if (user_id == ctx.caller->user_id && **disabled)
      return Error{ErrorCode::conflict, "you cannot disable your own account"};
    if (auto st = ctx.edge.identity.set_disabled(user_id, **disabled); !st) return st.error();
  }
  if (!password->empty())
    if (auto st = ctx.edge.identity.set_password(user_id, *password, keep_tokens->value_or(false)); !st)
      return st.error();
  auto profile = ctx.edge.identity.profile(user_id);
  if (!profile) return profile.error();
  return Reply{200, *profile};
}

// --- Organizations and members ---------------------------------------------------

Result<Reply> create_org(Context& ctx) {
  // Whoever creates an org is its owner: on a shared server that is the admins' call.
  if (!ctx.caller->is_admin && !ctx.edge.config.anyone_creates_orgs)
    return Error{ErrorCode::forbidden, "creating organizations is for server admins on this server (a server admin "
                                       "may open it to everyone with --anyone-creates-orgs)"};
  auto name = string_field(ctx.body, "name");
  if (!name) return name.error();
  auto slug = string_field(ctx.body, "slug", false);
  if (!slug) return slug.error();
  auto org = ctx.edge.identity.create_org(*ctx.caller, *name, slug->empty() ? identity::slugify(*name) : *slug);
  if (!org) return org.error();
  return Reply{201, *org};
}

Result<Reply> list_orgs(Context& ctx) {
  auto items = ctx.edge.identity.orgs_of(ctx.caller->user_id);
  if (!items) return items.error();
  return Reply{200, Json{{"items", *items}}};
}

Result<Reply> get_org(Context& ctx) {
  auto address = actors::organization::address(ctx.org_id);
  auto at = position(ctx, address.id());
  auto org = ctx.edge.host.call(address, actors::organization::kGet);
  if (!org) return org.error();
  (*org)["role"] = ctx.role;
  return positioned(ctx, at, std::move(*org));
}

// PATCH /v1/orgs/{org}: the org's settings ({"settings": {"conventional_titles": bool,
// "auto_archive_prs": bool}}).
Result<Reply> update_org(Context& ctx) {
  if (!ctx.body.is_object() || !ctx.body.contains("settings") || !ctx.body["settings"].is_object())
    return Error{ErrorCode::invalid, "give {\"settings\": {\"conventional_titles\": true|false}}"};
  const auto& settings = ctx.body["settings"];
  static const char* const kKnown[] = {"conventional_titles", "auto_archive_prs"};
  for (const auto& [key, value] : settings.items())
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown))
      return Error{ErrorCode::invalid, fmt::format("unknown setting \"{}\" (known: conventional_titles, "
                                                   "auto_archive_prs)", printable(key))};
  Json change = Json::object();
  for (const char* name : kKnown) {
    auto value = bool_field(settings, name);
    if (!value) return value.error();
    if (*value) change[name] = **value;
  }
  auto address = actors::organization::address(ctx.org_id);
  auto sent = ctx.edge.send(address, actors::organization::kSetSettings, change, true);
  if (!sent) return sent.error();
  return get_org(ctx);
}

Result<Reply> list_members(Context& ctx) {
  auto address = actors::organization::address(ctx.org_id);
  auto at = position(ctx, address.id());
  auto items = ctx.edge.host.call(address, actors::organization::kMembers);
  if (!items) return items.error();
  return positioned(ctx, at, Json{{"items", *items}});
}

Result<std::string> role_field(const Context& ctx, bool required) {
  auto role = string_field(ctx.body, "role", required);
  if (!role) return role.error();
  if (role->empty()) return std::string("member");
  if (actors::organization::role_rank(*role) == 0)
    return Error{ErrorCode::invalid, "field \"role\" must be one of owner, admin, member"};
  return role;
}

// Admins manage members and admins; only owners grant, change or remove ownership.
Status may_touch(const Context& ctx, const std::string& current_role, const std::string& new_role) {
  if (ctx.role == "owner") return {};
  if (current_role == "owner" || new_role == "owner")
    return Error{ErrorCode::forbidden, "only an owner can grant, change or remove the owner role"};
  return {};
}

Result<Reply> queued(Context& ctx, const char* queue, const Json& body) {
  auto r = ctx.edge.send(actors::organization::address(ctx.org_id), queue, body, false);
  if (!r) return r.error();
  return Reply{202, Json{{"message_id", r->message_id}, {"status", r->status}}};
}

Result<Json> member_of(Context& ctx, const std::string& username) { return member_named(ctx, username); }

Result<Reply> add_member(Context& ctx) {
  auto username = string_field(ctx.body, "username");
  if (!username) return username.error();
  auto role = role_field(ctx, false);
  if (!role) return role.error();
  if (auto st = may_touch(ctx, "", *role); !st) return st.error();
  // Adding a name that has no account says so (an admin needs to know), but only so
  // often: past 20 misses in 10 minutes each next try waits longer, so this is no way
  // to list the server's users.
  auto caps = plan_allows(ctx, actors::billing::Work::member);
  if (!caps) return caps.error();
  auto misses = "members:" + ctx.caller->user_id;
  if (auto wait = ctx.edge.member_misses.wait(misses); wait.count() > 0) {
    ctx.res.set_header("Retry-After", std::to_string((wait.count() + 999) / 1000));
    return Error{ErrorCode::rate_limited, "too many names without an account tried; wait before trying again"};
  }
  auto user = ctx.edge.identity.find_user(*username);
  if (!user) {
    if (user.error().code == ErrorCode::not_found) ctx.edge.member_misses.failed(misses);
    return user.error();
  }
  if (!ctx.wait())
    return queued(ctx, actors::organization::kAddMember,
                  {{"user_id", (*user)["user_id"]}, {"username", (*user)["username"]}, {"role", *role}, {"caps", *caps}});
  auto member = ctx.edge.identity.add_member(ctx.org_id, *username, *role, *caps);
  if (!member) return member.error();
  return Reply{201, *member};
}

Result<Reply> set_member_role(Context& ctx) {
  auto role = role_field(ctx, true);
  if (!role) return role.error();
  auto member = member_of(ctx, ctx.param("username"));
  if (!member) return member.error();
  if (auto st = may_touch(ctx, (*member)["role"].get<std::string>(), *role); !st) return st.error();
  auto user_id = (*member)["user_id"].get<std::string>();
  if (!ctx.wait()) return queued(ctx, actors::organization::kSetRole, {{"user_id", user_id}, {"role", *role}});
  auto updated = ctx.edge.identity.set_role(ctx.org_id, user_id, *role);
  if (!updated) return updated.error();
  return Reply{200, *updated};
}

Result<Reply> remove_member(Context& ctx) {
  auto member = member_of(ctx, ctx.param("username"));
  if (!member) return member.error();
  if (auto st = may_touch(ctx, (*member)["role"].get<std::string>(), ""); !st) return st.error();
  auto user_id = (*member)["user_id"].get<std::string>();
  if (!ctx.wait()) return queued(ctx, actors::organization::kRemoveMember, {{"user_id", user_id}});
  if (auto st = ctx.edge.identity.remove_member(ctx.org_id, user_id); !st) return st.error();
  return Reply{200, Json{{"removed", ctx.param("username")}}};
}

}  // namespace

void add_identity_routes(Router& r) {
  r.add({"POST", "/v1/auth/sign-in", Policy::anyone, "directory, user", sign_in});
  r.add({"POST", "/v1/auth/sign-out", Policy::signed_in, "user", sign_out});
  r.add({"GET", "/v1/auth/session", Policy::signed_in, "directory", current_session});
  r.add({"GET", "/v1/auth/sessions", Policy::signed_in, "user", list_sessions});
  r.add({"DELETE", "/v1/auth/sessions/{session}", Policy::signed_in, "user", revoke_session});
  r.add({"POST", "/v1/tokens", Policy::signed_in, "user", create_token});
  r.add({"GET", "/v1/tokens", Policy::signed_in, "user", list_tokens});
  r.add({"DELETE", "/v1/tokens/{token}", Policy::signed_in, "user", revoke_token});
  r.add({"GET", "/v1/users", Policy::server_admin, "directory", list_users});
  r.add({"POST", "/v1/users", Policy::server_admin, "directory, user", create_user});
  r.add({"PATCH", "/v1/users/{username}", Policy::server_admin, "user", update_user});
  r.add({"POST", "/v1/orgs", Policy::signed_in, "directory, organization", create_org});
  r.add({"GET", "/v1/orgs", Policy::signed_in, "directory", list_orgs});
  r.add({"GET", "/v1/orgs/{org}", Policy::org_member, "organization", get_org});
  r.add({"PATCH", "/v1/orgs/{org}", Policy::org_admin, "organization", update_org});
  r.add({"GET", "/v1/orgs/{org}/members", Policy::org_member, "organization", list_members});
  r.add({"POST", "/v1/orgs/{org}/members", Policy::org_admin, "organization", add_member});
  r.add({"PATCH", "/v1/orgs/{org}/members/{username}", Policy::org_admin, "organization", set_member_role});
  r.add({"DELETE", "/v1/orgs/{org}/members/{username}", Policy::org_admin, "organization", remove_member});
}

}  // namespace hearth::http
