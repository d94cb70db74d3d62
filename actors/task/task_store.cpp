// The task's row and its index summary: see task_store.h.
#include "actors/task/task_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <type_traits>

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
                      "created_at, updated_at, archived_at, killed_at FROM task");
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
