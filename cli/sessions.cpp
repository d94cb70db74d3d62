// The sandbox, session and agents subcommands. A task is named ORG/TASK and a session
// ORG/TASK/SESSION. `hearth session watch` follows a transcript live (Server-Sent Events,
// resuming where it left off when the connection drops) and prints it for people;
// `hearth sandbox create` and `exec` show progress and output as they happen.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "cli/api.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "sandbox/agents.h"
#include "storage/file_lock.h"

namespace hearth::cli {
namespace {

struct Ref {
  std::string org, task, session;
  std::string task_path() const { return "/v1/orgs/" + encode(org) + "/tasks/" + encode(task); }
  std::string sandbox_path() const { return task_path() + "/sandbox"; }
  std::string session_path() const { return task_path() + "/sessions/" + encode(session); }
};

// "ORG/TASK" (parts == 2) or "ORG/TASK/SESSION" (parts == 3).
std::optional<Ref> parse_ref(const std::string& text, int parts) {
  auto p = split_ref(text, parts, parts == 2 ? "ORG/TASK" : "ORG/TASK/SESSION");
  if (!p) return std::nullopt;
  return Ref{(*p)[0], (*p)[1], parts == 3 ? (*p)[2] : ""};
}

// --- Printing a transcript for people ----------------------------------------------------

class TranscriptPrinter {
 public:
  explicit TranscriptPrinter(const TranscriptWatch& w) : noun_(w.answer_noun), ref_(w.answer_ref) {}

  void print(const Json& e) {
    auto kind = e.value("kind", std::string());
    const auto& d = e.contains("data") ? e["data"] : Json();
    bool streamed = kind == "agent_message" || kind == "agent_thought";
    if (!streamed || kind != open_) end_line();
    if (kind == "agent_message") {
      std::cout << d.value("text", "");
      open_ = kind;
    } else if (kind == "agent_thought") {
      if (open_ != kind) std::cout << "(thinking) ";
      std::cout << d.value("text", "");
      open_ = kind;
    } else if (kind == "user_message") {
      std::cout << "\n> " << d.value("text", "") << "\n";
    } else if (kind == "tool_call") {
      std::cout << "[tool " << d.value("toolCallId", "") << "] " << d.value("title", "") << " ("
                << d.value("kind", "other") << ", " << d.value("status", "pending") << ")\n";
    } else if (kind == "tool_call_update") {
      std::cout << "[tool " << d.value("toolCallId", "") << "] " << d.value("status", "updated");
      for (const auto& c : d.value("content", Json::array()))
        if (c.value("type", "") == "content" && c.contains("content") && c["content"].value("type", "") == "text") {
          auto text = c["content"].value("text", "");
          if (text.size() > 2000) text = text.substr(0, 2000) + "…";
          std::cout << ": " << text;
        }
      std::cout << "\n";
    } else if (kind == "plan") {
      std::cout << "[plan]";
      int i = 0;
      for (const auto& entry : d.value("entries", Json::array()))
        std::cout << " " << ++i << ". " << entry.value("content", "") << " (" << entry.value("status", "") << ")";
      std::cout << "\n";
    } else if (kind == "permission_requested") {
      auto id = d.value("permission_id", "");
      auto rule = d.value("always_allow", Json());
      std::cout << "[permission " << id << "] the agent asks: " << d["tool_call"].value("title", "?") << "\n"
                << "  allow:  hearth " << noun_ << " approve " << ref_ << " " << id
                << (rule.is_object() ? "   (--always: " + rule.value("label", "") + " in this session)"
                                     : std::string("   (once only: the agent does not say what kind of call this is)"))
                << "\n"
                << "  refuse: hearth " << noun_ << " reject " << ref_ << " " << id << "\n";
    } else if (kind == "permission_resolved") {
      std::cout << "[permission " << d.value("permission_id", "") << "] " << d.value("status", "")
                << (d.value("by", "").empty() ? "" : " by " + d.value("by", "")) << "\n";
    } else if (kind == "turn_ended") {
      std::cout << "[turn " << e.value("turn", 0) << " ended: " << d.value("stop_reason", "") << "]\n";
    } else if (kind == "turn_failed") {
      std::cout << "[turn " << e.value("turn", 0) << " failed: " << d.value("error", "") << "]\n";
    } else if (kind == "turn_interrupted") {
      std::cout << "[turn " << e.value("turn", 0) << " interrupted: " << d.value("reason", "") << "]\n";
    } else if (kind == "available_commands_update") {
      std::cout << "[commands:";
      for (const auto& c : d.value("availableCommands", Json::array())) std::cout << " /" << c.value("name", "");
      std::cout << "]\n";
    } else if (kind == "current_mode_update") {
      std::cout << "[mode " << d.value("currentModeId", "") << "]\n";
    } else if (kind == "usage_update") {
      std::cout << "[context " << d.value("used", 0) << " of " << counted(d.value("size", 0), "token", "tokens") << "]\n";
    } else if (kind == "agent_started") {
      std::cout << "[agent " << d.value("agent", "") << (d.value("resumed", false) ? " resumed" : " started") << "]\n";
    } else {
      std::cout << "[" << kind << "] " << d.dump() << "\n";
    }
    std::cout << std::flush;
  }
  void end_line() {
    if (!open_.empty()) std::cout << "\n";
    open_.clear();
  }

 private:
  std::string noun_, ref_;  // of the commands that answer a permission request
  std::string open_;        // a message being streamed
};

bool turn_over(const Json& event, std::int64_t turn) {
  auto kind = event.value("kind", "");
  return event.value("turn", std::int64_t{0}) >= turn &&
         (kind == "turn_ended" || kind == "turn_failed" || kind == "turn_interrupted" || kind == "session_closed");
}

}  // namespace

int watch_transcript(Api& api, const std::string& session_path, const TranscriptWatch& watch) {
  TranscriptPrinter printer(watch);
  int code = kExitOk;
  bool json = api.json_output();
  auto after = watch.after_seq > 0 ? std::to_string(watch.after_seq) : "";
  int streamed = api.stream(session_path + "/events", after, [&](const std::string& name, const std::string&, const Json& data) {
    if (name != "transcript") return true;
    if (data.value("turn", std::int64_t{0}) < watch.from_turn) return true;
    if (json) std::cout << data.dump() << "\n" << std::flush;
    else printer.print(data);
    if (watch.until_turn > 0 && turn_over(data, watch.until_turn)) {
      code = data.value("kind", "") == "turn_ended" ? kExitOk : kExitFailed;
      return false;
    }
    return true;
  });
  printer.end_line();
  return streamed != kExitOk ? streamed : code;
}

namespace {

// A watch of the session `ref` names it in the commands that answer permission requests.
TranscriptWatch answered_in(const Ref& ref, TranscriptWatch w) {
  w.answer_noun = "session";
  w.answer_ref = ref.org + "/" + ref.task + "/" + ref.session;
  return w;
}

int watch(Api& api, const Ref& ref, const TranscriptWatch& w) {
  return watch_transcript(api, ref.session_path(), answered_in(ref, w));
}

}  // namespace

std::optional<std::vector<PendingPermission>> pending_permissions(Api& api, const std::string& session_path, int& code) {
  auto page = api.fetch("GET", session_path + "/permissions?status=pending", nullptr, code);
  if (!page) return std::nullopt;
  std::vector<PendingPermission> pending;
  for (const auto& p : (*page)["items"])
    pending.push_back({session_path, p["permission_id"].get<std::string>(), p["tool_call"].value("title", "")});
  return pending;
}

std::optional<PendingPermission> only_pending(const std::vector<PendingPermission>& pending, const std::string& command,
                                              int& code) {
  if (pending.size() == 1) return pending.front();
  if (pending.empty()) {
    code = fail(kExitFailed, "no permission request is pending");
    return std::nullopt;
  }
  code = fail(kExitUsage, std::to_string(pending.size()) + " permission requests are pending; name one:");
  for (const auto& p : pending) std::cerr << "  " << command << " " << p.permission_id << "   # " << p.title << "\n";
  return std::nullopt;
}

int answer_permission(Api& api, const std::string& session_path, const std::string& permission_id,
                      const std::string& decision) {
  return api.run("POST", session_path + "/permissions/" + encode(permission_id), Json{{"decision", decision}},
                 [](const Json& j) {
                   std::cout << j["permission_id"].get<std::string>() << " " << j["status"].get<std::string>() << "\n";
                 });
}

std::shared_ptr<CommandSet> add_session_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto opts = std::make_shared<ClientOptions>();
  auto common = [opts](CLI::App* cmd) { add_client_options(cmd, *opts); };
  auto s = std::make_shared<std::map<std::string, std::string>>();
  auto flags = std::make_shared<std::map<std::string, bool>>();
  auto lists = std::make_shared<std::map<std::string, std::vector<std::string>>>();

  // --- sandbox -----------------------------------------------------------------------
  auto sandbox = app.add_subcommand("sandbox", "A task's sandbox: its checkout and processes");
  sandbox->require_subcommand(1);
  auto task_arg = [s](CLI::App* c) { c->add_option("task", (*s)["task"], "ORG/TASK")->required(); };

  auto create = sandbox->add_subcommand("create", "Create a task's sandbox and wait until it is ready, showing each step");
  task_arg(create);
  create->add_option("--repo", (*s)["repo"], "A repository connected to the org (hearth repo list) to check out");
  create->add_option("--base", (*s)["base"], "Branch to start from (default: the repository's default)");
  create->add_option("--branch", (*s)["branch"], "The task's branch (default: hearth/TASK)");
  create->add_option("--network", (*s)["network"], "none (default), proxy (the org's allowlist, through Hearth's egress proxy) or host");
  create->add_option("--agent-env", (*lists)["agent_env"], "An org secret its agents get as environment (admins)");
  create->add_option("--git-credential", (*s)["git_credential"], "The org secret git uses for https (admins)");
  create->add_flag("--no-wait", (*flags)["no_wait"], "Return once it is created");
  common(create);
  set->add(create, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Json body = Json::object();
    for (const auto& [flag, field] : std::vector<std::pair<std::string, std::string>>{
             {"repo", "repo"}, {"base", "base_branch"}, {"branch", "branch"}, {"network", "network"},
             {"git_credential", "git_credential"}})
      if (!(*s)[flag].empty()) body[field] = (*s)[flag];
    if (!(*lists)["agent_env"].empty()) body["agent_env"] = (*lists)["agent_env"];
    Api api(*opts);
    int code = kExitFailed;
    auto made = api.fetch("POST", ref->sandbox_path(), body, code);
    if (!made) return code;
    if ((*flags)["no_wait"]) {
      api.json_output() ? (void)(std::cout << made->dump(2) << "\n") : print_object(*made);
      return kExitOk;
    }
    std::cerr << "provisioning " << ref->org << "/" << ref->task << "\n";
    Json final;
    std::size_t shown = 0;
    for (;;) {
      auto now = api.fetch("GET", ref->sandbox_path(), nullptr, code);
      if (!now) return code;
      const auto& steps = (*now)["steps"];
      for (; shown < steps.size(); ++shown) std::cerr << "  " << steps[shown].value("step", "") << "\n";
      if ((*now)["state"] != "provisioning") {
        final = *now;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (api.json_output()) std::cout << final.dump(2) << "\n";
    else std::cout << ref->org << "/" << ref->task << ": " << final.value("state", "") << "\n";
    if (final.value("state", "") == "error") {
      std::cerr << "hearth: " << final.value("error", "") << "\n";
      return kExitFailed;
    }
    return kExitOk;
  });

  auto show = sandbox->add_subcommand("show", "A sandbox's state, steps and sessions");
  task_arg(show);
  common(show);
  set->add(show, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("GET", ref->sandbox_path(), nullptr, print_object);
  });

  for (auto [verb, method, suffix, help] : std::vector<std::tuple<const char*, const char*, const char*, const char*>>{
           {"stop", "POST", "/stop", "Stop every process and agent of a sandbox (its files stay)"},
           {"start", "POST", "/start", "Start a stopped sandbox again"},
           {"retry", "POST", "/retry", "Provision a sandbox again (after an error, or once destroyed)"},
           {"destroy", "DELETE", "", "Destroy a sandbox: its processes end and its files are removed"}}) {
    auto c = sandbox->add_subcommand(verb, help);
    task_arg(c);
    common(c);
    std::string m = method, sfx = suffix;
    set->add(c, [=] {
      auto ref = parse_ref((*s)["task"], 2);
      if (!ref) return kExitUsage;
      Api api(*opts);
      return api.run(m, ref->sandbox_path() + sfx, m == "POST" ? Json::object() : Json(nullptr), [](const Json& j) {
        std::cout << (j.value("starting", false) ? std::string("starting") : j.value("state", std::string())) << "\n";
      });
    });
  }

  auto exec = sandbox->add_subcommand("exec", "Run a program in a sandbox, streaming its output; exits with its code");
  task_arg(exec);
  exec->add_option("argv", (*lists)["argv"], "The program and its arguments (after --)")->required();
  exec->add_option("--cwd", (*s)["cwd"], "Directory relative to the work dir");
  exec->add_option("--timeout-ms", (*s)["timeout_ms"], "Wall-clock limit");
  common(exec);
  set->add(exec, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Api api(*opts);
    Json body{{"argv", (*lists)["argv"]}};
    if (!(*s)["cwd"].empty()) body["cwd"] = (*s)["cwd"];
    if (!(*s)["timeout_ms"].empty()) body["timeout_ms"] = std::atoll((*s)["timeout_ms"].c_str());
    int code = kExitFailed;
    auto started = api.fetch("POST", ref->sandbox_path() + "/processes", body, code);
    if (!started) return code;
    auto path = ref->sandbox_path() + "/processes/" + std::to_string((*started)["id"].get<std::int64_t>());
    std::int64_t offset = 0;
    for (;;) {
      auto page = api.fetch("GET", path + "/output?offset=" + std::to_string(offset), nullptr, code);
      if (!page) return code;
      for (const auto& c : (*page)["chunks"])
        (c.value("stream", "") == "stderr" ? std::cerr : std::cout) << c.value("data", "") << std::flush;
      offset = (*page)["next_offset"];
      if ((*page)["done"].get<bool>()) {
        const auto& p = (*page)["process"];
        if (p.value("ended_by", "") != "exit")
          std::cerr << "hearth: the process ended by " << p.value("ended_by", "") << "\n";
        return p["exit_code"].is_number() ? p["exit_code"].get<int>() : 1;
      }
      if ((*page)["chunks"].empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  auto ps = sandbox->add_subcommand("ps", "A sandbox's processes, newest first");
  task_arg(ps);
  common(ps);
  set->add(ps, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("GET", ref->sandbox_path() + "/processes", nullptr, [](const Json& j) {
      print_table(j["items"], {"id", "status", "exit_code", "ended_by", "started_at", "argv"});
    });
  });

  auto kill = sandbox->add_subcommand("kill", "Kill a running process of a sandbox");
  task_arg(kill);
  kill->add_option("id", (*s)["process"], "Process id")->required();
  common(kill);
  set->add(kill, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("POST", ref->sandbox_path() + "/processes/" + encode((*s)["process"]) + "/kill", Json::object(),
                   print_object);
  });

  // --- session -----------------------------------------------------------------------
  auto session = app.add_subcommand("session", "Agent sessions in a task's sandbox");
  session->require_subcommand(1);
  auto session_arg = [s](CLI::App* c) { c->add_option("session", (*s)["session"], "ORG/TASK/SESSION")->required(); };

  auto s_create = session->add_subcommand("create", "Start an agent session in a task's sandbox; prints ORG/TASK/SESSION");
  task_arg(s_create);
  s_create->add_option("--agent", (*s)["agent"], "mock (default), claude, codex, gemini, opencode, sdk-example");
  s_create->add_option("--title", (*s)["title"], "What it is about");
  s_create->add_option("--permission-timeout", (*s)["permission_timeout"], "Seconds a permission request waits for a person");
  common(s_create);
  set->add(s_create, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Json body{{"agent", (*s)["agent"].empty() ? "mock" : (*s)["agent"]}};
    if (!(*s)["title"].empty()) body["title"] = (*s)["title"];
    if (!(*s)["permission_timeout"].empty()) body["permission_timeout_s"] = std::atoll((*s)["permission_timeout"].c_str());
    Api api(*opts);
    return api.run("POST", ref->task_path() + "/sessions", body, [ref](const Json& j) {
      std::cout << ref->org << "/" << ref->task << "/" << j["session_id"].get<std::string>() << "\n";
    });
  });

  auto s_list = session->add_subcommand("list", "The sessions of a task");
  task_arg(s_list);
  common(s_list);
  set->add(s_list, [=] {
    auto ref = parse_ref((*s)["task"], 2);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("GET", ref->task_path() + "/sessions", nullptr, [](const Json& j) {
      print_table(j["items"], {"session_id", "agent", "status", "turn", "pending_permissions", "created_at"});
    });
  });

  auto s_show = session->add_subcommand("show", "A session's state");
  session_arg(s_show);
  common(s_show);
  set->add(s_show, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("GET", ref->session_path(), nullptr, print_object);
  });

  auto prompt = session->add_subcommand("prompt", "Send the agent a prompt (a new turn)");
  session_arg(prompt);
  add_prompt_options(prompt, (*lists)["text"], (*s)["prompt_file"]);
  prompt->add_flag("--watch", (*flags)["watch"], "Follow the turn until it ends (exit 1 if it fails)");
  common(prompt);
  set->add(prompt, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    int code = kExitFailed;
    auto text = read_prompt((*lists)["text"], (*s)["prompt_file"], code);
    if (!text) return code;
    Api api(*opts);
    auto accepted = api.fetch("POST", ref->session_path() + "/prompt", Json{{"text", *text}}, code);
    if (!accepted) return code;
    auto turn = (*accepted)["turn"].get<std::int64_t>();
    if (!(*flags)["watch"]) {
      if (api.json_output()) std::cout << accepted->dump(2) << "\n";
      else std::cout << "turn " << turn << " started\n";
      return kExitOk;
    }
    return watch(api, *ref, {.after_seq = (*accepted)["seq"].get<std::int64_t>() - 1, .from_turn = turn, .until_turn = turn});
  });

  auto s_watch = session->add_subcommand("watch", "Follow a session's transcript live (from its start, or --after SEQ)");
  session_arg(s_watch);
  s_watch->add_option("--after", (*s)["after"], "Only events after this seq");
  s_watch->add_flag("--until-idle", (*flags)["until_idle"], "Stop once no turn is running");
  common(s_watch);
  set->add(s_watch, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    int code = kExitFailed;
    std::int64_t until = 0;
    if ((*flags)["until_idle"]) {
      auto now = api.fetch("GET", ref->session_path(), nullptr, code);
      if (!now) return code;
      auto status = (*now)["status"].get<std::string>();
      until = (status == "running" || status == "cancelling") ? (*now)["turn"].get<std::int64_t>() : 0;
      if (until == 0) {  // nothing runs: print what there is and stop
        TranscriptPrinter printer(answered_in(*ref, {}));
        auto after = (*s)["after"].empty() ? std::string("0") : (*s)["after"];
        for (;;) {
          auto page = api.fetch("GET", ref->session_path() + "/transcript?limit=1000&after_seq=" + after, nullptr, code);
          if (!page) return code;
          for (const auto& e : (*page)["items"]) api.json_output() ? (void)(std::cout << e.dump() << "\n") : printer.print(e);
          if (!(*page)["more"].get<bool>()) break;
          after = std::to_string((*page)["next_after_seq"].get<std::int64_t>());
        }
        printer.end_line();
        return kExitOk;
      }
    }
    return watch(api, *ref, {.after_seq = std::atoll((*s)["after"].c_str()), .until_turn = until});
  });

  auto s_cancel = session->add_subcommand("cancel", "Cancel the running turn");
  session_arg(s_cancel);
  common(s_cancel);
  set->add(s_cancel, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("POST", ref->session_path() + "/cancel", Json::object(), [](const Json& j) {
      std::cout << "turn " << j["turn"].get<std::int64_t>() << " " << j["status"].get<std::string>() << "\n";
    });
  });

  for (bool approve : {true, false}) {
    auto c = session->add_subcommand(approve ? "approve" : "reject",
                                     approve ? "Allow the agent's pending permission request"
                                             : "Refuse the agent's pending permission request");
    session_arg(c);
    c->add_option("permission", (*s)[approve ? "approve_id" : "reject_id"], "Its id (default: the one pending)");
    if (approve)
      c->add_flag("--always", (*flags)["always"],
                  "Allow this kind of call of this tool for the rest of the session (revoke: hearth session revoke)");
    common(c);
    set->add(c, [=] {
      auto ref = parse_ref((*s)["session"], 3);
      if (!ref) return kExitUsage;
      Api api(*opts);
      auto decision = !approve ? "reject" : (*flags)["always"] ? "allow_always" : "allow_once";
      auto id = (*s)[approve ? "approve_id" : "reject_id"];
      if (!id.empty()) return answer_permission(api, ref->session_path(), id, decision);
      int code = kExitFailed;
      auto pending = pending_permissions(api, ref->session_path(), code);
      if (!pending) return code;
      auto only = only_pending(*pending, std::string("hearth session ") + (approve ? "approve " : "reject ") + (*s)["session"], code);
      if (!only) return code;
      return answer_permission(api, only->session_path, only->permission_id, decision);
    });
  }

  auto s_perms = session->add_subcommand("permissions", "A session's permission requests");
  session_arg(s_perms);
  s_perms->add_option("--status", (*s)["perm_status"], "pending, allowed, rejected, timed_out or cancelled");
  common(s_perms);
  set->add(s_perms, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    auto q = (*s)["perm_status"].empty() ? "" : "?status=" + encode((*s)["perm_status"]);
    return api.run("GET", ref->session_path() + "/permissions" + q, nullptr, [](const Json& j) {
      Json rows = Json::array();
      for (auto p : j["items"]) {
        p["title"] = p["tool_call"].value("title", "");
        rows.push_back(p);
      }
      print_table(rows, {"permission_id", "status", "title", "answered_by", "created_at", "deadline_at"});
    });
  });

  auto s_rules = session->add_subcommand("always-allow", "What a session allows without asking, and who allowed it");
  session_arg(s_rules);
  common(s_rules);
  set->add(s_rules, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("GET", ref->session_path(), nullptr, [](const Json& j) {
      if (j["always_allow"].empty()) {
        std::cout << "nothing: every tool call that needs permission asks a person\n";
        return;
      }
      print_table(j["always_allow"], {"rule", "label", "by", "at"});
    });
  });
  auto s_revoke = session->add_subcommand("revoke", "Take back an always-allow rule: such calls ask again");
  session_arg(s_revoke);
  s_revoke->add_option("rule", (*s)["rule"], "The rule, as `hearth session always-allow` lists it (e.g. edit:Write)")
      ->required();
  common(s_revoke);
  set->add(s_revoke, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("DELETE", ref->session_path() + "/always-allow/" + encode((*s)["rule"]), nullptr,
                   [rule = (*s)["rule"]](const Json&) { std::cout << "revoked " << rule << ": such calls ask again\n"; });
  });

  auto s_restart = session->add_subcommand(
      "restart", "End the session's agent between turns: the next prompt starts a fresh one, with the org's secrets "
                 "as they are now, resuming the conversation");
  session_arg(s_restart);
  common(s_restart);
  set->add(s_restart, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("POST", ref->session_path() + "/restart", Json::object(), [](const Json&) {
      std::cout << "restarted: the next prompt starts a fresh agent that resumes the conversation\n";
    });
  });

  auto s_close = session->add_subcommand("close", "Close a session: its agent ends");
  session_arg(s_close);
  common(s_close);
  set->add(s_close, [=] {
    auto ref = parse_ref((*s)["session"], 3);
    if (!ref) return kExitUsage;
    Api api(*opts);
    return api.run("DELETE", ref->session_path(), nullptr, [](const Json& j) { std::cout << j.value("status", "") << "\n"; });
  });

  // --- agents ------------------------------------------------------------------------
  auto agents = app.add_subcommand("agents", "The coding agents this server can run");
  agents->require_subcommand(1);
  auto a_list = agents->add_subcommand("list", "Each agent, its installed version and whether its credentials are set in ORG");
  a_list->add_option("org", (*s)["a_org"], "Organization slug")->required();
  common(a_list);
  set->add(a_list, [=] {
    Api api(*opts);
    return api.run("GET", "/v1/orgs/" + encode((*s)["a_org"]) + "/agents", nullptr, [](const Json& j) {
      Json rows = Json::array();
      for (auto a : j["items"]) {
        std::string creds;
        for (const auto& c : a["credentials"])
          creds += (creds.empty() ? "" : " ") + c["name"].get<std::string>() + (c["set"].get<bool>() ? "" : " (unset)");
        a["credentials"] = creds.empty() ? "none needed" : creds;
        a["installed"] = a["installed_version"].is_string() ? a["installed_version"].get<std::string>() : "no";
        rows.push_back(a);
      }
      print_table(rows, {"name", "title", "version", "installed", "credentials"});
    });
  });

  auto a_install = agents->add_subcommand("install", "Install an agent with npm into the data dir (no global install)");
  a_install->add_option("name", (*s)["a_name"], "claude, codex, gemini, opencode or sdk-example")->required();
  a_install->add_option("--data-dir", (*s)["a_data"], "The server's data dir")->envname("HEARTH_DATA_DIR")
      ->default_str(".hearth");
  set->add(a_install, [=] {
    auto def = hearth::sandbox::find_agent((*s)["a_name"]);
    if (!def) {
      std::cerr << "hearth: " << def.error().message << "\n";
      return kExitUsage;
    }
    std::filesystem::path data = (*s)["a_data"].empty() ? ".hearth" : (*s)["a_data"];
    if ((*def)->package.empty()) {
      std::cout << (*def)->name << " is built into hearth; nothing to install\n";
      return kExitOk;
    }
    std::error_code ec;
    std::filesystem::create_directories(data / "agents", ec);
    // One install of an agent at a time; the server may keep running meanwhile.
    auto lock = storage::FileLock::acquire(data / "agents" / ((*def)->name + ".lock"));
    if (!lock) {
      std::cerr << "hearth: " << lock.error().message << "\n";
      return kExitFailed;
    }
    std::cerr << "installing " << (*def)->package << "@" << (*def)->version << " into "
              << hearth::sandbox::agent_install_dir(data, **def).string() << "\n";
    auto st = hearth::sandbox::install_agent(data, **def, [](std::string_view line) { std::cerr << "  " << line << "\n"; });
    if (!st) {
      std::cerr << "hearth: " << st.error().message << "\n";
      return kExitFailed;
    }
    std::cout << "installed " << (*def)->name << " " << *hearth::sandbox::installed_version(data, **def) << "\n";
    return kExitOk;
  });
  return set;
}

}  // namespace hearth::cli
