// The sandbox actor's handlers and reads: see sandbox_actor.h.
#include "actors/sandbox/sandbox_actor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/host/step_context.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/sandbox/sandbox_state.h"
#include "actors/session/session_actor.h"
#include "actors/task/task_actor.h"
#include "sandbox/git.h"
#include "sandbox/exec.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::sandbox {
namespace {

namespace fs = std::filesystem;
namespace sb = hearth::sandbox;

// Internal queues: outcomes of work run off the loop.
constexpr const char* kProvision = "sandbox.command.provision";
constexpr const char* kProvisioned = "sandbox.command.provisioned";
constexpr const char* kProcessEnded = "sandbox.command.process_ended";
constexpr const char* kTornDown = "sandbox.command.torn_down";

constexpr int kListedProcesses = 50;

std::int64_t now() { return storage::now_ms(); }

Json sandbox_json(SQLite::Database& db) {
  SQLite::Statement q(db,
                      "SELECT org_id, task_id, state, error, provider, network, repo_url, base_branch, branch, "
                      "git_credential_name, agent_env_names_json, author_name, author_email, attempt, created_by, "
                      "created_at, updated_at, ready_at FROM sandbox");
  if (!q.executeStep()) return nullptr;
  auto text = [&](int i) { return sql::text_or_null(q.getColumn(i)); };
  auto number = [&](int i) { return sql::int_or_null(q.getColumn(i)); };
  return Json{{"org_id", text(0)},          {"task_id", text(1)},        {"state", text(2)},
              {"error", text(3)},           {"provider", text(4)},       {"network", text(5)},
              {"repo_url", text(6)},        {"base_branch", text(7)},    {"branch", text(8)},
              {"git_credential", text(9)},  {"agent_env", Json::parse(q.getColumn(10).getString())},
              {"author_name", text(11)},    {"author_email", text(12)},  {"attempt", number(13)},
              {"created_by", text(14)},     {"created_at", number(15)},  {"updated_at", number(16)},
              {"ready_at", number(17)},     {"work_dir", "/workspace"}};
}

Json steps_json(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT step, at FROM provision_steps WHERE attempt = (SELECT attempt FROM sandbox) ORDER BY id");
  Json steps = Json::array();
  while (q.executeStep()) steps.push_back({{"step", q.getColumn(0).getString()}, {"at", q.getColumn(1).getInt64()}});
  return steps;
}

Json process_json(SQLite::Statement& q) {
  auto number = [&](int i) { return sql::int_or_null(q.getColumn(i)); };
  auto text = [&](int i) { return sql::text_or_null(q.getColumn(i)); };
  return Json{{"id", q.getColumn(0).getInt64()},  {"argv", Json::parse(q.getColumn(1).getString())},
              {"cwd", q.getColumn(2).getString()}, {"status", q.getColumn(3).getString()},
              {"exit_code", number(4)},            {"ended_by", text(5)},
              {"output_bytes", number(6)},         {"truncated", q.getColumn(7).getInt() != 0},
              {"error", text(8)},                  {"started_by", q.getColumn(9).getString()},
              {"started_at", number(10)},          {"ended_at", number(11)}};
}

constexpr const char* kProcessColumns =
    "id, argv_json, cwd, status, exit_code, ended_by, output_bytes, truncated, error, started_by, started_at, ended_at";

Json processes_json(SQLite::Database& db, std::int64_t before_id, int limit) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM processes WHERE id < ? ORDER BY id DESC LIMIT ?", kProcessColumns));
  sql::bind_all(q, before_id > 0 ? before_id : INT64_MAX, limit);
  Json items = Json::array();
  while (q.executeStep()) items.push_back(process_json(q));
  return items;
}

Result<Json> one_process(SQLite::Database& db, std::int64_t id) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM processes WHERE id = ?", kProcessColumns));
  sql::bind_all(q, id);
  if (!q.executeStep()) return Error{ErrorCode::not_found, fmt::format("no process {} in this sandbox", id)};
  return process_json(q);
}

Json sessions_json(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT session_id, agent, attached_at, detached_at FROM sessions ORDER BY attached_at");
  Json items = Json::array();
  while (q.executeStep())
    items.push_back({{"session_id", q.getColumn(0).getString()},
                     {"agent", q.getColumn(1).getString()},
                     {"attached_at", q.getColumn(2).getInt64()},
                     {"detached_at", sql::int_or_null(q.getColumn(3))}});
  return items;
}

Json full_json(SQLite::Database& db) {
  auto s = sandbox_json(db);
  if (s.is_null()) return s;
  s["steps"] = steps_json(db);
  s["sessions"] = sessions_json(db);
  s["running_processes"] = db.execAndGet("SELECT COUNT(*) FROM processes WHERE status = 'running'").getInt64();
  return s;
}

// The table CHECKs the state; a name this build does not know is a bug worth failing the step on.
SandboxState state_of(SQLite::Database& db) {
  return parse_sandbox_state(db.execAndGet("SELECT state FROM sandbox").getString()).value();
}

// Sets the state and announces it; a sandbox its task created also reports to the task
// (with the step that failed, for an error).
void set_state(StepContext& ctx, SandboxState to, const Json& error = nullptr, const std::string& step = {}) {
  const std::string state(to_string(to));
  auto up = ctx.statement("UPDATE sandbox SET state = ?1, error = ?2, updated_at = ?3, "
                          "ready_at = CASE WHEN ?1 = 'ready' THEN ?3 ELSE ready_at END");
  sql::bind_all(*up, state, sql::optional_text(error), now());
  up->exec();
  auto sandbox = full_json(ctx.db());
  ctx.broadcast("sandbox.state.changed", sandbox);
  if (ctx.db().execAndGet("SELECT task_linked FROM sandbox").getInt() != 0) {
    Json report{{"state", state}, {"error", error}};
    if (!step.empty()) report["step"] = step;
    if (auto st = ctx.send(task::address(sandbox["org_id"], sandbox["task_id"]), task::kSandboxChanged, report); !st)
      spdlog::error("sandbox.task_report_failed sandbox={} error={}", ctx.address().display(), st.error().message);
  }
}

void announce_processes(StepContext& ctx) {
  ctx.broadcast("sandbox.processes.changed", {{"processes", processes_json(ctx.db(), 0, kListedProcesses)}});
}

std::vector<std::string> names_of(const Json& list) {
  std::vector<std::string> out;
  for (const auto& n : list) out.push_back(n.get<std::string>());
  return out;
}

// --- Provisioning, off the loop --------------------------------------------------------

struct Plan {
  Address address;
  Json sandbox;
  std::int64_t attempt = 0;
  bool task_linked = false;
};

Result<Json> provision(Runtime& rt, const Plan& plan, std::stop_token stop) {
  const auto& s = plan.sandbox;
  auto started = now();
  Json steps = Json::array();
  auto say = [&](const std::string& step) {
    Json s{{"step", step}, {"at", now()}};
    steps.push_back(s);
    rt.note_step(plan.address, plan.attempt, s);
    s["attempt"] = plan.attempt;
    rt.host().pubsub().publish(plan.address.id(), "sandbox.provision.progress", std::move(s));
    // Its task shows the step too (progress only: a lost one is replaced by the next).
    if (plan.task_linked)
      (void)rt.host().send(task::address(plan.sandbox["org_id"], plan.sandbox["task_id"]), task::kSandboxChanged,
                           {{"state", "provisioning"}, {"step", step}});
  };
  auto provider = rt.provider(s["provider"].get<std::string>());
  if (!provider) return provider.error();
  auto dir = rt.dir(plan.address);
  say("creating the sandbox");
  std::error_code ec;
  // A retry starts from an empty work dir, with nothing of the sandbox's still running
  // (the removal walks a tree its user could write).
  rt.stop_all(plan.address);
  fs::remove_all(dir.work(), ec);
  sb::ExecRequest base;  // the sandbox's user (its dirs made now) and control groups
  if (auto st = rt.prepare(plan.address, base); !st) return st.error();
  if (stop.stop_requested()) return Error{ErrorCode::interrupted, "interrupted: the server is stopping"};
  auto network = sb::network_from(s["network"].get<std::string>());
  if (!network) return network.error();
  if (s["repo_url"].is_string()) {
    sb::CheckoutSpec spec;
    spec.base_branch = s["base_branch"].is_string() ? s["base_branch"].get<std::string>() : "";
    spec.task_branch = s["branch"];
    spec.author_name = s["author_name"];
    spec.author_email = s["author_email"];
    auto origin = rt.origin(s["org_id"], s["repo_url"],
                            s["git_credential"].is_string() ? s["git_credential"].get<std::string>() : "",
                            GitAccess::read, stop);
    if (!origin) return origin.error();
    sb::SandboxGit git(**provider, dir, base, *origin);
    if (auto st = git.checkout(spec, say, stop); !st) return st.error();
  } else {
    say("starting a first process");
    sb::ExecRequest probe = base;
    probe.argv = {"true"};
    probe.network = *network;
    if (auto st = rt.prepare(plan.address, probe); !st) return st.error();  // under proxy: its way out
    auto ran = sb::run(**provider, dir, probe, "", [](int, std::string_view) {});
    if (!ran) return ran.error();
    if (ran->exit_code != 0)
      return Error{ErrorCode::unavailable, fmt::format("the sandbox could not run a process (exit {})", ran->exit_code)};
    say("done");
  }
  return Json{{"steps", steps}, {"duration_ms", now() - started}};
}

// --- A process, off the loop ------------------------------------------------------------

struct ProcessPlan {
  Address address;
  std::string org_id, provider;
  std::int64_t id = 0;
  sb::ExecRequest request;
  std::string stdin_data;
  std::vector<std::string> secret_names;  // redacted from the output
};

Result<Json> run_process(Runtime& rt, ProcessPlan plan, std::stop_token server_stop) {
  auto provider = rt.provider(plan.provider);
  if (!provider) return provider.error();
  if (auto st = rt.prepare(plan.address, plan.request); !st) return st.error();
  auto secrets = rt.open_secrets(plan.org_id, plan.secret_names);
  if (!secrets) return secrets.error();
  sb::Redactor redactor({secrets->begin(), secrets->end()});
  std::stop_source stop;
  std::stop_callback forward(server_stop, [&] { stop.request_stop(); });
  auto tracked = rt.track(plan.address, fmt::format("process {}", plan.id), [stop]() mutable { stop.request_stop(); });
  auto path = rt.log_path(plan.address, plan.id);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream log(path, std::ios::app | std::ios::binary);
  auto topic = plan.address.id();
  auto sink = [&](int stream, std::string_view data) {
    Json chunk{{"stream", stream == 1 ? "stdout" : "stderr"}, {"data", data}, {"at", now()}};
    log << chunk.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
    log.flush();
    chunk["process_id"] = plan.id;
    rt.host().pubsub().publish(topic, "sandbox.process.output", std::move(chunk));
  };
  auto outcome = sb::run(**provider, rt.dir(plan.address), plan.request, plan.stdin_data, sink, stop.get_token(), &redactor);
  if (!outcome) return outcome.error();
  if (server_stop.stop_requested() && outcome->ended_by == sb::EndedBy::stopped)
    return Error{ErrorCode::interrupted, "interrupted: the server stopped while the process ran"};
  return Json{{"exit_code", outcome->exit_code}, {"ended_by", std::string(to_string(outcome->ended_by))},
              {"output_bytes", outcome->output_bytes}, {"truncated", outcome->truncated}};
}

// --- Handlers ----------------------------------------------------------------------------

Status create(StepContext& ctx, const Json& in) {
  auto ins = ctx.statement(
      "INSERT INTO sandbox(id, org_id, task_id, state, provider, network, repo_url, base_branch, branch, "
      "git_credential_name, agent_env_names_json, author_name, author_email, created_by, created_at, "
      "updated_at) VALUES(1, ?, ?, 'provisioning', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  auto opt = [&in](const char* name) -> std::optional<std::string> {
    if (in.contains(name) && in[name].is_string() && !in[name].get<std::string>().empty())
      return in[name].get<std::string>();
    return std::nullopt;
  };
  sql::bind_all(*ins, in.at("org_id").get<std::string>(), in.at("task_id").get<std::string>(),
                in.at("provider").get<std::string>(), in.value("network", std::string("none")), opt("repo_url"),
                opt("base_branch"), opt("branch"), opt("git_credential"), in.value("agent_env", Json::array()).dump(),
                in.value("author_name", std::string("Hearth")),
                in.value("author_email", std::string("hearth@localhost")), in.value("created_by", std::string()), now(),
                now());
  ins->exec();
  if (in.value("task_linked", false)) ctx.db().exec("UPDATE sandbox SET task_linked = 1");
  ctx.broadcast("sandbox.state.changed", full_json(ctx.db()));
  if (auto id = ctx.send_self(kProvision, Json::object()); !id) return id.error();
  return {};
}

Result<Json> on_provision(Runtime& rt, StepContext& ctx, const Json&) {
  if (auto st = can(state_of(ctx.db()), SandboxAction::provision); !st) return st.error();
  ctx.db().exec("UPDATE sandbox SET attempt = attempt + 1");
  Plan plan{ctx.address(), sandbox_json(ctx.db()), 0};
  plan.attempt = plan.sandbox["attempt"].get<std::int64_t>();
  plan.task_linked = ctx.db().execAndGet("SELECT task_linked FROM sandbox").getInt() != 0;
  auto job = ctx.spawn_io("provision", kProvisioned, {{"attempt", plan.attempt}},
                          [&rt, plan](std::stop_token stop) { return provision(rt, plan, stop); });
  if (!job) return job.error();
  return Json{{"attempt", plan.attempt}};
}

Result<Json> on_provisioned(Runtime& rt, StepContext& ctx, const Json& body) {
  auto state = state_of(ctx.db());
  auto attempt = body["context"].value("attempt", std::int64_t{0});
  auto current = ctx.db().execAndGet("SELECT attempt FROM sandbox").getInt64();
  if (state != SandboxState::provisioning || attempt != current) return Json{{"ignored", "the sandbox moved on"}};
  if (!body.value("ok", false)) {
    auto error = body["error"];
    auto message = error_from_json(error).code == ErrorCode::interrupted
                       ? std::string("provisioning was interrupted by a server restart; retry it")
                       : error.value("message", std::string("provisioning failed"));
    auto steps = rt.steps(ctx.address(), attempt);
    std::string step = steps.is_array() && !steps.empty() ? steps.back().value("step", std::string()) : "";
    set_state(ctx, SandboxState::error, message, step);
    return Json{{"state", "error"}, {"error", message}};
  }
  auto ins = ctx.statement("INSERT INTO provision_steps(attempt, step, at) VALUES(?, ?, ?)");
  for (const auto& step : body["result"]["steps"]) {
    sql::bind_all(*ins, attempt, step["step"].get<std::string>(), step["at"].get<std::int64_t>());
    ins->exec();
    ins->reset();
  }
  set_state(ctx, SandboxState::ready);
  ctx.after_commit([&rt, address = ctx.address()] { rt.forget_steps(address); });
  return Json{{"state", "ready"}, {"duration_ms", body["result"]["duration_ms"]}};
}

Result<Json> on_retry(StepContext& ctx, const Json&) {
  if (auto st = can(state_of(ctx.db()), SandboxAction::retry); !st) return st.error();
  set_state(ctx, SandboxState::provisioning);
  if (auto id = ctx.send_self(kProvision, Json::object()); !id) return id.error();
  return full_json(ctx.db());
}

Result<Json> on_exec(Runtime& rt, StepContext& ctx, const Json& b) {
  auto sandbox = sandbox_json(ctx.db());
  if (auto st = can(parse_sandbox_state(sandbox["state"].get<std::string>()).value(), SandboxAction::exec); !st)
    return st.error();
  ProcessPlan plan{ctx.address(), sandbox["org_id"], sandbox["provider"]};
  for (const auto& a : b.at("argv")) plan.request.argv.push_back(a.get<std::string>());
  for (const auto& e : b.value("env", Json::array())) plan.request.env.push_back(e.get<std::string>());
  plan.request.cwd = b.value("cwd", std::string());
  plan.request.network = *sb::network_from(sandbox["network"].get<std::string>());
  plan.request.limits = rt.config().process_limits;
  if (b.contains("timeout_ms")) plan.request.limits.wall_clock = std::chrono::milliseconds(b["timeout_ms"].get<std::int64_t>());
  if (b.contains("idle_timeout_ms")) plan.request.limits.idle = std::chrono::milliseconds(b["idle_timeout_ms"].get<std::int64_t>());
  if (auto st = sb::validate(plan.request); !st) return st.error();
  plan.stdin_data = b.value("stdin", std::string());
  plan.secret_names = names_of(sandbox["agent_env"]);
  // The git credential never enters the sandbox; should its value reach the output
  // anyway (an agent given the same secret), it is redacted like the others.
  if (sandbox["git_credential"].is_string()) plan.secret_names.push_back(sandbox["git_credential"]);
  auto ins = ctx.statement("INSERT INTO processes(argv_json, cwd, status, started_by, started_at) "
                           "VALUES(?, ?, 'running', ?, ?)");
  sql::bind_all(*ins, b.at("argv").dump(), plan.request.cwd, b.value("by", std::string()), now());
  ins->exec();
  plan.id = ctx.db().getLastInsertRowid();
  auto job = ctx.spawn_io("process", kProcessEnded, {{"process_id", plan.id}},
                          [&rt, plan](std::stop_token stop) { return run_process(rt, plan, stop); });
  if (!job) return job.error();
  announce_processes(ctx);
  return one_process(ctx.db(), plan.id);
}

Result<Json> on_process_ended(StepContext& ctx, const Json& body) {
  auto id = body["context"].value("process_id", std::int64_t{0});
  auto up = ctx.statement("UPDATE processes SET status = 'exited', exit_code = ?, ended_by = ?, output_bytes = ?, "
                          "truncated = ?, error = ?, ended_at = ? WHERE id = ?");
  if (body.value("ok", false)) {
    const auto& r = body["result"];
    sql::bind_all(*up, r.value("exit_code", -1), r.value("ended_by", std::string("exit")),
                  r.value("output_bytes", std::int64_t{0}), r.value("truncated", false), nullptr, now(), id);
  } else {
    bool interrupted = error_from_json(body["error"]).code == ErrorCode::interrupted;
    sql::bind_all(*up, nullptr, interrupted ? "interrupted" : "error", nullptr, false,
                  body["error"].value("message", std::string("the process failed")), now(), id);
  }
  up->exec();
  announce_processes(ctx);
  return one_process(ctx.db(), id);
}

Result<Json> on_kill(Runtime& rt, StepContext& ctx, const Json& b) {
  auto id = b.at("process_id").get<std::int64_t>();
  auto process = one_process(ctx.db(), id);
  if (!process) return process.error();
  if ((*process)["status"] != "running") return Error{ErrorCode::conflict, fmt::format("process {} has exited", id)};
  ctx.after_commit([&rt, address = ctx.address(), id] { rt.stop(address, fmt::format("process {}", id)); });
  return Json{{"process_id", id}, {"status", "stopping"}};
}

// Stops everything running in the sandbox, off the loop; destroy also removes its files.
Result<Json> tear_down(StepContext& ctx, Runtime& rt, const std::string& action) {
  ctx.db().exec("UPDATE sandbox SET tearing_down = 1");
  auto job = ctx.spawn_io(action, kTornDown, {{"action", action}},
                          [&rt, address = ctx.address(), action](std::stop_token) -> Result<Json> {
                            rt.stop_all(address);
                            if (action != "destroy") return Json::object();
                            std::error_code ec;
                            rt.release_user(address);
                            fs::remove_all(rt.dir(address).root, ec);
                            if (ec) return Error{ErrorCode::unavailable,
                                                 fmt::format("cannot remove the sandbox's files: {}", ec.message())};
                            return Json::object();
                          });
  if (!job) return job.error();
  return full_json(ctx.db());
}

Result<Json> on_stop(Runtime& rt, StepContext& ctx, const Json&) {
  auto state = state_of(ctx.db());
  if (done_already(state, SandboxAction::stop)) return full_json(ctx.db());
  if (auto st = can(state, SandboxAction::stop); !st) return st.error();
  set_state(ctx, SandboxState::stopped);
  return tear_down(ctx, rt, "stop");
}

Result<Json> on_start(StepContext& ctx, const Json&) {
  auto state = state_of(ctx.db());
  if (done_already(state, SandboxAction::start)) return full_json(ctx.db());
  if (auto st = can(state, SandboxAction::start); !st) return st.error();
  if (ctx.db().execAndGet("SELECT tearing_down FROM sandbox").getInt() != 0) {
    // The stop is still ending what ran: the sandbox starts as soon as it is done.
    ctx.db().exec("UPDATE sandbox SET start_after_teardown = 1");
    auto s = full_json(ctx.db());
    s["starting"] = true;
    return s;
  }
  set_state(ctx, SandboxState::ready);
  return full_json(ctx.db());
}

Result<Json> on_destroy(Runtime& rt, StepContext& ctx, const Json& b) {
  if (done_already(state_of(ctx.db()), SandboxAction::destroy)) return full_json(ctx.db());
  set_state(ctx, SandboxState::destroying);
  // Its sessions end with it.
  auto sandbox = sandbox_json(ctx.db());
  auto open = ctx.statement("SELECT session_id FROM sessions WHERE detached_at IS NULL");
  while (open->executeStep()) {
    auto session = session::address(sandbox["org_id"], sandbox["task_id"], open->getColumn(0).getString());
    if (auto st = ctx.send(session, session::kClose, {{"reason", "the sandbox was destroyed"}, {"by", b.value("by", "")}}); !st)
      return st.error();
  }
  return tear_down(ctx, rt, "destroy");
}

Result<Json> on_torn_down(StepContext& ctx, const Json& body) {
  ctx.db().exec("UPDATE sandbox SET tearing_down = 0");
  if (body["context"].value("action", "") != "destroy") {
    if (ctx.db().execAndGet("SELECT start_after_teardown FROM sandbox").getInt() != 0) {
      ctx.db().exec("UPDATE sandbox SET start_after_teardown = 0");
      if (state_of(ctx.db()) == SandboxState::stopped) set_state(ctx, SandboxState::ready);
    }
    return Json::object();
  }
  if (state_of(ctx.db()) != SandboxState::destroying) return Json{{"ignored", "the sandbox moved on"}};
  if (!body.value("ok", false)) {
    set_state(ctx, SandboxState::error, body["error"].value("message", std::string("destroying failed")));
    return Json{{"state", "error"}};
  }
  ctx.db().exec("UPDATE processes SET status = 'exited', ended_by = 'stopped', ended_at = "
                + std::to_string(now()) + " WHERE status = 'running'");
  set_state(ctx, SandboxState::destroyed);
  return Json{{"state", "destroyed"}};
}

Result<Json> on_attach(StepContext& ctx, const Json& b) {
  auto ins = ctx.statement("INSERT OR IGNORE INTO sessions(session_id, agent, attached_at) VALUES(?, ?, ?)");
  sql::bind_all(*ins, b.at("session_id").get<std::string>(), b.at("agent").get<std::string>(), now());
  ins->exec();
  ctx.broadcast("sandbox.state.changed", full_json(ctx.db()));
  return Json{{"attached", b["session_id"]}};
}

Result<Json> on_detach(StepContext& ctx, const Json& b) {
  auto up = ctx.statement("UPDATE sessions SET detached_at = ? WHERE session_id = ? AND detached_at IS NULL");
  sql::bind_all(*up, now(), b.at("session_id").get<std::string>());
  up->exec();
  return Json{{"detached", b["session_id"]}};
}

// --- Reads --------------------------------------------------------------------------------

Result<Json> get(Runtime& rt, ReadContext& ctx, const Json&) {
  auto s = full_json(ctx.db);
  if (s.is_null()) return Error{ErrorCode::not_found, "no such sandbox"};
  if (s["state"] == "provisioning") s["steps"] = rt.steps(ctx.address, s["attempt"].get<std::int64_t>());
  return s;
}

Result<Json> processes(ReadContext& ctx, const Json& a) {
  auto limit = static_cast<int>(std::clamp<std::int64_t>(a.value("limit", std::int64_t{50}), 1, 500));
  auto items = processes_json(ctx.db, a.value("before_id", std::int64_t{0}), limit);
  Json next = items.size() == static_cast<std::size_t>(limit) ? items.back()["id"] : Json(nullptr);
  return Json{{"items", items}, {"next_cursor", next}};
}

Result<Json> process(ReadContext& ctx, const Json& a) { return one_process(ctx.db, a.at("process_id").get<std::int64_t>()); }

// Output chunks from byte `offset` of the process's log, at most about `limit_bytes`.
Result<Json> process_output(Runtime& rt, ReadContext& ctx, const Json& a) {
  auto id = a.at("process_id").get<std::int64_t>();
  auto process = one_process(ctx.db, id);
  if (!process) return process.error();
  auto offset = std::max<std::int64_t>(a.value("offset", std::int64_t{0}), 0);
  auto limit = std::clamp<std::int64_t>(a.value("limit_bytes", std::int64_t{256 << 10}), 1, 4 << 20);
  Json chunks = Json::array();
  std::ifstream in(rt.log_path(ctx.address, id), std::ios::binary);
  std::int64_t next = offset;
  if (in) {
    in.seekg(offset);
    std::string line;
    std::int64_t taken = 0;
    while (taken < limit && std::getline(in, line)) {
      if (in.eof()) break;  // a line still being written
      next += static_cast<std::int64_t>(line.size()) + 1;
      auto chunk = Json::parse(line, nullptr, false);
      if (chunk.is_discarded()) continue;
      taken += static_cast<std::int64_t>(chunk.value("data", std::string()).size());
      chunks.push_back(std::move(chunk));
    }
  }
  bool done = (*process)["status"] == "exited" && chunks.empty();
  return Json{{"process", *process}, {"chunks", chunks}, {"next_offset", next}, {"done", done}};
}

}  // namespace

ActorType make_type(Runtime& rt) {
  ActorType t{"sandbox"};
  t.on_create = create;
  t.on_queue(kProvision, [&rt](StepContext& ctx, const Json& b) { return on_provision(rt, ctx, b); })
      .on_queue(kProvisioned, [&rt](StepContext& ctx, const Json& b) { return on_provisioned(rt, ctx, b); })
      .on_queue(kRetry, on_retry)
      .on_queue(kExec, [&rt](StepContext& ctx, const Json& b) { return on_exec(rt, ctx, b); })
      .on_queue(kProcessEnded, on_process_ended)
      .on_queue(kKill, [&rt](StepContext& ctx, const Json& b) { return on_kill(rt, ctx, b); })
      .on_queue(kStop, [&rt](StepContext& ctx, const Json& b) { return on_stop(rt, ctx, b); })
      .on_queue(kStart, on_start)
      .on_queue(kDestroy, [&rt](StepContext& ctx, const Json& b) { return on_destroy(rt, ctx, b); })
      .on_queue(kTornDown, on_torn_down)
      .on_queue(kAttachSession, on_attach)
      .on_queue(kDetachSession, on_detach)
      .on_action(kGet, [&rt](ReadContext& ctx, const Json& a) { return get(rt, ctx, a); })
      .on_action(kProcesses, processes)
      .on_action(kProcess, process)
      .on_action(kProcessOutput, [&rt](ReadContext& ctx, const Json& a) { return process_output(rt, ctx, a); });
  return t;
}

}  // namespace hearth::actors::sandbox
