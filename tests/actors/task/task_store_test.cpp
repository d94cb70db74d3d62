// The task's typed row as task.get shows it, and the one shape of a task in the
// organization's index (actors/task/task_store.h).
#include <doctest/doctest.h>

#include "actors/task/task_store.h"

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
                  {"pending_permissions", 3}, {"needs_you", {{"reason", "permission"}}},
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
  CHECK(t.size() == 27);
}

}  // namespace
}  // namespace hearth::test
