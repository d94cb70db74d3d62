// A task's status and the rules over it, with no I/O: which status the task's facts
// say (derive), what a task in each status may be asked to do (can), and the words a
// refusal says. The handlers in task_actor.cpp read the facts, ask here, and persist
// the answer. The state diagram in task_actor.h is what these functions implement.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "storage/error.h"

namespace hearth::actors::task {

// As docs/tasks.md describes them; stored as their names (the task table CHECKs them).
enum class TaskStatus { provisioning, running, idle, conflict, error, archived, killed };

inline constexpr TaskStatus kTaskStatuses[] = {TaskStatus::provisioning, TaskStatus::running, TaskStatus::idle,
                                               TaskStatus::conflict,     TaskStatus::error,   TaskStatus::archived,
                                               TaskStatus::killed};

// "provisioning", "running", ...: the name stored, listed and filtered on.
std::string_view to_string(TaskStatus status);
// The status `text` names, or nullopt when it names none.
std::optional<TaskStatus> parse_status(std::string_view text);

// What a task's status is derived from: its row and its sessions.
struct TaskFacts {
  TaskStatus stored = TaskStatus::provisioning;  // the status saved last
  bool killed = false;                           // killed_at is set
  bool archived = false;                         // archived_at is set
  std::int64_t running_sessions = 0;             // open sessions running or cancelling a turn
  bool conflict = false;                         // a sync stopped on conflicting files
};

// The status the facts say: killed, then archived; provisioning and error hold until
// the sandbox reports or a person retries; then running while any turn runs, conflict
// while a sync's conflicts stand, else idle.
TaskStatus derive(const TaskFacts& facts);

// What a sandbox's report (`sandbox_state`) ends for a task in `status`: a provisioning
// task becomes idle once its sandbox is ready (its sessions then make it running) and
// error when provisioning failed. nullopt: the report changes no status.
std::optional<TaskStatus> provisioning_outcome(TaskStatus status, std::string_view sandbox_state);

// What people (and the task itself) ask a task to do, where its status has a say.
enum class TaskAction {
  take_prompt,
  start_session,
  refresh_diff,
  commit,
  push,
  sync,
  merge,
  revert,
  publish_pr,
  change_owner,
  archive,
  unarchive,
  kill,
  retry,
};

// A task's git flows (git_flows.h), stored by name as the kind of their op. `pr`
// pushes, then opens (or links) the branch's pull request on GitHub.
enum class GitFlow { diff, commit, push, sync, merge, revert, pr };
// "diff", "commit", ...: the kind stored and shown.
std::string_view to_string(GitFlow flow);
// The flow `text` names, or nullopt when it names none.
std::optional<GitFlow> parse_git_flow(std::string_view text);

// The action running `flow` is.
TaskAction git_action(GitFlow flow);

// Whether a task in `status`, its sandbox in `sandbox_state` ("ready", "stopped", ...),
// may do `action`. Work (prompts, sessions, git) needs a live task past provisioning
// and a ready sandbox; a killed task cannot change hands; archiving needs a task past
// provisioning and not killed; only an archived task can be unarchived, and only a
// task whose provisioning failed be retried; killing is always allowed. Fails with
// conflict and words that name the status and the action:
// "the task is archived; it cannot take a prompt",
// "the task's sandbox is stopped; it cannot push".
Status can(TaskStatus status, std::string_view sandbox_state, TaskAction action);

// Whether `action` is done already for a task in `status` (archiving an archived task,
// killing a killed one): the handler answers with the task as it is and changes nothing.
bool done_already(TaskStatus status, TaskAction action);

}  // namespace hearth::actors::task
