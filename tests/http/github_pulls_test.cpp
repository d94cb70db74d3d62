// Tasks and GitHub pull requests over real HTTP, against the fake GitHub and a git
// server that takes only installation tokens: a task publishes its branch as a pull
// request (a token for that repository with pull_requests write), publishing again links
// the open one, GitHub's refusals come back in words; deliveries of pull_request closed
// (merged or not) archive the task with the reason, reopened brings it back; someone
// else's push is taken by sync and not pushed over; open pull
// requests no task works on are rows of the task list with no actor behind them, and
// "work on this pull request" creates the task on its branch.
#include <doctest/doctest.h>

#include "tests/support/github_world.h"

namespace hearth::test {
namespace {

// A pull_request delivery of `action` for `pr` (as the fake's API shows it) of `name`.
json pull_delivery(GitHubRepoWorld& w, const std::string& action, const std::string& name, const json& pr,
                   const std::string& sender = "octocat") {
  return json{{"action", action},
              {"number", pr["number"]},
              {"pull_request", pr},
              {"repository", w.github.repository(kInstallation, name)},
              {"installation", {{"id", kInstallation}}},
              {"sender", {{"login", sender}}}};
}

// Linked, synced: the org's repositories are the installation's.
void link(GitHubRepoWorld& w) {
  REQUIRE(w.s->call("POST", "/v1/orgs/acme/github/installation", w.owner, json{{"installation_id", kInstallation}})
              .status == 200);
  w.poll("/v1/orgs/acme/github", [](const json& b) { return b["sync"]["phase"] == "done"; });
  w.poll("/v1/orgs/acme/repos", [](const json& b) { return b["items"].size() == 2; });
}

// GitHub's view of two branches, read off the served repositories.
void check_branches_with_git(GitHubRepoWorld& w) {
  w.github.set_branch_check([&w](const std::string& full, const std::string& base, const std::string& head) -> json {
    auto bare = w.bare(full.substr(full.find('/') + 1));
    auto has = [&](const std::string& b) {
      return sh("git -C '" + bare + "' rev-parse -q --verify 'refs/heads/" + b + "' >/dev/null && echo yes; true") == "yes\n";
    };
    if (!has(base)) return {{"error", "base"}};
    if (!has(head)) return {{"error", "head"}};
    auto ahead = sh("git -C '" + bare + "' rev-list --count '" + base + ".." + head + "'");
    if (ahead == "0\n") return {{"error", "no_commits"}};
    auto sha = sh("git -C '" + bare + "' rev-parse '" + head + "'");
    return {{"sha", sha.substr(0, 40)}};
  });
}

// A task on widgets whose agent wrote a file, idle with no op running: its path.
std::string idle_task(GitHubRepoWorld& w,
                      const std::string& prompt = "/write hello.txt Hello from GitHub\n/say Added hello.txt with a greeting.") {
  auto made = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                        json{{"repo", "widgets"}, {"prompt", prompt}, {"agent", "mock"}});
  REQUIRE_MESSAGE(made.status == 201, made.body.dump());
  auto path = "/v1/orgs/acme/tasks/" + made.body["task_id"].get<std::string>();
  auto task = w.poll(path, [](const json& b) {
    return b.value("status", "") == "idle" && b.contains("running_op") && b["running_op"].is_null() &&
           b["sessions"].size() == 1 && b["sessions"][0]["last_turn_status"] == "completed";
  });
  REQUIRE_MESSAGE(task["status"] == "idle", task.dump());
  return path;
}

// Runs `verb` on the task and waits for its op to end: the op.
json run_op(GitHubRepoWorld& w, const std::string& path, const std::string& verb, const json& body = json::object()) {
  auto started = w.s->call("POST", path + "/" + verb, w.owner, body);
  REQUIRE_MESSAGE(started.status == 202, started.body.dump());
  return w.poll(path + "/ops/" + std::to_string(started.body["op_id"].get<std::int64_t>()),
                [](const json& b) { return b["status"] != "running"; });
}

// Whether the org's audit log holds an entry of `kind`, once it does (the audit actor
// writes after the change it records: read once, a fast machine sees it missing).
bool audited(GitHubRepoWorld& w, const std::string& kind) {
  auto has = [&](const json& log) {
    for (const auto& e : log["items"])
      if (e["kind"] == kind) return true;
    return false;
  };
  return has(w.poll("/v1/orgs/acme/audit?limit=200", has));
}

TEST_CASE("a task opens its pull request, merged on GitHub the task is archived, reopened it comes back") {
  GitHubRepoWorld w;
  check_branches_with_git(w);
  link(w);
  auto path = idle_task(w);
  auto before = w.github.minted().size();

  auto op = run_op(w, path, "pr");
  REQUIRE_MESSAGE(op["status"] == "succeeded", op.dump());
  CHECK(op["kind"] == "pr");
  auto task = w.s->call("GET", path, w.owner).body;
  auto branch = task["branch"].get<std::string>();
  REQUIRE_MESSAGE(task["pull"].is_object(), task.dump());
  CHECK(task["pull"]["number"] == 1);
  CHECK(task["pull"]["state"] == "open");
  CHECK(task["pull"]["url"] == "https://github.com/acme-corp/widgets/pull/1");
  // GitHub got the branch, pushed first, into the base, titled as the task, with a body
  // that says what the agent did and links back to the task.
  auto pr = w.github.pull("acme-corp/widgets", 1);
  CHECK(pr["head"]["ref"] == branch);
  CHECK(pr["base"]["ref"] == "main");
  CHECK(pr["title"] == task["title"]);
  CHECK(pr["head"]["sha"].get<std::string>() == sh("git -C '" + w.bare("widgets") + "' rev-parse " + branch).substr(0, 40));
  auto body = pr["body"].get<std::string>();
  CHECK_MESSAGE(body.find("/orgs/acme/tasks/" + task["task_id"].get<std::string>()) != std::string::npos, body);
  CHECK_MESSAGE(body.find("Added hello.txt with a greeting.") != std::string::npos, body);  // the agent's words
  // The pull request was opened with a token for widgets alone and pull_requests write.
  bool pulls_token = false;
  auto minted = w.github.minted();
  for (std::size_t i = before; i < minted.size(); ++i) {
    CHECK(minted[i].repositories == std::vector<std::string>{"widgets"});
    pulls_token = pulls_token || minted[i].permissions == json{{"pull_requests", "write"}};
  }
  CHECK(pulls_token);
  // The index (the sidebar's list) shows it too.
  auto listed = w.s->call("GET", "/v1/orgs/acme/tasks?pulls=exclude", w.owner).body["items"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["pull"]["number"] == 1);

  // Again: GitHub says one exists for the branch; that one is linked.
  auto again = run_op(w, path, "pr", json{{"title", "Another title"}});
  REQUIRE_MESSAGE(again["status"] == "succeeded", again.dump());
  CHECK(again["result"]["pull"]["linked"] == true);
  CHECK(again["result"]["pull"]["number"] == 1);
  CHECK(audited(w, "task.pr.published"));
  CHECK(audited(w, "task.pr.linked"));

  // Merged on GitHub: the delivery archives the task, saying why.
  auto merged = w.github.set_pull_state("acme-corp/widgets", 1, "closed", true);
  REQUIRE(w.deliver("d-merged-1", "pull_request", pull_delivery(w, "closed", "widgets", merged)).status == 202);
  task = w.poll(path, [](const json& b) { return b["status"] == "archived"; });
  CHECK(task["archive_reason"] == "PR merged");
  CHECK(task["pull"]["state"] == "merged");
  CHECK(audited(w, "task.archived"));

  // Reopened: back (its sandbox starts again).
  auto reopened = w.github.set_pull_state("acme-corp/widgets", 1, "open");
  REQUIRE(w.deliver("d-reopened-1", "pull_request", pull_delivery(w, "reopened", "widgets", reopened)).status == 202);
  task = w.poll(path, [](const json& b) { return b["status"] == "idle"; });
  CHECK(task["archive_reason"].is_null());
  CHECK(task["pull"]["state"] == "open");

  // Closed without merging: archived with that reason.
  auto closed = w.github.set_pull_state("acme-corp/widgets", 1, "closed", false);
  REQUIRE(w.deliver("d-closed-1", "pull_request", pull_delivery(w, "closed", "widgets", closed)).status == 202);
  task = w.poll(path, [](const json& b) { return b["status"] == "archived"; });
  CHECK(task["archive_reason"] == "PR closed without merging");
  CHECK(task["pull"]["state"] == "closed");
}

TEST_CASE("someone else's push to the pull request: sync takes their commits, a plain push refuses to drop them") {
  GitHubRepoWorld w;
  check_branches_with_git(w);
  link(w);
  auto path = idle_task(w);
  REQUIRE(run_op(w, path, "pr")["status"] == "succeeded");
  auto branch = w.s->call("GET", path, w.owner).body["branch"].get<std::string>();
  // A reviewer pushes a commit to the branch on GitHub.
  auto bare = w.bare("widgets");
  auto clone = (w.served.path() / "theirs").string();
  sh("git clone -q -b '" + branch + "' '" + bare + "' '" + clone + "' && cd '" + clone +
     "' && echo 'Bonjour' > french.txt && git add french.txt && git -c user.name=rita -c user.email=rita@example.com "
     "commit -q -m 'Greet in French' && git push -q origin HEAD");
  auto theirs = sh("git -C '" + bare + "' rev-parse '" + branch + "'").substr(0, 40);
  auto pr = w.github.pull("acme-corp/widgets", 1);
  pr["head"]["sha"] = theirs;
  REQUIRE(w.deliver("d-sync-1", "pull_request", pull_delivery(w, "synchronize", "widgets", pr, "rita")).status == 202);
  auto task = w.poll(path, [](const json& b) { return b["pull"].value("pushed_elsewhere", false); });

  // A push would replace their commit: refused, in words, unless forced.
  auto pushed = w.s->call("POST", path + "/push", w.owner, json::object());
  CHECK(pushed.status == 409);
  CHECK(pushed.body["error"]["message"].get<std::string>().find("someone pushed to " + branch) != std::string::npos);
  CHECK(w.s->call("POST", path + "/push", w.owner, json{{"force", "yes"}}).status == 400);

  // The agent writes more, then sync takes their commit under it.
  REQUIRE(w.s->call("POST", path + "/prompt", w.owner, json{{"text", "/write more.txt More"}}).status == 202);
  w.poll(path, [](const json& b) { return b["sessions"][0]["turn"] == 2 && b["sessions"][0]["last_turn_status"] == "completed"; });
  auto synced = run_op(w, path, "sync");
  REQUIRE_MESSAGE(synced["status"] == "succeeded", synced.dump());
  CHECK(synced["result"]["took_theirs"] == true);
  task = w.poll(path, [](const json& b) { return !b["pull"].value("pushed_elsewhere", true); });
  auto again = run_op(w, path, "push");
  REQUIRE_MESSAGE(again["status"] == "succeeded", again.dump());
  // Their commit is under the agent's on GitHub: nothing of theirs was lost.
  CHECK(sh("git -C '" + bare + "' merge-base --is-ancestor " + theirs + " '" + branch + "' && echo kept") == "kept\n");
  CHECK(sh("git -C '" + bare + "' show '" + branch + ":more.txt'; echo") == "More\n");
  CHECK(sh("git -C '" + bare + "' show '" + branch + ":french.txt'") == "Bonjour\n");
}

TEST_CASE("the org's auto-archive setting off, a merged pull request leaves its task as it is") {
  GitHubRepoWorld w;
  link(w);
  REQUIRE(w.s->call("PATCH", "/v1/orgs/acme", w.owner, json{{"settings", {{"auto_archive_prs", false}}}}).status == 200);
  CHECK(w.s->call("GET", "/v1/orgs/acme", w.owner).body["settings"]["auto_archive_prs"] == false);
  auto path = idle_task(w);
  REQUIRE(run_op(w, path, "pr")["status"] == "succeeded");
  auto merged = w.github.set_pull_state("acme-corp/widgets", 1, "closed", true);
  REQUIRE(w.deliver("d-merged-2", "pull_request", pull_delivery(w, "closed", "widgets", merged)).status == 202);
  auto task = w.poll(path, [](const json& b) { return b["pull"]["state"] == "merged"; });
  CHECK(task["status"] == "idle");
  CHECK(task["archive_reason"].is_null());
}

TEST_CASE("GitHub's refusals of a pull request come back as clear errors") {
  GitHubRepoWorld w;
  check_branches_with_git(w);
  link(w);

  SUBCASE("no commits between the branches") {
    // The agent wrote nothing: the branch pushed is the base.
    auto path = idle_task(w, "/say There is nothing to change.");
    auto op = run_op(w, path, "pr");
    CHECK(op["status"] == "failed");
    CHECK_MESSAGE(op["error"].get<std::string>().find("nothing to open a pull request for") != std::string::npos, op.dump());
    CHECK(w.s->call("GET", path, w.owner).body["pull"].is_null());
  }
  SUBCASE("a base GitHub does not have") {
    auto path = idle_task(w);
    sh("git -C '" + w.bare("widgets") + "' branch -m main trunk");  // renamed on GitHub meanwhile
    auto op = run_op(w, path, "pr");
    CHECK(op["status"] == "failed");
    CHECK_MESSAGE(op["error"].get<std::string>().find("has no branch main") != std::string::npos, op.dump());
  }
  SUBCASE("a task on a repository not connected through GitHub") {
    auto repo = make_repo(w.served.path() / "plain");
    auto file_server = w.s->call("POST", "/v1/orgs/acme/repos", w.owner, json{{"url", repo.string()}});
    if (file_server.status != 201) return;  // this server reads no repositories from its disk
    auto made = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner,
                          json{{"repo", file_server.body["repo_id"]}, {"prompt", "hi"}, {"agent", "mock"}});
    REQUIRE(made.status == 201);
    auto path = "/v1/orgs/acme/tasks/" + made.body["task_id"].get<std::string>();
    auto refused = w.s->call("POST", path + "/pr", w.owner, json::object());
    CHECK(refused.status == 409);
  }
  SUBCASE("bad fields") {
    auto path = idle_task(w);
    CHECK(w.s->call("POST", path + "/pr", w.owner, json{{"draft", "yes"}}).status == 400);
    CHECK(w.s->call("POST", path + "/pr", w.owner, json{{"title", std::string(300, 'x')}}).status == 400);
    CHECK(w.s->call("POST", path + "/pr", w.owner, json{{"head", "main"}}).status == 400);
  }
}

TEST_CASE("open pull requests are rows of the task list with no task actor, and working on one makes its task") {
  GitHubRepoWorld w;
  w.github.add_pull_requests("acme-corp/widgets", 3);
  sh("git -C '" + w.bare("widgets") + "' branch feature-2 main");
  link(w);
  auto listed = w.poll("/v1/orgs/acme/tasks", [](const json& b) { return b["items"].size() == 3; })["items"];
  for (const auto& row : listed) {
    CHECK(row["kind"] == "pull_request");
    CHECK(row["status"] == "pull_request");
    CHECK(row["repo_id"] == "widgets");
    CHECK(row["owner_name"] == "octocat");
  }
  // No task actor behind any of them.
  auto actors = w.s->call("GET", "/v1/inspector/actors?type=task", w.owner);
  REQUIRE(actors.status == 200);
  CHECK(actors.body["items"].empty());
  CHECK(w.s->call("GET", "/v1/orgs/acme/tasks?pulls=exclude", w.owner).body["items"].empty());
  CHECK(w.s->call("GET", "/v1/orgs/acme/tasks?status=pull_request", w.owner).body["items"].size() == 3);

  // Work on #2: a task on its branch, into its base, titled as it.
  json second;
  for (const auto& row : listed)
    if (row["pull"]["number"] == 2) second = row;
  REQUIRE(second.is_object());
  auto made = w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"pull", second["task_id"]}, {"agent", "mock"}});
  REQUIRE_MESSAGE(made.status == 201, made.body.dump());
  CHECK(made.body["branch"] == "feature-2");
  CHECK(made.body["title"] == "Change 2");
  auto path = "/v1/orgs/acme/tasks/" + made.body["task_id"].get<std::string>();
  auto task = w.poll(path, [](const json& b) { return b.value("status", "") == "idle"; });
  CHECK(task["pull"]["number"] == 2);
  CHECK(task["base_branch"] == "main");
  // The row is the task's now; the other two stay rows.
  auto now_listed = w.s->call("GET", "/v1/orgs/acme/tasks", w.owner).body["items"];
  CHECK(now_listed.size() == 3);
  int rows = 0;
  for (const auto& row : now_listed) rows += row.value("kind", "") == "pull_request";
  CHECK(rows == 2);
  // Working on it twice is refused: the row is gone.
  CHECK(w.s->call("POST", "/v1/orgs/acme/tasks", w.owner, json{{"pull", second["task_id"]}, {"agent", "mock"}}).status == 404);

  // #3 closes on GitHub: its row leaves the list.
  auto closed = w.github.set_pull_state("acme-corp/widgets", 3, "closed");
  REQUIRE(w.deliver("d-closed-3", "pull_request", pull_delivery(w, "closed", "widgets", closed)).status == 202);
  w.poll("/v1/orgs/acme/tasks", [](const json& b) { return b["items"].size() == 2; });
  // A pull request opened on GitHub appears.
  auto opened = w.github.set_pull_state("acme-corp/widgets", 3, "open");
  REQUIRE(w.deliver("d-reopened-3", "pull_request", pull_delivery(w, "reopened", "widgets", opened)).status == 202);
  w.poll("/v1/orgs/acme/tasks", [](const json& b) { return b["items"].size() == 3; });
  CHECK(w.s->call("GET", "/v1/inspector/actors?type=task", w.owner).body["items"].size() == 1);
}

}  // namespace
}  // namespace hearth::test
