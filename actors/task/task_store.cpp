// The task's row and its index summary: see task_store.h.
#include "actors/task/task_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <fmt/format.h>

#include <type_traits>

#include "actors/task/titles.h"
#include "storage/sql.h"

namespace hearth::actors::task {
namespace {

template <class T>
Json or_null(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

}  // namespace

std::optional<TaskRow> load_task(SQLite::Database& db) {
  SQLite::Statement q(db,
                      "SELECT org_id, task_id, repo_id, repo_url, base_branch, branch, title, prompt, agent, status, "
                      "phase, error, error_step, sandbox_state, provider, network, git_credential, "
                      "permission_timeout_ms, owner_id, owner_name, created_by, conflict_json, attention, version, "
                      "created_at, updated_at, archived_at, killed_at, work_prompts_json, commits, pull_json, archive_reason, pushed_head FROM task");
  if (!q.executeStep()) return std::nullopt;
  // Each field read as its own type (NULL as an empty optional), by column position.
  auto read = [&q](int i, auto& field) { field = sql::column<std::decay_t<decltype(field)>>(q.getColumn(i)); };
  TaskRow t;
  read(0, t.org_id);
  read(1, t.task_id);
  read(2, t.repo_id);
  read(3, t.repo_url);
  read(4, t.base_branch);
  read(5, t.branch);
  read(6, t.title);
  read(7, t.prompt);
  read(8, t.agent);
  // The table CHECKs the status; a name this build does not know is a bug worth failing the step on.
  t.status = parse_status(q.getColumn(9).getString()).value();
  read(10, t.phase);
  read(11, t.error);
  read(12, t.error_step);
  read(13, t.sandbox_state);
  read(14, t.provider);
  read(15, t.network);
  read(16, t.git_credential);
  read(17, t.permission_timeout_ms);
  read(18, t.owner_id);
  read(19, t.owner_name);
  read(20, t.created_by);
  read(21, t.conflict_files);
  read(22, t.attention);
  read(23, t.version);
  read(24, t.created_at);
  read(25, t.updated_at);
  read(26, t.archived_at);
  read(27, t.killed_at);
  read(28, t.work_prompts);
  read(29, t.commits);
  read(30, t.pull);
  read(31, t.archive_reason);
  read(32, t.pushed_head);
  return t;
}

void insert_task(SQLite::Database& db, const TaskRow& t) {
  SQLite::Statement ins(db,
                        "INSERT INTO task(id, org_id, task_id, repo_id, repo_url, base_branch, branch, title, prompt, "
                        "agent, status, phase, provider, network, git_credential, permission_timeout_ms, owner_id, "
                        "owner_name, created_by, created_at, updated_at, pull_json) "
                        "VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(ins, t.org_id, t.task_id, t.repo_id, t.repo_url, t.base_branch, t.branch, t.title, t.prompt, t.agent,
                to_string(t.status), t.phase, t.provider, t.network, t.git_credential, t.permission_timeout_ms,
                t.owner_id, t.owner_name, t.created_by, t.created_at, t.updated_at,
                t.pull.is_null() ? std::nullopt : std::optional(t.pull.dump()));
  ins.exec();
}

void save_task(SQLite::Database& db, const TaskRow& t) {
  SQLite::Statement up(db,
                       "UPDATE task SET title = ?, status = ?, phase = ?, error = ?, error_step = ?, sandbox_state = ?, "
                       "owner_id = ?, owner_name = ?, conflict_json = ?, attention = ?, archived_at = ?, killed_at = ?, "
                       "work_prompts_json = ?, commits = ?, pull_json = ?, archive_reason = ?, pushed_head = ?");
  sql::bind_all(up, t.title, to_string(t.status), t.phase, t.error, t.error_step, t.sandbox_state, t.owner_id,
                t.owner_name, t.conflict_files.is_null() ? std::nullopt : std::optional(t.conflict_files.dump()),
                t.attention, t.archived_at, t.killed_at, t.work_prompts.dump(), t.commits,
                t.pull.is_null() ? std::nullopt : std::optional(t.pull.dump()), t.archive_reason, t.pushed_head);
  up.exec();
}

void add_participant(SQLite::Database& db, const std::string& user_id, const std::string& username, std::int64_t at) {
  SQLite::Statement ins(db, "INSERT OR IGNORE INTO participants(user_id, username, since) VALUES(?, ?, ?)");
  sql::bind_all(ins, user_id, username, at);
  ins.exec();
}

Json to_json(const TaskRow& t) {
  return Json{{"org_id", t.org_id},
              {"task_id", t.task_id},
              {"repo_id", t.repo_id},
              {"repo_url", t.repo_url},
              {"base_branch", t.base_branch},
              {"branch", t.branch},
              {"title", t.title},
              {"prompt", t.prompt},
              {"agent", t.agent},
              {"status", to_string(t.status)},
              {"phase", or_null(t.phase)},
              {"error", or_null(t.error)},
              {"error_step", or_null(t.error_step)},
              {"sandbox_state", t.sandbox_state},
              {"provider", t.provider},
              {"network", t.network},
              {"git_credential", or_null(t.git_credential)},
              {"permission_timeout_ms", t.permission_timeout_ms},
              {"owner", {{"user_id", t.owner_id}, {"username", t.owner_name}}},
              {"created_by", t.created_by},
              {"conflict_files", t.conflict_files},
              {"attention", or_null(t.attention)},
              {"version", t.version},
              {"created_at", t.created_at},
              {"updated_at", t.updated_at},
              {"archived_at", or_null(t.archived_at)},
              {"archive_reason", or_null(t.archive_reason)},
              {"killed_at", or_null(t.killed_at)},
              {"pull", t.pull}};
}

SessionTally tally_sessions(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT COUNT(*), COALESCE(SUM(status IN ('running', 'cancelling')), 0), "
                          "COALESCE(SUM(pending_permissions), 0) FROM sessions WHERE status != 'closed'");
  q.executeStep();
  return {q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64()};
}

Json index_summary(const TaskRow& t, const SessionTally& tally, Json needs_you) {
  return Json{{"task_id", t.task_id},
              {"repo_id", t.repo_id},
              {"title", t.title},
              {"branch", t.branch},
              {"base_branch", t.base_branch},
              {"status", to_string(t.status)},
              {"owner_id", t.owner_id},
              {"owner_name", t.owner_name},
              {"agent", t.agent},
              {"attention", or_null(t.attention)},
              {"sessions", tally.sessions},
              {"running_sessions", tally.running},
              {"pending_permissions", tally.pending_permissions},
              {"needs_you", std::move(needs_you)},
              {"pull", t.pull.is_object()
                           ? Json{{"number", t.pull.value("number", Json())},
                                  {"url", t.pull.value("url", Json())},
                                  {"state", t.pull.value("state", Json())},
                                  {"review_state", t.pull.value("review_state", Json())},
                                  {"reviews_waiting", t.pull.value("reviews_waiting", 0)},
                                  {"checks", t.pull.contains("checks") ? t.pull["checks"].value("state", Json()) : Json()}}
                           : Json(nullptr)},
              {"created_at", t.created_at},
              {"updated_at", t.updated_at},
              {"version", t.version}};
}

// --- The task as its reads and announcements show it ---------------------------------

Json sessions_json(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT session_id, title, agent, status, turn, last_turn_status, pending_permissions, "
                          "created_by, created_at, updated_at FROM sessions ORDER BY created_at, session_id");
  Json items = Json::array();
  while (q.executeStep())
    items.push_back({{"session_id", q.getColumn(0).getString()}, {"title", q.getColumn(1).getString()},
                     {"agent", q.getColumn(2).getString()},      {"status", q.getColumn(3).getString()},
                     {"turn", q.getColumn(4).getInt64()},        {"last_turn_status", sql::text_or_null(q.getColumn(5))},
                     {"pending_permissions", q.getColumn(6).getInt64()}, {"created_by", q.getColumn(7).getString()},
                     {"created_at", q.getColumn(8).getInt64()},  {"updated_at", q.getColumn(9).getInt64()}});
  return items;
}

Json op_json(SQLite::Statement& q) {
  return Json{{"op_id", q.getColumn(0).getInt64()},
              {"kind", q.getColumn(1).getString()},
              {"status", q.getColumn(2).getString()},
              {"args", Json::parse(q.getColumn(3).getString())},
              {"result", sql::column<Json>(q.getColumn(4))},
              {"error", sql::text_or_null(q.getColumn(5))},
              {"by", q.getColumn(6).getString()},
              {"created_at", q.getColumn(7).getInt64()},
              {"ended_at", sql::int_or_null(q.getColumn(8))}};
}
const char* const kOpColumns = "id, kind, status, args_json, result_json, error, by, created_at, ended_at";

Result<Json> find_op(SQLite::Database& db, std::int64_t id) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM ops WHERE id = ?", kOpColumns));
  sql::bind_all(q, id);
  if (!q.executeStep()) return Error{ErrorCode::not_found, fmt::format("no op {} in this task", id)};
  return op_json(q);
}

Json running_op(SQLite::Database& db) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM ops WHERE status = 'running' ORDER BY id DESC LIMIT 1", kOpColumns));
  return q.executeStep() ? op_json(q) : Json(nullptr);
}

Json diff_totals(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT COUNT(*), COALESCE(SUM(added), 0), COALESCE(SUM(removed), 0) FROM diff_files");
  q.executeStep();
  SQLite::Statement m(db, "SELECT base_commit, head_commit, refreshed_at FROM diff_meta");
  Json meta{{"files", q.getColumn(0).getInt64()}, {"added", q.getColumn(1).getInt64()},
            {"removed", q.getColumn(2).getInt64()}, {"base_commit", nullptr}, {"head_commit", nullptr},
            {"refreshed_at", nullptr}};
  if (m.executeStep()) {
    meta["base_commit"] = sql::text_or_null(m.getColumn(0));
    meta["head_commit"] = sql::text_or_null(m.getColumn(1));
    meta["refreshed_at"] = sql::int_or_null(m.getColumn(2));
  }
  return meta;
}

// What waits for a person, most pressing first: a permission request, sync conflicts,
// a provisioning error, a failed turn (the newest open session's last). null: nothing.
Json needs_you(SQLite::Database& db, const TaskRow& t) {
  auto reason = [](const char* why, std::string message) { return Json{{"reason", why}, {"message", message}}; };
  if (t.status == TaskStatus::archived || t.status == TaskStatus::killed) return nullptr;
  auto pending = db.execAndGet("SELECT COALESCE(SUM(pending_permissions), 0) FROM sessions WHERE status != 'closed'")
                     .getInt64();
  if (pending > 0)
    return reason("permission", pending == 1 ? "The agent asks for permission."
                                             : fmt::format("The agents ask for {}.", plural(pending, "permission", "permissions")));
  if (t.status == TaskStatus::conflict)
    return reason("conflict", fmt::format("Syncing left conflicts in {}.",
                                          plural(static_cast<std::int64_t>(t.conflict_files.size()), "file", "files")));
  if (t.status == TaskStatus::error)
    return reason("error", fmt::format("The sandbox could not be set up{}.",
                                       t.error_step ? " (" + *t.error_step + ")" : ""));
  SQLite::Statement q(db, "SELECT status, last_turn_status FROM sessions WHERE status != 'closed' "
                          "ORDER BY created_at DESC, session_id DESC LIMIT 1");
  if (q.executeStep() && q.getColumn(0).getString() != "running" && q.getColumn(0).getString() != "cancelling" &&
      !q.getColumn(1).isNull()) {
    auto turn = q.getColumn(1).getString();
    if (turn == "interrupted") return reason("failed_turn", "The agent's last turn was cut short when the server stopped.");
    if (turn != "completed" && turn != "cancelled") return reason("failed_turn", "The agent's last turn failed.");
  }
  return nullptr;
}

Json full_json(SQLite::Database& db) {
  auto row = load_task(db);
  if (!row) return nullptr;
  return full_json(db, *row);
}

Json full_json(SQLite::Database& db, const TaskRow& row) {
  auto t = to_json(row);
  t["needs_you"] = needs_you(db, row);
  t["sessions"] = sessions_json(db);
  t["running_op"] = running_op(db);
  t["diff"] = diff_totals(db);
  return t;
}

// What the organization's index keeps of a task (task_store.h).
Json summary_json(SQLite::Database& db) { return summary_json(db, load_task(db).value()); }

Json summary_json(SQLite::Database& db, const TaskRow& row) {
  return index_summary(row, tally_sessions(db), needs_you(db, row));
}

// The status its row and sessions say (task_state.h).
TaskStatus derived_status(SQLite::Database& db) { return derived_status(db, load_task(db).value()); }

TaskStatus derived_status(SQLite::Database& db, const TaskRow& row) {
  return derive({.stored = row.status,
                 .killed = row.killed_at.has_value(),
                 .archived = row.archived_at.has_value(),
                 .running_sessions =
                     db.execAndGet("SELECT COUNT(*) FROM sessions WHERE status IN ('running', 'cancelling')").getInt64(),
                 .conflict = !row.conflict_files.is_null()});
}

// --- The task's sessions, as they report ---------------------------------------------

void insert_session_row(SQLite::Database& db, const std::string& id, const std::string& title,
                        const std::string& agent, bool running, const std::string& by, std::int64_t at) {
  SQLite::Statement ins(db, "INSERT INTO sessions(session_id, title, agent, status, created_by, created_at, "
                            "updated_at) VALUES(?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(ins, id, title, agent, running ? "running" : "idle", by, at, at);
  ins.exec();
}

std::optional<std::string> apply_session_report(storage::StatementCache& db, const SessionReport& r,
                                                std::int64_t at) {
  if (r.report_seq > 0) {
    auto seen = db.get("SELECT report_seq FROM sessions WHERE session_id = ?");
    sql::bind_all(*seen, r.session_id);
    if (seen->executeStep() && seen->getColumn(0).getInt64() >= r.report_seq)
      return fmt::format("report {} is older than report {}, applied already", r.report_seq,
                         seen->getColumn(0).getInt64());
  }
  auto up = db.get("UPDATE sessions SET status = ?, turn = ?, updated_at = ?, "
                   "last_turn_status = COALESCE(?, last_turn_status), "
                   "pending_permissions = CASE WHEN ? THEN 0 ELSE MAX(0, pending_permissions + ?) END, "
                   "report_seq = MAX(report_seq, ?) WHERE session_id = ?");
  sql::bind_all(*up, r.status, r.turn, at, r.turn_status, r.turn_ended, r.permissions, r.report_seq, r.session_id);
  if (up->exec() == 0) return "not a session of this task";
  return std::nullopt;
}

std::vector<std::string> running_session_ids(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT session_id FROM sessions WHERE status = 'running'");
  std::vector<std::string> ids;
  while (q.executeStep()) ids.push_back(sql::column<std::string>(q.getColumn(0)));
  return ids;
}

void mark_session_running(SQLite::Database& db, const std::string& id) {
  SQLite::Statement run(db, "UPDATE sessions SET status = 'running' WHERE session_id = ?");
  sql::bind_all(run, id);
  run.exec();
}

void close_session_row(SQLite::Database& db, const std::string& id, std::int64_t at) {
  SQLite::Statement up(db, "UPDATE sessions SET status = 'closed', updated_at = ? WHERE session_id = ?");
  sql::bind_all(up, at, id);
  up.exec();
}

bool rename_session_row(SQLite::Database& db, const std::string& id, const std::string& title, std::int64_t at) {
  SQLite::Statement up(db, "UPDATE sessions SET title = ?, updated_at = ? WHERE session_id = ?");
  sql::bind_all(up, title, at, id);
  return up.exec() != 0;
}

std::int64_t count_sessions(SQLite::Database& db, bool open_only) {
  return db.execAndGet(open_only ? "SELECT COUNT(*) FROM sessions WHERE status != 'closed'" : "SELECT COUNT(*) FROM sessions")
      .getInt64();
}

std::optional<std::string> newest_open_session_id(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT session_id FROM sessions WHERE status != 'closed' ORDER BY created_at DESC LIMIT 1");
  if (!q.executeStep()) return std::nullopt;
  return sql::column<std::string>(q.getColumn(0));
}

std::optional<SessionState> find_session_state(SQLite::Database& db, const std::string& id) {
  SQLite::Statement q(db, "SELECT status, turn FROM sessions WHERE session_id = ?");
  sql::bind_all(q, id);
  if (!q.executeStep()) return std::nullopt;
  return SessionState{sql::column<std::string>(q.getColumn(0)), sql::column<std::int64_t>(q.getColumn(1))};
}

void close_open_sessions(SQLite::Database& db) {
  db.exec("UPDATE sessions SET status = 'closed' WHERE status != 'closed'");
}

// --- The task's git ops ---------------------------------------------------------------

std::optional<RunningFlow> running_flow(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT id, kind FROM ops WHERE status = 'running' AND kind != 'diff' LIMIT 1");
  if (!q.executeStep()) return std::nullopt;
  return RunningFlow{sql::column<std::int64_t>(q.getColumn(0)), sql::column<std::string>(q.getColumn(1))};
}

void fail_running_ops(SQLite::Database& db, const std::string& error, std::int64_t at) {
  SQLite::Statement up(db, "UPDATE ops SET status = 'failed', error = ?, ended_at = ? WHERE status = 'running'");
  sql::bind_all(up, error, at);
  up.exec();
}

std::int64_t insert_op(storage::StatementCache& db, GitFlow flow, const Json& args, const std::string& by,
                       std::int64_t at) {
  auto ins = db.get("INSERT INTO ops(kind, status, args_json, by, created_at) VALUES(?, 'running', ?, ?, ?)");
  sql::bind_all(*ins, to_string(flow), args.dump(), by, at);
  ins->exec();
  return db.db().getLastInsertRowid();
}

void finish_op(storage::StatementCache& db, std::int64_t id, bool succeeded, const Json& result,
               const std::optional<std::string>& error, std::int64_t at) {
  auto up = db.get("UPDATE ops SET status = ?, result_json = ?, error = ?, ended_at = ? WHERE id = ?");
  sql::bind_all(*up, succeeded ? "succeeded" : "failed",
                result.is_null() ? std::nullopt : std::optional(result.dump()), error, at, id);
  up->exec();
}

Json list_ops(SQLite::Database& db, std::int64_t before_id, std::int64_t limit) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM ops WHERE id < ? ORDER BY id DESC LIMIT ?", kOpColumns));
  sql::bind_all(q, before_id > 0 ? before_id : INT64_MAX, limit);
  Json items = Json::array();
  while (q.executeStep()) items.push_back(op_json(q));
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["op_id"] : Json(nullptr);
  return Json{{"items", items}, {"next_cursor", next}};
}

// --- The task's diff ----------------------------------------------------------------------

void store_diff(storage::StatementCache& db, std::int64_t op_id, const Json& diff, std::int64_t at) {
  {
    auto newer = db.get("SELECT 1 FROM diff_meta WHERE op_id > ?");
    sql::bind_all(*newer, op_id);
    if (newer->executeStep()) return;
  }
  db.db().exec("DELETE FROM diff_files");
  // Counts are absent for binary files, commits for a repository with none yet: NULL.
  using sql::optional_int, sql::optional_text;
  auto ins = db.get("INSERT INTO diff_files(path, status, added, removed, patch, patch_truncated) "
                    "VALUES(?, ?, ?, ?, ?, ?)");
  for (const auto& f : diff["files"]) {
    sql::bind_all(*ins, f["path"].get<std::string>(), f["status"].get<std::string>(), optional_int(f["added"]),
                  optional_int(f["removed"]), f["patch"].get<std::string>(), f["patch_truncated"].get<bool>());
    ins->exec();
    ins->reset();
  }
  auto meta = db.get("INSERT OR REPLACE INTO diff_meta(id, base_commit, head_commit, refreshed_at, op_id) "
                     "VALUES(1, ?, ?, ?, ?)");
  sql::bind_all(*meta, optional_text(diff["base_commit"]), optional_text(diff["head_commit"]), at, op_id);
  meta->exec();
}

namespace {

Json diff_file_json(SQLite::Statement& q, bool with_patch) {
  Json f{{"path", q.getColumn(0).getString()},          {"status", q.getColumn(1).getString()},
         {"added", sql::int_or_null(q.getColumn(2))},   {"removed", sql::int_or_null(q.getColumn(3))},
         {"binary", q.getColumn(2).isNull()}};
  if (with_patch) f["patch"] = q.getColumn(4).getString();
  f["patch_truncated"] = q.getColumn(5).getInt() != 0;
  return f;
}

}  // namespace

Json list_diff_files(SQLite::Database& db, const std::string& after, std::int64_t limit) {
  SQLite::Statement q(db, "SELECT path, status, added, removed, '', patch_truncated FROM diff_files WHERE path > ? "
                          "ORDER BY path LIMIT ?");
  sql::bind_all(q, after, limit);
  Json items = Json::array();
  while (q.executeStep()) items.push_back(diff_file_json(q, false));
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["path"] : Json(nullptr);
  auto totals = diff_totals(db);
  totals["items"] = items;
  totals["next_cursor"] = next;
  return totals;
}

Result<Json> find_diff_file(SQLite::Database& db, const std::string& path) {
  SQLite::Statement q(db, "SELECT path, status, added, removed, patch, patch_truncated FROM diff_files WHERE path = ?");
  sql::bind_all(q, path);
  if (!q.executeStep()) return Error{ErrorCode::not_found, "that file has no changes against the base"};
  return diff_file_json(q, true);
}

}  // namespace hearth::actors::task
