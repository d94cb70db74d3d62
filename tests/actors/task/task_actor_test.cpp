// The task actor's handlers through a real host (tests/support/test_host.h), with the
// actors it talks to (sandbox, session, organization, user, audit) replaced by
// recorders: what a task decides, saves and tells others, with no process or sandbox.
#include <doctest/doctest.h>

#include "actors/audit/audit_actor.h"
#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/session_actor.h"
#include "actors/task/task_actor.h"
#include "actors/user/user_actor.h"
#include "tests/support/recorder_actor.h"
#include "tests/support/test_host.h"

namespace hearth::test {
namespace {

using actors::Json;
namespace task = actors::task;
namespace sandbox = actors::sandbox;
namespace session = actors::session;

// A host with the task type and recorders for everyone it talks to.
struct TaskHost {
  TempDir dir;
  actors::Host host{quick_config(dir.path())};
  sandbox::Runtime runtime{host, [this] {
                             sandbox::RuntimeConfig c;
                             c.data_dir = dir.path();
                             c.provider = "local";
                             return c;
                           }()};
  actors::Address at = task::address("o_1", "t_1");
  actors::Address sandbox_at = sandbox::address("o_1", "t_1");

  TaskHost() {
    REQUIRE(host.register_type(task::make_type(runtime)).ok());
    REQUIRE(host.register_type(make_recorder_type("sandbox", {sandbox::kRetry, sandbox::kStop, sandbox::kStart,
                                                             sandbox::kDestroy}))
                .ok());
    REQUIRE(host.register_type(make_recorder_type("session", {session::kPrompt, session::kCancel, session::kClose}))
                .ok());
    REQUIRE(host.register_type(make_recorder_type("organization", {actors::organization::kTaskChanged})).ok());
    REQUIRE(host.register_type(make_recorder_type("user", {actors::user::kFeedEvent})).ok());
    REQUIRE(host.register_type(make_recorder_type("audit", {actors::audit::kAppend})).ok());
    REQUIRE(host.start().ok());
    // Those a task sends to exist before it (a task only creates its sandbox, sessions
    // and its org's audit log).
    REQUIRE(host.get_or_create(actors::organization::address("o_1")).ok());
    REQUIRE(host.get_or_create(actors::user::address("u_ana")).ok());
    Json input{{"org_id", "o_1"},         {"task_id", "t_1"},       {"repo_id", "web"},
               {"repo_url", "file:///r"}, {"base_branch", "main"},  {"branch", "hearth/fix-ab12"},
               {"title", "Fix the parser"}, {"prompt", "fix the parser"}, {"agent", "mock"},
               {"owner", {{"user_id", "u_ana"}, {"username", "ana"}}},   {"network", "none"}};
    REQUIRE(host.get_or_create(at, input).ok());
  }
  ~TaskHost() { host.shutdown(); }

  Result<actors::SendReceipt> send(const char* queue, Json body) {
    body["by"] = "ana";
    body["by_id"] = "u_ana";
    return host.send(at, queue, body, waiting());
  }
  Json get() { return host.call(at, task::kGet).value(); }
  // The session the task started first (its recorder's address).
  actors::Address first_session() {
    auto id = get()["sessions"][0]["session_id"].get<std::string>();
    return session::address("o_1", "t_1", id);
  }
  void ready() { REQUIRE(send(task::kSandboxChanged, {{"state", "ready"}}).ok()); }
};

TEST_CASE("a task creates its sandbox, and once it is ready starts its first session with the prompt") {
  TaskHost t;
  CHECK(t.get()["status"] == "provisioning");
  REQUIRE(eventually([&] { return recorded_on(t.host, t.sandbox_at, "(created)").size() == 1; }));
  auto made = recorded_on(t.host, t.sandbox_at, "(created)")[0];
  CHECK(made["branch"] == "hearth/fix-ab12");
  CHECK(made["network"] == "none");
  CHECK(made["provider"] == "local");

  t.ready();
  auto task = t.get();
  CHECK(task["status"] == "running");  // the first session runs the prompt
  REQUIRE(task["sessions"].size() == 1);
  CHECK(task["sessions"][0]["title"] == "Session 1");
  auto s = t.first_session();
  REQUIRE(eventually([&] { return recorded_on(t.host, s, session::kPrompt).size() == 1; }));
  CHECK(recorded_on(t.host, s, session::kPrompt)[0]["text"] == "fix the parser");
  // The index heard of each change, newest version last.
  REQUIRE(eventually([&] {
    auto changes = recorded_on(t.host, actors::organization::address("o_1"), actors::organization::kTaskChanged);
    return !changes.empty() && changes.back()["status"] == "running";
  }));
}

TEST_CASE("a provisioning failure lands in error, audited and told to the owner, and a retry provisions again") {
  TaskHost t;
  REQUIRE(t.send(task::kSandboxChanged, {{"state", "error"}, {"step", "cloning"}, {"error", "no such repository"}})
              .ok());
  auto task = t.get();
  CHECK(task["status"] == "error");
  CHECK(task["error_step"] == "cloning");
  CHECK(task["error"] == "no such repository");
  CHECK(task["needs_you"]["reason"] == "error");
  REQUIRE(eventually([&] { return !recorded_on(t.host, actors::audit::address("o_1"), actors::audit::kAppend).empty(); }));
  CHECK(recorded_on(t.host, actors::audit::address("o_1"), actors::audit::kAppend)[0]["kind"] ==
        "task.provision.failed");
  REQUIRE(eventually([&] { return !recorded_on(t.host, actors::user::address("u_ana"), actors::user::kFeedEvent).empty(); }));
  CHECK(recorded_on(t.host, actors::user::address("u_ana"), actors::user::kFeedEvent)[0]["notify"]["type"] == "failed");

  REQUIRE(t.send(task::kRetry, Json::object()).ok());
  task = t.get();
  CHECK(task["status"] == "provisioning");
  CHECK(task["error"].is_null());
  CHECK(task["phase"] == "provisioning the sandbox again");
  REQUIRE(eventually([&] { return recorded_on(t.host, t.sandbox_at, sandbox::kRetry).size() == 1; }));
  // Retrying a task that is not in error is refused, in words that say why.
  auto again = t.send(task::kRetry, Json::object());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::conflict);
}

TEST_CASE("a prompt while a turn runs is refused naming the turn, and once the turn ended it goes to the session") {
  TaskHost t;
  t.ready();
  auto s = t.first_session();
  auto id = s.key.back();
  auto busy = t.send(task::kPrompt, {{"text", "and the tests"}});
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().message == "turn 0 of " + id + " is still running; stop it or wait for its end");
  REQUIRE(t.send(task::kSessionChanged, {{"session_id", id}, {"status", "idle"}, {"turn", 1}, {"event", "status"},
                                        {"report_seq", 1}})
              .ok());
  CHECK(t.get()["status"] == "idle");
  REQUIRE(t.send(task::kPrompt, {{"text", "and the tests"}}).ok());
  CHECK(t.get()["status"] == "running");
  REQUIRE(eventually([&] { return recorded_on(t.host, s, session::kPrompt).size() == 2; }));
  CHECK(recorded_on(t.host, s, session::kPrompt)[1]["text"] == "and the tests");
  // A report older than one applied says nothing new: the session stays running.
  REQUIRE(t.send(task::kSessionChanged, {{"session_id", id}, {"status", "idle"}, {"turn", 1}, {"event", "status"},
                                        {"report_seq", 1}})
              .ok());
  CHECK(t.get()["status"] == "running");
}

TEST_CASE("archiving cancels running turns and stops the sandbox, and killing destroys it and closes the sessions") {
  TaskHost t;
  t.ready();
  auto s = t.first_session();
  REQUIRE(t.send(task::kArchive, Json::object()).ok());
  CHECK(t.get()["status"] == "archived");
  REQUIRE(eventually([&] { return recorded_on(t.host, s, session::kCancel).size() == 1; }));
  REQUIRE(eventually([&] { return recorded_on(t.host, t.sandbox_at, sandbox::kStop).size() == 1; }));
  // Archiving again changes nothing and asks nothing more of anyone.
  auto version = t.get()["version"];
  REQUIRE(t.send(task::kArchive, Json::object()).ok());
  CHECK(t.get()["version"] == version);

  REQUIRE(t.send(task::kKill, Json::object()).ok());
  auto task = t.get();
  CHECK(task["status"] == "killed");
  CHECK(task["sessions"][0]["status"] == "closed");
  REQUIRE(eventually([&] { return recorded_on(t.host, t.sandbox_at, sandbox::kDestroy).size() == 1; }));
  auto owner = t.send(task::kChangeOwner, {{"user_id", "u_bo"}, {"username", "bo"}});
  REQUIRE_FALSE(owner.ok());
  CHECK(owner.error().code == ErrorCode::conflict);
}

}  // namespace
}  // namespace hearth::test
