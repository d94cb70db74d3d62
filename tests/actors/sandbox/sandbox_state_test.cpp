// Every transition of the sandbox diagram in actors/sandbox/sandbox_actor.h, and the
// words of every refusal (actors/sandbox/sandbox_state.h).
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "actors/sandbox/sandbox_state.h"

namespace hearth::test {
namespace {

using actors::sandbox::SandboxAction;
using actors::sandbox::SandboxState;
using actors::sandbox::can;
using actors::sandbox::done_already;

TEST_CASE("each sandbox state has one name, and every name parses back") {
  for (auto state : actors::sandbox::kSandboxStates)
    CHECK(actors::sandbox::parse_sandbox_state(actors::sandbox::to_string(state)) == state);
  CHECK_FALSE(actors::sandbox::parse_sandbox_state("running"));
  CHECK_FALSE(actors::sandbox::parse_sandbox_state(""));
}

TEST_CASE("a sandbox does what its diagram allows in each state, and nothing else") {
  using S = SandboxState;
  using A = SandboxAction;
  const std::map<A, std::set<S>> allowed{
      {A::provision, {S::provisioning}},
      {A::retry, {S::error, S::destroyed}},
      {A::exec, {S::ready}},
      {A::stop, {S::ready}},
      {A::start, {S::stopped}},
      {A::destroy, {S::provisioning, S::ready, S::stopped, S::error, S::destroying, S::destroyed}},
  };
  for (const auto& [action, states] : allowed)
    for (auto state : actors::sandbox::kSandboxStates) {
      CAPTURE(actors::sandbox::to_string(state));
      CHECK(can(state, action).ok() == (states.count(state) == 1));
    }
}

TEST_CASE("a refusal names the sandbox's state and what it cannot do") {
  auto refused = can(SandboxState::stopped, SandboxAction::exec);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::conflict);
  CHECK(refused.error().message == "the sandbox is stopped; it cannot run processes");
  CHECK(can(SandboxState::ready, SandboxAction::retry).error().message ==
        "the sandbox is ready; it cannot be provisioned again (only after an error or once destroyed)");
  CHECK(can(SandboxState::error, SandboxAction::start).error().message == "the sandbox is error; it cannot start");
  CHECK(can(SandboxState::ready, SandboxAction::provision).error().message ==
        "the sandbox is ready; it cannot be provisioned");
}

TEST_CASE("stopping a stopped sandbox, starting a ready one and destroying a destroyed one are done already") {
  CHECK(done_already(SandboxState::stopped, SandboxAction::stop));
  CHECK(done_already(SandboxState::ready, SandboxAction::start));
  CHECK(done_already(SandboxState::destroying, SandboxAction::destroy));
  CHECK(done_already(SandboxState::destroyed, SandboxAction::destroy));
  CHECK_FALSE(done_already(SandboxState::ready, SandboxAction::stop));
  CHECK_FALSE(done_already(SandboxState::error, SandboxAction::retry));
  CHECK_FALSE(done_already(SandboxState::ready, SandboxAction::exec));
}

}  // namespace
}  // namespace hearth::test
