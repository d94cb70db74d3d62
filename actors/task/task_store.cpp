// The task's row and its index summary: see task_store.h.
#include "actors/task/task_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace hearth::actors::task {
namespace {

std::optional<std::string> text(const SQLite::Column& c) {
  return c.isNull() ? std::nullopt : std::optional<std::string>(c.getString());
}
std::optional<std::int64_t> number(const SQLite::Column& c) {
  return c.isNull() ? std::nullopt : std::optional<std::int64_t>(c.getInt64());
}
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
                      "created_at, updated_at, archived_at, killed_at FROM task");
  if (!q.executeStep()) return std::nullopt;
  auto column = [&q](int i) { return q.getColumn(i); };
  TaskRow t;
  t.org_id = column(0).getString();
  t.task_id = column(1).getString();
  t.repo_id = column(2).getString();
  t.repo_url = column(3).getString();
  t.base_branch = column(4).getString();
  t.branch = column(5).getString();
  t.title = column(6).getString();
  t.prompt = column(7).getString();
  t.agent = column(8).getString();
  // The table CHECKs the status; a name this build does not know is a bug worth failing the step on.
  t.status = parse_status(column(9).getString()).value();
  t.phase = text(column(10));
  t.error = text(column(11));
  t.error_step = text(column(12));
  t.sandbox_state = column(13).getString();
  t.provider = column(14).getString();
  t.network = column(15).getString();
  t.git_credential = text(column(16));
  t.permission_timeout_ms = column(17).getInt64();
  t.owner_id = column(18).getString();
  t.owner_name = column(19).getString();
  t.created_by = column(20).getString();
  t.conflict_files = column(21).isNull() ? Json(nullptr) : Json::parse(column(21).getString());
  t.attention = text(column(22));
  t.version = column(23).getInt64();
  t.created_at = column(24).getInt64();
  t.updated_at = column(25).getInt64();
  t.archived_at = number(column(26));
  t.killed_at = number(column(27));
  return t;
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
              {"killed_at", or_null(t.killed_at)}};
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
              {"created_at", t.created_at},
              {"updated_at", t.updated_at},
              {"version", t.version}};
}

}  // namespace hearth::actors::task
