// A sandbox's lifecycle with no I/O: the states of the diagram in sandbox_actor.h, what a
// sandbox in each state may be asked to do, and the words a refusal says. The handlers in
// sandbox_actor.cpp read the state, ask here, and persist the state they move to.
#pragma once

#include <optional>
#include <string_view>

#include "storage/error.h"

namespace hearth::actors::sandbox {

// Stored as their names in the sandbox table, and reported so to its task.
enum class SandboxState { provisioning, ready, stopped, error, destroying, destroyed };

inline constexpr SandboxState kSandboxStates[] = {SandboxState::provisioning, SandboxState::ready,
                                                  SandboxState::stopped,      SandboxState::error,
                                                  SandboxState::destroying,   SandboxState::destroyed};

// "provisioning", "ready", ...: the name stored and shown.
std::string_view to_string(SandboxState state);
// The state `text` names, or nullopt when it names none.
std::optional<SandboxState> parse_sandbox_state(std::string_view text);

// What a sandbox is asked to do, where its state has a say.
enum class SandboxAction {
  provision,  // its own step after creation or a retry
  retry,      // provision again
  exec,       // run a process (an agent's too)
  stop,
  start,
  destroy,
};

// Whether a sandbox in `state` may do `action`: provisioning happens in `provisioning`
// only; a retry after an error or once destroyed; processes run, and stopping happens,
// when ready; starting when stopped; destroying always. Fails with conflict and words
// that name the state and the action: "the sandbox is stopped; it cannot run processes".
Status can(SandboxState state, SandboxAction action);

// Whether `action` is done already for a sandbox in `state` (stopping a stopped one,
// starting a ready one, destroying one destroyed or being destroyed): the handler
// answers with the sandbox as it is and changes nothing.
bool done_already(SandboxState state, SandboxAction action);

}  // namespace hearth::actors::sandbox
