// A sandbox's lifecycle rules: see sandbox_state.h.
#include "actors/sandbox/sandbox_state.h"

#include <fmt/format.h>

namespace hearth::actors::sandbox {
namespace {

// How a refusal says the action ("it cannot ...").
const char* doing(SandboxAction action) {
  switch (action) {
    case SandboxAction::provision: return "be provisioned";
    case SandboxAction::retry: return "be provisioned again (only after an error or once destroyed)";
    case SandboxAction::exec: return "run processes";
    case SandboxAction::stop: return "stop";
    case SandboxAction::start: return "start";
    case SandboxAction::destroy: return "be destroyed";
  }
  return "do that";
}

}  // namespace

std::string_view to_string(SandboxState state) {
  switch (state) {
    case SandboxState::provisioning: return "provisioning";
    case SandboxState::ready: return "ready";
    case SandboxState::stopped: return "stopped";
    case SandboxState::error: return "error";
    case SandboxState::destroying: return "destroying";
    case SandboxState::destroyed: return "destroyed";
  }
  return "error";
}

std::optional<SandboxState> parse_sandbox_state(std::string_view text) {
  for (auto state : kSandboxStates)
    if (to_string(state) == text) return state;
  return std::nullopt;
}

Status can(SandboxState state, SandboxAction action) {
  bool ok = false;
  switch (action) {
    case SandboxAction::provision: ok = state == SandboxState::provisioning; break;
    case SandboxAction::retry: ok = state == SandboxState::error || state == SandboxState::destroyed; break;
    case SandboxAction::exec:
    case SandboxAction::stop: ok = state == SandboxState::ready; break;
    case SandboxAction::start: ok = state == SandboxState::stopped; break;
    case SandboxAction::destroy: ok = true; break;
  }
  if (ok) return {};
  return Error{ErrorCode::conflict, fmt::format("the sandbox is {}; it cannot {}", to_string(state), doing(action))};
}

bool done_already(SandboxState state, SandboxAction action) {
  switch (action) {
    case SandboxAction::stop: return state == SandboxState::stopped;
    case SandboxAction::start: return state == SandboxState::ready;
    case SandboxAction::destroy: return state == SandboxState::destroying || state == SandboxState::destroyed;
    default: return false;
  }
}

}  // namespace hearth::actors::sandbox
