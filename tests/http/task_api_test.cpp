// Tasks end to end over HTTP against a real server: a task is created on a connected
// repository, the mock agent works in its sandbox, and the git flows (diff, push, sync,
// merge, revert) run for real against a bare origin on disk.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include "actors/audit/audit_actor.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/task/task_actor.h"
#include "tests/support/task_world.h"

namespace hearth::test {
namespace {

std::string first_session(const json& task) { return task["sessions"][0]["session_id"]; }

std::string session_path(const std::string& task, const std::string& session) {
  return TaskWorld::task_path(task) + "/sessions/" + session;
}

}  // namespace

TEST_CASE("repositories: connect by URL (default branch detected), list branches, refuse bad ones, disconnect") {
  TaskWorld w;
  auto repos = w.s.call("GET", "/v1/orgs/acme/repos", w.member);
  REQUIRE(repos.status == 200);
  REQUIRE(repos.body["items"].size() == 2);  // the AgentWorld's checkout, and origin
  CHECK(repos.body["items"][1]["repo_id"] == "origin");
  CHECK(repos.body["items"][1]["default_branch"] == "main");
  auto branches = w.s.call("GET", "/v1/orgs/acme/repos/origin/branches", w.member);
  REQUIRE(branches.status == 200);
  CHECK(branches.body["default_branch"] == "main");
  CHECK(branches.body["items"].size() == 2);  // main, dev

  // Members do not connect repositories; file:// ones are for server admins (reading
  // the server's disk); nonsense is refused with the reason.
  CHECK(w.s.call("POST", "/v1/orgs/acme/repos", w.member, json{{"url", "file://" + w.bare.string()}}).status == 403);
  auto not_admin = w.s.call("POST", "/v1/orgs/acme/repos", w.owner, json{{"url", "file://" + w.bare.string()}});
  CHECK(not_admin.status == 403);
  CHECK(not_admin.body["error"]["message"].get<std::string>().find("for server admins") != std::string::npos);
  auto missing = w.s.call("POST", "/v1/orgs/acme/repos", w.root, json{{"url", "file:///tmp/nowhere/at/all"}});
  CHECK(missing.status == 400);
  CHECK(missing.body["error"]["message"] ==
        "git cannot read a repository at file:///tmp/nowhere/at/all (or the server does not allow it)");
  CHECK(w.s.call("POST", "/v1/orgs/acme/repos", w.root, json{{"url", "file:///etc"}}).status == 403);
  CHECK(w.s.call("POST", "/v1/orgs/acme/repos", w.root, json{{"url", "ssh://example.com/x"}}).status == 400);
  auto twice = w.s.call("POST", "/v1/orgs/acme/repos", w.root, json{{"url", "file://" + w.bare.string()}, {"name", "again"}});
  CHECK(twice.status == 409);
  // An https URL is asked from a sandbox, and whatever git met (a closed port, a service
  // that is not git), the answer is the same: connecting is no port scanner.
  for (const char* url : {"https://127.0.0.1:1/x.git", "https://127.0.0.1:9/y.git"}) {
    auto probe = w.s.call("POST", "/v1/orgs/acme/repos", w.owner, json{{"url", url}});
    CHECK(probe.status == 400);
    CHECK(probe.body["error"]["message"] == std::string("git cannot read a repository at ") + url +
                                               " (the server's log has git's words)");
  }
  // The server's own data dir (its sandboxes' checkouts): the same answer as nothing there.
  auto inside = w.s.call("POST", "/v1/orgs/acme/repos", w.root, json{{"url", "file://" + w.s.dir.path().string()}});
  CHECK(inside.status == 400);
  CHECK(inside.body["error"]["message"] == "git cannot read a repository at file://" + w.s.dir.path().string() +
                                                " (or the server does not allow it)");
  CHECK(w.s.call("GET", "/v1/orgs/acme/repos/origin", w.outsider).status == 404);

  CHECK(w.s.call("DELETE", "/v1/orgs/acme/repos/origin", w.owner).status == 200);
  CHECK(w.s.call("GET", "/v1/orgs/acme/repos/origin", w.owner).status == 404);
}

TEST_CASE("a task: created, the agent writes a file, the diff shows it, push puts the commit on the branch in the origin") {
  TaskWorld w;
  auto id = w.create("/write hello.txt Hello from the agent");
  auto task = w.settled(id);
  CHECK(task["title"] == "write hello.txt Hello from the agent");
  auto branch = task["branch"].get<std::string>();
  CHECK(branch.rfind("hearth/write-hello-txt-hello-from-the-agent-", 0) == 0);
  CHECK(task["base_branch"] == "main");
  CHECK(task["owner"]["username"] == "owner");
  REQUIRE(task["sessions"].size() == 1);
  CHECK(task["sessions"][0]["last_turn_status"] == "completed");

  // The diff (refreshed when the turn ended) lists the new file with its patch.
  auto diff = w.poll(TaskWorld::task_path(id) + "/diff", [](const json& b) { return b["files"] == 1; });
  INFO(w.s.call("GET", TaskWorld::task_path(id) + "/ops", w.owner).body.dump());
  CHECK(diff["items"][0]["path"] == "hello.txt");
  CHECK(diff["items"][0]["status"] == "A");
  CHECK(diff["items"][0]["added"] == 1);
  auto file = w.s.call("GET", TaskWorld::task_path(id) + "/diff/file?path=hello.txt", w.owner);
  REQUIRE(file.status == 200);
  CHECK(file.body["patch"].get<std::string>().find("+Hello from the agent") != std::string::npos);

  auto pushed = w.flow(id, "push");
  REQUIRE_MESSAGE(pushed["status"] == "succeeded", pushed.dump());
  CHECK(w.origin_git("show " + branch + ":hello.txt; echo") == "Hello from the agent\n");
  auto log = w.origin_git("log --format=%s -1 " + branch);
  CHECK(log == task["title"].get<std::string>() + "\n");
  CHECK(w.origin_git("rev-parse main") == w.origin_git("rev-parse " + branch + "~1"));

  // The index answers listings without the task actor.
  auto list = w.s.call("GET", "/v1/orgs/acme/tasks?repo=origin", w.member);
  REQUIRE(list.status == 200);
  REQUIRE(list.body["items"].size() == 1);
  CHECK(list.body["items"][0]["task_id"] == id);
  CHECK(list.body["items"][0]["status"] == "idle");
  CHECK(w.s.call("GET", TaskWorld::task_path(id), w.outsider).status == 404);
}

TEST_CASE("a follow-up prompt runs in the task's session, bad input is refused with reasons") {
  TaskWorld w;
  auto id = w.create("/say first");
  auto task = w.settled(id);
  auto r = w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.member, json{{"text", "/write second.txt two"}});
  REQUIRE_MESSAGE(r.status == 202, r.body.dump());
  w.poll(TaskWorld::task_path(id) + "/diff", [](const json& b) { return b["files"] == 1; });
  auto transcript = w.transcript(session_path(id, first_session(task)));
  CHECK(AgentWorld::said(transcript, 1) == "first");
  // Commits say what was asked: the first the task's title and the prompts after it, a
  // later one its own prompt.
  w.settled(id);
  REQUIRE(w.flow(id, "push")["status"] == "succeeded");
  auto branch = task["branch"].get<std::string>();
  CHECK(w.origin_git("log --format=%B -1 " + branch) ==
        "say first\n\nAlso asked for:\n- write second.txt two\n\nHearth task " + id + "\n\n");
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/write third.txt three"}}).status == 202);
  w.settled(id);
  REQUIRE(w.flow(id, "push")["status"] == "succeeded");
  CHECK(w.origin_git("log --format=%s -1 " + branch) == "write third.txt three\n");
  CHECK(w.origin_git("log --format=%s -1 " + branch + "~1") == "say first\n");
  // The org may want Conventional Commits titles (off by default): admins set it.
  CHECK(w.s.call("GET", "/v1/orgs/acme", w.member).body["settings"]["conventional_titles"] == false);
  CHECK(w.s.call("PATCH", "/v1/orgs/acme", w.member, json{{"settings", {{"conventional_titles", true}}}}).status == 403);
  CHECK(w.s.call("PATCH", "/v1/orgs/acme", w.owner, json{{"settings", {{"colour", "red"}}}}).status == 400);
  CHECK(w.s.call("PATCH", "/v1/orgs/acme", w.owner, json{{"settings", {{"conventional_titles", "yes"}}}}).status == 400);
  auto set = w.s.call("PATCH", "/v1/orgs/acme", w.owner, json{{"settings", {{"conventional_titles", true}}}});
  REQUIRE(set.status == 200);
  CHECK(set.body["settings"]["conventional_titles"] == true);
  auto typed = w.create("/say fix the parser bug");
  CHECK(w.s.call("GET", TaskWorld::task_path(typed), w.owner).body["title"] == "fix: say fix the parser bug");
  w.settled(typed);
  // A base branch the remote lacks is refused at creation, naming what it has.
  auto no_base = w.s.call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "origin"}, {"prompt", "x"}, {"base_branch", "nope"}});
  CHECK(no_base.status == 400);
  CHECK(no_base.body["error"]["message"].get<std::string>().rfind("repository origin has no branch \"nope\" (it has: ", 0) == 0);

  CHECK(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "  "}}).status == 400);
  CHECK(w.s.call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "nope"}, {"prompt", "x"}}).status == 404);
  CHECK(w.s.call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "origin"}}).status == 400);
  CHECK(w.s.call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "origin"}, {"prompt", "x"}, {"agent", "nobody"}}).status == 400);
  CHECK(w.s.call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"repo", "origin"}, {"prompt", "x"}, {"branch", "a..b"}}).status == 400);
  // An explicit branch another live task owns is a conflict.
  auto explicit_id = w.create("/say mine", {{"branch", "feature/mine"}});
  auto clash = w.s.call("POST", "/v1/orgs/acme/tasks", w.owner,
                        json{{"repo", "origin"}, {"prompt", "x"}, {"branch", "feature/mine"}});
  CHECK(clash.status == 409);
  w.settled(explicit_id);
  CHECK(w.s.call("POST", TaskWorld::task_path(id) + "/revert", w.owner, json{{"path", "../etc/passwd"}}).status == 400);
  CHECK(w.s.call("GET", TaskWorld::task_path(id) + "/ops/abc", w.owner).status == 404);
}

TEST_CASE("the organization decides a new task's network: none for a repository on disk and an agent that needs none") {
  TaskWorld w;
  auto id = w.create("/say hello");
  auto task = w.settled(id);
  auto sandbox = w.s.call("GET", TaskWorld::task_path(id) + "/sandbox", w.owner);
  REQUIRE(sandbox.status == 200);
  CHECK(sandbox.body["network"] == "none");
  // The secrets its prompts are redacted of were named at creation: the mock agent takes none.
  auto named = w.s.host->call(actors::task::address(task["org_id"], id), actors::task::kSecretNames);
  REQUIRE(named.ok());
  CHECK((*named)["agent"] == "mock");
  CHECK((*named)["secret_names"] == json::array());
}

TEST_CASE("sync onto a base that conflicts: the rebase is aborted, the task lists the files, the repository is clean") {
  TaskWorld w;
  auto id = w.create("/write README.md changed by the agent");
  w.settled(id);
  // Someone changes the same file on main in the origin.
  auto other = w.s.dir.path() / "other";
  sh("set -e; git clone -q '" + w.bare.string() + "' '" + other.string() + "'; cd '" + other.string() +
     "'; echo 'changed on main' > README.md; git -c user.name=o -c user.email=o@o commit -qam main; git push -q origin main");
  auto op = w.flow(id, "sync");
  CHECK(op["status"] == "failed");
  CHECK(op["result"]["conflict_files"] == json::array({"README.md"}));
  auto task = w.settled(id, "conflict");
  CHECK(task["conflict_files"] == json::array({"README.md"}));
  CHECK(task["needs_you"] == json{{"reason", "conflict"}, {"message", "Syncing left conflicts in 1 file."}});
  // No rebase left half done: the work tree is the branch's, committed, clean.
  auto sandbox = w.s.runtime->dir(actors::sandbox::address(task["org_id"], id)).work();
  CHECK(sh("cd '" + sandbox.string() + "' && git status --porcelain && ls .git").find("rebase-merge") == std::string::npos);
  CHECK(sh("cd '" + sandbox.string() + "' && git status --porcelain").empty());
  CHECK(sh("cat '" + (sandbox / "README.md").string() + "'; echo") == "changed by the agent\n");
  // Merging is refused until the branch has the base's commits.
  auto merge = w.flow(id, "merge");
  CHECK(merge["status"] == "failed");
  CHECK(merge["error"].get<std::string>().find("would not fast-forward") != std::string::npos);
}

TEST_CASE("a sync's rebase that a server stop cut off is undone by the next flow, which says so") {
  TaskWorld w;
  auto id = w.create("/write README.md changed by the agent");
  auto task = w.settled(id);
  auto other = w.s.dir.path() / "other";
  sh("set -e; git clone -q '" + w.bare.string() + "' '" + other.string() + "'; cd '" + other.string() +
     "'; echo 'changed on main' > README.md; git -c user.name=o -c user.email=o@o commit -qam main; git push -q origin main");
  // What a killed server leaves: the rebase stopped half way, and the sync's marker.
  auto work = w.s.runtime->dir(actors::sandbox::address(task["org_id"], id)).work();
  sh("set -e; cd '" + work.string() + "'; export HOME=/tmp GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@a "
     "GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@a; g() { git -c safe.directory='*' \"$@\"; }; "
     "g commit -qam agent; branch=$(g branch --show-current); g checkout -q -b side origin/main; "
     "echo side > README.md; g commit -qam side; g checkout -q \"$branch\"; "
     "g rebase -q side >/dev/null 2>&1 || true; : > .git/hearth-rebase; chown -R $(stat -c %u:%g .) .");
  REQUIRE(std::filesystem::exists(work / ".git" / "rebase-merge"));

  auto op = w.flow(id, "sync");
  CHECK_MESSAGE(op["result"]["output"].get<std::string>().find(
                    "undid the rebase of a sync that a server restart cut off") != std::string::npos,
                op.dump());
  CHECK(op["result"]["conflict_files"] == json::array({"README.md"}));  // then synced again: the same conflict
  CHECK_FALSE(std::filesystem::exists(work / ".git" / "rebase-merge"));
  CHECK_FALSE(std::filesystem::exists(work / ".git" / "hearth-rebase"));
  CHECK(sh("cat '" + (work / "README.md").string() + "'; echo") == "changed by the agent\n");
}

TEST_CASE("sync without conflicts rebases, merge fast-forwards the base in the origin, revert restores a file") {
  TaskWorld w;
  auto id = w.create("/write feature.txt new feature\n/write src/a.c rewritten");
  w.settled(id);
  auto other = w.s.dir.path() / "other";
  sh("set -e; git clone -q '" + w.bare.string() + "' '" + other.string() + "'; cd '" + other.string() +
     "'; echo 'notes' > NOTES.md; git add NOTES.md; git -c user.name=o -c user.email=o@o commit -qm notes; git push -q origin main");

  auto revert = w.flow(id, "revert", {{"path", "src/a.c"}});
  REQUIRE_MESSAGE(revert["status"] == "succeeded", revert.dump());
  CHECK(revert["result"]["reverted"] == true);
  auto diff = w.poll(TaskWorld::task_path(id) + "/diff", [](const json& b) { return b["files"] == 1; });
  CHECK(diff["items"][0]["path"] == "feature.txt");
  // Again, and a file the task never touched: nothing to revert, and the op says so.
  for (const char* path : {"src/a.c", "README.md", "no/such/file"}) {
    auto nothing = w.flow(id, "revert", {{"path", path}});
    REQUIRE_MESSAGE(nothing["status"] == "succeeded", nothing.dump());
    CHECK(nothing["result"]["reverted"] == false);
    CHECK(nothing["result"]["output"] == std::string("no change to ") + path);
  }

  auto sync = w.flow(id, "sync");
  REQUIRE_MESSAGE(sync["status"] == "succeeded", sync.dump());
  auto merge = w.flow(id, "merge");
  REQUIRE_MESSAGE(merge["status"] == "succeeded", merge.dump());
  CHECK(w.origin_git("show main:feature.txt; echo") == "new feature\n");
  CHECK(w.origin_git("show main:NOTES.md") == "notes\n");
  CHECK(w.origin_git("show main:src/a.c") == "two\n");
  auto again = w.flow(id, "merge");
  CHECK(again["status"] == "failed");
  CHECK(again["error"].get<std::string>().find("nothing to merge") != std::string::npos);
}

TEST_CASE("archive stops the sandbox and keeps the transcript, unarchive brings it back, kill mid-turn ends everything") {
  TaskWorld w;
  auto id = w.create("/write a.txt A");
  auto task = w.settled(id);
  auto r = w.s.call("POST", TaskWorld::task_path(id) + "/archive", w.owner);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  w.settled(id, "archived");
  w.poll(AgentWorld::sandbox_path(id), [](const json& b) { return b["state"] == "stopped"; });
  CHECK(w.transcript(session_path(id, first_session(task))).size() > 2);
  CHECK(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say hi"}}).status == 409);
  // Archived tasks leave the default listing.
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks", w.owner).body["items"].empty());
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks?archived=only", w.owner).body["items"].size() == 1);

  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/unarchive", w.owner).status == 200);
  w.settled(id, "idle");
  w.poll(AgentWorld::sandbox_path(id), [](const json& b) { return b["state"] == "ready"; });
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say back"}}).status == 202);
  w.settled(id);

  // Kill while a turn runs: the sandbox is destroyed, the session closed, the record kept.
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/sleep 30000"}}).status == 202);
  w.poll(TaskWorld::task_path(id), [](const json& b) { return b["status"] == "running"; });
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/kill", w.owner).status == 200);
  w.poll(AgentWorld::sandbox_path(id), [](const json& b) { return b["state"] == "destroyed"; });
  auto killed = w.settled(id, "killed");
  CHECK(killed["sessions"][0]["status"] == "closed");
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks?status=killed", w.owner).body["items"].size() == 1);
  // Its branch name is free again.
  auto reused = w.create("/say reuse", {{"branch", killed["branch"]}});
  w.settled(reused);
}

TEST_CASE("feeds: the owner hears of finished turns, permission requests and others acting, unread per person") {
  TaskWorld w;
  auto id = w.create("/ask delete the build dir");
  auto permission = w.poll(TaskWorld::task_path(id), [](const json& b) {
    return !b["sessions"].empty() && b["sessions"][0]["pending_permissions"] == 1;
  });
  // The task needs its owner: the task, its summary and the needs_you filter say so.
  CHECK(permission["status"] == "running");
  CHECK(permission["needs_you"]["reason"] == "permission");
  CHECK(permission["needs_you"]["message"] == "The agent asks for permission.");
  auto waiting = w.s.call("GET", "/v1/orgs/acme/tasks?needs_you=1", w.owner).body;
  REQUIRE(waiting["items"].size() == 1);
  CHECK(waiting["items"][0]["needs_you"]["reason"] == "permission");
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks?needs_you=maybe", w.owner).status == 400);
  auto notes = w.poll("/v1/me/notifications", [](const json& b) { return b["unread"] == 1; });
  CHECK(notes["items"][0]["type"] == "needs_permission");
  CHECK(notes["items"][0]["task_id"] == id);
  CHECK(notes["items"][0]["message"].get<std::string>().find("delete the build dir") != std::string::npos);
  // The member is not concerned yet: nothing in their feed.
  CHECK(w.s.call("GET", "/v1/me/feed", w.member).body["items"].empty());

  auto session = first_session(permission);
  auto pending = w.s.call("GET", session_path(id, session) + "/permissions?status=pending", w.owner);
  REQUIRE(pending.body["items"].size() == 1);
  auto pid = pending.body["items"][0]["permission_id"].get<std::string>();
  REQUIRE(w.s.call("POST", session_path(id, session) + "/permissions/" + pid, w.owner, json{{"decision", "allow_once"}}).status == 200);
  CHECK(w.settled(id)["needs_you"].is_null());
  CHECK(w.s.call("GET", "/v1/orgs/acme/tasks?needs_you=1", w.owner).body["items"].empty());
  auto feed = w.poll("/v1/me/feed", [&](const json& b) {
    return !b["items"].empty() && b["items"][0]["reason"] == "finished";
  });
  CHECK(feed["items"][0]["unread"] == true);
  CHECK(feed["items"][0]["unread_sessions"] == json::array({session}));
  CHECK(feed["unread"] == 1);

  // The member prompts: the owner hears someone acted; the member is now concerned too.
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.member, json{{"text", "/say from member"}}).status == 202);
  w.poll("/v1/me/feed", [](const json& b) { return !b["items"].empty() && b["items"][0]["reason"] == "finished"; },
         std::chrono::seconds(30), w.member);
  auto owner_notes = w.poll("/v1/me/notifications", [](const json& b) { return b["items"].size() >= 3; });
  CHECK(owner_notes["items"][0]["type"] == "finished");

  // Reading is per person, and not an audit entry (a later change's entry is).
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/read", w.owner).status == 200);
  REQUIRE(w.s.call("PATCH", TaskWorld::task_path(id), w.owner, json{{"title", "read then renamed"}}).status == 200);
  auto audit = w.poll("/v1/orgs/acme/audit?limit=1000", [](const json& b) {
    for (const auto& e : b["items"])
      if (e["kind"] == "PATCH /tasks/{task}") return true;
    return false;
  });
  for (const auto& e : audit["items"]) CHECK(e["kind"].get<std::string>().find("/read") == std::string::npos);
  auto after = w.s.call("GET", "/v1/me/feed", w.owner).body;
  CHECK(after["unread"] == 0);
  CHECK(after["items"][0]["unread"] == false);
  CHECK(w.s.call("GET", "/v1/me/feed", w.member).body["unread"] == 1);
  REQUIRE(w.s.call("POST", "/v1/me/feed/read", w.member).status == 200);
  CHECK(w.s.call("GET", "/v1/me/feed", w.member).body["unread"] == 0);
  CHECK(w.s.call("GET", "/v1/me/notifications?unread=true", w.member).body["items"].empty());

  // Drafts per session, per person.
  auto draft_path = session_path(id, session) + "/draft";
  REQUIRE(w.s.call("PUT", draft_path, w.owner, json{{"text", "half a thought"}}).status == 200);
  CHECK(w.s.call("GET", draft_path, w.owner).body["text"] == "half a thought");
  CHECK(w.s.call("GET", draft_path, w.member).body["text"] == "");
}

TEST_CASE("audit: every mutation is logged with who, what and outcome, verify detects an edited or deleted row") {
  TaskWorld w;
  auto id = w.create("/write x.txt X");
  w.settled(id);
  w.flow(id, "push");
  CHECK(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.outsider, json{{"text", "x"}}).status == 404);
  CHECK(w.s.call("POST", "/v1/orgs/acme/repos", w.member, json{{"url", "file:///x"}}).status == 403);
  auto log = w.poll("/v1/orgs/acme/audit?limit=1000", [](const json& b) {
    for (const auto& e : b["items"])
      if (e["kind"] == "task.git.push") return true;
    return false;
  });
  std::set<std::string> kinds;
  for (const auto& e : log["items"]) kinds.insert(e["kind"].get<std::string>() + " " + e["outcome"].get<std::string>());
  CHECK(kinds.count("POST /repos ok"));
  CHECK(kinds.count("POST /tasks ok"));
  CHECK(kinds.count("POST /tasks/{task}/push accepted"));
  CHECK(kinds.count("task.git.push succeeded"));
  CHECK(kinds.count("POST /repos forbidden"));
  for (const auto& e : log["items"])
    if (e["kind"] == "POST /tasks") {
      CHECK(e["username"] == "owner");
      CHECK(e["request_id"].is_string());
      CHECK(e["task_id"] == id);  // named by the answer
    }
  // Everything about the task, from its creation on, by the task filter.
  auto by_task = w.s.call("GET", "/v1/orgs/acme/audit?task=" + id, w.owner).body;
  CHECK(by_task["items"].back()["kind"] == "POST /tasks");
  CHECK(w.s.call("GET", "/v1/orgs/acme/audit", w.member).status == 403);
  // What belongs to no org goes to the server's log: a failed sign-in, with the name tried.
  auto root = w.root;
  CHECK(w.s.call("POST", "/v1/auth/sign-in", "", json{{"username", "owner"}, {"password", "wrong-password"}}).status == 401);
  auto server_log = w.poll("/v1/audit?kind=POST%20/auth/sign-in", [](const json& b) { return !b["items"].empty(); },
                           std::chrono::seconds(10), root);
  CHECK(server_log["items"][0]["username"] == "owner");
  CHECK(server_log["items"][0]["outcome"] == "unauthorized");
  CHECK(server_log["items"][0].dump().find("wrong-password") == std::string::npos);
  CHECK(w.s.call("GET", "/v1/audit", w.owner).status == 403);
  CHECK(w.s.call("GET", "/v1/orgs/acme/audit?kind=POST%20/tasks&limit=5", w.owner).body["items"].size() >= 1);

  auto verified = w.s.call("GET", "/v1/orgs/acme/audit/verify", w.owner);
  REQUIRE(verified.status == 200);
  CHECK(verified.body["ok"] == true);
  auto count = verified.body["entries"].get<std::int64_t>();
  CHECK(count == static_cast<std::int64_t>(log["items"].size()));
  auto exported = w.s.call("GET", "/v1/orgs/acme/audit/export", w.owner);
  REQUIRE(exported.status == 200);
  CHECK(std::count(exported.text.begin(), exported.text.end(), '\n') == count);

}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("200 tasks created at once (the reference's breaking point) all reach idle") {
  TaskWorld w;
  constexpr int kTasks = 200, kClients = 8;
  std::vector<std::string> ids(kTasks);
  std::vector<std::thread> clients;
  std::atomic<int> refused{0};
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      for (int i = c; i < kTasks; i += kClients) {
        auto r = w.s.call("POST", "/v1/orgs/acme/tasks", w.owner,
                          json{{"repo", "origin"}, {"prompt", "/write n.txt " + std::to_string(i)}, {"agent", "mock"}});
        if (r.status == 201) ids[i] = r.body["task_id"];
        else ++refused;
      }
    });
  for (auto& t : clients) t.join();
  REQUIRE(refused == 0);
  // Every one idle, as the index says (one read, no task woken), within a bound.
  auto until = std::chrono::steady_clock::now() + std::chrono::minutes(4);
  json list;
  for (;;) {
    list = w.s.call("GET", "/v1/orgs/acme/tasks?status=idle&limit=500", w.owner).body;
    if (list["items"].size() == kTasks || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(list["items"].size() == kTasks);
  std::set<std::string> branches;
  for (const auto& t : list["items"]) branches.insert(t["branch"].get<std::string>());
  CHECK(branches.size() == kTasks);  // every branch its own
  auto sample = w.s.call("GET", TaskWorld::task_path(ids[kTasks - 1]), w.owner).body;
  CHECK(sample["sessions"][0]["last_turn_status"] == "completed");
}

}  // namespace hearth::test

namespace hearth::test {
namespace {

// Follows the event stream at `path` until `done` holds on an event (name, data) or `limit` passes.
bool follow(TaskWorld& w, const std::string& path, const std::string& token,
            const std::function<bool(const std::string&, const json&)>& done,
            std::chrono::seconds limit = std::chrono::seconds(30)) {
  httplib::Client cli("127.0.0.1", w.s.port);
  cli.set_read_timeout(limit.count(), 0);
  std::string buffer;
  bool met = false;
  auto until = std::chrono::steady_clock::now() + limit;
  (void)cli.Get(path, {{"Authorization", "Bearer " + token}}, [&](const char* data, std::size_t n) {
    buffer.append(data, n);
    for (std::size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      auto frame = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      std::string name, payload;
      std::istringstream lines(frame);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("event: ", 0) == 0) name = line.substr(7);
        if (line.rfind("data: ", 0) == 0) payload += line.substr(6);
      }
      bool hit = false;
      try {  // events of other shapes are not what the caller waits for
        auto event = json::parse(payload, nullptr, false);
        hit = !name.empty() && done(name, event.is_object() ? event["payload"] : event);
      } catch (const json::exception&) {
      }
      if (hit) {
        met = true;
        return false;
      }
    }
    return std::chrono::steady_clock::now() < until;
  });
  return met;
}

}  // namespace

TEST_CASE("live: the feed's stream bumps when an agent finishes, the task's stream shows it idle") {
  TaskWorld w;
  std::atomic<bool> bumped{false}, idle{false};
  std::string id;
  std::thread feed([&] {
    bumped = follow(w, "/v1/me/feed/events", w.owner, [&](const std::string& name, const json& d) {
      return name == "user.feed.bumped" && d["item"]["reason"] == "finished" && d["notification"]["type"] == "finished";
    });
  });
  id = w.create("/say streaming");
  w.settled(id);
  feed.join();
  CHECK(bumped);
  // A second turn, watched on the task's own stream from the position of a read.
  auto at = w.s.call("GET", TaskWorld::task_path(id), w.owner).header("Hearth-Position");
  std::thread task([&] {
    idle = follow(w, TaskWorld::task_path(id) + "/events?position=" + at, w.owner, [](const std::string& name, const json& d) {
      return name == "task.changed" && d.value("status", "") == "idle" && d["sessions"][0]["turn"] == 2 &&
             d["sessions"][0]["last_turn_status"] == "completed";
    });
  });
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say again"}}).status == 202);
  task.join();
  CHECK(idle);
  // The org's stream carries the index's changes (a rename by a member, here).
  std::atomic<bool> renamed{false};
  auto org_at = w.s.call("GET", "/v1/orgs/acme/tasks", w.member).header("Hearth-Position");
  std::thread org([&] {
    renamed = follow(w, "/v1/orgs/acme/events?position=" + org_at, w.member, [&](const std::string& name, const json& d) {
      return name == "organization.task.changed" && d["task_id"] == id && d["title"] == "renamed";
    });
  });
  REQUIRE(w.s.call("PATCH", TaskWorld::task_path(id), w.member, json{{"title", "renamed"}}).status == 200);
  org.join();
  CHECK(renamed);
}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("a provisioning failure lands in error with the step and git's reason, tells the owner, and can be retried") {
  TaskWorld w;
  // The origin is gone for a moment: provisioning cannot clone it.
  auto moved = w.bare.string() + ".away";
  std::filesystem::rename(w.bare, moved);
  auto id = w.create("/write a.txt A");
  auto failed = w.settled(id, "error");
  CHECK(failed["error_step"] == "cloning");
  CHECK(failed["needs_you"]["reason"] == "error");
  CHECK(failed["error"].get<std::string>().find("git cannot read") != std::string::npos);
  CHECK(failed["sessions"].empty());
  auto notes = w.poll("/v1/me/notifications", [](const json& b) { return b["unread"] == 1; });
  CHECK(notes["items"][0]["type"] == "failed");
  CHECK(notes["items"][0]["message"].get<std::string>().find("provisioning failed while cloning") != std::string::npos);
  CHECK(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say x"}}).status == 409);

  // The origin is back; retry provisions again and the first turn runs.
  std::filesystem::rename(moved, w.bare);
  auto r = w.s.call("POST", TaskWorld::task_path(id) + "/retry", w.owner);
  REQUIRE_MESSAGE(r.status == 200, r.body.dump());
  auto task = w.settled(id);
  REQUIRE(task["sessions"].size() == 1);
  CHECK(task["error"].is_null());
  w.poll(TaskWorld::task_path(id) + "/diff", [](const json& b) { return b["files"] == 1; });
  CHECK(w.s.call("POST", TaskWorld::task_path(id) + "/retry", w.owner).status == 409);
}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("a task whose sandbox is gone is provisioned again from its pushed branch when unarchived") {
  TaskWorld w;
  auto id = w.create("/write kept.txt pushed work");
  w.settled(id);
  REQUIRE(w.flow(id, "push")["status"] == "succeeded");
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/archive", w.owner).status == 200);
  w.settled(id, "archived");
  // The sandbox goes away entirely (an operator destroys it to free the disk).
  w.poll(AgentWorld::sandbox_path(id), [](const json& b) { return b["state"] == "stopped"; });
  REQUIRE(w.s.call("DELETE", AgentWorld::sandbox_path(id), w.owner).status == 200);
  w.poll(AgentWorld::sandbox_path(id), [](const json& b) { return b["state"] == "destroyed"; });
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/unarchive", w.owner).status == 200);
  w.settled(id);
  w.poll(AgentWorld::sandbox_path(id), [](const json& b) { return b["state"] == "ready"; });
  // The work tree is the pushed branch: its file is there, and the diff against the base shows it.
  auto task = w.s.call("GET", TaskWorld::task_path(id), w.owner).body;
  auto work = w.s.runtime->dir(actors::sandbox::address(task["org_id"], id)).work();
  CHECK(sh("cat '" + (work / "kept.txt").string() + "'; echo") == "pushed work\n");
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/diff/refresh", w.owner).status == 202);
  auto diff = w.poll(TaskWorld::task_path(id) + "/diff", [](const json& b) { return b["files"] == 1; });
  CHECK(diff["items"][0]["path"] == "kept.txt");
  // A fresh session waits for the next prompt (the old one ended with its sandbox).
  task = w.s.call("GET", TaskWorld::task_path(id), w.owner).body;
  REQUIRE(task["sessions"].size() == 2);
  CHECK(task["sessions"][0]["status"] == "closed");
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say resumed"}}).status == 202);
  w.poll(TaskWorld::task_path(id), [](const json& b) { return b["sessions"][1]["last_turn_status"] == "completed"; });
}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("a member removed from the org hears nothing more of its tasks, and their feed forgets it") {
  TaskWorld w;
  auto id = w.create("/say hello");
  w.settled(id);
  // The member takes part (prompts), so the task's events reach their feed.
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.member, json{{"text", "/say from member"}}).status == 202);
  w.poll("/v1/me/feed", [](const json& b) { return !b["items"].empty(); }, std::chrono::seconds(30), w.member);
  w.settled(id);
  REQUIRE(w.s.call("DELETE", "/v1/orgs/acme/members/member", w.owner).status == 200);
  w.poll("/v1/me/feed", [](const json& b) { return b["items"].empty() && b["unread"] == 0; }, std::chrono::seconds(30),
         w.member);
  // The task goes on: the owner hears of the next turn, the removed member does not.
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say after the removal"}}).status == 202);
  w.settled(id);
  w.poll("/v1/me/notifications", [](const json& b) { return b["items"].size() >= 2; });
  CHECK(w.s.call("GET", "/v1/me/feed", w.member).body["items"].empty());
  CHECK(w.s.call("GET", "/v1/me/notifications", w.member).body["items"].empty());
}

TEST_CASE("an org's people cannot tell which usernames exist on the server") {
  TaskWorld w;
  w.s.user_with_token("elsewhere");  // a user of the server, in no org of this test
  // Filtering tasks by owner: a non-member, a user who exists but is not a member, and
  // a name nobody has all answer alike.
  for (const char* name : {"elsewhere", "nobody-at-all"}) {
    CAPTURE(name);
    auto r = w.s.call("GET", std::string("/v1/orgs/acme/tasks?owner=") + name, w.member);
    CHECK(r.status == 200);
    CHECK(r.body["items"].empty());
  }
  // Handing a task over, changing a role, removing: one answer for both.
  auto id = w.create("/say hi");
  auto a = w.s.call("POST", TaskWorld::task_path(id) + "/owner", w.owner, json{{"username", "elsewhere"}});
  auto b = w.s.call("POST", TaskWorld::task_path(id) + "/owner", w.owner, json{{"username", "nobody-at-all"}});
  CHECK(a.status == b.status);
  CHECK(a.body["error"]["message"] == "no member \"elsewhere\"");
  CHECK(b.body["error"]["message"] == "no member \"nobody-at-all\"");
  auto c = w.s.call("DELETE", "/v1/orgs/acme/members/elsewhere", w.owner);
  auto d = w.s.call("DELETE", "/v1/orgs/acme/members/nobody-at-all", w.owner);
  CHECK(c.status == 404);
  CHECK(d.status == 404);
  // Adding names without an account says so, but past 20 misses the admin must wait.
  int refused = 0;
  for (int i = 0; i < 25; ++i) {
    auto r = w.s.call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "guess-" + std::to_string(i)}});
    refused += r.status == 429;
  }
  CHECK(refused >= 4);
  CHECK(w.s.call("POST", "/v1/orgs/acme/members", w.owner, json{{"username", "elsewhere"}}).status == 429);
}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("needs you: a failed turn waits for a person until a later turn succeeds, and the org's summary follows") {
  TaskWorld w;
  auto id = w.create("/fail the build is broken");
  auto failed = w.poll(TaskWorld::task_path(id), [](const json& b) {
    return b["status"] == "idle" && !b["needs_you"].is_null();
  });
  CHECK(failed["needs_you"] == json{{"reason", "failed_turn"}, {"message", "The agent's last turn failed."}});
  auto listed = w.poll("/v1/orgs/acme/tasks?needs_you=1", [](const json& b) { return b["items"].size() == 1; });
  CHECK(listed["items"][0]["needs_you"]["reason"] == "failed_turn");
  REQUIRE(w.s.call("POST", TaskWorld::task_path(id) + "/prompt", w.owner, json{{"text", "/say fixed"}}).status == 202);
  auto fixed = w.poll(TaskWorld::task_path(id), [](const json& b) {
    return b["status"] == "idle" && b["sessions"][0]["turn"] == 2 && b["sessions"][0]["last_turn_status"] == "completed";
  });
  CHECK(fixed["needs_you"].is_null());
  w.poll("/v1/orgs/acme/tasks?needs_you=1", [](const json& b) { return b["items"].empty(); });
}

}  // namespace hearth::test

namespace hearth::test {

TEST_CASE("a session's report older than the latest the task applied is ignored: no stale status wins") {
  TaskWorld w;
  auto id = w.create("/say hello");
  auto t = w.settled(id);
  std::string session = t["sessions"][0]["session_id"];
  auto task_actor = actors::task::address(t["org_id"], id);
  // What a late duplicate of the turn's first report would say: running, turn 1.
  actors::SendOptions wait{.wait = true};
  auto stale = w.s.host->send(task_actor, actors::task::kSessionChanged,
                              {{"session_id", session}, {"status", "running"}, {"turn", 1}, {"event", "status"},
                               {"report_seq", 1}},
                              wait);
  REQUIRE(stale.ok());
  CHECK(stale->result.contains("ignored"));
  CHECK(w.s.call("GET", TaskWorld::task_path(id), w.owner).body["status"] == "idle");
}

}  // namespace hearth::test
