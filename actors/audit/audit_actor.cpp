// The audit-log actor: see audit_actor.h.
#include "actors/audit/audit_actor.h"

#include <sodium.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "actors/host/step_context.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::audit {
namespace {

constexpr const char* kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";
constexpr const char* kColumns =
    "seq, at, user_id, username, kind, target, task_id, repo_id, request_id, outcome, detail_json, prev_hash, hash";

// The entry as it is hashed (and shown, with its hashes).
Json entry_json(SQLite::Statement& q) {
  return Json{{"seq", q.getColumn(0).getInt64()},   {"at", q.getColumn(1).getInt64()},
              {"user_id", sql::text_or_null(q.getColumn(2))},     {"username", q.getColumn(3).getString()},
              {"kind", q.getColumn(4).getString()}, {"target", q.getColumn(5).getString()},
              {"task_id", sql::text_or_null(q.getColumn(6))},     {"repo_id", sql::text_or_null(q.getColumn(7))},
              {"request_id", sql::text_or_null(q.getColumn(8))},  {"outcome", q.getColumn(9).getString()},
              {"detail", Json::parse(q.getColumn(10).getString(), nullptr, false)}};
}

Json with_hashes(SQLite::Statement& q) {
  auto e = entry_json(q);
  e["prev_hash"] = q.getColumn(11).getString();
  e["hash"] = q.getColumn(12).getString();
  return e;
}

Json str_or_null(const Json& b, const char* name) {
  return b.contains(name) && b[name].is_string() ? b[name] : Json(nullptr);
}

Result<Json> append(StepContext& ctx, const Json& b) {
  std::string prev = kGenesis;
  std::int64_t seq = 1;
  {
    auto last = ctx.statement("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1");
    if (last->executeStep()) {
      seq = last->getColumn(0).getInt64() + 1;
      prev = last->getColumn(1).getString();
    }
    // After the newest rows were deleted, AUTOINCREMENT still moves on: the gap shows.
    auto used = ctx.statement("SELECT seq FROM sqlite_sequence WHERE name = 'entries'");
    if (used->executeStep()) seq = std::max(seq, used->getColumn(0).getInt64() + 1);
  }
  Json entry{{"seq", seq},
             {"at", b.value("at", static_cast<std::int64_t>(storage::now_ms()))},
             {"user_id", str_or_null(b, "user_id")},
             {"username", b.value("username", std::string())},
             {"kind", b.at("kind").get<std::string>()},
             {"target", b.value("target", std::string())},
             {"task_id", str_or_null(b, "task_id")},
             {"repo_id", str_or_null(b, "repo_id")},
             {"request_id", str_or_null(b, "request_id")},
             {"outcome", b.value("outcome", std::string("ok"))},
             {"detail", b.value("detail", Json::object())}};
  auto hash = entry_hash(prev, entry);
  using sql::optional_text;
  auto ins = ctx.statement(fmt::format("INSERT INTO entries({}) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", kColumns));
  sql::bind_all(*ins, seq, entry["at"].get<std::int64_t>(), optional_text(entry["user_id"]),
                entry["username"].get<std::string>(), entry["kind"].get<std::string>(),
                entry["target"].get<std::string>(), optional_text(entry["task_id"]), optional_text(entry["repo_id"]),
                optional_text(entry["request_id"]), entry["outcome"].get<std::string>(), entry["detail"].dump(), prev, hash);
  ins->exec();
  entry["prev_hash"] = prev;
  entry["hash"] = hash;
  ctx.broadcast("audit.appended", entry);
  return Json{{"seq", seq}, {"hash", hash}};
}

Result<Json> list(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{100}), 1, 1000);
  auto text = [&a](const char* field) -> std::optional<std::string> {
    if (!a.contains(field) || !a[field].is_string() || a[field].get<std::string>().empty()) return std::nullopt;
    return a[field].get<std::string>();
  };
  auto number = [&a](const char* field) -> std::optional<std::int64_t> {
    if (!a.contains(field) || !a[field].is_number_integer()) return std::nullopt;
    return a[field].get<std::int64_t>();
  };
  auto before = a.value("before", std::int64_t{0});
  auto user = text("user"), kind = text("kind"), task = text("task"), repo = text("repo");
  auto since = number("since"), until = number("until");
  // Each filter keeps its numbered parameter whether or not its clause is in the query:
  // an absent filter is bound NULL and its clause left out, so the query can use the
  // index that filter needs.
  std::string where = "seq < ?1";
  if (user) where += " AND (user_id = ?2 OR username = ?2)";
  if (kind) {
    where += " AND kind LIKE ?3";
    *kind += "%";
  }
  if (task) where += " AND task_id = ?4";
  if (repo) where += " AND repo_id = ?5";
  if (since) where += " AND at >= ?6";
  if (until) where += " AND at < ?7";
  SQLite::Statement q(ctx.db, fmt::format("SELECT {} FROM entries WHERE {} ORDER BY seq DESC LIMIT ?8", kColumns, where));
  sql::bind_all(q, before > 0 ? before : INT64_MAX, user, kind, task, repo, since, until, limit);
  Json items = Json::array();
  while (q.executeStep()) items.push_back(with_hashes(q));
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["seq"] : Json(nullptr);
  return Json{{"items", items}, {"next_cursor", next}};
}

Result<Json> export_page(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{1000}), 1, 5000);
  auto q = ctx.statement(fmt::format("SELECT {} FROM entries WHERE seq > ? ORDER BY seq LIMIT ?", kColumns));
  sql::bind_all(*q, a.value("after", std::int64_t{0}), limit);
  Json items = Json::array();
  while (q->executeStep()) items.push_back(with_hashes(*q));
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["seq"] : Json(nullptr);
  return Json{{"items", items}, {"next_cursor", next}};
}

Result<Json> verify(ReadContext& ctx, const Json&) {
  SQLite::Statement q(ctx.db, fmt::format("SELECT {} FROM entries ORDER BY seq", kColumns));
  std::string prev = kGenesis;
  std::int64_t expected = 1, count = 0;
  auto bad = [&](std::int64_t seq, std::string reason) {
    return Json{{"ok", false}, {"entries", count}, {"first_bad", {{"seq", seq}, {"reason", std::move(reason)}}}};
  };
  while (q.executeStep()) {
    auto e = entry_json(q);
    auto seq = e["seq"].get<std::int64_t>();
    if (seq != expected)
      return bad(expected, fmt::format("entries {} to {} are missing (deleted)", expected, seq - 1));
    if (q.getColumn(11).getString() != prev)
      return bad(seq, "its link to the previous entry does not match (an entry before it was changed or removed)");
    auto hash = entry_hash(prev, e);
    if (hash != q.getColumn(12).getString()) return bad(seq, "its content does not match its hash (it was edited)");
    prev = hash;
    ++expected;
    ++count;
  }
  SQLite::Statement used(ctx.db, "SELECT seq FROM sqlite_sequence WHERE name = 'entries'");
  if (used.executeStep() && used.getColumn(0).getInt64() >= expected)
    return bad(expected, fmt::format("the newest entries ({} to {}) are missing (deleted)", expected,
                                     used.getColumn(0).getInt64()));
  return Json{{"ok", true}, {"entries", count}, {"head", prev}};
}

}  // namespace

std::string entry_hash(const std::string& previous, const Json& entry) {
  auto text = previous + "\n" + entry.dump(-1, ' ', false, Json::error_handler_t::replace);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::string hex(crypto_hash_sha256_BYTES * 2, '0');
  sodium_bin2hex(hex.data(), hex.size() + 1, digest, sizeof digest);
  return hex;
}

ActorType make_type() {
  ActorType t{"audit"};
  t.on_queue(kAppend, append).on_action(kList, list).on_action(kExport, export_page).on_action(kVerify, verify);
  return t;
}

}  // namespace hearth::actors::audit
