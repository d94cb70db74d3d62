// The user actor's handlers: see user_actor.h.
#include "actors/user/user_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "actors/directory/directory_actor.h"
#include "actors/host/index_update.h"
#include "actors/host/step_context.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::user {
namespace {

std::string user_id(SQLite::Database& db) { return db.execAndGet("SELECT user_id FROM profile").getString(); }

Status create(StepContext& ctx, const Json& in) {
  auto now = storage::now_ms();
  auto ins = ctx.statement(
      "INSERT INTO profile(id, user_id, username, display_name, password_hash, is_admin, "
      "created_at, updated_at) VALUES(1, ?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(*ins, in.at("user_id").get<std::string>(), in.at("username").get<std::string>(),
                in.value("display_name", in.at("username").get<std::string>()),
                in.at("password_hash").get<std::string>(), in.value("is_admin", false), now, now);
  ins->exec();
  return {};
}

Result<Json> add_credential(StepContext& ctx, const Json& b, const char* kind) {
  auto id = b.at("credential_id").get<std::string>();
  auto now = storage::now_ms();
  if (std::string(kind) == "session") {
    auto ins = ctx.statement("INSERT INTO sessions(credential_id, created_at, expires_at, client) VALUES(?, ?, ?, ?)");
    sql::bind_all(*ins, id, now, b.at("expires_at").get<std::int64_t>(), b.value("client", std::string()));
    ins->exec();
  } else {
    auto expires_at = b.contains("expires_at") && b["expires_at"].is_number_integer()
                          ? std::optional(b["expires_at"].get<std::int64_t>())
                          : std::nullopt;
    auto ins = ctx.statement("INSERT INTO api_tokens(credential_id, name, created_at, expires_at) VALUES(?, ?, ?, ?)");
    sql::bind_all(*ins, id, b.at("name").get<std::string>(), now, expires_at);
    ins->exec();
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
  auto now = storage::now_ms();
  auto upd = ctx.statement(fmt::format("UPDATE {} SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL",
                                       kind == "session" ? "sessions" : "api_tokens"));
  sql::bind_all(*upd, now, id);
  if (upd->exec() == 0) {
    auto exists = ctx.statement(fmt::format("SELECT 1 FROM {} WHERE credential_id = ?",
                                            kind == "session" ? "sessions" : "api_tokens"));
    sql::bind_all(*exists, id);
    if (!exists->executeStep()) return Error{ErrorCode::not_found, fmt::format("no {} \"{}\"", kind, id)};
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
  auto now = storage::now_ms();
  auto upd = ctx.statement("UPDATE profile SET password_hash = ?, updated_at = ?");
  sql::bind_all(*upd, b.at("password_hash").get<std::string>(), now);
  upd->exec();
  auto end = ctx.statement("UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL");
  sql::bind_all(*end, now);
  end->exec();
  Json result{{"sessions_ended", ctx.db().getChanges()}, {"tokens_revoked", 0}};
  // A new password is what one sets after a compromise: the API tokens go too, unless
  // the caller asks to keep them.
  bool tokens = !b.value("keep_tokens", false);
  if (tokens) {
    auto revoke = ctx.statement("UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL");
    sql::bind_all(*revoke, now);
    revoke->exec();
    result["tokens_revoked"] = ctx.db().getChanges();
  }
  Json which{{"user_id", user_id(ctx.db())}, {"at", now}};
  if (!tokens) which["kind"] = "session";
  if (auto st = send_index_update(ctx, result, directory::kAddress, directory::kRevokeCredentials, which,
                                  fmt::format("password:{}:{}", user_id(ctx.db()), ctx.message_id()));
      !st)
    return st.error();
  ctx.broadcast("user.credential.revoked", {{"kind", tokens ? "all" : "session"}, {"all", true}});
  return result;
}

Result<Json> set_disabled(StepContext& ctx, const Json& b) {
  bool disabled = b.at("disabled").get<bool>();
  auto upd = ctx.statement("UPDATE profile SET disabled = ?, updated_at = ?");
  sql::bind_all(*upd, disabled, storage::now_ms());
  upd->exec();
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
  auto upd = ctx.statement("UPDATE api_tokens SET last_used_at = ? WHERE credential_id = ?");
  sql::bind_all(*upd, b.at("at").get<std::int64_t>(), b.at("credential_id").get<std::string>());
  upd->exec();
  return Json::object();
}

Result<Json> set_preference(StepContext& ctx, const Json& b) {
  auto up = ctx.statement(
      "INSERT INTO preferences(key, value_json, updated_at) VALUES(?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at");
  sql::bind_all(*up, b.at("key").get<std::string>(), b.at("value").dump(), storage::now_ms());
  up->exec();
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
                         {"expires_at", sql::int_or_null(q.getColumn(3))},
                         {"last_used_at", sql::int_or_null(q.getColumn(4))},
                         {"revoked_at", sql::int_or_null(q.getColumn(5))}});
  return items;
}

Result<Json> sessions(ReadContext& ctx, const Json& a) {
  auto q_lease = ctx.statement("SELECT credential_id, created_at, expires_at, revoked_at, client FROM sessions "
                      "WHERE revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC LIMIT 500");
  auto& q = *q_lease;
  sql::bind_all(q, a.value("now", storage::now_ms()));
  Json items = Json::array();
  while (q.executeStep())
    items.push_back(Json{{"id", q.getColumn(0).getString()},
                         {"created_at", q.getColumn(1).getInt64()},
                         {"expires_at", q.getColumn(2).getInt64()},
                         {"client", q.getColumn(4).getString()}});
  return items;
}

// --- The inbox --------------------------------------------------------------------------

Result<Json> membership(StepContext& ctx, const Json& b) {
  auto org = b.at("org_id").get<std::string>();
  if (b.value("member", true)) {
    auto back = ctx.statement("DELETE FROM left_orgs WHERE org_id = ?");
    sql::bind_all(*back, org);
    back->exec();
    return Json{{"org_id", org}, {"member", true}};
  }
  auto left = ctx.statement("INSERT OR REPLACE INTO left_orgs(org_id, left_at) VALUES(?, ?)");
  sql::bind_all(*left, org, storage::now_ms());
  left->exec();
  for (const char* text : {"DELETE FROM feed WHERE org_id = ?", "DELETE FROM unread_sessions WHERE org_id = ?",
                          "DELETE FROM notifications WHERE org_id = ?", "DELETE FROM drafts WHERE org_id = ?"}) {
    auto del = ctx.statement(text);
    sql::bind_all(*del, org);
    del->exec();
  }
  ctx.broadcast("user.feed.read", {{"org_id", org}, {"task_id", nullptr}, {"all", false}, {"left", true}});
  return Json{{"org_id", org}, {"member", false}};
}

Result<Json> feed_event(StepContext& ctx, const Json& b) {
  {
    // A removed member hears nothing more of the org's tasks.
    auto left = ctx.statement("SELECT 1 FROM left_orgs WHERE org_id = ?");
    sql::bind_all(*left, b.at("org_id").get<std::string>());
    if (left->executeStep()) return Json{{"ignored", "no longer a member of the organization"}};
  }
  auto at = b.value("at", static_cast<std::int64_t>(storage::now_ms()));
  auto up = ctx.statement(
      "INSERT INTO feed(org_id, task_id, repo_id, title, status, reason, bumped_at, unread) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(org_id, task_id) DO UPDATE SET "
      "repo_id = excluded.repo_id, title = excluded.title, status = excluded.status, "
      "reason = excluded.reason, bumped_at = MAX(feed.bumped_at, excluded.bumped_at), unread = 1");
  sql::bind_all(*up, b.at("org_id").get<std::string>(), b.at("task_id").get<std::string>(),
                b.value("repo_id", std::string()), b.value("title", std::string()), b.value("status", std::string()),
                b.value("reason", std::string()), at);
  up->exec();
  auto session_id = b.value("session_id", std::string());
  if (!session_id.empty()) {
    auto un = ctx.statement(
        "INSERT OR IGNORE INTO unread_sessions(org_id, task_id, session_id, since) VALUES(?, ?, ?, ?)");
    sql::bind_all(*un, b["org_id"].get<std::string>(), b["task_id"].get<std::string>(), session_id, at);
    un->exec();
  }
  Json note = nullptr;
  if (b.contains("notify") && b["notify"].is_object()) {
    auto ins = ctx.statement("INSERT INTO notifications(org_id, task_id, session_id, type, message, created_at) "
                             "VALUES(?, ?, ?, ?, ?, ?)");
    sql::bind_all(*ins, b["org_id"].get<std::string>(), b["task_id"].get<std::string>(),
                  session_id.empty() ? std::nullopt : std::optional(session_id),
                  b["notify"].at("type").get<std::string>(), b["notify"].value("message", std::string()), at);
    ins->exec();
    note = {{"id", ctx.db().getLastInsertRowid()}, {"org_id", b["org_id"]}, {"task_id", b["task_id"]},
            {"session_id", session_id.empty() ? Json(nullptr) : Json(session_id)}, {"type", b["notify"]["type"]},
            {"message", b["notify"].value("message", std::string())}, {"read", false}, {"created_at", at}};
    // Retention: a month, and the newest kNotificationsKept.
    auto old = ctx.statement("DELETE FROM notifications WHERE created_at < ? OR id <= "
                             "(SELECT id FROM notifications ORDER BY id DESC LIMIT 1 OFFSET ?)");
    sql::bind_all(*old, at - kNotificationRetentionMs, kNotificationsKept);
    old->exec();
  }
  Json item{{"org_id", b["org_id"]}, {"task_id", b["task_id"]}, {"repo_id", b.value("repo_id", std::string())},
            {"title", b.value("title", std::string())}, {"status", b.value("status", std::string())},
            {"reason", b.value("reason", std::string())}, {"bumped_at", at}, {"unread", true}};
  ctx.broadcast("user.feed.bumped", {{"item", item}, {"notification", note}});
  return item;
}

Result<Json> mark_read(StepContext& ctx, const Json& b) {
  if (b.value("all", false)) {
    ctx.db().exec("UPDATE feed SET unread = 0");
    ctx.db().exec("DELETE FROM unread_sessions");
    ctx.db().exec("UPDATE notifications SET read = 1");
  } else {
    auto org = b.at("org_id").get<std::string>();
    auto task = b.at("task_id").get<std::string>();
    auto session = b.value("session_id", std::string());
    for (const char* text : {"DELETE FROM unread_sessions WHERE org_id = ? AND task_id = ? AND (? = '' OR session_id = ?)",
                            "UPDATE notifications SET read = 1 WHERE org_id = ? AND task_id = ? AND (? = '' OR session_id = ?)"}) {
      auto q = ctx.statement(text);
      sql::bind_all(*q, org, task, session, session);
      q->exec();
    }
    // The task stays unread while one of its sessions is.
    auto up = ctx.statement("UPDATE feed SET unread = EXISTS(SELECT 1 FROM unread_sessions u WHERE u.org_id = "
                            "feed.org_id AND u.task_id = feed.task_id) WHERE org_id = ? AND task_id = ?");
    sql::bind_all(*up, org, task);
    up->exec();
  }
  auto unread = ctx.db().execAndGet("SELECT COUNT(*) FROM feed WHERE unread = 1").getInt64();
  ctx.broadcast("user.feed.read", {{"org_id", b.value("org_id", Json(nullptr))}, {"task_id", b.value("task_id", Json(nullptr))},
                                   {"all", b.value("all", false)}, {"unread", unread}});
  return Json{{"unread", unread}};
}

Result<Json> set_draft(StepContext& ctx, const Json& b) {
  auto text = b.at("text").get<std::string>();
  if (text.empty()) {
    auto del = ctx.statement("DELETE FROM drafts WHERE org_id = ? AND task_id = ? AND session_id = ?");
    sql::bind_all(*del, b.at("org_id").get<std::string>(), b.at("task_id").get<std::string>(),
                  b.at("session_id").get<std::string>());
    del->exec();
  } else {
    auto up = ctx.statement("INSERT OR REPLACE INTO drafts(org_id, task_id, session_id, text, updated_at) "
                            "VALUES(?, ?, ?, ?, ?)");
    sql::bind_all(*up, b.at("org_id").get<std::string>(), b.at("task_id").get<std::string>(),
                  b.at("session_id").get<std::string>(), text, storage::now_ms());
    up->exec();
  }
  return Json{{"session_id", b["session_id"]}, {"text", text}};
}

Result<Json> feed(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{50}), 1, 500);
  auto before = a.value("before", std::int64_t{0});
  bool unread_only = a.value("unread_only", false);
  auto q = ctx.statement(
      "SELECT f.org_id, f.task_id, f.repo_id, f.title, f.status, f.reason, f.bumped_at, f.unread, "
      "(SELECT json_group_array(session_id) FROM unread_sessions u WHERE u.org_id = f.org_id AND u.task_id = f.task_id) "
      "FROM feed f WHERE f.bumped_at < ? AND (? = 0 OR f.unread = 1) ORDER BY f.bumped_at DESC LIMIT ?");
  sql::bind_all(*q, before > 0 ? before : INT64_MAX, unread_only, limit);
  Json items = Json::array();
  while (q->executeStep())
    items.push_back({{"org_id", q->getColumn(0).getString()}, {"task_id", q->getColumn(1).getString()},
                     {"repo_id", q->getColumn(2).getString()}, {"title", q->getColumn(3).getString()},
                     {"status", q->getColumn(4).getString()}, {"reason", q->getColumn(5).getString()},
                     {"bumped_at", q->getColumn(6).getInt64()}, {"unread", q->getColumn(7).getInt() != 0},
                     {"unread_sessions", Json::parse(q->getColumn(8).getString())}});
  auto count = ctx.statement("SELECT COUNT(*) FROM feed WHERE unread = 1");
  count->executeStep();
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["bumped_at"] : Json(nullptr);
  return Json{{"items", items}, {"unread", count->getColumn(0).getInt64()}, {"next_cursor", next}};
}

Result<Json> notifications(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{50}), 1, 500);
  auto before = a.value("before_id", std::int64_t{0});
  auto q = ctx.statement("SELECT id, org_id, task_id, session_id, type, message, read, created_at FROM notifications "
                         "WHERE id < ? AND (? = 0 OR read = 0) ORDER BY id DESC LIMIT ?");
  sql::bind_all(*q, before > 0 ? before : INT64_MAX, a.value("unread_only", false), limit);
  Json items = Json::array();
  while (q->executeStep())
    items.push_back({{"id", q->getColumn(0).getInt64()}, {"org_id", q->getColumn(1).getString()},
                     {"task_id", q->getColumn(2).getString()},
                     {"session_id", sql::text_or_null(q->getColumn(3))},
                     {"type", q->getColumn(4).getString()}, {"message", q->getColumn(5).getString()},
                     {"read", q->getColumn(6).getInt() != 0}, {"created_at", q->getColumn(7).getInt64()}});
  auto count = ctx.statement("SELECT COUNT(*) FROM notifications WHERE read = 0");
  count->executeStep();
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["id"] : Json(nullptr);
  return Json{{"items", items}, {"unread", count->getColumn(0).getInt64()}, {"next_cursor", next}};
}

Result<Json> draft(ReadContext& ctx, const Json& a) {
  auto q = ctx.statement("SELECT text, updated_at FROM drafts WHERE org_id = ? AND task_id = ? AND session_id = ?");
  sql::bind_all(*q, a.at("org_id").get<std::string>(), a.at("task_id").get<std::string>(),
                a.at("session_id").get<std::string>());
  if (!q->executeStep()) return Json{{"session_id", a["session_id"]}, {"text", ""}, {"updated_at", nullptr}};
  return Json{{"session_id", a["session_id"]}, {"text", q->getColumn(0).getString()}, {"updated_at", q->getColumn(1).getInt64()}};
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
      .on_action(kSessions, sessions)
      .on_queue(kFeedEvent, feed_event)
      .on_queue(kMembership, membership)
      .on_queue(kMarkRead, mark_read)
      .on_queue(kSetDraft, set_draft)
      .on_action(kFeed, feed)
      .on_action(kNotifications, notifications)
      .on_action(kDraft, draft);
  return t;
}

}  // namespace hearth::actors::user
