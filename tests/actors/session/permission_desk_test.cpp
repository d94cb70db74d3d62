// The permission desk with fake record calls: an ask ends with the policy's answer, a
// person's, the timeout's refusal, or cancelled when the turn stops or the agent ends;
// it is recorded before anything waits. No sleeps: a person answers once the request
// is recorded, and a stop is signalled once the ask is known to wait or about to.
#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <thread>

#include "actors/session/permission_desk.h"

using namespace hearth;
using namespace hearth::actors::session;
using nlohmann::json;

namespace {

const json kOptions = json::array({{{"optionId", "yes"}, {"kind", "allow_once"}},
                                   {{"optionId", "no"}, {"kind", "reject_once"}}});
const json kYes{{"outcome", "selected"}, {"optionId", "yes"}};
const json kCancelled{{"outcome", "cancelled"}};

// Calls that record into a promise (the id) and time out with nothing from the policy.
struct Recorder {
  std::promise<std::string> requested;
  int timeouts = 0;
  PermissionDesk::Calls calls() {
    return {[this](const std::string& id) -> Result<std::optional<json>> {
              requested.set_value(id);
              return std::optional<json>{};
            },
            [this](const std::string&) -> std::optional<json> {
              ++timeouts;
              return std::nullopt;
            }};
  }
};

}  // namespace

TEST_CASE("a permission the session's policy answers at once does not wait") {
  PermissionDesk desk;
  PermissionDesk::Calls calls{[](const std::string&) -> Result<std::optional<json>> { return std::optional<json>(kYes); },
                              [](const std::string&) -> std::optional<json> { FAIL("no timeout"); return {}; }};
  CHECK(desk.ask(kOptions, calls, std::chrono::hours(1)) == kYes);
}

TEST_CASE("a permission that could not be recorded is refused with the agent's reject option") {
  PermissionDesk desk;
  PermissionDesk::Calls calls{
      [](const std::string&) -> Result<std::optional<json>> { return Error{ErrorCode::unavailable, "disk full"}; },
      [](const std::string&) -> std::optional<json> { return {}; }};
  CHECK(desk.ask(kOptions, calls, std::chrono::hours(1)) == json{{"outcome", "selected"}, {"optionId", "no"}});
  CHECK(refusal(json::array()) == kCancelled);
}

TEST_CASE("a person's answer to a recorded permission is what the agent gets, once") {
  PermissionDesk desk;
  Recorder rec;
  auto asked = std::async(std::launch::async, [&] { return desk.ask(kOptions, rec.calls(), std::chrono::hours(1)); });
  auto id = rec.requested.get_future().get();  // recorded before it waits
  CHECK_FALSE(desk.answer("perm_unknown", kYes));
  CHECK(desk.answer(id, kYes));
  CHECK(asked.get() == kYes);
  CHECK_FALSE(desk.answer(id, kYes));  // forgotten once given to the agent
  CHECK(rec.timeouts == 0);
}

TEST_CASE("stopping the turn cancels a waiting permission and every one asked until the next turn") {
  PermissionDesk desk;
  Recorder rec;
  auto asked = std::async(std::launch::async, [&] { return desk.ask(kOptions, rec.calls(), std::chrono::hours(1)); });
  rec.requested.get_future().get();
  desk.cancel_all();
  CHECK(asked.get() == kCancelled);

  Recorder again;
  CHECK(desk.ask(kOptions, again.calls(), std::chrono::hours(1)) == kCancelled);  // still stopped
  desk.reopen();
  Recorder next;
  auto waiting = std::async(std::launch::async, [&] { return desk.ask(kOptions, next.calls(), std::chrono::hours(1)); });
  auto id = next.requested.get_future().get();
  CHECK(desk.answer(id, kYes));
  CHECK(waiting.get() == kYes);
}

TEST_CASE("a closed desk cancels waiting permissions for good") {
  PermissionDesk desk;
  Recorder rec;
  auto asked = std::async(std::launch::async, [&] { return desk.ask(kOptions, rec.calls(), std::chrono::hours(1)); });
  rec.requested.get_future().get();
  desk.close();
  CHECK(asked.get() == kCancelled);
  desk.reopen();
  Recorder again;
  CHECK(desk.ask(kOptions, again.calls(), std::chrono::hours(1)) == kCancelled);
}

TEST_CASE("an unanswered permission is timed out, durably, and the policy's answer is what the agent gets") {
  PermissionDesk desk;
  const json refused{{"outcome", "selected"}, {"optionId", "no"}};
  std::string timed_out;
  PermissionDesk::Calls calls{[](const std::string&) -> Result<std::optional<json>> { return std::optional<json>{}; },
                              [&](const std::string& id) -> std::optional<json> {
                                timed_out = id;
                                return refused;
                              }};
  CHECK(desk.ask(kOptions, calls, std::chrono::milliseconds(0)) == refused);
  CHECK(timed_out.rfind("perm_", 0) == 0);
}
