// The task actor's handlers and reads: see task_actor.h and docs/tasks.md.
#include "actors/task/task_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/host/step_context.h"
#include "actors/identity/identity.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/sandbox/secrets.h"
#include "actors/session/session_actor.h"
#include "actors/task/git_flows.h"
#include "actors/task/task_announce.h"
#include "actors/task/task_state.h"
#include "actors/task/task_store.h"
#include "actors/task/titles.h"
#include "storage/database.h"
#include "storage/text.h"

namespace hearth::actors::task {
namespace {

namespace sb = hearth::sandbox;

// Internal: a git flow's outcome.
constexpr const char* kGitDone = "task.command.git_done";

constexpr std::size_t kListedFiles = 5000;

std::int64_t now() { return storage::now_ms(); }

// Who asked (a command's "by_id" and "by") takes part in the task from now on.
void add_asker(StepContext& ctx, const Json& b) {
  if (!b.contains("by_id") || !b["by_id"].is_string()) return;
  add_participant(ctx.db(), b["by_id"].get<std::string>(), b.value("by", std::string()), now());
}

// Whether the task, as it is now, may do `action` (task_state.h's can).
Status allowed(SQLite::Database& db, TaskAction action) {
  auto t = load_task(db).value();
  return can(t.status, t.sandbox_state, action);
}

Json session_input(const TaskRow& t, const std::string& session_id, const std::string& agent,
                   const std::string& title, const std::string& by) {
  return Json{{"org_id", t.org_id}, {"task_id", t.task_id}, {"session_id", session_id},
              {"agent", agent},        {"title", title},          {"created_by", by},
              {"permission_timeout_ms", t.permission_timeout_ms}, {"task_linked", true}};
}

// A new session in the task's sandbox; with a prompt, its first turn starts at once.
Result<std::string> start_session(StepContext& ctx, const TaskRow& t, const std::string& agent, std::string title,
                                  const std::string& prompt, const std::string& by) {
  auto id = identity::new_id("s_");
  auto count = count_sessions(ctx.db(), false);
  if (title.empty()) title = fmt::format("Session {}", count + 1);
  Json then = Json::array();
  if (!prompt.empty()) then.push_back({{"queue", session::kPrompt}, {"body", {{"text", prompt}, {"by", by}}}});
  if (auto st = ctx.create(session::address(t.org_id, t.task_id, id), session_input(t, id, agent, title, by),
                           then);
      !st)
    return st.error();
  insert_session_row(ctx.db(), id, title, agent, !prompt.empty(), by, now());
  return id;
}

// --- Git flows (git_flows.h), started here and reported back by kGitDone ---------------

// The message of the commit a flow makes of uncommitted work, from the prompts that led
// to it: the first commit is the task's title, a later one its latest prompt; the
// others are listed below. `included`: how many prompts it describes.
std::string commit_message(const TaskRow& t, std::size_t& included) {
  included = t.work_prompts.size();
  std::string subject = t.title;
  std::vector<std::string> listed;
  for (const auto& p : t.work_prompts) listed.push_back(p);
  if (t.commits > 0 && !listed.empty()) {
    subject = listed.back();
    listed.pop_back();
  } else if (!listed.empty()) {
    listed.erase(listed.begin());  // the title says it
  }
  std::string message = subject;
  if (!listed.empty()) {
    message += "\n\nAlso asked for:";
    for (const auto& p : listed) message += "\n- " + p;
  }
  return message + fmt::format("\n\nHearth task {}", t.task_id);
}

Result<Json> start_op(sandbox::Runtime& rt, StepContext& ctx, GitFlow flow, const Json& args, const std::string& by) {
  const std::string kind(to_string(flow));
  auto t = load_task(ctx.db()).value();
  if (auto st = can(t.status, t.sandbox_state, git_action(flow)); !st) return st.error();
  // One flow at a time; a diff refresh alongside is harmless (its own index) and is
  // not waited for, nor started while a flow runs (the flow refreshes the diff itself).
  if (auto busy = running_flow(ctx.db()))
    return Error{ErrorCode::conflict, fmt::format("git {} (op {}) is running; wait for it to end", busy->kind, busy->op_id)};
  if (flow == GitFlow::diff && !running_op(ctx.db()).is_null())
    return Error{ErrorCode::conflict, "a diff refresh is running already"};
  // A flow that may commit says with what message, and for which prompts.
  auto plan_args = args;
  if (flow != GitFlow::diff && flow != GitFlow::revert && plan_args.value("message", std::string()).empty()) {
    std::size_t included = 0;
    plan_args["message"] = commit_message(t, included);
    plan_args["prompts_included"] = included;
  }
  auto id = insert_op(ctx.statements(), flow, plan_args, by, now());
  GitPlan plan{sandbox::address(t.org_id, t.task_id), t.org_id, t.provider, t.repo_url,
               t.base_branch, t.branch, t.title, t.task_id,
               t.git_credential.value_or(""), flow, plan_args};
  auto job = ctx.spawn_io("git " + kind, kGitDone, {{"op_id", id}, {"kind", kind}},
                          [&rt, plan](std::stop_token stop) { return run_git_flow(rt, plan, stop); });
  if (!job) return job.error();
  ctx.broadcast("task.op.started", {{"op_id", id}, {"kind", kind}, {"by", by}});
  if (auto st = announce_change(ctx); !st) return st.error();
  return *find_op(ctx.db(), id);
}

// --- Handlers ----------------------------------------------------------------------------

Status create(sandbox::Runtime& rt, StepContext& ctx, const Json& in) {
  const auto& owner = in.at("owner");
  auto text = [&in](const char* name) { return in.at(name).get<std::string>(); };
  TaskRow t;
  t.org_id = text("org_id");
  t.task_id = text("task_id");
  t.repo_id = text("repo_id");
  t.repo_url = text("repo_url");
  t.base_branch = text("base_branch");
  t.branch = text("branch");
  t.title = text("title");
  t.prompt = text("prompt");
  t.agent = text("agent");
  t.phase = "creating the sandbox";
  t.provider = rt.config().provider;
  t.network = in.value("network", std::string("none"));
  // The local provider has no network namespace to hold a process to the egress proxy
  // (and isolates nothing anyway): its agents use the host's network.
  if (t.provider == "local" && t.network == "proxy") t.network = "host";
  if (in.contains("git_credential") && in["git_credential"].is_string()) t.git_credential = text("git_credential");
  if (in.contains("pull") && in["pull"].is_object()) t.pull = in["pull"];
  t.permission_timeout_ms =
      in.value("permission_timeout_ms", static_cast<std::int64_t>(rt.config().permission_timeout.count()));
  t.owner_id = owner.at("user_id").get<std::string>();
  t.owner_name = t.created_by = owner.at("username").get<std::string>();
  t.created_at = t.updated_at = now();
  insert_task(ctx.db(), t);
  add_participant(ctx.db(), t.owner_id, t.owner_name, now());
  Json sandbox_input{{"org_id", t.org_id},         {"task_id", t.task_id},   {"provider", t.provider},
                     {"network", t.network},       {"repo_url", t.repo_url}, {"base_branch", t.base_branch},
                     {"branch", t.branch},         {"agent_env", Json::array()},
                     {"author_name", owner["username"]},
                     {"author_email", owner["username"].get<std::string>() + "@hearth.local"},
                     {"created_by", owner["username"]}, {"task_linked", true}};
  if (t.git_credential) sandbox_input["git_credential"] = *t.git_credential;
  if (auto st = ctx.create(sandbox::address(t.org_id, t.task_id), sandbox_input); !st) return st;
  return announce_change(ctx);
}

Result<Json> on_sandbox_changed(StepContext& ctx, const Json& b) {
  auto state = b.at("state").get<std::string>();
  auto t = load_task(ctx.db()).value();
  t.sandbox_state = state;
  auto outcome = provisioning_outcome(t.status, state);
  if (outcome == TaskStatus::idle) {
    // The sandbox is there: a session to work in.
    auto any = count_sessions(ctx.db(), false);
    auto open = count_sessions(ctx.db(), true);
    if (any == 0 || open == 0) {
      // The first session takes the task's prompt; one after the old ones ended with
      // their sandbox (provisioned again) waits for a person's.
      auto id = start_session(ctx, t, t.agent, "", any == 0 ? t.prompt : "", t.owner_name);
      if (!id) return id.error();
    }
    t.status = TaskStatus::idle;
    t.phase = t.error = t.error_step = std::nullopt;
  } else if (outcome == TaskStatus::error) {
    t.status = TaskStatus::error;
    t.phase = std::nullopt;
    t.error_step = b.value("step", std::string("provisioning the sandbox"));
    t.error = b.value("error", std::string("provisioning failed"));
  } else if (t.status == TaskStatus::provisioning && state == "provisioning") {
    t.phase = b.value("step", std::string("provisioning the sandbox"));
  }
  save_task(ctx.db(), t);
  if (outcome == TaskStatus::error) {
    if (auto st = record_audit(ctx, "task.provision.failed", "hearth", "error",
                               {{"step", *t.error_step}, {"error", *t.error}});
        !st)
      return st.error();
    if (auto st = announce_change(ctx); !st) return st.error();
    if (auto st = tell_participants(
            ctx, "failed",
            {{"type", "failed"},
             {"message", fmt::format("provisioning failed while {}: {}", *t.error_step, *t.error)}},
            "");
        !st)
      return st.error();
    return Json{{"status", "error"}};
  }
  if (auto st = announce_change(ctx); !st) return st.error();
  return Json{{"sandbox_state", state}};
}

Result<Json> on_session_changed(sandbox::Runtime& rt, StepContext& ctx, const Json& b) {
  auto id = b.at("session_id").get<std::string>();
  auto event = b.value("event", std::string("status"));
  SessionReport report{.session_id = id,
                       .status = b.at("status").get<std::string>(),
                       .turn = b.value("turn", std::int64_t{0}),
                       .report_seq = b.value("report_seq", std::int64_t{0}),
                       .turn_status = b.contains("turn_status") ? std::optional(b["turn_status"].get<std::string>())
                                                                : std::nullopt,
                       .permissions = event == "permission_requested"  ? 1
                                      : event == "permission_resolved" ? -1
                                                                       : 0,
                       .turn_ended = event == "turn_ended"};
  // Reports are numbered by their session: one older than the latest applied says
  // nothing new (its status is stale), whatever order it arrived in.
  if (auto ignored = apply_session_report(ctx.statements(), report, now())) return Json{{"ignored", *ignored}};
  auto t = load_task(ctx.db()).value();
  if (event == "turn_started" && b.contains("prompt")) {  // the next commit is described by it
    t.work_prompts.push_back(derive_title(b["prompt"].get<std::string>()));
    if (t.work_prompts.size() > 20) t.work_prompts.erase(t.work_prompts.begin() + 1);  // the first and the latest say most
  }
  Json notify = nullptr;
  std::string attention;
  if (event == "permission_requested") {
    attention = "needs_permission";
    notify = {{"type", "needs_permission"},
              {"message", fmt::format("the agent asks to {}", b.value("tool", std::string("use a tool")))}};
  } else if (event == "turn_ended") {
    auto turn_status = b.value("turn_status", std::string("completed"));
    bool ok = turn_status == "completed" || turn_status == "cancelled";
    attention = ok ? "finished" : "failed";
    notify = {{"type", attention},
              {"message", ok ? fmt::format("the agent finished turn {}", b.value("turn", 0))
                             : fmt::format("turn {} {}: {}", b.value("turn", 0), turn_status,
                                           b.value("error", std::string("no reason given")))}};
  }
  if (!attention.empty()) t.attention = attention;
  save_task(ctx.db(), t);
  if (auto st = announce_change(ctx); !st) return st.error();
  if (!notify.is_null())
    if (auto st = tell_participants(ctx, notify["type"], notify, id); !st) return st.error();
  // After a turn the work tree changed: the diff is refreshed (unless a flow runs; it refreshes too).
  if (event == "turn_ended" && running_op(ctx.db()).is_null() && allowed(ctx.db(), TaskAction::refresh_diff))
    if (auto op = start_op(rt, ctx, GitFlow::diff, Json::object(), "hearth"); !op)
      spdlog::warn("task.diff_refresh_failed task={} error={}", ctx.address().display(), op.error().message);
  return Json{{"session_id", id}, {"status", b["status"]}};
}

Result<Json> on_git_done(StepContext& ctx, const Json& body) {
  auto id = body["context"].value("op_id", std::int64_t{0});
  auto op = find_op(ctx.db(), id);
  if (!op) return op.error();
  if ((*op)["status"] != "running") return Json{{"ignored", "the op ended already"}};
  // The ops table holds only the kinds this build wrote; any other is a bug worth failing the step on.
  auto flow = parse_git_flow((*op)["kind"].get<std::string>()).value();
  bool ok = body.value("ok", false);
  Json result = ok ? body["result"] : Json(nullptr);
  std::string error;
  if (!ok) {
    error = body["error"].value("message", std::string("git failed"));
    if (error_from_json(body["error"]).code == ErrorCode::interrupted) error = "interrupted by a server restart; run it again";
  }
  if (ok && result.contains("diff")) store_diff(ctx.statements(), id, result["diff"], now());
  auto t = load_task(ctx.db()).value();
  // A commit was made: the prompts it describes are done with (later ones wait for the next).
  if (ok && result.value("output", std::string()).find("committed ") != std::string::npos) {
    auto n = std::min<std::size_t>(t.work_prompts.size(), (*op)["args"].value("prompts_included", std::size_t{0}));
    t.work_prompts.erase(t.work_prompts.begin(), t.work_prompts.begin() + static_cast<std::ptrdiff_t>(n));
    ++t.commits;
  }
  if (ok && result.contains("pushed_head")) t.pushed_head = result["pushed_head"].get<std::string>();
  // Their push was taken (a sync onto it), or pushed over on purpose: nothing waits.
  bool took = ok && !result.contains("conflict_files") && (result.value("took_theirs", false) || result.contains("pushed_head"));
  if (took && t.pull.is_object() && t.pull.value("pushed_elsewhere", false)) t.pull["pushed_elsewhere"] = false;
  bool published = ok && flow == GitFlow::pr && result.contains("pull");
  if (published) {
    auto pull = t.pull.is_object() && t.pull.value("number", 0) == result["pull"]["number"] ? t.pull : Json::object();
    for (const auto& [k, v] : result["pull"].items())
      if (k != "linked") pull[k] = v;
    t.pull = pull;
  }
  // A conflict is an outcome of sync, not a failure of it: the task shows the files.
  bool conflict = ok && result.contains("conflict_files");
  if (flow == GitFlow::sync || flow == GitFlow::merge || flow == GitFlow::push) {
    if (conflict) t.conflict_files = result["conflict_files"];
    else if (ok && flow == GitFlow::sync) t.conflict_files = nullptr;
  }
  save_task(ctx.db(), t);
  Json kept = result;
  if (kept.is_object()) kept.erase("diff");
  std::optional<std::string> op_error;
  if (conflict)
    op_error = fmt::format("the rebase onto {} stopped on conflicts in {}; the branch is as it was",
                           t.base_branch,
                           plural(static_cast<std::int64_t>(result["conflict_files"].size()), "file", "files"));
  else if (!ok) op_error = error;
  finish_op(ctx.statements(), id, ok && !conflict, kept, op_error, now());
  auto final_op = *find_op(ctx.db(), id);
  ctx.broadcast("task.op.finished", final_op);
  if (flow == GitFlow::pr) {
    Json detail{{"op_id", id}, {"error", final_op["error"]}};
    if (published) detail.update({{"number", t.pull["number"]}, {"url", t.pull["url"]}, {"linked", result["pull"]["linked"]}});
    auto kind = published && result["pull"].value("linked", false) ? "task.pr.linked" : "task.pr.published";
    if (auto st = record_audit(ctx, kind, final_op["by"], final_op["status"], detail); !st) return st.error();
  } else if (flow != GitFlow::diff) {
    if (auto st = record_audit(ctx, "task.git." + std::string(to_string(flow)), final_op["by"], final_op["status"],
                               {{"op_id", id}, {"error", final_op["error"]}});
        !st)
      return st.error();
  }
  if (auto st = announce_change(ctx); !st) return st.error();
  return final_op;
}

Result<Json> on_prompt(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (auto st = can(t.status, t.sandbox_state, TaskAction::take_prompt); !st) return st.error();
  auto session_id = b.value("session_id", std::string());
  if (session_id.empty()) {
    auto newest = newest_open_session_id(ctx.db());
    if (!newest) return Error{ErrorCode::conflict, "the task has no open session; create one"};
    session_id = *newest;
  }
  auto session = find_session_state(ctx.db(), session_id);
  if (!session) return Error{ErrorCode::not_found, fmt::format("no session {} in this task", session_id)};
  if (session->status == "closed") return Error{ErrorCode::conflict, fmt::format("session {} is closed", session_id)};
  if (session->status == "running" || session->status == "cancelling")
    return Error{ErrorCode::conflict,
                 fmt::format("turn {} of {} is still running; stop it or wait for its end", session->turn, session_id)};
  add_asker(ctx, b);
  if (auto st = ctx.send(session::address(t.org_id, t.task_id, session_id), session::kPrompt,
                         {{"text", b.at("text")}, {"by", b.value("by", std::string())}});
      !st)
    return st.error();
  mark_session_running(ctx.db(), session_id);
  if (b.value("addresses_reviews", false) && t.pull.is_object()) {
    // The review feedback went to the agent with this prompt.
    t.pull["reviews_waiting"] = b.value("reviews_left", 0);  // what did not fit: for the next time
    // GitHub's time of the last feedback handed over (the next time reads after it).
    t.pull["reviews_addressed_at"] = b.value("reviews_through", now());
    save_task(ctx.db(), t);
    if (auto st = record_audit(ctx, "task.pr.reviews_addressed", b.value("by", std::string()), "ok",
                               {{"number", t.pull.value("number", std::int64_t{0})}, {"session_id", session_id}});
        !st)
      return st.error();
  }
  if (auto st = announce_change(ctx); !st) return st.error();
  if (auto st = tell_owner_someone_acted(ctx, b, "prompted the agent"); !st) return st.error();
  return Json{{"session_id", session_id}, {"status", "running"}};
}

Status cancel_turns(StepContext& ctx, const TaskRow& t, const std::string& by, const std::string& only = {}) {
  for (const auto& id : running_session_ids(ctx.db())) {
    if (!only.empty() && id != only) continue;
    if (auto st = ctx.send(session::address(t.org_id, t.task_id, id), session::kCancel, {{"by", by}}); !st) return st;
  }
  return {};
}

Result<Json> on_stop(StepContext& ctx, const Json& b) {
  auto running = static_cast<std::int64_t>(running_session_ids(ctx.db()).size());
  if (running == 0) return Error{ErrorCode::conflict, "no turn is running"};
  if (auto st = cancel_turns(ctx, load_task(ctx.db()).value(), b.value("by", std::string()), b.value("session_id", std::string()));
      !st)
    return st.error();
  if (auto st = tell_owner_someone_acted(ctx, b, "stopped the agent"); !st) return st.error();
  return Json{{"stopping", running}};
}

Result<Json> on_create_session(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (auto st = can(t.status, t.sandbox_state, TaskAction::start_session); !st) return st.error();
  auto agent = b.value("agent", std::string());
  if (agent.empty()) agent = t.agent;
  add_asker(ctx, b);
  auto id = start_session(ctx, t, agent, b.value("title", std::string()), b.value("prompt", std::string()),
                          b.value("by", std::string()));
  if (!id) return id.error();
  if (auto st = announce_change(ctx); !st) return st.error();
  for (const auto& s : sessions_json(ctx.db()))
    if (s["session_id"] == *id) return s;
  return Json{{"session_id", *id}};
}

Result<Json> on_close_session(StepContext& ctx, const Json& b) {
  auto id = b.at("session_id").get<std::string>();
  auto session = find_session_state(ctx.db(), id);
  if (!session) return Error{ErrorCode::not_found, fmt::format("no session {} in this task", id)};
  if (session->status == "closed") return Json{{"session_id", id}, {"status", "closed"}};
  auto t = load_task(ctx.db()).value();
  if (auto st = ctx.send(session::address(t.org_id, t.task_id, id), session::kClose,
                         {{"reason", "closed by " + b.value("by", std::string())}, {"by", b.value("by", std::string())}});
      !st)
    return st.error();
  close_session_row(ctx.db(), id, now());
  if (auto st = announce_change(ctx); !st) return st.error();
  return Json{{"session_id", id}, {"status", "closed"}};
}

Result<Json> on_rename_session(StepContext& ctx, const Json& b) {
  if (!rename_session_row(ctx.db(), b.at("session_id").get<std::string>(), b.at("title").get<std::string>(), now()))
    return Error{ErrorCode::not_found, "no such session in this task"};
  if (auto st = announce_change(ctx); !st) return st.error();
  return Json{{"session_id", b["session_id"]}, {"title", b["title"]}};
}

Result<Json> on_rename(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  t.title = b.at("title").get<std::string>();
  save_task(ctx.db(), t);
  if (auto st = announce_change(ctx); !st) return st.error();
  if (auto st = tell_owner_someone_acted(ctx, b, "renamed the task"); !st) return st.error();
  return full_json(ctx.db());
}

Result<Json> on_change_owner(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (auto st = can(t.status, t.sandbox_state, TaskAction::change_owner); !st) return st.error();
  t.owner_id = b.at("user_id").get<std::string>();
  t.owner_name = b.at("username").get<std::string>();
  save_task(ctx.db(), t);
  add_participant(ctx.db(), t.owner_id, t.owner_name, now());
  if (auto st = announce_change(ctx); !st) return st.error();
  if (auto st = tell_owner(ctx, b.value("by", std::string("someone")) + " made you the owner",
                           b.value("by_id", std::string()));
      !st)
    return st.error();
  return full_json(ctx.db());
}

// Archives the task (its turns cancelled, its sandbox stopped) as `by` asks, for
// `reason` when it is not a person's doing.
Status archive(StepContext& ctx, TaskRow& t, const std::string& by, std::optional<std::string> reason) {
  if (auto st = cancel_turns(ctx, t, by); !st) return st;
  if (t.sandbox_state == "ready")
    if (auto st = ctx.send(sandbox::address(t.org_id, t.task_id), sandbox::kStop, {{"by", by}}); !st) return st;
  t.archived_at = now();
  t.archive_reason = std::move(reason);
  save_task(ctx.db(), t);
  return announce_change(ctx);
}

// Brings the archived task back: its sandbox started again, or provisioned anew.
Status unarchive(StepContext& ctx, TaskRow& t, const std::string& by) {
  auto sandbox = sandbox::address(t.org_id, t.task_id);
  auto state = t.sandbox_state;
  // Stopped: its files are there, it starts again. Gone or broken: provisioned anew.
  if (state == "stopped") {
    if (auto st = ctx.send(sandbox, sandbox::kStart, {{"by", by}}); !st) return st;
  } else if (state == "destroyed" || state == "error") {
    if (auto st = ctx.send(sandbox, sandbox::kRetry, {{"by", by}}); !st) return st;
    t.status = TaskStatus::provisioning;
    t.phase = "provisioning the sandbox again";
  }
  t.archived_at = std::nullopt;
  t.archive_reason = std::nullopt;
  save_task(ctx.db(), t);
  return announce_change(ctx);
}

Result<Json> on_archive(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (done_already(t.status, TaskAction::archive)) return full_json(ctx.db());
  if (auto st = can(t.status, t.sandbox_state, TaskAction::archive); !st) return st.error();
  if (auto st = archive(ctx, t, b.value("by", std::string()), std::nullopt); !st) return st.error();
  if (auto st = tell_owner_someone_acted(ctx, b, "archived the task"); !st) return st.error();
  return full_json(ctx.db());
}

Result<Json> on_unarchive(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (auto st = can(t.status, t.sandbox_state, TaskAction::unarchive); !st) return st.error();
  if (auto st = unarchive(ctx, t, b.value("by", std::string())); !st) return st.error();
  if (auto st = tell_owner_someone_acted(ctx, b, "unarchived the task"); !st) return st.error();
  return full_json(ctx.db());
}

Result<Json> on_publish_pr(sandbox::Runtime& rt, StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (!t.git_credential || !t.git_credential->starts_with("github:"))
    return Error{ErrorCode::conflict, "the task's repository is not connected through GitHub; pull requests are "
                                      "opened on GitHub repositories (docs/github.md)"};
  Json args{{"title", b.value("title", std::string())}, {"body", b.value("body", std::string())},
            {"draft", b.value("draft", false)}};
  if (args["title"].get<std::string>().empty()) args["title"] = t.title;
  add_asker(ctx, b);
  auto op = start_op(rt, ctx, GitFlow::pr, args, b.value("by", std::string()));
  if (!op) return op;
  if (auto st = tell_owner_someone_acted(ctx, b, "opened a pull request for the task"); !st) return st.error();
  return op;
}

// A check on one commit of the pull request (webhook_events.h): each check's last state,
// kept for the last few commits (pull.check_runs {sha: {at, runs: {name: {state, url,
// suite?}}}}), so that a head's checks count whether they come before or after GitHub
// says it is the head.
void record_check(Json& pull, const Json& check) {
  constexpr std::size_t kCommitsKept = 3;
  auto sha = check.value("head_sha", std::string());
  if (!pull["check_runs"].is_object()) pull["check_runs"] = Json::object();
  auto& commits = pull["check_runs"];
  if (!commits.contains(sha) && commits.size() >= kCommitsKept) {
    auto oldest = commits.begin();
    for (auto it = commits.begin(); it != commits.end(); ++it)
      if (it->value("at", 0LL) < oldest->value("at", 0LL)) oldest = it;
    commits.erase(oldest);
  }
  auto& runs = commits[sha];
  runs["at"] = now();
  Json run{{"state", check.value("state", std::string("pending"))}, {"url", check.value("url", std::string())}};
  if (check.value("suite", false)) run["suite"] = true;
  runs["runs"][check.value("name", std::string("check"))] = run;
}

// The checks of the head commit summed up: {state (failure, pending, success), passed,
// failed, pending, head_sha}, or null before any. A suite counts only while none of its
// runs has come (they say the same, one by one); cancelled and stale runs count nowhere.
Json summarize_checks(const Json& pull) {
  auto sha = pull.value("head_sha", std::string());
  if (!pull.contains("check_runs") || !pull["check_runs"].contains(sha)) return nullptr;
  const auto& runs = pull["check_runs"][sha]["runs"];
  bool any_run = false;
  for (const auto& [_, r] : runs.items()) any_run = any_run || !r.value("suite", false);
  int passed = 0, failed = 0, pending = 0;
  for (const auto& [_, r] : runs.items()) {
    if (any_run && r.value("suite", false)) continue;
    auto state = r.value("state", std::string());
    if (state == "success") ++passed;
    else if (state == "failure") ++failed;
    else if (state == "pending") ++pending;
  }
  return {{"state", failed ? "failure" : pending ? "pending" : "success"}, {"passed", passed}, {"failed", failed},
          {"pending", pending}, {"head_sha", sha}};
}

// A review or a comment on the diff (webhook_events.h): the review state (the last
// approval or request for changes, until dismissed), and how much feedback waits for
// the agent (reviews_waiting, until "address review comments"). What to tell people, or "".
std::string record_review(Json& pull, const Json& review, const std::string& label) {
  // Anyone may comment on a public repository: only its own people's words are review.
  if (!review.value("trusted", false)) return "";
  auto state = review.value("state", std::string());
  auto author = review.value("author", std::string("someone"));
  bool comment = review.value("kind", std::string()) == "comment";
  bool said = review.value("said", false);
  auto waiting = pull.value("reviews_waiting", 0);
  if (state == "approved" || state == "changes_requested") pull["review_state"] = state;
  if (state == "dismissed") pull["review_state"] = nullptr;
  if (comment || state == "changes_requested" || (said && state != "dismissed")) pull["reviews_waiting"] = waiting + 1;
  pull["last_review"] = {{"author", author}, {"state", state}, {"url", review.value("url", std::string())}, {"at", now()}};
  if (comment) return fmt::format("{} commented on {} in {}", author, review.value("path", std::string("the diff")), label);
  if (state == "changes_requested") return fmt::format("{} requested changes on {}", author, label);
  if (state == "approved") return fmt::format("{} approved {}", author, label);
  if (state == "commented" && said) return fmt::format("{} reviewed {}", author, label);
  return "";
}

// What GitHub says of the pull request of the task's branch (through the organization).
Result<Json> on_pull_changed(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  const auto& incoming = b.at("pull");
  auto action = b.value("action", std::string());
  if (t.status == TaskStatus::killed) return Json{{"ignored", "the task is killed"}};
  // Another pull request than the one recorded: taken when the recorded one is over or
  // the new one is open (a branch has one open pull request at a time).
  auto number = incoming.value("number", std::int64_t{0});
  bool same = t.pull.is_object() && t.pull.value("number", std::int64_t{0}) == number;
  // A check or a review speaks of the pull request the task records, and changes only
  // what it says (the rest of what it carries may be older than the task's).
  bool about_pull = !b.contains("check") && !b.contains("review");
  if (!about_pull && !same) return Json{{"ignored", "not the task's pull request"}};
  // Deliveries may come late (GitHub retries, a redelivery, one queued behind Hearth's own
  // edit): a snapshot older than the one recorded would undo what came after it.
  auto incoming_at = incoming.value("updated_at", std::int64_t{0});
  if (about_pull && same && incoming_at > 0 && incoming_at < t.pull.value("updated_at", std::int64_t{0}))
    return Json{{"ignored", "older than the pull request the task records"}};
  if (!same && t.pull.is_object()) {
    auto recorded = t.pull.value("state", std::string());
    bool recorded_open = recorded == "open" || recorded == "draft";
    auto state = incoming.value("state", std::string());
    if (recorded_open && state != "open" && state != "draft") return Json{{"ignored", "another pull request"}};
  }
  Json pull = same ? t.pull : Json::object();
  auto state_before = pull.value("state", std::string());
  auto checks_before = pull.value("checks", Json());
  if (about_pull) {
    pull.erase("mergeable");  // known again only when this delivery says
    for (const auto& [k, v] : incoming.items()) pull[k] = v;
  }
  if (action == "synchronize") {
    // A push to the branch Hearth did not make: the sandbox can take it (offered).
    bool theirs = !t.pushed_head || *t.pushed_head != incoming.value("head_sha", std::string());
    pull["pushed_elsewhere"] = theirs;
  }
  const std::string label = fmt::format("pull request #{}", number);
  std::string news;
  if (b.contains("check")) record_check(pull, b["check"]);
  if (auto checks = summarize_checks(pull); !checks.is_null()) {
    pull["checks"] = checks;
    // Turned failing on this head: said once.
    bool was_failing = checks_before.is_object() && checks_before.value("state", std::string()) == "failure" &&
                       checks_before.value("head_sha", std::string()) == checks["head_sha"];
    if (checks["state"] == "failure" && !was_failing) {
      std::string failing;
      for (const auto& [name, r] : pull["check_runs"][checks["head_sha"].get<std::string>()]["runs"].items())
        if (r.value("state", std::string()) == "failure") failing += (failing.empty() ? "" : ", ") + name;
      news = fmt::format("checks failed on {}: {}", label, failing);
    }
  } else {
    pull.erase("checks");
  }
  if (b.contains("review")) news = record_review(pull, b["review"], label);
  t.pull = pull;
  save_task(ctx.db(), t);
  if (auto st = announce_change(ctx); !st) return st.error();
  auto sender = b.value("sender", std::string("someone"));
  auto notify = [&](const std::string& message) {
    return tell_participants(ctx, "pull_request", {{"type", "pull_request"}, {"message", message}}, "");
  };
  if (!news.empty())
    if (auto st = notify(news); !st) return st.error();
  if (b.contains("check") || b.contains("review")) return full_json(ctx.db());
  // Changed from Hearth (PATCH .../pr, POST .../pr/merge): by a person, audited.
  auto from_hearth = b.value("from_hearth", std::string());
  auto who = from_hearth.empty() ? std::string("GitHub") : b.value("by", std::string());
  if (!from_hearth.empty()) {
    Json detail{{"number", number}};
    for (const char* key : {"fields", "method"})
      if (b.contains(key)) detail[key] = b[key];
    if (auto st = record_audit(ctx, "task.pr." + from_hearth, who, "ok", detail); !st) return st.error();
  }
  bool live = t.status != TaskStatus::archived;
  bool auto_archive = b.value("auto_archive", true);
  auto state = pull.value("state", std::string());
  if (action == "closed" && (state == "merged" || state == "closed")) {
    // GitHub's delivery of a close Hearth made (and recorded) already: nothing new.
    if (from_hearth.empty() && state_before == state) return full_json(ctx.db());
    std::string reason = state == "merged" ? "PR merged" : "PR closed without merging";
    if (live && auto_archive && t.status != TaskStatus::provisioning) {
      if (auto st = archive(ctx, t, who, reason); !st) return st.error();
      if (auto st = record_audit(ctx, "task.archived", who, "ok", {{"reason", reason}, {"number", number}}); !st)
        return st.error();
      if (auto st = notify(fmt::format("{} {}; the task was archived", label, state == "merged" ? "was merged" : "was closed"));
          !st)
        return st.error();
    } else if (auto st = notify(fmt::format("{} {}", label, state == "merged" ? "was merged" : "was closed")); !st) {
      return st.error();
    }
  } else if (action == "reopened") {
    if (t.status == TaskStatus::archived) {
      if (auto st = unarchive(ctx, t, "GitHub"); !st) return st.error();
      if (auto st = record_audit(ctx, "task.unarchived", "GitHub", "ok", {{"reason", "PR reopened"}, {"number", number}});
          !st)
        return st.error();
    }
    if (auto st = notify(label + " was reopened by " + sender); !st) return st.error();
  } else if (action == "synchronize" && pull.value("pushed_elsewhere", false)) {
    if (auto st = notify(fmt::format("{} pushed to {}; sync the task to take their commits", sender, label)); !st)
      return st.error();
  }
  return full_json(ctx.db());
}

Result<Json> on_kill(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (done_already(t.status, TaskAction::kill)) return full_json(ctx.db());
  auto by = b.value("by", std::string());
  // The sandbox's destroy ends every process and agent, and closes its sessions.
  if (auto st = ctx.send(sandbox::address(t.org_id, t.task_id), sandbox::kDestroy, {{"by", by}}); !st)
    return st.error();
  t.killed_at = now();
  t.phase = std::nullopt;
  save_task(ctx.db(), t);
  close_open_sessions(ctx.db());
  fail_running_ops(ctx.db(), "the task was killed", now());
  if (auto st = announce_change(ctx); !st) return st.error();
  if (auto st = tell_owner_someone_acted(ctx, b, "killed the task"); !st) return st.error();
  return full_json(ctx.db());
}

Result<Json> on_retry(StepContext& ctx, const Json& b) {
  auto t = load_task(ctx.db()).value();
  if (auto st = can(t.status, t.sandbox_state, TaskAction::retry); !st) return st.error();
  if (auto st = ctx.send(sandbox::address(t.org_id, t.task_id), sandbox::kRetry, {{"by", b.value("by", std::string())}}); !st)
    return st.error();
  t.status = TaskStatus::provisioning;
  t.phase = "provisioning the sandbox again";
  t.error = t.error_step = std::nullopt;
  save_task(ctx.db(), t);
  if (auto st = announce_change(ctx); !st) return st.error();
  return full_json(ctx.db());
}

QueueHandler git_command(sandbox::Runtime& rt, GitFlow flow) {
  return [&rt, flow](StepContext& ctx, const Json& b) -> Result<Json> {
    Json args = Json::object();
    if (b.contains("message")) args["message"] = b["message"];
    if (b.contains("path")) args["path"] = b["path"];
    // Someone else pushed to the pull request's branch: sync takes their commits, and a
    // push (which replaces the branch) would lose them unless asked to.
    auto t = load_task(ctx.db()).value();
    bool theirs = t.pull.is_object() && t.pull.value("pushed_elsewhere", false);
    if (theirs && flow == GitFlow::sync) args["theirs"] = true;
    if (theirs && (flow == GitFlow::push || flow == GitFlow::merge) && !b.value("force", false))
      return Error{ErrorCode::conflict, fmt::format("someone pushed to {} on GitHub (pull request #{}): sync first to take "
                                                    "their commits, or push with force to replace them",
                                                    t.branch, t.pull.value("number", std::int64_t{0}))};
    auto op = start_op(rt, ctx, flow, args, b.value("by", std::string()));
    if (!op) return op;
    if (flow != GitFlow::diff)
      if (auto st = tell_owner_someone_acted(ctx, b, fmt::format("ran {} on the task", to_string(flow))); !st)
        return st.error();
    return op;
  };
}

// --- Reads --------------------------------------------------------------------------------

Result<Json> get(ReadContext& ctx, const Json&) {
  auto t = full_json(ctx.db);
  if (t.is_null()) return Error{ErrorCode::not_found, "no such task"};
  return t;
}

Result<Json> summary(ReadContext& ctx, const Json&) { return summary_json(ctx.db); }

Result<Json> secret_names(ReadContext& ctx, const Json&) {
  auto t = load_task(ctx.db);
  if (!t) return Error{ErrorCode::not_found, "no such task"};
  // A task's sandbox gives its agent no secrets beyond the agent's own, named from its
  // definition now (as the runner names them every turn).
  return Json{{"agent", t->agent}, {"secret_names", sandbox::agent_secret_names(t->agent)}};
}

Result<Json> diff(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{100}), 1, kListedFiles);
  return list_diff_files(ctx.db, a.value("after", std::string()), limit);
}

Result<Json> diff_file(ReadContext& ctx, const Json& a) { return find_diff_file(ctx.db, a.at("path").get<std::string>()); }

Result<Json> ops(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{50}), 1, 500);
  return list_ops(ctx.db, a.value("before_id", std::int64_t{0}), limit);
}

Result<Json> op(ReadContext& ctx, const Json& a) { return find_op(ctx.db, a.at("op_id").get<std::int64_t>()); }

}  // namespace

ActorType make_type(sandbox::Runtime& rt) {
  ActorType t{"task"};
  t.on_create = [&rt](StepContext& ctx, const Json& in) { return create(rt, ctx, in); };
  t.on_queue(kSandboxChanged, on_sandbox_changed)
      .on_queue(kSessionChanged, [&rt](StepContext& ctx, const Json& b) { return on_session_changed(rt, ctx, b); })
      .on_queue(kGitDone, on_git_done)
      .on_queue(kPrompt, on_prompt)
      .on_queue(kStop, on_stop)
      .on_queue(kCreateSession, on_create_session)
      .on_queue(kCloseSession, on_close_session)
      .on_queue(kRenameSession, on_rename_session)
      .on_queue(kRename, on_rename)
      .on_queue(kChangeOwner, on_change_owner)
      .on_queue(kArchive, on_archive)
      .on_queue(kUnarchive, on_unarchive)
      .on_queue(kKill, on_kill)
      .on_queue(kRetry, on_retry)
      .on_queue(kRefreshDiff, git_command(rt, GitFlow::diff))
      .on_queue(kCommit, git_command(rt, GitFlow::commit))
      .on_queue(kPush, git_command(rt, GitFlow::push))
      .on_queue(kSync, git_command(rt, GitFlow::sync))
      .on_queue(kMerge, git_command(rt, GitFlow::merge))
      .on_queue(kRevert, git_command(rt, GitFlow::revert))
      .on_queue(kPublishPr, [&rt](StepContext& ctx, const Json& b) { return on_publish_pr(rt, ctx, b); })
      .on_queue(kPullChanged, on_pull_changed)
      .on_action(kGet, get)
      .on_action(kSummary, summary)
      .on_action(kSecretNames, secret_names)
      .on_action(kDiff, diff)
      .on_action(kDiffFile, diff_file)
      .on_action(kOps, ops)
      .on_action(kOp, op);
  return t;
}

}  // namespace hearth::actors::task
