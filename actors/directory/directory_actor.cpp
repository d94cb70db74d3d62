// The directory actor's handlers: see directory_actor.h.
#include "actors/directory/directory_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "actors/host/step_context.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::directory {
namespace {

Json user_row(SQLite::Statement& q) {
  return Json{{"user_id", q.getColumn(0).getString()},
              {"username", q.getColumn(1).getString()},
              {"is_admin", q.getColumn(2).getInt() != 0},
              {"disabled", q.getColumn(3).getInt() != 0},
              {"created_at", q.getColumn(4).getInt64()}};
}

constexpr const char* kUserColumns = "user_id, username, is_admin, disabled, created_at";

Result<Json> register_user(StepContext& ctx, const Json& b) {
  auto username = b.at("username").get<std::string>();
  auto taken = ctx.statement("SELECT user_id FROM users WHERE username = ?");
  sql::bind_all(*taken, username);
  if (taken->executeStep()) {
    if (taken->getColumn(0).getString() == b.at("user_id").get<std::string>()) return Json{{"user_id", b["user_id"]}};
    return Error{ErrorCode::conflict, fmt::format("the username \"{}\" is taken", username)};
  }
  auto ins = ctx.statement("INSERT INTO users(user_id, username, is_admin, created_at) VALUES(?, ?, ?, ?)");
  sql::bind_all(*ins, b.at("user_id").get<std::string>(), username, b.value("is_admin", false),
                b.at("created_at").get<std::int64_t>());
  ins->exec();
  return Json{{"user_id", b["user_id"]}};
}

Result<Json> update_user(StepContext& ctx, const Json& b) {
  auto flag = [&b](const char* name) { return b.contains(name) ? std::optional(b[name].get<bool>()) : std::nullopt; };
  auto version = b.at("version").get<std::int64_t>();
  auto upd = ctx.statement(
      "UPDATE users SET is_admin = COALESCE(?, is_admin), disabled = COALESCE(?, disabled), "
      "version = ? WHERE user_id = ? AND version < ?");
  sql::bind_all(*upd, flag("is_admin"), flag("disabled"), version, b.at("user_id").get<std::string>(), version);
  return Json{{"updated", upd->exec() > 0}};
}

Result<Json> put_credential(StepContext& ctx, const Json& b) {
  auto expires_at = b.value("expires_at", Json(nullptr));
  auto ins = ctx.statement(
      "INSERT OR IGNORE INTO credentials(token_hash, credential_id, user_id, kind, created_at, "
      "expires_at) VALUES(?, ?, ?, ?, ?, ?)");
  sql::bind_all(*ins, b.at("token_hash").get<std::string>(), b.at("credential_id").get<std::string>(),
                b.at("user_id").get<std::string>(), b.at("kind").get<std::string>(),
                b.at("created_at").get<std::int64_t>(),
                expires_at.is_number_integer() ? std::optional(expires_at.get<std::int64_t>()) : std::nullopt);
  ins->exec();
  return Json{{"credential_id", b["credential_id"]}};
}

Result<Json> revoke_credentials(StepContext& ctx, const Json& b) {
  auto at = b.at("at").get<int64_t>();
  int changed;
  if (b.contains("credential_id")) {
    auto upd = ctx.statement("UPDATE credentials SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL");
    sql::bind_all(*upd, at, b["credential_id"].get<std::string>());
    changed = upd->exec();
  } else {
    auto kind = b.contains("kind") ? std::optional(b["kind"].get<std::string>()) : std::nullopt;
    auto upd = ctx.statement(
        "UPDATE credentials SET revoked_at = ? WHERE user_id = ? AND (? IS NULL OR kind = ?) "
        "AND revoked_at IS NULL");
    sql::bind_all(*upd, at, b.at("user_id").get<std::string>(), kind, kind);
    changed = upd->exec();
  }
  return Json{{"revoked", changed}};
}

Result<Json> register_org(StepContext& ctx, const Json& b) {
  auto slug = b.at("slug").get<std::string>();
  auto taken = ctx.statement("SELECT org_id FROM orgs WHERE slug = ?");
  sql::bind_all(*taken, slug);
  if (taken->executeStep()) {
    if (taken->getColumn(0).getString() == b.at("org_id").get<std::string>()) return Json{{"org_id", b["org_id"]}};
    return Error{ErrorCode::conflict, fmt::format("an organization with the slug \"{}\" exists already", slug)};
  }
  auto ins = ctx.statement("INSERT INTO orgs(org_id, slug, name, created_at) VALUES(?, ?, ?, ?)");
  sql::bind_all(*ins, b.at("org_id").get<std::string>(), slug, b.at("name").get<std::string>(),
                b.at("created_at").get<std::int64_t>());
  ins->exec();
  return Json{{"org_id", b["org_id"]}};
}

Result<Json> link_installation(StepContext& ctx, const Json& b) {
  auto installation = b.at("installation_id").get<std::int64_t>();
  auto org = b.at("org_id").get<std::string>();
  auto taken = ctx.statement("SELECT installation_id, org_id FROM github_installations WHERE installation_id = ? OR "
                             "org_id = ?");
  sql::bind_all(*taken, installation, org);
  while (taken->executeStep()) {
    if (taken->getColumn(0).getInt64() == installation && taken->getColumn(1).getString() == org) return b;
    if (taken->getColumn(0).getInt64() == installation)
      return Error{ErrorCode::conflict, fmt::format("GitHub installation {} is linked to another organization; it "
                                                    "must be unlinked there first", installation)};
    return Error{ErrorCode::conflict, fmt::format("this organization is linked to GitHub installation {}; unlink it "
                                                  "first", taken->getColumn(0).getInt64())};
  }
  auto ins = ctx.statement("INSERT INTO github_installations(installation_id, org_id, linked_at) VALUES(?, ?, ?)");
  sql::bind_all(*ins, installation, org, storage::now_ms());
  ins->exec();
  return b;
}

Result<Json> link_customer(StepContext& ctx, const Json& b) {
  auto customer = b.at("customer_id").get<std::string>();
  auto org = b.at("org_id").get<std::string>();
  auto taken = ctx.statement("SELECT customer_id, org_id FROM stripe_customers WHERE customer_id = ? OR org_id = ?");
  sql::bind_all(*taken, customer, org);
  while (taken->executeStep()) {
    if (taken->getColumn(0).getString() == customer && taken->getColumn(1).getString() == org) return b;
    return Error{ErrorCode::conflict, taken->getColumn(0).getString() == customer
                                          ? "that Stripe customer is another organization's"
                                          : "this organization has another Stripe customer"};
  }
  auto ins = ctx.statement("INSERT INTO stripe_customers(customer_id, org_id, linked_at) VALUES(?, ?, ?)");
  sql::bind_all(*ins, customer, org, storage::now_ms());
  ins->exec();
  return b;
}

Result<Json> unlink_installation(StepContext& ctx, const Json& b) {
  auto del = ctx.statement("DELETE FROM github_installations WHERE org_id = ?");
  sql::bind_all(*del, b.at("org_id").get<std::string>());
  return Json{{"unlinked", del->exec() > 0}};
}

// --- GitHub identities ----------------------------------------------------------------------

Json identity_json(SQLite::Statement& q) {
  return Json{{"github_id", q.getColumn(0).getInt64()}, {"login", q.getColumn(1).getString()},
              {"user_id", q.getColumn(2).getString()}, {"linked_at", q.getColumn(3).getInt64()}};
}

Result<Json> link_github(StepContext& ctx, const Json& b) {
  auto github_id = b.at("github_id").get<std::int64_t>();
  auto user_id = b.at("user_id").get<std::string>();
  auto taken = ctx.statement("SELECT github_id, user_id FROM github_identities WHERE github_id = ? OR user_id = ?");
  sql::bind_all(*taken, github_id, user_id);
  while (taken->executeStep()) {
    if (taken->getColumn(0).getInt64() == github_id && taken->getColumn(1).getString() == user_id) continue;
    if (taken->getColumn(0).getInt64() == github_id)
      return Error{ErrorCode::conflict, "that GitHub account is linked to another Hearth user"};
    return Error{ErrorCode::conflict, "this Hearth user is linked to another GitHub account; unlink it first"};
  }
  taken->reset();
  auto up = ctx.statement("INSERT INTO github_identities(github_id, login, user_id, linked_at) VALUES(?1, ?2, ?3, ?4) "
                          "ON CONFLICT(github_id) DO UPDATE SET login = ?2");
  sql::bind_all(*up, github_id, b.at("login").get<std::string>(), user_id, storage::now_ms());
  up->exec();
  return b;
}

Result<Json> unlink_github(StepContext& ctx, const Json& b) {
  auto del = ctx.statement("DELETE FROM github_identities WHERE user_id = ?");
  sql::bind_all(*del, b.at("user_id").get<std::string>());
  return Json{{"unlinked", del->exec() > 0}};
}

Result<Json> github_identity(ReadContext& ctx, const Json& a) {
  bool by_user = a.contains("user_id");
  auto q = ctx.statement(std::string("SELECT github_id, login, user_id, linked_at FROM github_identities WHERE ") +
                         (by_user ? "user_id = ?" : "github_id = ?"));
  if (by_user) sql::bind_all(*q, a["user_id"].get<std::string>());
  else sql::bind_all(*q, a.at("github_id").get<std::int64_t>());
  if (!q->executeStep()) return Error{ErrorCode::not_found, "no GitHub identity linked"};
  return identity_json(*q);
}

Result<Json> installations(ReadContext& ctx, const Json&) {
  auto q = ctx.statement("SELECT installation_id, org_id FROM github_installations ORDER BY linked_at");
  Json items = Json::array();
  while (q->executeStep()) items.push_back({{"installation_id", q->getColumn(0).getInt64()}, {"org_id", q->getColumn(1).getString()}});
  return Json{{"items", items}};
}

Result<Json> customer_org(ReadContext& ctx, const Json& a) {
  auto q = ctx.statement("SELECT org_id FROM stripe_customers WHERE customer_id = ?");
  sql::bind_all(*q, a.at("customer_id").get<std::string>());
  if (!q->executeStep()) return Error{ErrorCode::not_found, "no organization is that Stripe customer"};
  return Json{{"org_id", q->getColumn(0).getString()}};
}

Result<Json> installation_org(ReadContext& ctx, const Json& a) {
  auto q = ctx.statement("SELECT org_id FROM github_installations WHERE installation_id = ?");
  sql::bind_all(*q, a.at("installation_id").get<std::int64_t>());
  if (!q->executeStep()) return Error{ErrorCode::not_found, "no organization links that installation"};
  return Json{{"org_id", q->getColumn(0).getString()}};
}

Result<Json> put_membership(StepContext& ctx, const Json& b) {
  auto role = b.contains("role") && b["role"].is_string() ? std::optional(b["role"].get<std::string>()) : std::nullopt;
  auto up = ctx.statement(
      "INSERT INTO memberships(org_id, user_id, role, version) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(org_id, user_id) DO UPDATE SET role = excluded.role, version = excluded.version "
      "WHERE excluded.version > memberships.version");
  sql::bind_all(*up, b.at("org_id").get<std::string>(), b.at("user_id").get<std::string>(), role,
                b.at("version").get<std::int64_t>());
  up->exec();
  return Json::object();
}

Json org_row(SQLite::Statement& q) {
  return Json{{"org_id", q.getColumn(0).getString()},
              {"slug", q.getColumn(1).getString()},
              {"name", q.getColumn(2).getString()},
              {"created_at", q.getColumn(3).getInt64()}};
}

Result<Json> membership(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement(
      "SELECT o.org_id, o.slug, o.name, o.created_at, m.role FROM orgs o "
      "LEFT JOIN memberships m ON m.org_id = o.org_id AND m.user_id = ? WHERE o.slug = ?");
  auto& q = *q_lease;
  sql::bind_all(q, a.at("user_id").get<std::string>(), a.at("slug").get<std::string>());
  if (!q.executeStep()) return Error{ErrorCode::not_found, "no such organization"};
  auto row = org_row(q);
  row["role"] = sql::text_or_null(q.getColumn(4));
  return row;
}

Result<Json> authenticate(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement("SELECT c.credential_id, c.kind, c.expires_at, c.revoked_at, u.user_id, u.username, "
                      "u.is_admin, u.disabled FROM credentials c JOIN users u ON u.user_id = c.user_id "
                      "WHERE c.token_hash = ?");
  auto& q = *q_lease;
  sql::bind_all(q, a.at("token_hash").get<std::string>());
  if (!q.executeStep()) return Error{ErrorCode::unauthorized, "the credential is not known"};
  auto now = a.at("now").get<int64_t>();
  if (!q.getColumn(3).isNull()) return Error{ErrorCode::unauthorized, "the credential was revoked"};
  auto expires_at = sql::column<std::optional<std::int64_t>>(q.getColumn(2));
  if (expires_at && *expires_at <= now)
    return Error{ErrorCode::unauthorized, "the credential expired"};
  if (q.getColumn(7).getInt() != 0) return Error{ErrorCode::unauthorized, "the account is disabled"};
  Json caller{{"credential_id", q.getColumn(0).getString()},
              {"kind", q.getColumn(1).getString()},
              {"expires_at", sql::int_or_null(q.getColumn(2))},
              {"user_id", q.getColumn(4).getString()},
              {"username", q.getColumn(5).getString()},
              {"is_admin", q.getColumn(6).getInt() != 0}};
  if (a.contains("org_slug")) {  // and the caller's membership, in the same snapshot
    auto m = membership(ctx, {{"slug", a["org_slug"]}, {"user_id", caller["user_id"]}});
    caller["org"] = m ? *m : Json(nullptr);
  }
  return caller;
}

Result<Json> find_user(ReadContext& ctx, const Json& a) {
  bool by_name = a.contains("username");
  auto q_lease = ctx.statement(fmt::format("SELECT {} FROM users WHERE {} = ?", kUserColumns,
                                          by_name ? "username" : "user_id"));
  auto& q = *q_lease;
  sql::bind_all(q, by_name ? a["username"].get<std::string>() : a.at("user_id").get<std::string>());
  if (!q.executeStep())
    return Error{ErrorCode::not_found,
                 fmt::format("no user \"{}\"", by_name ? a["username"].get<std::string>() : a["user_id"].get<std::string>())};
  return user_row(q);
}

Result<Json> list_users(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement(fmt::format("SELECT {} FROM users WHERE username > ? COLLATE NOCASE "
                                          "ORDER BY username COLLATE NOCASE LIMIT ?", kUserColumns));
  auto& q = *q_lease;
  sql::bind_all(q, a.value("after", std::string()), std::clamp<std::int64_t>(a.value("limit", 100), 1, 500));
  Json items = Json::array();
  while (q.executeStep()) items.push_back(user_row(q));
  return items;
}


Result<Json> find_org(ReadContext& ctx, const Json& a) {
  bool by_slug = a.contains("slug");
  auto q_lease = ctx.statement(fmt::format("SELECT org_id, slug, name, created_at FROM orgs WHERE {} = ?",
                                          by_slug ? "slug" : "org_id"));
  auto& q = *q_lease;
  sql::bind_all(q, by_slug ? a["slug"].get<std::string>() : a.at("org_id").get<std::string>());
  if (!q.executeStep()) return Error{ErrorCode::not_found, "no such organization"};
  return org_row(q);
}

Result<Json> role(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement("SELECT role FROM memberships WHERE org_id = ? AND user_id = ?");
  auto& q = *q_lease;
  sql::bind_all(q, a.at("org_id").get<std::string>(), a.at("user_id").get<std::string>());
  if (!q.executeStep()) return Json{{"role", nullptr}};
  return Json{{"role", sql::text_or_null(q.getColumn(0))}};
}

Result<Json> orgs_of(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement("SELECT o.org_id, o.slug, o.name, o.created_at, m.role FROM memberships m "
                      "JOIN orgs o ON o.org_id = m.org_id WHERE m.user_id = ? AND m.role IS NOT NULL "
                      "ORDER BY o.slug LIMIT 1000");
  auto& q = *q_lease;
  sql::bind_all(q, a.at("user_id").get<std::string>());
  Json items = Json::array();
  while (q.executeStep()) {
    auto row = org_row(q);
    row["role"] = q.getColumn(4).getString();
    items.push_back(std::move(row));
  }
  return items;
}

}  // namespace

ActorType make_type() {
  ActorType t{"directory"};
  t.on_queue(kRegisterUser, register_user)
      .on_queue(kUpdateUser, update_user)
      .on_queue(kPutCredential, put_credential)
      .on_queue(kRevokeCredentials, revoke_credentials)
      .on_queue(kRegisterOrg, register_org)
      .on_queue(kPutMembership, put_membership)
      .on_queue(kLinkInstallation, link_installation)
      .on_queue(kUnlinkInstallation, unlink_installation)
      .on_queue(kLinkCustomer, link_customer)
      .on_action(kCustomerOrg, customer_org)
      .on_action(kInstallationOrg, installation_org)
      .on_queue(kLinkGitHub, link_github)
      .on_queue(kUnlinkGitHub, unlink_github)
      .on_action(kGitHubIdentity, github_identity)
      .on_action(kInstallations, installations)
      .on_action(kAuthenticate, authenticate)
      .on_action(kFindUser, find_user)
      .on_action(kListUsers, list_users)
      .on_action(kFindOrg, find_org)
      .on_action(kRole, role)
      .on_action(kOrgsOf, orgs_of)
      .on_action(kUserCount, [](ReadContext& ctx, const Json&) -> Result<Json> {
        return Json(ctx.db.execAndGet("SELECT COUNT(*) FROM users").getInt64());
      });
  return t;
}

}  // namespace hearth::actors::directory
