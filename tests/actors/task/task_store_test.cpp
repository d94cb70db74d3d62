// The task's typed row as task.get shows it, and the one shape of a task in the
// organization's index (actors/task/task_store.h).
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "actors/task/task_store.h"
#include "storage/migrations.h"
#include "tests/support/temp_dir.h"

namespace hearth::test {
namespace {

using actors::Json;
namespace task = actors::task;

task::TaskRow row() {
  task::TaskRow t;
  t.org_id = "o_1";
  t.task_id = "t_1";
  t.repo_id = "web";
  t.base_branch = "main";
  t.branch = "hearth/fix-k3x9";
  t.title = "fix the parser";
  t.agent = "mock";
  t.status = task::TaskStatus::conflict;
  t.error_step = "cloning";
  t.owner_id = "u_1";
  t.owner_name = "ana";
  t.conflict_files = Json::array({"a.c"});
  t.attention = "finished";
  t.version = 7;
  t.created_at = 1000;
  t.updated_at = 2000;
  t.archived_at = 1500;
  return t;
}

TEST_CASE("a task's index summary holds what listings show, nothing of the task's secrets or prompt") {
  auto s = task::index_summary(row(), {.sessions = 2, .running = 1, .pending_permissions = 3},
                               Json{{"reason", "permission"}});
  CHECK(s == Json{{"task_id", "t_1"},       {"repo_id", "web"},         {"title", "fix the parser"},
                  {"branch", "hearth/fix-k3x9"}, {"base_branch", "main"}, {"status", "conflict"},
                  {"owner_id", "u_1"},      {"owner_name", "ana"},      {"agent", "mock"},
                  {"attention", "finished"}, {"sessions", 2},           {"running_sessions", 1},
                  {"pending_permissions", 3}, {"needs_you", {{"reason", "permission"}}}, {"pull", nullptr},
                  {"created_at", 1000},     {"updated_at", 2000},       {"version", 7}});
  // A task just created: provisioning, no sessions, nothing waiting.
  task::TaskRow created;
  created.task_id = "t_2";
  auto fresh = task::index_summary(created, {}, nullptr);
  CHECK(fresh["status"] == "provisioning");
  CHECK(fresh["attention"] == nullptr);
  CHECK(fresh["sessions"] == 0);
  CHECK(fresh["needs_you"] == nullptr);
  CHECK(fresh["version"] == 0);
}

TEST_CASE("a task row shows its owner as one object and its unset columns as null") {
  auto t = task::to_json(row());
  CHECK(t["owner"] == Json{{"user_id", "u_1"}, {"username", "ana"}});
  CHECK(t["status"] == "conflict");
  CHECK(t["conflict_files"] == Json::array({"a.c"}));
  CHECK(t["error_step"] == "cloning");
  CHECK(t["phase"] == nullptr);
  CHECK(t["git_credential"] == nullptr);
  CHECK(t["archived_at"] == 1500);
  CHECK(t["killed_at"] == nullptr);
  CHECK(t["pull"] == nullptr);
  CHECK(t["archive_reason"] == nullptr);
  CHECK(t.size() == 29);
}

// The task's own tables (migrations/task) in a real SQLite file.
struct TaskDb {
  TempDir dir;
  SQLite::Database db{(dir.path() / "task.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  storage::StatementCache statements{db};  // what a handler's step runs on
  TaskDb() {
    auto set = storage::embedded_migrations("task");
    REQUIRE(storage::apply_migrations(db, std::span(&set, 1), "test").ok());
  }
};

TEST_CASE("a task row written, changed and saved reads back field for field") {
  TaskDb t;
  auto r = row();
  r.status = task::TaskStatus::provisioning;
  r.phase = "creating the sandbox";
  r.git_credential = "GIT_TOKEN";
  r.permission_timeout_ms = 60'000;
  r.created_by = "ana";
  r.conflict_files = nullptr;
  r.attention.reset();
  r.version = 0;
  r.archived_at.reset();
  r.error_step.reset();
  r.sandbox_state = "provisioning";  // the table's default: a task's sandbox is being made
  task::insert_task(t.db, r);
  auto loaded = task::load_task(t.db).value();
  CHECK(task::to_json(loaded) == task::to_json(r));
  CHECK(loaded.work_prompts == Json::array());
  CHECK(loaded.commits == 0);

  loaded.title = "fix the lexer";
  loaded.status = task::TaskStatus::error;
  loaded.phase.reset();
  loaded.error = "git clone failed";
  loaded.error_step = "cloning";
  loaded.sandbox_state = "error";
  loaded.owner_id = "u_2";
  loaded.owner_name = "bo";
  loaded.conflict_files = Json::array({"a.c", "b.c"});
  loaded.attention = "failed";
  loaded.archived_at = 5;
  loaded.killed_at = 6;
  loaded.work_prompts = Json::array({"fix it", "and the tests"});
  loaded.commits = 2;
  task::save_task(t.db, loaded);
  auto saved = task::load_task(t.db).value();
  CHECK(task::to_json(saved) == task::to_json(loaded));
  CHECK(saved.work_prompts == loaded.work_prompts);
  CHECK(saved.commits == 2);
  // And back to unset: NULL columns, not empty strings.
  saved.conflict_files = nullptr;
  saved.error.reset();
  saved.archived_at.reset();
  task::save_task(t.db, saved);
  auto cleared = task::load_task(t.db).value();
  CHECK(cleared.conflict_files.is_null());
  CHECK_FALSE(cleared.error);
  CHECK_FALSE(cleared.archived_at);
}

TEST_CASE("a session's reports apply in number order: an older one, or one for another task's session, changes nothing") {
  TaskDb t;
  task::insert_session_row(t.db, "s_1", "Session 1", "mock", true, "ana", 10);
  auto report = [](std::int64_t seq, const char* status, int permissions = 0, bool ended = false) {
    return task::SessionReport{.session_id = "s_1", .status = status, .turn = 1, .report_seq = seq,
                               .turn_status = ended ? std::optional<std::string>("completed") : std::nullopt,
                               .permissions = permissions, .turn_ended = ended};
  };
  CHECK_FALSE(task::apply_session_report(t.statements, report(2, "running", 1), 20));
  CHECK(task::tally_sessions(t.db).pending_permissions == 1);
  auto stale = task::apply_session_report(t.statements, report(1, "idle"), 30);
  REQUIRE(stale);
  CHECK(*stale == "report 1 is older than report 2, applied already");
  CHECK(task::find_session_state(t.db, "s_1")->status == "running");
  CHECK_FALSE(task::apply_session_report(t.statements, report(3, "running", 1), 40));
  CHECK(task::tally_sessions(t.db).pending_permissions == 2);
  // The turn's end: no permission waits any more, and the turn's outcome is kept.
  CHECK_FALSE(task::apply_session_report(t.statements, report(4, "idle", 0, true), 50));
  CHECK(task::tally_sessions(t.db).pending_permissions == 0);
  CHECK(task::sessions_json(t.db)[0]["last_turn_status"] == "completed");
  CHECK(task::sessions_json(t.db)[0]["updated_at"] == 50);
  auto other = report(9, "idle");
  other.session_id = "s_elsewhere";
  CHECK(task::apply_session_report(t.statements, other, 60) == "not a session of this task");
}

TEST_CASE("ops: started running, finished with their result or error, listed newest first in pages") {
  TaskDb t;
  auto first = task::insert_op(t.statements, task::GitFlow::push, Json{{"message", "m"}}, "ana", 10);
  auto second = task::insert_op(t.statements, task::GitFlow::sync, Json::object(), "bo", 20);
  CHECK(task::running_flow(t.db)->op_id == first);
  task::finish_op(t.statements, first, true, Json{{"output", "pushed abc"}}, std::nullopt, 30);
  task::finish_op(t.statements, second, false, nullptr, std::string("git sync failed"), 40);
  auto pushed = task::find_op(t.db, first).value();
  CHECK(pushed["kind"] == "push");
  CHECK(pushed["status"] == "succeeded");
  CHECK(pushed["result"] == Json{{"output", "pushed abc"}});
  CHECK(pushed["ended_at"] == 30);
  auto synced = task::find_op(t.db, second).value();
  CHECK(synced["status"] == "failed");
  CHECK(synced["result"].is_null());
  CHECK(synced["error"] == "git sync failed");
  CHECK_FALSE(task::running_flow(t.db));
  auto page = task::list_ops(t.db, 0, 1);
  REQUIRE(page["items"].size() == 1);
  CHECK(page["items"][0]["op_id"] == second);
  auto next = task::list_ops(t.db, page["next_cursor"].get<std::int64_t>(), 1);
  CHECK(next["items"][0]["op_id"] == first);
  CHECK(task::find_op(t.db, 99).error().code == ErrorCode::not_found);
}

TEST_CASE("a diff is kept unless a later op's is there, and lists its files in path order in pages") {
  TaskDb t;
  auto file = [](const char* path, Json added) {
    return Json{{"path", path}, {"status", "modified"}, {"added", added}, {"removed", 1},
                {"patch", std::string("@@ ") + path}, {"patch_truncated", false}};
  };
  Json newer{{"base_commit", "b2"}, {"head_commit", "h2"},
             {"files", Json::array({file("src/b.c", 3), file("a.txt", 2), file("logo.png", nullptr)})}};
  task::store_diff(t.statements, 5, newer, 100);
  task::store_diff(t.statements, 4, Json{{"base_commit", "b1"}, {"head_commit", "h1"}, {"files", Json::array()}}, 200);
  auto listed = task::list_diff_files(t.db, "", 2);
  CHECK(listed["head_commit"] == "h2");  // op 4's diff came later but is older
  CHECK(listed["files"] == 3);
  CHECK(listed["added"] == 5);
  REQUIRE(listed["items"].size() == 2);
  CHECK(listed["items"][0]["path"] == "a.txt");
  CHECK_FALSE(listed["items"][0].contains("patch"));
  auto rest = task::list_diff_files(t.db, listed["next_cursor"].get<std::string>(), 2);
  REQUIRE(rest["items"].size() == 1);
  CHECK(rest["items"][0]["path"] == "src/b.c");
  CHECK(rest["next_cursor"].is_null());
  auto png = task::find_diff_file(t.db, "logo.png").value();
  CHECK(png["binary"] == true);
  CHECK(png["added"].is_null());
  CHECK(png["patch"] == "@@ logo.png");
  CHECK(task::find_diff_file(t.db, "nope").error().code == ErrorCode::not_found);
}

}  // namespace
}  // namespace hearth::test
