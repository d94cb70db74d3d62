// The task's row, typed, and the one definition of what the organization's index keeps
// of a task. The task actor reads its row here (one table, one row: `task`); the
// organization builds the first summary of a task it creates with the same function the
// task uses for every later one, so that the index never holds two shapes of a task.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/host/address.h"
#include "actors/task/task_state.h"
#include "storage/error.h"
#include "storage/statement_cache.h"

namespace SQLite {
class Database;
class Statement;
}

namespace hearth::actors::task {

// The `task` table's row (migrations/task/*.sql); optional where the column is nullable.
struct TaskRow {
  std::string org_id, task_id, repo_id, repo_url, base_branch, branch, title, prompt, agent;
  TaskStatus status = TaskStatus::provisioning;
  std::optional<std::string> phase, error, error_step;  // what provisioning does, or where it failed
  std::string sandbox_state, provider, network;
  std::optional<std::string> git_credential;  // the org secret git authenticates with
  std::int64_t permission_timeout_ms = 0;
  std::string owner_id, owner_name, created_by;
  Json conflict_files;                   // null, or the files a sync stopped on
  std::optional<std::string> attention;  // needs_permission, finished, failed
  std::int64_t version = 0, created_at = 0, updated_at = 0;
  std::optional<std::int64_t> archived_at, killed_at;
  Json work_prompts = Json::array();  // titles of the prompts the next commit describes
  std::int64_t commits = 0;           // commits Hearth made of the task's work
  Json pull;                          // null, or its pull request on GitHub (migrations/task/0004)
  std::optional<std::string> archive_reason;  // why it was archived, when not by a person ("PR merged")
  std::optional<std::string> pushed_head;     // the commit Hearth pushed last to the branch
};

// The task's row, or nullopt before on_create wrote it.
std::optional<TaskRow> load_task(SQLite::Database& db);
// Writes the task's row for the first time (on_create).
void insert_task(SQLite::Database& db, const TaskRow& row);
// Saves what handlers change of the row: title, status, phase, error, error_step,
// sandbox_state, owner, conflict_files, attention, archived_at, killed_at, work_prompts,
// commits, pull, archive_reason and pushed_head. (version and updated_at move with announce_change; the rest is fixed at
// creation.)
void save_task(SQLite::Database& db, const TaskRow& row);
// `user_id` takes part in the task as of `at` (their feed hears of it); once is enough.
void add_participant(SQLite::Database& db, const std::string& user_id, const std::string& username, std::int64_t at);

// The row as task.get shows it (the owner as {user_id, username}; nulls for unset columns).
Json to_json(const TaskRow& row);

// How many of the task's open sessions there are, run a turn, and wait on permissions.
struct SessionTally {
  std::int64_t sessions = 0, running = 0, pending_permissions = 0;
};

SessionTally tally_sessions(SQLite::Database& db);

// What the organization's index keeps of a task: {task_id, repo_id, title, branch,
// base_branch, status, owner_id, owner_name, agent, attention, sessions,
// running_sessions, pending_permissions, needs_you, pull: {number, url, state} | null,
// created_at, updated_at, version}.
Json index_summary(const TaskRow& row, const SessionTally& tally, Json needs_you);

// --- The task as its reads and announcements show it ------------------------------------

// The task's sessions, oldest first, as task.get lists them.
Json sessions_json(SQLite::Database& db);
// The columns op_json reads, in its order, for a SELECT over `ops`.
extern const char* const kOpColumns;
// The op at the statement's current row (selected with kOpColumns).
Json op_json(SQLite::Statement& q);
// Op `id`, or Error::not_found.
Result<Json> find_op(SQLite::Database& db, std::int64_t id);
// The newest running op, or null.
Json running_op(SQLite::Database& db);
// The diff's totals and the commits it is between: {files, added, removed, base_commit,
// head_commit, refreshed_at}.
Json diff_totals(SQLite::Database& db);
// What waits for a person, most pressing first: {reason, message}, or null.
Json needs_you(SQLite::Database& db, const TaskRow& t);
// The whole task as task.get and task.changed show it, or null before on_create.
Json full_json(SQLite::Database& db);
Json full_json(SQLite::Database& db, const TaskRow& row);  // of `row` as loaded
// The index summary of the task as it is now (index_summary over its row and sessions).
Json summary_json(SQLite::Database& db);
Json summary_json(SQLite::Database& db, const TaskRow& row);
// The status its row and sessions say (task_state.h's derive).
TaskStatus derived_status(SQLite::Database& db);
TaskStatus derived_status(SQLite::Database& db, const TaskRow& row);

// --- The task's sessions, as they report ---------------------------------------------

// A new session row: running when its first prompt goes with it, else idle.
void insert_session_row(SQLite::Database& db, const std::string& id, const std::string& title,
                        const std::string& agent, bool running, const std::string& by, std::int64_t at);

// What a session reported (task.command.session_changed).
struct SessionReport {
  std::string session_id, status;
  std::int64_t turn = 0;
  std::int64_t report_seq = 0;             // 0: unnumbered (always applied)
  std::optional<std::string> turn_status;  // kept as the last turn's when set
  int permissions = 0;                     // +1 a permission asked, -1 one answered
  bool turn_ended = false;                 // no permission waits any more
};
// Applies `report` to its session's row as of `at`; nullopt when applied, or why it was
// not: a report numbered at or below the newest applied one (stale, whatever order it
// arrived in), or a session the task does not have.
// Runs on the step's statements (cached per connection): reports are the task's busiest queue.
std::optional<std::string> apply_session_report(storage::StatementCache& db, const SessionReport& report,
                                                std::int64_t at);

// The sessions running a turn now (not those cancelling one).
std::vector<std::string> running_session_ids(SQLite::Database& db);
// Session `id` runs a turn: its prompt was sent.
void mark_session_running(SQLite::Database& db, const std::string& id);
// Session `id` is closed as of `at`.
void close_session_row(SQLite::Database& db, const std::string& id, std::int64_t at);
// Session `id` is called `title` as of `at`; false when the task has no such session.
bool rename_session_row(SQLite::Database& db, const std::string& id, const std::string& title, std::int64_t at);
// How many sessions the task has had; with `open_only`, of those not closed.
std::int64_t count_sessions(SQLite::Database& db, bool open_only);
// The newest session not closed, or nullopt.
std::optional<std::string> newest_open_session_id(SQLite::Database& db);
// A session's status and turn as it last reported them.
struct SessionState {
  std::string status;
  std::int64_t turn = 0;
};
// Session `id`'s state, or nullopt when the task has no such session.
std::optional<SessionState> find_session_state(SQLite::Database& db, const std::string& id);
// Every open session is closed (the sandbox that ran them is destroyed).
void close_open_sessions(SQLite::Database& db);

// --- The task's git ops ---------------------------------------------------------------

// A running git flow other than a diff refresh: its op and kind.
struct RunningFlow {
  std::int64_t op_id = 0;
  std::string kind;
};
std::optional<RunningFlow> running_flow(SQLite::Database& db);
// Every running op fails with `error` as of `at`.
void fail_running_ops(SQLite::Database& db, const std::string& error, std::int64_t at);
// A new running op of `flow` with `args`, asked by `by` at `at`: its id.
std::int64_t insert_op(storage::StatementCache& db, GitFlow flow, const Json& args, const std::string& by,
                       std::int64_t at);
// Op `id` ended at `at`: succeeded or failed, what it did (null: nothing) and why it failed.
void finish_op(storage::StatementCache& db, std::int64_t id, bool succeeded, const Json& result,
               const std::optional<std::string>& error, std::int64_t at);
// Newest first, below `before_id` (0: from the newest): {items, next_cursor}.
Json list_ops(SQLite::Database& db, std::int64_t before_id, std::int64_t limit);

// --- The task's diff ----------------------------------------------------------------------

// Keeps `diff` (parse_diff's shape) as op `op_id`'s, refreshed at `at`, unless a later
// op's diff is there already.
void store_diff(storage::StatementCache& db, std::int64_t op_id, const Json& diff, std::int64_t at);
// The changed files after path `after`, in path order, without patches: the totals
// (diff_totals) with {items, next_cursor}.
Json list_diff_files(SQLite::Database& db, const std::string& after, std::int64_t limit);
// One changed file with its patch, or not_found.
Result<Json> find_diff_file(SQLite::Database& db, const std::string& path);

}  // namespace hearth::actors::task
