// The user actor's handlers: see user_actor.h.
#include "actors/user/user_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "actors/directory/directory_actor.h"
#include "actors/host/index_update.h"
#include "actors/host/step_context.h"
#include "storage/database.h"

namespace hearth::actors::user {
namespace {

Json optional_int(const SQLite::Column& c) { return c.isNull() ? Json(nullptr) : Json(c.getInt64()); }

std::string user_id(SQLite::Database& db) { return db.execAndGet("SELECT user_id FROM profile").getString(); }

Status create(StepContext& ctx, const Json& in) {
  auto now = storage::now_ms();
  SQLite::Statement ins(ctx.db(),
                        "INSERT INTO profile(id, user_id, username, display_name, password_hash, is_admin, "
                        "created_at, updated_at) VALUES(1, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, in.at("user_id").get<std::string>());
  ins.bind(2, in.at("username").get<std::string>());
  ins.bind(3, in.value("display_name", in.at("username").get<std::string>()));
  ins.bind(4, in.at("password_hash").get<std::string>());
  ins.bind(5, in.value("is_admin", false) ? 1 : 0);
  ins.bind(6, static_cast<int64_t>(now));
  ins.bind(7, static_cast<int64_t>(now));
  ins.exec();
  return {};
}

Result<Json> add_credential(StepContext& ctx, const Json& b, const char* kind) {
  auto id = b.at("credential_id").get<std::string>();
  auto now = storage::now_ms();
  if (std::string(kind) == "session") {
    SQLite::Statement ins(ctx.db(),
                          "INSERT INTO sessions(credential_id, created_at, expires_at, client) VALUES(?, ?, ?, ?)");
    ins.bind(1, id);
    ins.bind(2, static_cast<int64_t>(now));
    ins.bind(3, b.at("expires_at").get<int64_t>());
    ins.bind(4, b.value("client", std::string()));
    ins.exec();
  } else {
    SQLite::Statement ins(ctx.db(),
                          "INSERT INTO api_tokens(credential_id, name, created_at, expires_at) VALUES(?, ?, ?, ?)");
    ins.bind(1, id);
    ins.bind(2, b.at("name").get<std::string>());
    ins.bind(3, static_cast<int64_t>(now));
    if (b.contains("expires_at") && b["expires_at"].is_number_integer()) ins.bind(4, b["expires_at"].get<int64_t>());
    else ins.bind(4);
    ins.exec();
  }
  Json result{{"credential_id", id}, {"created_at", now}, {"expires_at", b.value("expires_at", Json(nullptr))}};
  Json index{{"token_hash", b.at("token_hash")},
             {"credential_id", id},
             {"user_id", user_id(ctx.db())},
             {"kind", kind},
             {"created_at", now},
             {"expires_at", b.value("expires_at", Json(nullptr))}};
  if (auto st = send_index_update(ctx, result, directory::kAddress, directory::kPutCredential, std::move(index),
                                  "credential:" + id);
      !st)
    return st.error();
  return result;
}

Result<Json> revoke_credential(StepContext& ctx, const Json& b) {
  auto id = b.at("credential_id").get<std::string>();
  auto kind = b.value("kind", std::string("token"));
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement upd(ctx.db(), fmt::format("UPDATE {} SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL",
                                              kind == "session" ? "sessions" : "api_tokens"));
  upd.bind(1, now);
  upd.bind(2, id);
  if (upd.exec() == 0) {
    SQLite::Statement exists(ctx.db(), fmt::format("SELECT 1 FROM {} WHERE credential_id = ?",
                                                   kind == "session" ? "sessions" : "api_tokens"));
    exists.bind(1, id);
    if (!exists.executeStep()) return Error{ErrorCode::not_found, fmt::format("no {} \"{}\"", kind, id)};
  }
  Json result{{"credential_id", id}, {"revoked_at", now}};
  if (auto st = send_index_update(ctx, result, directory::kAddress, directory::kRevokeCredentials,
                                  Json{{"credential_id", id}, {"at", now}}, "revoke:" + id);
      !st)
    return st.error();
  ctx.broadcast("user.credential.revoked", {{"credential_id", id}, {"kind", kind}});
  return result;
}

Result<Json> set_password(StepContext& ctx, const Json& b) {
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement upd(ctx.db(), "UPDATE profile SET password_hash = ?, updated_at = ?");
  upd.bind(1, b.at("password_hash").get<std::string>());
  upd.bind(2, now);
  upd.exec();
  SQLite::Statement end(ctx.db(), "UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL");
  end.bind(1, now);
  end.exec();
  Json result{{"sessions_ended", ctx.db().getChanges()}};
  if (auto st = send_index_update(ctx, result, directory::kAddress, directory::kRevokeCredentials,
                                  Json{{"user_id", user_id(ctx.db())}, {"kind", "session"}, {"at", now}},
                                  fmt::format("password:{}:{}", user_id(ctx.db()), ctx.message_id()));
      !st)
    return st.error();
  ctx.broadcast("user.credential.revoked", {{"kind", "session"}, {"all", true}});
  return result;
}

Result<Json> set_disabled(StepContext& ctx, const Json& b) {
  bool disabled = b.at("disabled").get<bool>();
  SQLite::Statement upd(ctx.db(), "UPDATE profile SET disabled = ?, updated_at = ?");
  upd.bind(1, disabled ? 1 : 0);
  upd.bind(2, static_cast<int64_t>(storage::now_ms()));
  upd.exec();
  Json result{{"disabled", disabled}};
  auto id = user_id(ctx.db());
  if (auto st = send_index_update(ctx, result, directory::kAddress, directory::kUpdateUser,
                                  Json{{"user_id", id}, {"disabled", disabled}, {"version", ctx.message_id()}},
                                  fmt::format("user:{}:{}", id, ctx.message_id()));
      !st)
    return st.error();
  return result;
}

Result<Json> touch_token(StepContext& ctx, const Json& b) {
  SQLite::Statement upd(ctx.db(), "UPDATE api_tokens SET last_used_at = ? WHERE credential_id = ?");
  upd.bind(1, b.at("at").get<int64_t>());
  upd.bind(2, b.at("credential_id").get<std::string>());
  upd.exec();
  return Json::object();
}

Result<Json> set_preference(StepContext& ctx, const Json& b) {
  SQLite::Statement up(ctx.db(),
                       "INSERT INTO preferences(key, value_json, updated_at) VALUES(?, ?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at");
  up.bind(1, b.at("key").get<std::string>());
  up.bind(2, b.at("value").dump());
  up.bind(3, static_cast<int64_t>(storage::now_ms()));
  up.exec();
  return Json::object();
}

Result<Json> profile(ReadContext& ctx, const Json&) {
  auto q_lease = ctx.statement("SELECT user_id, username, display_name, is_admin, disabled, created_at, updated_at FROM profile");
  auto& q = *q_lease;
  if (!q.executeStep()) return Error{ErrorCode::not_found, "the user has no profile"};
  Json prefs = Json::object();
  auto p_lease = ctx.statement("SELECT key, value_json FROM preferences ORDER BY key");
  auto& p = *p_lease;
  while (p.executeStep()) prefs[p.getColumn(0).getString()] = Json::parse(p.getColumn(1).getString());
  return Json{{"user_id", q.getColumn(0).getString()},  {"username", q.getColumn(1).getString()},
              {"display_name", q.getColumn(2).getString()}, {"is_admin", q.getColumn(3).getInt() != 0},
              {"disabled", q.getColumn(4).getInt() != 0},  {"created_at", q.getColumn(5).getInt64()},
              {"updated_at", q.getColumn(6).getInt64()},   {"preferences", prefs}};
}

Result<Json> tokens(ReadContext& ctx, const Json&) {
  auto q_lease = ctx.statement("SELECT credential_id, name, created_at, expires_at, last_used_at, revoked_at FROM api_tokens "
                      "ORDER BY created_at DESC LIMIT 500");
  auto& q = *q_lease;
  Json items = Json::array();
  while (q.executeStep())
    items.push_back(Json{{"id", q.getColumn(0).getString()},
                         {"name", q.getColumn(1).getString()},
                         {"created_at", q.getColumn(2).getInt64()},
                         {"expires_at", optional_int(q.getColumn(3))},
                         {"last_used_at", optional_int(q.getColumn(4))},
                         {"revoked_at", optional_int(q.getColumn(5))}});
  return items;
}

Result<Json> sessions(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement("SELECT credential_id, created_at, expires_at, revoked_at, client FROM sessions "
                      "WHERE revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC LIMIT 500");
  auto& q = *q_lease;
  q.bind(1, a.value("now", static_cast<int64_t>(storage::now_ms())));
  Json items = Json::array();
  while (q.executeStep())
    items.push_back(Json{{"id", q.getColumn(0).getString()},
                         {"created_at", q.getColumn(1).getInt64()},
                         {"expires_at", q.getColumn(2).getInt64()},
                         {"client", q.getColumn(4).getString()}});
  return items;
}

}  // namespace

ActorType make_type() {
  ActorType t{"user"};
  t.on_create = create;
  t.on_queue(kAddSession, [](StepContext& ctx, const Json& b) { return add_credential(ctx, b, "session"); })
      .on_queue(kAddToken, [](StepContext& ctx, const Json& b) { return add_credential(ctx, b, "token"); })
      .on_queue(kRevokeCredential, revoke_credential)
      .on_queue(kSetPassword, set_password)
      .on_queue(kSetDisabled, set_disabled)
      .on_queue(kTouchToken, touch_token)
      .on_queue(kSetPreference, set_preference)
      .on_action(kProfile, profile)
      .on_action(kPasswordHash, [](ReadContext& ctx, const Json&) -> Result<Json> {
        auto q_lease = ctx.statement("SELECT password_hash, disabled FROM profile");
        auto& q = *q_lease;
        if (!q.executeStep()) return Error{ErrorCode::not_found, "the user has no profile"};
        return Json{{"password_hash", q.getColumn(0).getString()}, {"disabled", q.getColumn(1).getInt() != 0}};
      })
      .on_action(kTokens, tokens)
      .on_action(kSessions, sessions);
  return t;
}

}  // namespace hearth::actors::user
