// A task's status rules: see task_state.h.
#include "actors/task/task_state.h"

#include <fmt/format.h>

namespace hearth::actors::task {
namespace {

// The words after "it cannot" in a refusal: the HTTP and CLI tests check some of them.
std::string_view doing(TaskAction action) {
  switch (action) {
    case TaskAction::take_prompt: return "take a prompt";
    case TaskAction::start_session: return "start a session";
    case TaskAction::refresh_diff: return "refresh its diff";
    case TaskAction::commit: return "commit";
    case TaskAction::push: return "push";
    case TaskAction::sync: return "sync";
    case TaskAction::merge: return "merge";
    case TaskAction::revert: return "revert";
    case TaskAction::publish_pr: return "open a pull request";
    case TaskAction::change_owner: return "change hands";
    case TaskAction::archive: return "be archived";
    case TaskAction::unarchive: return "be unarchived (it is not archived)";
    case TaskAction::kill: return "be killed";
    case TaskAction::retry: return "be retried (only after a provisioning error)";
  }
  return "do that";
}

Error refused(TaskStatus status, TaskAction action) {
  return Error{ErrorCode::conflict, fmt::format("the task is {}; it cannot {}", to_string(status), doing(action))};
}

bool live(TaskStatus status) { return status != TaskStatus::archived && status != TaskStatus::killed; }

}  // namespace

std::string_view to_string(TaskStatus status) {
  switch (status) {
    case TaskStatus::provisioning: return "provisioning";
    case TaskStatus::running: return "running";
    case TaskStatus::idle: return "idle";
    case TaskStatus::conflict: return "conflict";
    case TaskStatus::error: return "error";
    case TaskStatus::archived: return "archived";
    case TaskStatus::killed: return "killed";
  }
  return "error";
}

std::optional<TaskStatus> parse_status(std::string_view text) {
  for (auto status : kTaskStatuses)
    if (to_string(status) == text) return status;
  return std::nullopt;
}

TaskStatus derive(const TaskFacts& facts) {
  if (facts.killed) return TaskStatus::killed;
  if (facts.archived) return TaskStatus::archived;
  if (facts.stored == TaskStatus::provisioning || facts.stored == TaskStatus::error) return facts.stored;
  if (facts.running_sessions > 0) return TaskStatus::running;
  if (facts.conflict) return TaskStatus::conflict;
  return TaskStatus::idle;
}

std::optional<TaskStatus> provisioning_outcome(TaskStatus status, std::string_view sandbox_state) {
  if (status != TaskStatus::provisioning) return std::nullopt;
  if (sandbox_state == "ready") return TaskStatus::idle;
  if (sandbox_state == "error") return TaskStatus::error;
  return std::nullopt;
}

std::string_view to_string(GitFlow flow) {
  switch (flow) {
    case GitFlow::diff: return "diff";
    case GitFlow::commit: return "commit";
    case GitFlow::push: return "push";
    case GitFlow::sync: return "sync";
    case GitFlow::merge: return "merge";
    case GitFlow::revert: return "revert";
    case GitFlow::pr: return "pr";
  }
  return "diff";
}

std::optional<GitFlow> parse_git_flow(std::string_view text) {
  for (auto flow : {GitFlow::diff, GitFlow::commit, GitFlow::push, GitFlow::sync, GitFlow::merge, GitFlow::revert,
                    GitFlow::pr})
    if (to_string(flow) == text) return flow;
  return std::nullopt;
}

TaskAction git_action(GitFlow flow) {
  switch (flow) {
    case GitFlow::diff: return TaskAction::refresh_diff;
    case GitFlow::commit: return TaskAction::commit;
    case GitFlow::push: return TaskAction::push;
    case GitFlow::sync: return TaskAction::sync;
    case GitFlow::merge: return TaskAction::merge;
    case GitFlow::revert: return TaskAction::revert;
    case GitFlow::pr: return TaskAction::publish_pr;
  }
  return TaskAction::refresh_diff;
}

Status can(TaskStatus status, std::string_view sandbox_state, TaskAction action) {
  switch (action) {
    case TaskAction::take_prompt:
    case TaskAction::start_session:
    case TaskAction::refresh_diff:
    case TaskAction::commit:
    case TaskAction::push:
    case TaskAction::sync:
    case TaskAction::merge:
    case TaskAction::revert:
    case TaskAction::publish_pr:
      if (!live(status) || status == TaskStatus::error || status == TaskStatus::provisioning)
        return refused(status, action);
      if (sandbox_state != "ready")
        return Error{ErrorCode::conflict,
                     fmt::format("the task's sandbox is {}; it cannot {}", sandbox_state, doing(action))};
      return {};
    case TaskAction::change_owner:
      if (status == TaskStatus::killed) return refused(status, action);
      return {};
    case TaskAction::archive:
      if (status == TaskStatus::killed || status == TaskStatus::provisioning) return refused(status, action);
      return {};
    case TaskAction::unarchive:
      if (status != TaskStatus::archived) return refused(status, action);
      return {};
    case TaskAction::kill:
      return {};
    case TaskAction::retry:
      if (status != TaskStatus::error) return refused(status, action);
      return {};
  }
  return {};
}

bool done_already(TaskStatus status, TaskAction action) {
  return (action == TaskAction::archive && status == TaskStatus::archived) ||
         (action == TaskAction::kill && status == TaskStatus::killed);
}

}  // namespace hearth::actors::task
