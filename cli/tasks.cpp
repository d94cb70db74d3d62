// The repo, task, feed and audit subcommands. A repository is named ORG/REPO and a
// task ORG/TASK. `hearth task create` shows provisioning as a progress line and then
// streams the first turn's transcript live (NDJSON events with --json; --detach returns
// at once); the git flows wait for their outcome and say it. See docs/cli.md.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "cli/api.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/times.h"

namespace hearth::cli {
namespace {


std::optional<std::string> task_path(const std::string& ref) {
  auto p = split_ref(ref, 2, "ORG/TASK");
  if (!p) return std::nullopt;
  return org_path((*p)[0]) + "/tasks/" + encode((*p)[1]);
}

std::string query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params)
    if (!v.empty()) q += (q.empty() ? "?" : "&") + k + "=" + encode(v);
  return q;
}

// Waits for a git flow's op to end and says how it went. 0: it succeeded.
// After a watched turn has ended in the session's transcript: waits (half a minute at
// most) until the task has taken the end in too, so that what runs next (`task diff`,
// `task push`) finds the task idle or its diff refresh under way, never the task as it
// was before the turn ended. Returns `watched`, the watch's own exit code.
int settled(Api& api, const std::string& path, const std::string& session_id, std::int64_t turn, int watched) {
  if (watched != kExitOk || session_id.empty()) return watched;
  int code = kExitFailed;
  for (int i = 0; i < 300; ++i) {
    auto t = api.fetch("GET", path, nullptr, code);
    if (!t) return code;
    for (const auto& s : t->value("sessions", Json::array()))
      if (s.value("session_id", "") == session_id && s.value("turn", std::int64_t{0}) >= turn &&
          s.value("status", "") != "running" && s.value("status", "") != "cancelling")
        return watched;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return watched;
}

int follow_op(Api& api, const std::string& path, const Json& started) {
  if (!started.contains("op_id")) {  // ?wait=false or an older server: nothing to follow
    std::cout << started.dump(2) << "\n";
    return kExitOk;
  }
  auto op_path = path + "/ops/" + std::to_string(started["op_id"].get<std::int64_t>());
  int code = kExitFailed;
  bool tty = ::isatty(2);
  auto begun = std::chrono::steady_clock::now();
  for (;;) {
    auto op = api.fetch("GET", op_path, nullptr, code);
    if (!op) return code;
    if ((*op)["status"] != "running") {
      if (tty) std::cerr << "\r\033[K";
      const auto& r = (*op)["result"];
      if (api.json_output()) {
        std::cout << op->dump(2) << "\n";
      } else if (r.is_object() && !r.value("reverted", true)) {  // the server did nothing
        std::cout << (*op)["args"].value("path", std::string("the file")) << " has no change to revert\n";
      } else {
        if (r.is_object() && r.contains("output") && !r["output"].get<std::string>().empty())
          std::cout << r["output"].get<std::string>() << "\n";
        if (r.is_object() && r.contains("conflict_files")) {
          std::cout << "conflicts in:\n";
          for (const auto& f : r["conflict_files"]) std::cout << "  " << f.get<std::string>() << "\n";
        }
        std::cout << (*op)["kind"].get<std::string>() << ": " << (*op)["status"].get<std::string>() << "\n";
      }
      if ((*op)["status"] == "failed") {
        if ((*op)["error"].is_string()) std::cerr << "hearth: " << (*op)["error"].get<std::string>() << "\n";
        return kExitFailed;
      }
      return kExitOk;
    }
    if (tty) {
      auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - begun).count();
      std::cerr << "\r\033[K" << (*op)["kind"].get<std::string>() << " running… " << s << "s" << std::flush;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// After `hearth task create` (and for `task watch`): the provisioning steps as a progress
// line, then the latest turn of the latest session (the first turn, right after creation)
// as it streams, and only that turn. 0 when the turn completed.
int follow_task(Api& api, const std::string& path, const std::string& ref) {
  int code = kExitFailed;
  bool tty = ::isatty(2);
  std::string last_phase;
  Json task;
  for (;;) {
    auto t = api.fetch("GET", path, nullptr, code);
    if (!t) return code;
    task = *t;
    auto status = task.value("status", "");
    auto phase = task.value("phase", Json()).is_string() ? task["phase"].get<std::string>() : "";
    if (status == "provisioning" && !phase.empty() && phase != last_phase) {
      if (api.json_output()) std::cout << Json{{"event", "progress"}, {"task", ref}, {"step", phase}}.dump() << "\n" << std::flush;
      else if (tty) std::cerr << "\r\033[K" << ref << ": " << phase << "…" << std::flush;
      else std::cerr << ref << ": " << phase << "\n";
      last_phase = phase;
    }
    if (status == "error") {
      if (tty) std::cerr << "\r\033[K";
      if (api.json_output()) std::cout << Json{{"event", "task"}, {"task", task}}.dump() << "\n";
      std::cerr << "hearth: provisioning failed while " << task.value("error_step", Json("?")).get<std::string>() << ": "
                << task.value("error", Json("")).get<std::string>() << "\n"
                << "hearth: fix the cause and run `hearth task retry " << ref << "`\n";
      return kExitFailed;
    }
    if (status != "provisioning" && task.contains("sessions") && !task["sessions"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (tty) std::cerr << "\r\033[K";
  if (api.json_output()) std::cout << Json{{"event", "task"}, {"task", task}}.dump() << "\n" << std::flush;
  else std::cerr << ref << ": on branch " << task.value("branch", "") << "\n";
  // The latest session's latest turn (the first one, right after creation).
  auto session_path = path + "/sessions/" + encode(task["sessions"].back()["session_id"].get<std::string>());
  // The task made it a moment ago: the session may take that moment to appear.
  std::optional<Response> session;
  for (int i = 0; i < 200; ++i) {
    session = api.call("GET", session_path);
    if (!session) return kExitFailed;
    if (session->status != 404) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (session->status != 200) {
    auto again = api.fetch("GET", session_path, nullptr, code);  // says why
    if (!again) return code;
    session->body = *again;
  }
  auto turn = std::max<std::int64_t>(session->body.value("turn", std::int64_t{1}), 1);
  auto session_id = task["sessions"].back()["session_id"].get<std::string>();
  return settled(api, path, session_id, turn,
                 watch_transcript(api, session_path,
                                  {.from_turn = turn, .until_turn = turn, .answer_noun = "task", .answer_ref = ref}));
}

// `hearth task approve|reject REF [PERMISSION]`: answers the request named, or the only
// one pending in the task's open sessions, with `decision`.
int answer_in_task(Api& api, const std::string& path, const std::string& ref, const std::string& given,
                   const std::string& verb, const std::string& decision) {
  int code = kExitFailed;
  auto task = api.fetch("GET", path, nullptr, code);
  if (!task) return code;
  std::vector<std::string> sessions;
  std::vector<PendingPermission> pending;
  for (const auto& session : task->value("sessions", Json::array())) {
    sessions.push_back(path + "/sessions/" + encode(session["session_id"].get<std::string>()));
    if (session.value("status", "") == "closed") continue;
    auto some = pending_permissions(api, sessions.back(), code);
    if (!some) return code;
    pending.insert(pending.end(), some->begin(), some->end());
  }
  if (given.empty()) {
    auto only = only_pending(pending, "hearth task " + verb + " " + ref, code);
    if (!only) return code;
    return answer_permission(api, only->session_path, only->permission_id, decision);
  }
  for (const auto& p : pending)
    if (p.permission_id == given) return answer_permission(api, p.session_path, given, decision);
  // Settled already: the session that has it says how.
  for (const auto& session_path : sessions) {
    auto all = api.fetch("GET", session_path + "/permissions", nullptr, code);
    if (!all) return code;
    for (const auto& p : (*all)["items"])
      if (p["permission_id"] == given) return answer_permission(api, session_path, given, decision);
  }
  return fail(kExitNotFound, "no permission request " + given + " in " + ref);
}

// The session a prompt without --session goes to, as the server picks it: the newest
// one not closed. "" when there is none (the server then says so).
std::string newest_open_session(const Json& task) {
  const auto& sessions = task.value("sessions", Json::array());
  for (auto it = sessions.rbegin(); it != sessions.rend(); ++it)
    if ((*it).value("status", "") != "closed") return (*it)["session_id"].get<std::string>();
  return "";
}

// "#12 open" (and its URL when `with_url`).
std::string pull_label(const Json& pull, bool with_url = false) {
  auto label = "#" + std::to_string(pull.value("number", std::int64_t{0})) + " " + pull.value("state", std::string());
  if (pull.value("review_state", Json()).is_string()) label += ", " + pull["review_state"].get<std::string>();
  if (auto waiting = pull.value("reviews_waiting", 0); waiting > 0)
    label += ", " + std::to_string(waiting) + " review comment" + (waiting == 1 ? "" : "s") + " waiting (address-reviews)";
  if (pull.contains("checks") && pull["checks"].is_object())
    label += ", checks " + pull["checks"].value("state", std::string("pending"));
  if (pull.value("mergeable", Json()) == Json(false)) label += ", not mergeable";
  if (pull.value("pushed_elsewhere", false)) label += ", pushed to on GitHub (sync to take it)";
  return with_url ? label + " " + pull.value("url", std::string()) : label;
}

void print_task(const Json& t) {
  Json shown = Json::object();
  for (const char* k : {"task_id", "title", "status", "archive_reason", "repo_id", "branch", "base_branch", "agent",
                        "phase", "error", "error_step", "conflict_files", "sandbox_state", "attention"})
    if (t.contains(k) && !t[k].is_null()) shown[k] = t[k];
  if (t.contains("pull") && t["pull"].is_object()) shown["pull_request"] = pull_label(t["pull"], true);
  if (t.contains("owner")) shown["owner"] = t["owner"]["username"];
  if (t.contains("diff"))
    shown["diff"] = counted(t["diff"]["files"].get<std::int64_t>(), "file", "files") + ", +" +
                    std::to_string(t["diff"]["added"].get<std::int64_t>()) + " -" +
                    std::to_string(t["diff"]["removed"].get<std::int64_t>());
  print_object(shown);
  if (t.contains("sessions") && !t["sessions"].empty()) {
    std::cout << "sessions:\n";
    print_table(t["sessions"], {"session_id", "title", "agent", "status", "turn", "last_turn_status"});
  }
}

}  // namespace

std::shared_ptr<CommandSet> add_task_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto opts = std::make_shared<ClientOptions>();
  auto common = [opts](CLI::App* cmd) { add_client_options(cmd, *opts); };
  auto s = std::make_shared<std::map<std::string, std::string>>();
  auto flags = std::make_shared<std::map<std::string, bool>>();

  // --- repo --------------------------------------------------------------------------
  auto repo = app.add_subcommand("repo", "Repositories connected to an organization");
  repo->require_subcommand(1);
  auto r_add = repo->add_subcommand("add", "Connect a repository by git URL (org admins); its default branch is detected");
  r_add->add_option("org", (*s)["org"], "Organization")->required();
  r_add->add_option("url", (*s)["url"], "file:///path/to/repo or https://host/owner/repo.git")->required();
  r_add->add_option("--name", (*s)["name"], "Its name in Hearth (default: from the URL)");
  r_add->add_option("--credential", (*s)["credential"], "The org secret git uses for https");
  common(r_add);
  set->add(r_add, [=] {
    Json body{{"url", (*s)["url"]}};
    if (!(*s)["name"].empty()) body["name"] = (*s)["name"];
    if (!(*s)["credential"].empty()) body["credential"] = (*s)["credential"];
    Api api(*opts);
    return api.run("POST", org_path((*s)["org"]) + "/repos", body, [](const Json& j) {
      std::cout << j["repo_id"].get<std::string>() << " (default branch " << j["default_branch"].get<std::string>() << ")\n";
    });
  });
  auto r_list = repo->add_subcommand("list", "The repositories of an organization");
  r_list->add_option("org", (*s)["org"], "Organization")->required();
  common(r_list);
  set->add(r_list, [=] {
    Api api(*opts);
    return api.run("GET", org_path((*s)["org"]) + "/repos", nullptr, [](const Json& j) {
      // A GitHub repository shows its owner/name (and when it left the installation).
      Json rows = Json::array();
      for (auto r : j["items"]) {
        const auto& g = r["github"];
        r["source"] = g.is_null() ? Json("git")
                      : !g["removed_at"].is_null() ? Json("github " + g["full_name"].get<std::string>() + " (removed)")
                                                   : Json("github " + g["full_name"].get<std::string>());
        rows.push_back(r);
      }
      print_table(rows, {"repo_id", "default_branch", "source", "url", "added_by"});
    });
  });
  auto r_branches = repo->add_subcommand("branches", "A repository's branches, asked of the remote now");
  r_branches->add_option("repo", (*s)["repo"], "ORG/REPO")->required();
  common(r_branches);
  set->add(r_branches, [=] {
    auto p = split_ref((*s)["repo"], 2, "ORG/REPO");
    if (!p) return kExitUsage;
    Api api(*opts);
    return api.run("GET", org_path((*p)[0]) + "/repos/" + encode((*p)[1]) + "/branches", nullptr,
                   [](const Json& j) { print_table(j["items"], {"name", "commit"}); });
  });
  auto r_remove = repo->add_subcommand("remove", "Disconnect a repository (refused while live tasks use it)");
  r_remove->add_option("repo", (*s)["repo"], "ORG/REPO")->required();
  common(r_remove);
  set->add(r_remove, [=] {
    auto p = split_ref((*s)["repo"], 2, "ORG/REPO");
    if (!p) return kExitUsage;
    Api api(*opts);
    return api.run("DELETE", org_path((*p)[0]) + "/repos/" + encode((*p)[1]), nullptr,
                   [](const Json& j) { std::cout << "removed " << j["removed"].get<std::string>() << "\n"; });
  });

  // --- task --------------------------------------------------------------------------
  auto task = app.add_subcommand("task", "Tasks: an agent working on a branch of a repository in its own sandbox");
  task->require_subcommand(1);
  auto task_arg = [s](CLI::App* c) { c->add_option("task", (*s)["task"], "ORG/TASK")->required(); };
  auto prompt_words = std::make_shared<std::vector<std::string>>();

  auto create = task->add_subcommand("create", "Create a task and stream its first turn (provisioning shown as it goes)");
  create->add_option("org", (*s)["org"], "Organization")->required();
  add_prompt_options(create, *prompt_words, (*s)["prompt_file"]);
  create->add_option("--repo", (*s)["repo"], "The repository (as `hearth repo list` names it)");
  create->add_option("--pull", (*s)["pull"],
                     "Work on an open pull request instead (its id in `hearth task list`, pr_...): the task takes its "
                     "repository, branch and base; the prompt is optional");
  create->add_option("--agent", (*s)["agent"], "mock (default), claude, codex, gemini, opencode");
  create->add_option("--base", (*s)["base"], "Branch to start from (default: the repository's default)");
  create->add_option("--branch", (*s)["branch"], "The task's branch (default: hearth/<title>-<suffix>)");
  create->add_option("--title", (*s)["title"], "Title (default: from the prompt)");
  create->add_flag("--detach", (*flags)["detach"], "Return once the task is created");
  common(create);
  set->add(create, [=] {
    int code = kExitFailed;
    bool on_pull = !(*s)["pull"].empty();
    if (on_pull == !(*s)["repo"].empty()) return fail(kExitUsage, "give --repo REPO or --pull PULL (one of them)");
    std::optional<std::string> prompt = std::string();
    if (!on_pull || !prompt_words->empty() || !(*s)["prompt_file"].empty())
      prompt = read_prompt(*prompt_words, (*s)["prompt_file"], code);
    if (!prompt) return code;
    Json body{{"prompt", *prompt}, {"agent", (*s)["agent"].empty() ? "mock" : (*s)["agent"]}};
    if (on_pull) body["pull"] = (*s)["pull"];
    else body["repo"] = (*s)["repo"];
    if (!(*s)["base"].empty()) body["base_branch"] = (*s)["base"];
    if (!(*s)["branch"].empty()) body["branch"] = (*s)["branch"];
    if (!(*s)["title"].empty()) body["title"] = (*s)["title"];
    Api api(*opts);
    auto made = api.fetch("POST", org_path((*s)["org"]) + "/tasks", body, code);
    if (!made) return code;
    auto ref = (*s)["org"] + "/" + (*made)["task_id"].get<std::string>();
    if ((*flags)["detach"]) {
      if (api.json_output()) std::cout << made->dump() << "\n";
      else std::cout << ref << "\n";
      return kExitOk;
    }
    std::cerr << "task " << ref << ": " << (*made)["title"].get<std::string>() << "\n";
    return follow_task(api, org_path((*s)["org"]) + "/tasks/" + encode((*made)["task_id"]), ref);
  });

  auto watch = task->add_subcommand("watch", "Follow a task: provisioning, then its latest turn until it ends");
  task_arg(watch);
  common(watch);
  set->add(watch, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Api api(*opts);
    return follow_task(api, *path, (*s)["task"]);
  });

  auto list = task->add_subcommand("list", "An organization's tasks, latest change first (from its index)");
  list->add_option("org", (*s)["org"], "Organization")->required();
  list->add_option("--repo", (*s)["repo"], "Only this repository's");
  list->add_option("--status", (*s)["status"],
                   "provisioning, running, idle, conflict, error, archived, killed, or pull_request (open pull "
                   "requests no task works on yet)");
  list->add_option("--pulls", (*s)["pulls"], "Open pull requests without a task: include (default), exclude or only");
  list->add_option("--owner", (*s)["owner"], "Only this user's (me for yours)");
  list->add_option("--archived", (*s)["archived"], "exclude (default), include or only");
  list->add_option("--search", (*s)["q"], "Words in the title or branch");
  list->add_option("--limit", (*s)["limit"], "At most this many (default 50)");
  list->add_option("--after", (*s)["after"], "The cursor a previous page gave");
  common(list);
  set->add(list, [=] {
    Api api(*opts);
    auto path = org_path((*s)["org"]) + "/tasks" +
                query({{"repo", (*s)["repo"]}, {"status", (*s)["status"]}, {"owner", (*s)["owner"]},
                       {"archived", (*s)["archived"]}, {"pulls", (*s)["pulls"]}, {"q", (*s)["q"]},
                       {"limit", (*s)["limit"]}, {"after", (*s)["after"]}});
    return api.run("GET", path, nullptr, [](const Json& j) {
      Json rows = Json::array();
      for (auto r : j["items"]) {
        r["pr"] = r.contains("pull") && r["pull"].is_object() ? Json(pull_label(r["pull"])) : Json("");
        rows.push_back(r);
      }
      print_table(rows, {"task_id", "status", "repo_id", "title", "owner_name", "branch", "pr"});
      if (j["next_cursor"].is_string()) std::cout << "more: --after " << j["next_cursor"].get<std::string>() << "\n";
    });
  });

  auto show = task->add_subcommand("show", "A task: status, branch, sessions, diff totals");
  task_arg(show);
  common(show);
  set->add(show, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Api api(*opts);
    return api.run("GET", *path, nullptr, print_task);
  });

  auto diff = task->add_subcommand("diff", "The task's changes against its base branch, as a patch");
  task_arg(diff);
  diff->add_option("--file", (*s)["file"], "Only this file");
  diff->add_flag("--stat", (*flags)["stat"], "Only the files and their counts");
  common(diff);
  set->add(diff, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Api api(*opts);
    int code = kExitFailed;
    // A flow or a refresh that is running ends with a fresh diff: wait for it (a minute at most).
    for (int i = 0; i < 600; ++i) {
      auto t = api.fetch("GET", *path, nullptr, code);
      if (!t) return code;
      if (!t->contains("running_op") || (*t)["running_op"].is_null()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!(*s)["file"].empty()) {
      auto f = api.fetch("GET", *path + "/diff/file?path=" + encode((*s)["file"]), nullptr, code);
      if (!f) return code;
      if (api.json_output()) std::cout << f->dump(2) << "\n";
      else std::cout << (*f)["patch"].get<std::string>();
      return kExitOk;
    }
    std::string after;
    Json all = Json::array();
    for (;;) {
      auto page = api.fetch("GET", *path + "/diff?limit=500" + (after.empty() ? "" : "&after=" + encode(after)), nullptr, code);
      if (!page) return code;
      for (auto& f : (*page)["items"]) all.push_back(f);
      if (!(*page)["next_cursor"].is_string()) break;
      after = (*page)["next_cursor"];
    }
    if ((*flags)["stat"] || api.json_output()) {
      if (api.json_output()) std::cout << all.dump(2) << "\n";
      else print_table(all, {"status", "added", "removed", "path"});
      return kExitOk;
    }
    if (all.empty()) std::cerr << "no changes against the base branch\n";
    for (const auto& f : all) {
      auto one = api.fetch("GET", *path + "/diff/file?path=" + encode(f["path"]), nullptr, code);
      if (!one) return code;
      if ((*one)["patch_truncated"].get<bool>()) std::cout << "# " << f["path"].get<std::string>() << ": too large to show here\n";
      else std::cout << (*one)["patch"].get<std::string>();
    }
    return kExitOk;
  });

  for (auto [verb, help] : std::vector<std::pair<const char*, const char*>>{
           {"push", "Commit the agent's work and push the task's branch to the repository"},
           {"sync", "Rebase the task's branch onto its base (fetched now), or onto what someone else pushed to its pull "
                    "request; on conflicts, stop and list them"},
           {"merge", "Merge the task's branch into its base and push it (fast-forward only)"},
           {"commit", "Commit the agent's work in the sandbox"}}) {
    auto c = task->add_subcommand(verb, help);
    task_arg(c);
    std::string v = verb;
    if (v == "commit") c->add_option("--message,-m", (*s)["message"], "Commit message (default: from the task)");
    if (v == "push" || v == "merge")
      c->add_flag("--force", (*flags)["force_" + v], "Replace the branch even though someone else pushed to it on GitHub");
    common(c);
    set->add(c, [=] {
      auto path = task_path((*s)["task"]);
      if (!path) return kExitUsage;
      Json body = Json::object();
      if (v == "commit" && !(*s)["message"].empty()) body["message"] = (*s)["message"];
      if ((v == "push" || v == "merge") && (*flags)["force_" + v]) body["force"] = true;
      Api api(*opts);
      int code = kExitFailed;
      auto started = api.fetch("POST", *path + "/" + v, body, code);
      if (!started) return code;
      return follow_op(api, *path, *started);
    });
  }

  auto pr = task->add_subcommand("pr", "Push the task's branch and open its pull request on GitHub (or link the open one)");
  task_arg(pr);
  pr->add_option("--title", (*s)["title"], "Title (default: the task's)");
  pr->add_option("--body", (*s)["body"], "Description (default: what the agent said last, and a link to the task)");
  pr->add_option("--body-file", (*s)["body_file"], "Read the description from this file");
  pr->add_flag("--draft", (*flags)["draft"], "Open it as a draft");
  common(pr);
  set->add(pr, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Json body = Json::object();
    if (!(*s)["title"].empty()) body["title"] = (*s)["title"];
    if (!(*s)["body"].empty() && !(*s)["body_file"].empty()) return fail(kExitUsage, "give --body or --body-file, not both");
    if (!(*s)["body"].empty()) body["body"] = (*s)["body"];
    if (!(*s)["body_file"].empty()) {
      std::ifstream in((*s)["body_file"], std::ios::binary);
      if (!in) return fail(kExitFailed, "cannot read " + (*s)["body_file"]);
      body["body"] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    if ((*flags)["draft"]) body["draft"] = true;
    Api api(*opts);
    int code = kExitFailed;
    auto started = api.fetch("POST", *path + "/pr", body, code);
    if (!started) return code;
    return follow_op(api, *path, *started);
  });

  auto edit_pr = task->add_subcommand("edit-pr", "Change the task's pull request on GitHub: title, description, closed or open");
  task_arg(edit_pr);
  edit_pr->add_option("--title", (*s)["title"], "A new title");
  edit_pr->add_option("--body", (*s)["body"], "A new description");
  edit_pr->add_flag("--close", (*flags)["close"], "Close it without merging");
  edit_pr->add_flag("--reopen", (*flags)["reopen"], "Reopen it");
  common(edit_pr);
  set->add(edit_pr, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    if ((*flags)["close"] && (*flags)["reopen"]) return fail(kExitUsage, "give --close or --reopen, not both");
    Json body = Json::object();
    if (!(*s)["title"].empty()) body["title"] = (*s)["title"];
    if (!(*s)["body"].empty()) body["body"] = (*s)["body"];
    if ((*flags)["close"]) body["state"] = "closed";
    if ((*flags)["reopen"]) body["state"] = "open";
    if (body.empty()) return fail(kExitUsage, "give --title, --body, --close or --reopen");
    Api api(*opts);
    return api.run("PATCH", *path + "/pr", body, [](const Json& t) { print_task(t); });
  });

  auto merge_pr = task->add_subcommand("merge-pr", "Merge the task's pull request on GitHub (if its head is still the task's)");
  task_arg(merge_pr);
  merge_pr->add_option("--method", (*s)["method"], "merge (default), squash or rebase")
      ->check(CLI::IsMember({"merge", "squash", "rebase"}));
  common(merge_pr);
  set->add(merge_pr, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Json body = Json::object();
    if (!(*s)["method"].empty()) body["method"] = (*s)["method"];
    Api api(*opts);
    return api.run("POST", *path + "/pr/merge", body, [](const Json& t) { print_task(t); });
  });

  auto address = task->add_subcommand("address-reviews",
                                      "Hand the agent the review feedback on the task's pull request since the last time");
  task_arg(address);
  address->add_option("--session", (*s)["session"], "Which session (default: the latest)");
  common(address);
  set->add(address, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Json body = Json::object();
    if (!(*s)["session"].empty()) body["session_id"] = (*s)["session"];
    Api api(*opts);
    return api.run("POST", *path + "/pr/address-reviews", body, [](const Json& j) {
      std::cout << "the review feedback went to the agent in " << j.value("session_id", std::string()) << "\n";
    });
  });

  auto revert = task->add_subcommand("revert", "Put one file back as it is on the base branch");
  task_arg(revert);
  revert->add_option("path", (*s)["path"], "The file, relative to the repository's root")->required();
  common(revert);
  set->add(revert, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Api api(*opts);
    int code = kExitFailed;
    auto started = api.fetch("POST", *path + "/revert", Json{{"path", (*s)["path"]}}, code);
    if (!started) return code;
    return follow_op(api, *path, *started);
  });

  for (auto [verb, help] : std::vector<std::pair<const char*, const char*>>{
           {"archive", "Archive a task: its sandbox stops, its transcript stays"},
           {"unarchive", "Bring an archived task back (its sandbox starts again, or is provisioned anew)"},
           {"kill", "Kill a task: its sandbox and sessions end; the record and the audit trail stay"},
           {"retry", "Provision a task again after a provisioning error"},
           {"stop", "Stop the agent's running turn"}}) {
    auto c = task->add_subcommand(verb, help);
    task_arg(c);
    common(c);
    std::string v = verb;
    set->add(c, [=] {
      auto path = task_path((*s)["task"]);
      if (!path) return kExitUsage;
      Api api(*opts);
      return api.run("POST", *path + "/" + v, Json::object(), [v](const Json& j) {
        if (j.contains("stopping"))
          std::cout << "stopping " << counted(j["stopping"].get<std::int64_t>(), "running turn", "running turns") << "\n";
        else if (j.contains("status")) std::cout << j["status"].get<std::string>() << "\n";
        else std::cout << v << ": done\n";
      });
    });
  }

  auto prompt = task->add_subcommand("prompt", "Send the agent a follow-up");
  task_arg(prompt);
  add_prompt_options(prompt, *prompt_words, (*s)["prompt_file"]);
  prompt->add_option("--session", (*s)["session"], "Which session (default: the latest)");
  prompt->add_flag("--watch", (*flags)["watch"], "Stream the turn until it ends");
  common(prompt);
  set->add(prompt, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    int code = kExitFailed;
    auto text = read_prompt(*prompt_words, (*s)["prompt_file"], code);
    if (!text) return code;
    Json body{{"text", *text}};
    auto session_id = (*s)["session"];
    Api api(*opts);
    // To show the turn this prompt starts and nothing before it, --watch notes where the
    // session's transcript ends first, and names that session in the prompt.
    TranscriptWatch new_turn{.answer_noun = "task", .answer_ref = (*s)["task"]};
    if ((*flags)["watch"]) {
      if (session_id.empty()) {
        auto t = api.fetch("GET", *path, nullptr, code);
        if (!t) return code;
        session_id = newest_open_session(*t);
      }
      if (!session_id.empty()) {
        auto before = api.fetch("GET", *path + "/sessions/" + encode(session_id), nullptr, code);
        if (!before) return code;
        new_turn.after_seq = before->value("last_seq", std::int64_t{0});
        new_turn.from_turn = new_turn.until_turn = before->value("turn", std::int64_t{0}) + 1;
      }
    }
    if (!session_id.empty()) body["session_id"] = session_id;
    auto sent = api.fetch("POST", *path + "/prompt", body, code);
    if (!sent) return code;
    if (!(*flags)["watch"]) {
      std::cout << "sent to " << sent->value("session_id", "") << "\n";
      return kExitOk;
    }
    auto sent_to = sent->value("session_id", "");
    return settled(api, *path, sent_to, std::max<std::int64_t>(new_turn.until_turn, 1),
                   watch_transcript(api, *path + "/sessions/" + encode(sent_to), new_turn));
  });

  for (bool approve : {true, false}) {
    std::string verb = approve ? "approve" : "reject";
    auto c = task->add_subcommand(verb, approve ? "Allow the agent's pending permission request"
                                                : "Refuse the agent's pending permission request");
    task_arg(c);
    c->add_option("permission", (*s)["permission"], "Its id (default: the only one pending in the task's sessions)");
    if (approve)
      c->add_flag("--always", (*flags)["always"],
                  "Allow this kind of call of this tool for the rest of the session (revoke: hearth session revoke)");
    common(c);
    set->add(c, [=] {
      auto path = task_path((*s)["task"]);
      if (!path) return kExitUsage;
      Api api(*opts);
      auto decision = !approve ? "reject" : (*flags)["always"] ? "allow_always" : "allow_once";
      return answer_in_task(api, *path, (*s)["task"], (*s)["permission"], verb, decision);
    });
  }

  auto rename = task->add_subcommand("rename", "Give a task a new title");
  task_arg(rename);
  rename->add_option("title", (*s)["title"], "The title")->required();
  common(rename);
  set->add(rename, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Api api(*opts);
    return api.run("PATCH", *path, Json{{"title", (*s)["title"]}}, [](const Json& j) { std::cout << j["title"].get<std::string>() << "\n"; });
  });

  auto owner = task->add_subcommand("owner", "Hand a task to another member");
  task_arg(owner);
  owner->add_option("username", (*s)["username"], "The new owner")->required();
  common(owner);
  set->add(owner, [=] {
    auto path = task_path((*s)["task"]);
    if (!path) return kExitUsage;
    Api api(*opts);
    return api.run("POST", *path + "/owner", Json{{"username", (*s)["username"]}},
                   [](const Json& j) { std::cout << "owner: " << j["owner"]["username"].get<std::string>() << "\n"; });
  });

  // --- feed --------------------------------------------------------------------------
  auto feed = app.add_subcommand("feed", "Your inbox: the tasks that concern you, newest event first");
  feed->add_flag("--unread", (*flags)["unread"], "Only unread ones");
  feed->add_flag("--notifications", (*flags)["notifications"], "Notifications instead of tasks");
  feed->add_flag("--read-all", (*flags)["read_all"], "Mark everything read");
  common(feed);
  set->add(feed, [=] {
    Api api(*opts);
    if ((*flags)["read_all"])
      return api.run("POST", "/v1/me/feed/read", Json::object(), [](const Json&) { std::cout << "all read\n"; });
    auto unread = (*flags)["unread"] ? "?unread=true" : "";
    if ((*flags)["notifications"])
      return api.run("GET", std::string("/v1/me/notifications") + unread, nullptr, [](const Json& j) {
        print_table(j["items"], {"id", "type", "task_id", "message", "read"});
      });
    return api.run("GET", std::string("/v1/me/feed") + unread, nullptr, [](const Json& j) {
      Json rows = Json::array();
      for (auto item : j["items"]) {
        item["new"] = item["unread"].get<bool>() ? "*" : "";
        rows.push_back(item);
      }
      print_table(rows, {"new", "task_id", "status", "reason", "title"});
      std::cout << j["unread"].get<std::int64_t>() << " unread\n";
    });
  });

  // --- audit -------------------------------------------------------------------------
  auto audit = app.add_subcommand("audit", "The audit log of an organization (org admins) or of the server (--server)");
  audit->require_subcommand(1);
  auto log_path = [s, flags]() {
    return (*flags)["server"] ? std::string("/v1/audit") : org_path((*s)["org"]) + "/audit";
  };
  auto org_or_server = [s, flags](CLI::App* c) {
    c->add_option("org", (*s)["org"], "Organization");
    c->add_flag("--server", (*flags)["server"], "The server's own log (server admins)");
  };
  auto need_org = [s, flags]() {
    if ((*s)["org"].empty() && !(*flags)["server"]) {
      std::cerr << "hearth: name an organization, or --server\n";
      return false;
    }
    return true;
  };
  auto a_list = audit->add_subcommand("list", "Entries, newest first, with filters");
  org_or_server(a_list);
  for (const char* f : {"user", "kind", "task", "repo", "limit", "before"})
    a_list->add_option(std::string("--") + f, (*s)[f], std::string("Filter: ") + f);
  a_list->add_option("--since", (*s)["since"], "Entries at or after this time: 2026-11-30, 2026-11-30T14:00, 2h (ago)");
  a_list->add_option("--until", (*s)["until"], "Entries before this time: 2026-12-01, 2026-11-30T18:00:00Z, 15m (ago)");
  common(a_list);
  set->add(a_list, [=] {
    if (!need_org()) return kExitUsage;
    // The API takes Unix milliseconds (1 at least: 0 would mean no bound).
    std::map<std::string, std::string> ms;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    for (const char* bound : {"since", "until"}) {
      if ((*s)[bound].empty()) continue;
      auto at = parse_time((*s)[bound], now.count());
      if (!at) return fail(kExitUsage, "--" + std::string(bound) + ": not a time: \"" + (*s)[bound] + "\"; give " + kTimeForms);
      ms[bound] = std::to_string(std::max<std::int64_t>(*at, 1));
    }
    Api api(*opts);
    auto path = log_path() + query({{"user", (*s)["user"]}, {"kind", (*s)["kind"]}, {"task", (*s)["task"]},
                                    {"repo", (*s)["repo"]}, {"since", ms["since"]}, {"until", ms["until"]},
                                    {"limit", (*s)["limit"]}, {"before", (*s)["before"]}});
    return api.run("GET", path, nullptr, [](const Json& j) {
      print_table(j["items"], {"seq", "at", "username", "kind", "outcome", "target"});
      if (j["next_cursor"].is_number()) std::cout << "more: --before " << j["next_cursor"].get<std::int64_t>() << "\n";
    });
  });
  auto a_export = audit->add_subcommand("export", "Every entry, oldest first, as NDJSON");
  org_or_server(a_export);
  a_export->add_option("--output,-o", (*s)["output"], "Write to this file (default: stdout)");
  common(a_export);
  set->add(a_export, [=] {
    if (!need_org()) return kExitUsage;
    Api api(*opts);
    if (int code = api.ready(); code != kExitOk) return code;
    auto r = api.call("GET", log_path() + "/export");
    if (!r) return kExitFailed;
    if (r->status != 200) {
      std::cerr << "hearth: " << (r->body.is_object() ? r->body["error"].value("message", "export failed") : "export failed") << "\n";
      return exit_code_for(r->status);
    }
    const auto& text = r->text;
    if ((*s)["output"].empty()) std::cout << text;
    else std::ofstream((*s)["output"], std::ios::binary) << text;
    return kExitOk;
  });
  auto a_verify = audit->add_subcommand("verify", "Check the hash chain: any edited or deleted entry is found");
  org_or_server(a_verify);
  common(a_verify);
  set->add(a_verify, [=] {
    if (!need_org()) return kExitUsage;
    Api api(*opts);
    int code = kExitFailed;
    auto v = api.fetch("GET", log_path() + "/verify", nullptr, code);
    if (!v) return code;
    if (api.json_output()) std::cout << v->dump(2) << "\n";
    if ((*v)["ok"].get<bool>()) {
      if (!api.json_output())
        std::cout << "ok: " << counted((*v)["entries"].get<std::int64_t>(), "entry", "entries") << ", chain intact"
                  << ((*v)["head"].is_string() ? ", head " + (*v)["head"].get<std::string>() : "") << "\n";
      return kExitOk;
    }
    std::cerr << "hearth: the audit log was tampered with at entry " << (*v)["first_bad"]["seq"].get<std::int64_t>()
              << ": " << (*v)["first_bad"]["reason"].get<std::string>() << "\n";
    return kExitFailed;
  });
  return set;
}

}  // namespace hearth::cli
