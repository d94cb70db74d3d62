// The organization actor's handlers: see organization_actor.h.
#include "actors/organization/organization_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "actors/directory/directory_actor.h"
#include "actors/host/index_update.h"
#include "actors/host/step_context.h"
#include "storage/database.h"

namespace hearth::actors::organization {
namespace {

std::string org_id(SQLite::Database& db) { return db.execAndGet("SELECT org_id FROM organization").getString(); }

// Copies one membership to the directory, versioned by the message that changed it.
Status index_membership(StepContext& ctx, Json& result, const std::string& user_id, const Json& role) {
  auto org = org_id(ctx.db());
  return send_index_update(ctx, result, directory::kAddress, directory::kPutMembership,
                           Json{{"org_id", org}, {"user_id", user_id}, {"role", role}, {"version", ctx.message_id()}},
                           fmt::format("membership:{}:{}:{}", org, user_id, ctx.message_id()));
}

Json member_json(SQLite::Statement& q) {
  return Json{{"user_id", q.getColumn(0).getString()},
              {"username", q.getColumn(1).getString()},
              {"role", q.getColumn(2).getString()},
              {"added_at", q.getColumn(3).getInt64()},
              {"updated_at", q.getColumn(4).getInt64()}};
}

Result<Json> find_member(SQLite::Database& db, const std::string& user_id) {
  SQLite::Statement q(db, "SELECT user_id, username, role, added_at, updated_at FROM members WHERE user_id = ?");
  q.bind(1, user_id);
  if (!q.executeStep()) return Error{ErrorCode::not_found, "that user is not a member of this organization"};
  return member_json(q);
}

int owner_count(SQLite::Database& db) {
  return db.execAndGet("SELECT COUNT(*) FROM members WHERE role = 'owner'").getInt();
}

Status create(StepContext& ctx, const Json& in) {
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement ins(ctx.db(),
                        "INSERT INTO organization(id, org_id, slug, name, created_at, updated_at) VALUES(1, ?, ?, ?, ?, ?)");
  ins.bind(1, in.at("org_id").get<std::string>());
  ins.bind(2, in.at("slug").get<std::string>());
  ins.bind(3, in.at("name").get<std::string>());
  ins.bind(4, now);
  ins.bind(5, now);
  ins.exec();
  const auto& owner = in.at("owner");
  SQLite::Statement mem(ctx.db(),
                        "INSERT INTO members(user_id, username, role, added_at, updated_at) VALUES(?, ?, 'owner', ?, ?)");
  mem.bind(1, owner.at("user_id").get<std::string>());
  mem.bind(2, owner.at("username").get<std::string>());
  mem.bind(3, now);
  mem.bind(4, now);
  mem.exec();
  Json ignored;
  return index_membership(ctx, ignored, owner.at("user_id").get<std::string>(), "owner");
}

Result<Json> add_member(StepContext& ctx, const Json& b) {
  auto user_id = b.at("user_id").get<std::string>();
  auto role = b.value("role", std::string("member"));
  if (role_rank(role) == 0) return Error{ErrorCode::invalid, fmt::format("unknown role \"{}\"", role)};
  if (find_member(ctx.db(), user_id))
    return Error{ErrorCode::conflict, fmt::format("{} is a member already", b.at("username").get<std::string>())};
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement mem(ctx.db(), "INSERT INTO members(user_id, username, role, added_at, updated_at) VALUES(?, ?, ?, ?, ?)");
  mem.bind(1, user_id);
  mem.bind(2, b.at("username").get<std::string>());
  mem.bind(3, role);
  mem.bind(4, now);
  mem.bind(5, now);
  mem.exec();
  auto result = *find_member(ctx.db(), user_id);
  if (auto st = index_membership(ctx, result, user_id, role); !st) return st.error();
  ctx.broadcast("organization.member.added", {{"user_id", user_id}, {"username", b["username"]}, {"role", role}});
  return result;
}

Result<Json> set_role(StepContext& ctx, const Json& b) {
  auto user_id = b.at("user_id").get<std::string>();
  auto role = b.at("role").get<std::string>();
  if (role_rank(role) == 0) return Error{ErrorCode::invalid, fmt::format("unknown role \"{}\"", role)};
  auto member = find_member(ctx.db(), user_id);
  if (!member) return member.error();
  if ((*member)["role"] == "owner" && role != "owner" && owner_count(ctx.db()) <= 1)
    return Error{ErrorCode::conflict, "the last owner cannot be demoted; make someone else owner first"};
  SQLite::Statement upd(ctx.db(), "UPDATE members SET role = ?, updated_at = ? WHERE user_id = ?");
  upd.bind(1, role);
  upd.bind(2, static_cast<int64_t>(storage::now_ms()));
  upd.bind(3, user_id);
  upd.exec();
  auto result = *find_member(ctx.db(), user_id);
  if (auto st = index_membership(ctx, result, user_id, role); !st) return st.error();
  ctx.broadcast("organization.member.changed", {{"user_id", user_id}, {"role", role}});
  return result;
}

Result<Json> remove_member(StepContext& ctx, const Json& b) {
  auto user_id = b.at("user_id").get<std::string>();
  auto member = find_member(ctx.db(), user_id);
  if (!member) return member.error();
  if ((*member)["role"] == "owner" && owner_count(ctx.db()) <= 1)
    return Error{ErrorCode::conflict, "the last owner cannot be removed; make someone else owner first"};
  SQLite::Statement del(ctx.db(), "DELETE FROM members WHERE user_id = ?");
  del.bind(1, user_id);
  del.exec();
  Json result{{"removed", user_id}};
  if (auto st = index_membership(ctx, result, user_id, nullptr); !st) return st.error();
  ctx.broadcast("organization.member.removed", {{"user_id", user_id}});
  return result;
}

// Secrets arrive sealed (the edge seals them), so no plaintext is ever queued or stored.
Result<Json> set_secret(StepContext& ctx, const Json& b) {
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement up(ctx.db(),
                       "INSERT INTO secrets(name, nonce, ciphertext, created_at, updated_at) VALUES(?, ?, ?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
                       "updated_at = excluded.updated_at");
  up.bind(1, b.at("name").get<std::string>());
  up.bind(2, b.at("nonce").get<std::string>());
  up.bind(3, b.at("ciphertext").get<std::string>());
  up.bind(4, now);
  up.bind(5, now);
  up.exec();
  SQLite::Statement q(ctx.db(), "SELECT created_at, updated_at FROM secrets WHERE name = ?");
  q.bind(1, b.at("name").get<std::string>());
  q.executeStep();
  Json result{{"name", b["name"]}, {"created_at", q.getColumn(0).getInt64()}, {"updated_at", q.getColumn(1).getInt64()}};
  ctx.broadcast("organization.secret.set", {{"name", b["name"]}});
  return result;
}

Result<Json> delete_secret(StepContext& ctx, const Json& b) {
  auto name = b.at("name").get<std::string>();
  SQLite::Statement del(ctx.db(), "DELETE FROM secrets WHERE name = ?");
  del.bind(1, name);
  if (del.exec() == 0) return Error{ErrorCode::not_found, fmt::format("no secret \"{}\"", name)};
  ctx.broadcast("organization.secret.deleted", {{"name", name}});
  return Json{{"deleted", name}};
}

Result<Json> secrets(ReadContext& ctx, const Json&) {
  auto q = ctx.statement("SELECT name, created_at, updated_at FROM secrets ORDER BY name");
  Json items = Json::array();
  while (q->executeStep())
    items.push_back(Json{{"name", q->getColumn(0).getString()},
                         {"created_at", q->getColumn(1).getInt64()},
                         {"updated_at", q->getColumn(2).getInt64()}});
  return items;
}

Result<Json> sealed_secrets(ReadContext& ctx, const Json& a) {
  Json out = Json::object();
  for (const auto& name : a.at("names")) {
    auto q = ctx.statement("SELECT nonce, ciphertext FROM secrets WHERE name = ?");
    q->bind(1, name.get<std::string>());
    if (!q->executeStep()) continue;  // names the org has no secret for are left out
    out[name.get<std::string>()] = Json{{"nonce", q->getColumn(0).getString()}, {"ciphertext", q->getColumn(1).getString()}};
  }
  return out;
}

Result<Json> get(ReadContext& ctx, const Json&) {
  auto q_lease = ctx.statement("SELECT org_id, slug, name, created_at, updated_at FROM organization");
  auto& q = *q_lease;
  if (!q.executeStep()) return Error{ErrorCode::not_found, "no such organization"};
  return Json{{"id", q.getColumn(0).getString()},
              {"slug", q.getColumn(1).getString()},
              {"name", q.getColumn(2).getString()},
              {"created_at", q.getColumn(3).getInt64()},
              {"updated_at", q.getColumn(4).getInt64()},
              {"member_count", [&] {
                auto count = ctx.statement("SELECT COUNT(*) FROM members");
                count->executeStep();
                return count->getColumn(0).getInt64();
              }()}};
}

Result<Json> members(ReadContext& ctx, const Json&) {
  auto q_lease = ctx.statement("SELECT user_id, username, role, added_at, updated_at FROM members ORDER BY username LIMIT 1000");
  auto& q = *q_lease;
  Json items = Json::array();
  while (q.executeStep()) items.push_back(member_json(q));
  return items;
}

}  // namespace

int role_rank(const std::string& role) {
  if (role == "owner") return 3;
  if (role == "admin") return 2;
  if (role == "member") return 1;
  return 0;
}

ActorType make_type() {
  ActorType t{"organization"};
  t.on_create = create;
  t.on_queue(kAddMember, add_member)
      .on_queue(kSetRole, set_role)
      .on_queue(kRemoveMember, remove_member)
      .on_queue(kSetSecret, set_secret)
      .on_queue(kDeleteSecret, delete_secret)
      .on_action(kSecrets, secrets)
      .on_action(kSealedSecrets, sealed_secrets)
      .on_action(kGet, get)
      .on_action(kMembers, members);
  return t;
}

}  // namespace hearth::actors::organization
