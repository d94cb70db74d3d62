// The task's status rules (actors/task/task_state.h), transition by transition of the
// diagram in actors/task/task_actor.h, and every refusal in the words people read.
#include <doctest/doctest.h>

#include <string>

#include "actors/task/task_state.h"

namespace hearth::test {
namespace {

using actors::task::can;
using actors::task::derive;
using actors::task::done_already;
using actors::task::git_action;
using actors::task::GitFlow;
using actors::task::parse_git_flow;
using actors::task::parse_status;
using actors::task::provisioning_outcome;
using actors::task::TaskAction;
using actors::task::TaskFacts;
using actors::task::TaskStatus;

// The refusal's words, or "" when `action` is allowed.
std::string refusal(TaskStatus status, TaskAction action, std::string_view sandbox_state = "ready") {
  auto st = can(status, sandbox_state, action);
  if (st) return "";
  CHECK(st.error().code == ErrorCode::conflict);
  return st.error().message;
}

constexpr TaskAction kWork[] = {TaskAction::take_prompt, TaskAction::start_session, TaskAction::refresh_diff,
                                TaskAction::commit,      TaskAction::push,          TaskAction::sync,
                                TaskAction::merge,       TaskAction::revert};

TEST_CASE("every task status has one name, read back as the same status, and other words name none") {
  CHECK(std::size(actors::task::kTaskStatuses) == 7);
  for (auto status : actors::task::kTaskStatuses) CHECK(parse_status(to_string(status)) == status);
  CHECK(to_string(TaskStatus::provisioning) == "provisioning");
  CHECK(to_string(TaskStatus::conflict) == "conflict");
  CHECK(to_string(TaskStatus::killed) == "killed");
  CHECK_FALSE(parse_status(""));
  CHECK_FALSE(parse_status("Idle"));
  CHECK_FALSE(parse_status("closed"));
}

TEST_CASE("provisioning ends in idle when the sandbox is ready, then running while the first prompt's turn runs") {
  CHECK(provisioning_outcome(TaskStatus::provisioning, "ready") == TaskStatus::idle);
  CHECK(derive({.stored = TaskStatus::idle, .running_sessions = 1}) == TaskStatus::running);
  CHECK(derive({.stored = TaskStatus::idle}) == TaskStatus::idle);
  // Until the sandbox reports, the task stays provisioning whatever its sessions say.
  CHECK(provisioning_outcome(TaskStatus::provisioning, "provisioning") == std::nullopt);
  CHECK(derive({.stored = TaskStatus::provisioning, .running_sessions = 1}) == TaskStatus::provisioning);
}

TEST_CASE("provisioning ends in error when the sandbox fails, and error holds until a retry") {
  CHECK(provisioning_outcome(TaskStatus::provisioning, "error") == TaskStatus::error);
  CHECK(derive({.stored = TaskStatus::error}) == TaskStatus::error);
  CHECK(derive({.stored = TaskStatus::error, .running_sessions = 2, .conflict = true}) == TaskStatus::error);
}

TEST_CASE("a sandbox's report ends nothing for a task past provisioning") {
  for (auto status : {TaskStatus::running, TaskStatus::idle, TaskStatus::conflict, TaskStatus::error,
                      TaskStatus::archived, TaskStatus::killed})
    for (auto state : {"ready", "error", "stopped", "destroyed", "provisioning"})
      CHECK(provisioning_outcome(status, state) == std::nullopt);
}

TEST_CASE("running and idle follow the turns: running while any session runs or cancels a turn") {
  CHECK(derive({.stored = TaskStatus::idle, .running_sessions = 2}) == TaskStatus::running);
  CHECK(derive({.stored = TaskStatus::running, .running_sessions = 0}) == TaskStatus::idle);
  CHECK(derive({.stored = TaskStatus::running, .running_sessions = 1}) == TaskStatus::running);
}

TEST_CASE("conflict stands while a sync's conflicts do, behind a running turn, and clears to idle") {
  CHECK(derive({.stored = TaskStatus::idle, .conflict = true}) == TaskStatus::conflict);
  CHECK(derive({.stored = TaskStatus::conflict, .running_sessions = 1, .conflict = true}) == TaskStatus::running);
  CHECK(derive({.stored = TaskStatus::running, .conflict = true}) == TaskStatus::conflict);
  CHECK(derive({.stored = TaskStatus::conflict}) == TaskStatus::idle);
}

TEST_CASE("archive: from running, idle, conflict or error, and archived is archived whatever else holds") {
  for (auto status : {TaskStatus::running, TaskStatus::idle, TaskStatus::conflict, TaskStatus::error})
    CHECK(refusal(status, TaskAction::archive, "stopped") == "");
  CHECK(refusal(TaskStatus::provisioning, TaskAction::archive) == "the task is provisioning; it cannot be archived");
  CHECK(refusal(TaskStatus::killed, TaskAction::archive) == "the task is killed; it cannot be archived");
  CHECK(done_already(TaskStatus::archived, TaskAction::archive));
  CHECK_FALSE(done_already(TaskStatus::idle, TaskAction::archive));
  CHECK(derive({.stored = TaskStatus::running, .archived = true, .running_sessions = 1, .conflict = true}) ==
        TaskStatus::archived);
}

TEST_CASE("unarchive: only an archived task, provisioned again or derived anew when its sandbox starts") {
  CHECK(refusal(TaskStatus::archived, TaskAction::unarchive, "destroyed") == "");
  for (auto status : {TaskStatus::provisioning, TaskStatus::running, TaskStatus::idle, TaskStatus::conflict,
                      TaskStatus::error, TaskStatus::killed})
    CHECK(refusal(status, TaskAction::unarchive) ==
          "the task is " + std::string(to_string(status)) + "; it cannot be unarchived (it is not archived)");
  // The sandbox gone: provisioning is stored, and holds.
  CHECK(derive({.stored = TaskStatus::provisioning}) == TaskStatus::provisioning);
  // The sandbox stopped: the archived status stored before gives way to what the sessions say.
  CHECK(derive({.stored = TaskStatus::archived}) == TaskStatus::idle);
  CHECK(derive({.stored = TaskStatus::archived, .conflict = true}) == TaskStatus::conflict);
}

TEST_CASE("retry: only after a provisioning error, back to provisioning") {
  CHECK(refusal(TaskStatus::error, TaskAction::retry, "error") == "");
  for (auto status : {TaskStatus::provisioning, TaskStatus::running, TaskStatus::idle, TaskStatus::conflict,
                      TaskStatus::archived, TaskStatus::killed})
    CHECK(refusal(status, TaskAction::retry) ==
          "the task is " + std::string(to_string(status)) + "; it cannot be retried (only after a provisioning error)");
}

TEST_CASE("kill: from any status, once, and killed outranks every other fact") {
  for (auto status : actors::task::kTaskStatuses) {
    CHECK(refusal(status, TaskAction::kill, "destroyed") == "");
    CHECK(done_already(status, TaskAction::kill) == (status == TaskStatus::killed));
  }
  CHECK(derive({.stored = TaskStatus::error, .killed = true, .archived = true}) == TaskStatus::killed);
  CHECK(derive({.stored = TaskStatus::idle, .killed = true, .running_sessions = 1}) == TaskStatus::killed);
}

TEST_CASE("work (prompts, sessions, git) needs a live task past provisioning and a ready sandbox") {
  for (auto action : kWork)
    for (auto status : {TaskStatus::running, TaskStatus::idle, TaskStatus::conflict}) CHECK(refusal(status, action) == "");
  CHECK(refusal(TaskStatus::archived, TaskAction::take_prompt) == "the task is archived; it cannot take a prompt");
  CHECK(refusal(TaskStatus::killed, TaskAction::start_session) == "the task is killed; it cannot start a session");
  CHECK(refusal(TaskStatus::provisioning, TaskAction::refresh_diff) ==
        "the task is provisioning; it cannot refresh its diff");
  CHECK(refusal(TaskStatus::error, TaskAction::commit) == "the task is error; it cannot commit");
  CHECK(refusal(TaskStatus::archived, TaskAction::push) == "the task is archived; it cannot push");
  CHECK(refusal(TaskStatus::killed, TaskAction::sync) == "the task is killed; it cannot sync");
  CHECK(refusal(TaskStatus::error, TaskAction::merge) == "the task is error; it cannot merge");
  CHECK(refusal(TaskStatus::provisioning, TaskAction::revert) == "the task is provisioning; it cannot revert");
  // The status speaks first; then the sandbox.
  CHECK(refusal(TaskStatus::archived, TaskAction::push, "stopped") == "the task is archived; it cannot push");
  CHECK(refusal(TaskStatus::idle, TaskAction::push, "stopped") == "the task's sandbox is stopped; it cannot push");
  CHECK(refusal(TaskStatus::running, TaskAction::take_prompt, "provisioning") ==
        "the task's sandbox is provisioning; it cannot take a prompt");
}

TEST_CASE("a killed task cannot change hands but any other can") {
  CHECK(refusal(TaskStatus::killed, TaskAction::change_owner) == "the task is killed; it cannot change hands");
  for (auto status : actors::task::kTaskStatuses)
    if (status != TaskStatus::killed) CHECK(refusal(status, TaskAction::change_owner, "destroyed") == "");
}

TEST_CASE("each git flow is the action its refusals name") {
  CHECK(git_action(GitFlow::diff) == TaskAction::refresh_diff);
  CHECK(git_action(GitFlow::commit) == TaskAction::commit);
  CHECK(git_action(GitFlow::push) == TaskAction::push);
  CHECK(git_action(GitFlow::sync) == TaskAction::sync);
  CHECK(git_action(GitFlow::merge) == TaskAction::merge);
  CHECK(git_action(GitFlow::revert) == TaskAction::revert);
  for (auto flow : {GitFlow::diff, GitFlow::commit, GitFlow::push, GitFlow::sync, GitFlow::merge, GitFlow::revert})
    CHECK(parse_git_flow(to_string(flow)) == flow);
  CHECK_FALSE(parse_git_flow("rebase"));
}

}  // namespace
}  // namespace hearth::test
