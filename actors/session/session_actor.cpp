// The session actor's handlers and reads: see session_actor.h.
#include "actors/session/session_actor.h"

#include <set>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/host/host.h"
#include "actors/host/step_context.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/secrets.h"
#include "actors/billing/billing_actor.h"
#include "actors/session/agent_runner.h"
#include "actors/session/transcript.h"
#include "actors/task/task_actor.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::session {
namespace {

// The I/O result of a turn.
constexpr const char* kTurnEnded = "session.command.turn_ended";

std::int64_t now() { return storage::now_ms(); }

// A JSON column, forgiving: NULL or text that is not JSON reads as null or discarded.
Json parse(const SQLite::Column& c) { return c.isNull() ? Json(nullptr) : Json::parse(c.getString(), nullptr, false); }

Json turn_json(SQLite::Statement& q) {
  return Json{{"turn", q.getColumn(0).getInt64()}, {"prompt", q.getColumn(1).getString()},
              {"status", q.getColumn(2).getString()}, {"stop_reason", sql::text_or_null(q.getColumn(3))},
              {"error", sql::text_or_null(q.getColumn(4))},    {"started_by", q.getColumn(5).getString()},
              {"started_at", q.getColumn(6).getInt64()}, {"ended_at", sql::int_or_null(q.getColumn(7))}};
}

Json last_turn(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT turn, prompt, status, stop_reason, error, started_by, started_at, ended_at FROM turns "
                          "ORDER BY turn DESC LIMIT 1");
  return q.executeStep() ? turn_json(q) : Json(nullptr);
}

// --- Allow-always rules ------------------------------------------------------------------
// A person's "always allow" covers one kind of tool call and, when the agent names its
// tool (claude-code-acp: _meta.claudeCode.toolName), that tool only: allowing one Write
// always never allows a Bash command. A request whose kind is unknown gets no rule.

// The tool's name an agent gives in _meta ({"claudeCode": {"toolName": "Write"}}), or "".
std::string tool_name(const Json& tool_call) {
  if (!tool_call.contains("_meta") || !tool_call["_meta"].is_object()) return "";
  for (const auto& [vendor, meta] : tool_call["_meta"].items())
    if (meta.is_object() && meta.contains("toolName") && meta["toolName"].is_string()) return meta["toolName"];
  return "";
}

const std::set<std::string>& known_kinds() {
  static const std::set<std::string> kinds{"read", "edit", "delete", "move", "search", "execute", "think", "fetch",
                                           "switch_mode"};
  return kinds;
}

// What an allow-always of this request would cover: {rule, kind, tool, label}, or null.
Json rule_for(const Json& tool_call) {
  auto kind = tool_call.value("kind", std::string());
  if (!known_kinds().contains(kind)) return nullptr;
  auto tool = tool_name(tool_call);
  // For people, a tool an agent serves through an MCP server reads as its own name
  // ("mcp__acp__Write": Write); the rule keeps the whole name.
  auto shown = tool;
  if (shown.rfind("mcp__", 0) == 0)
    if (auto cut = shown.find("__", 5); cut != std::string::npos && cut + 2 < shown.size()) shown = shown.substr(cut + 2);
  return Json{{"rule", tool.empty() ? kind : kind + ":" + tool},
              {"kind", kind},
              {"tool", tool.empty() ? Json(nullptr) : Json(tool)},
              {"label", tool.empty() ? fmt::format("every {} tool call", kind) : fmt::format("every {} ({})", shown, kind)}};
}

// The stored rules, each with what it covers. (Rules stored as a bare kind before rules
// were scoped hold only for known kinds, never for "other".)
Json always_rules(const Json& stored) {
  Json rules = Json::array();
  if (!stored.is_array()) return rules;
  for (const auto& r : stored) {
    if (r.is_string()) {
      if (known_kinds().contains(r.get<std::string>())) rules.push_back(rule_for(Json{{"kind", r}}));
    } else if (r.is_object()) {
      rules.push_back(r);
    }
  }
  return rules;
}

// The request's tool call, completed from the agent's own tool_call event with the same
// id (claude-code-acp sends `kind` and `_meta` there, not in the permission request).
Json resolved_tool_call(SQLite::Database& db, Json tool_call) {
  auto id = tool_call.value("toolCallId", std::string());
  if (id.empty() || (tool_call.contains("kind") && !tool_name(tool_call).empty())) return tool_call;
  SQLite::Statement q(db, "SELECT data_json FROM events WHERE kind IN ('tool_call', 'tool_call_update') AND "
                          "json_extract(data_json, '$.toolCallId') = ? ORDER BY seq");
  sql::bind_all(q, id);
  while (q.executeStep()) {
    auto earlier = Json::parse(q.getColumn(0).getString(), nullptr, false);
    if (!earlier.is_object()) continue;
    for (const char* field : {"kind", "title", "_meta"})
      if (!tool_call.contains(field) && earlier.contains(field) && !earlier[field].is_null()) tool_call[field] = earlier[field];
  }
  return tool_call;
}

// The session as people see it. A turn recorded as running that started before this
// process did, and does not run here, was interrupted by the last process's end: its
// status reads `interrupted` even before the session hears of it.
Json session_json(SQLite::Database& db, AgentRunner* runner, const Address* address) {
  SQLite::Statement q(db, "SELECT org_id, task_id, session_id, agent, title, status, turn, agent_session_id, "
                          "agent_info_json, always_allow_json, permission_timeout_ms, created_by, created_at, updated_at, "
                          "closed_at FROM session");
  if (!q.executeStep()) return nullptr;
  Json s{{"org_id", q.getColumn(0).getString()},  {"task_id", q.getColumn(1).getString()},
         {"session_id", q.getColumn(2).getString()}, {"agent", q.getColumn(3).getString()},
         {"title", sql::text_or_null(q.getColumn(4))},         {"status", q.getColumn(5).getString()},
         {"turn", q.getColumn(6).getInt64()},     {"agent_session_id", sql::text_or_null(q.getColumn(7))},
         {"agent_info", parse(q.getColumn(8))},   {"always_allow", always_rules(parse(q.getColumn(9)))},
         {"permission_timeout_ms", q.getColumn(10).getInt64()}, {"created_by", q.getColumn(11).getString()},
         {"created_at", q.getColumn(12).getInt64()}, {"updated_at", q.getColumn(13).getInt64()},
         {"closed_at", sql::int_or_null(q.getColumn(14))}};
  s["last_seq"] = db.execAndGet("SELECT COALESCE(MAX(seq), 0) FROM events").getInt64();
  s["pending_permissions"] = db.execAndGet("SELECT COUNT(*) FROM permissions WHERE status = 'pending'").getInt64();
  s["last_turn"] = last_turn(db);
  if (runner && address && (s["status"] == "running" || s["status"] == "cancelling") && s["last_turn"].is_object() &&
      s["last_turn"]["started_at"].get<std::int64_t>() < runner->started_at() && !runner->turn_running(*address))
    s["status"] = "interrupted";
  return s;
}

Json permission_json(SQLite::Statement& q) {
  return Json{{"permission_id", q.getColumn(0).getString()}, {"turn", q.getColumn(1).getInt64()},
              {"tool_call", parse(q.getColumn(2))},       {"options", parse(q.getColumn(3))},
              {"status", q.getColumn(4).getString()},     {"decision", sql::text_or_null(q.getColumn(5))},
              {"option_id", sql::text_or_null(q.getColumn(6))},        {"answered_by", sql::text_or_null(q.getColumn(7))},
              {"created_at", q.getColumn(8).getInt64()},  {"deadline_at", q.getColumn(9).getInt64()},
              {"answered_at", sql::int_or_null(q.getColumn(10))}, {"always_allow", rule_for(parse(q.getColumn(2)))}};
}

constexpr const char* kPermissionColumns =
    "id, turn, tool_call_json, options_json, status, decision, option_id, answered_by, created_at, deadline_at, answered_at";

Result<Json> find_permission(SQLite::Database& db, const std::string& id) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM permissions WHERE id = ?", kPermissionColumns));
  sql::bind_all(q, id);
  if (!q.executeStep()) return Error{ErrorCode::not_found, fmt::format("no permission request {} in this session", id)};
  return permission_json(q);
}

// Events appended in one step, announced together once it commits.
class Appender {
 public:
  explicit Appender(StepContext& ctx) : ctx_(ctx) {}
  ~Appender() {
    if (!events_.empty()) ctx_.broadcast("session.events.appended", {{"events", std::move(events_)}});
  }
  std::int64_t add(std::int64_t turn, const std::string& kind, Json data, std::int64_t at = 0) {
    if (at == 0) at = now();
    {
      // From the step's statement cache, leased for this one insert: appends are the
      // session's most frequent write (a streamed turn is thousands of them).
      auto ins = ctx_.statement("INSERT INTO events(turn, kind, at, data_json) VALUES(?, ?, ?, ?)");
      sql::bind_all(*ins, turn, kind, at, data.dump(-1, ' ', false, Json::error_handler_t::replace));
      ins->exec();
    }
    auto seq = ctx_.db().getLastInsertRowid();
    events_.push_back({{"seq", seq}, {"turn", turn}, {"kind", kind}, {"at", at}, {"data", std::move(data)}});
    return seq;
  }

 private:
  StepContext& ctx_;
  Json events_ = Json::array();
};

std::string status_of(SQLite::Database& db) { return db.execAndGet("SELECT status FROM session").getString(); }
std::int64_t turn_of(SQLite::Database& db) { return db.execAndGet("SELECT turn FROM session").getInt64(); }

// A session its task created tells the task what changed: its status, a turn's end, a
// permission request or its answer.
void report(StepContext& ctx, const std::string& event, Json extra = Json::object()) {
  ctx.db().exec("UPDATE session SET reports = reports + 1");
  SQLite::Statement q(ctx.db(), "SELECT org_id, task_id, session_id, status, turn, task_linked, reports FROM session");
  if (!q.executeStep() || q.getColumn(5).getInt() == 0) return;
  extra["session_id"] = q.getColumn(2).getString();
  extra["status"] = q.getColumn(3).getString();
  extra["turn"] = q.getColumn(4).getInt64();
  extra["event"] = event;
  extra["report_seq"] = q.getColumn(6).getInt64();  // the task ignores one older than it applied
  if (auto st = ctx.send(task::address(q.getColumn(0).getString(), q.getColumn(1).getString()), task::kSessionChanged, extra);
      !st)
    spdlog::error("session.task_report_failed session={} error={}", ctx.address().display(), st.error().message);
}

void set_status(StepContext& ctx, AgentRunner& runner, const std::string& status, bool quiet = false) {
  auto up = ctx.statement("UPDATE session SET status = ?1, updated_at = ?2, "
                          "closed_at = CASE WHEN ?1 = 'closed' THEN ?2 ELSE closed_at END");
  sql::bind_all(*up, status, now());
  up->exec();
  ctx.broadcast("session.status.changed", session_json(ctx.db(), &runner, nullptr));
  if (!quiet) report(ctx, "status");
}

// The agent's option for `decision`, or the one a person named.
Result<Json> outcome_for(const Json& options, const std::string& decision, const std::string& option_id) {
  if (!option_id.empty()) {
    for (const auto& o : options)
      if (o.is_object() && o.value("optionId", "") == option_id) return Json{{"outcome", "selected"}, {"optionId", option_id}};
    return Error{ErrorCode::invalid, fmt::format("the agent offered no option \"{}\"", option_id)};
  }
  std::vector<const char*> kinds;
  if (decision == "allow_once") kinds = {"allow_once", "allow_always"};
  else if (decision == "allow_always") kinds = {"allow_always", "allow_once"};
  else if (decision == "reject") kinds = {"reject_once", "reject_always"};
  else return Error{ErrorCode::invalid, "decision must be allow_once, allow_always or reject"};
  for (const char* kind : kinds)
    for (const auto& o : options)
      if (o.is_object() && o.value("kind", "") == kind)
        return Json{{"outcome", "selected"}, {"optionId", o.value("optionId", "")}};
  return Error{ErrorCode::invalid, fmt::format("the agent offered no option to {}", decision)};
}

// Settles a pending permission request: records who decided what, as an event too.
void resolve(StepContext& ctx, Appender& events, const Json& permission, const std::string& status,
             const std::string& decision, const Json& outcome, const std::string& by) {
  auto up = ctx.statement("UPDATE permissions SET status = ?, decision = ?, option_id = ?, answered_by = ?, "
                          "answered_at = ? WHERE id = ?");
  sql::bind_all(*up, status, decision,
                outcome.contains("optionId") ? std::optional(outcome["optionId"].get<std::string>()) : std::nullopt, by,
                now(), permission["permission_id"].get<std::string>());
  up->exec();
  Json data{{"permission_id", permission["permission_id"]}, {"status", status}, {"decision", decision},
            {"option_id", outcome.value("optionId", Json(nullptr))}, {"by", by}};
  events.add(permission["turn"].get<std::int64_t>(), "permission_resolved", data);
  ctx.broadcast("session.permission.resolved", data);
  report(ctx, "permission_resolved");
}

// Every pending request of the session ends with its turn.
void cancel_pending(StepContext& ctx, Appender& events, const std::string& by) {
  std::vector<Json> pending;
  {
    SQLite::Statement q(ctx.db(), fmt::format("SELECT {} FROM permissions WHERE status = 'pending'", kPermissionColumns));
    while (q.executeStep()) pending.push_back(permission_json(q));
  }
  for (const auto& p : pending) resolve(ctx, events, p, "cancelled", "", Json{{"outcome", "cancelled"}}, by);
}

// --- Handlers ----------------------------------------------------------------------------

Status create(StepContext& ctx, const Json& in) {
  SQLite::Statement ins(ctx.db(), "INSERT INTO session(id, org_id, task_id, session_id, agent, title, status, "
                                  "permission_timeout_ms, created_by, created_at, updated_at, agent_env_json) "
                                  "VALUES(1, ?, ?, ?, ?, ?, 'idle', ?, ?, ?, ?, ?)");
  auto agent = in.at("agent").get<std::string>();
  auto agent_env = in.value("agent_env", std::vector<std::string>{});
  sql::bind_all(ins, in.at("org_id").get<std::string>(), in.at("task_id").get<std::string>(),
                in.at("session_id").get<std::string>(), agent,
                in.contains("title") && in["title"].is_string() ? std::optional(in["title"].get<std::string>())
                                                                 : std::nullopt,
                in.value("permission_timeout_ms", std::int64_t{30 * 60 * 1000}), in.value("created_by", std::string()),
                now(), now(), Json(agent_env).dump());
  ins.exec();
  if (in.value("task_linked", false)) ctx.db().exec("UPDATE session SET task_linked = 1");
  {
    Appender events(ctx);
    events.add(0, "session_created", {{"agent", in["agent"]}, {"by", in.value("created_by", std::string())},
                                      {"title", in.value("title", Json(nullptr))}});
  }
  return ctx.send(sandbox::address(in["org_id"], in["task_id"]), sandbox::kAttachSession,
                  {{"session_id", in["session_id"]}, {"agent", in["agent"]}});
}

Result<Json> on_prompt(AgentRunner& runner, StepContext& ctx, const Json& b) {
  auto status = status_of(ctx.db());
  if (status == "closed") return Error{ErrorCode::conflict, "the session is closed"};
  if (status == "running" || status == "cancelling")
    return Error{ErrorCode::conflict, fmt::format("turn {} is still running; cancel it or wait for its end", turn_of(ctx.db()))};
  auto text = b.at("text").get<std::string>();
  auto by = b.value("by", std::string());
  auto turn = turn_of(ctx.db()) + 1;
  auto ins = ctx.statement("INSERT INTO turns(turn, prompt, status, started_by, started_at) VALUES(?, ?, 'running', ?, ?)");
  sql::bind_all(*ins, turn, text, by, now());
  ins->exec();
  auto up = ctx.statement("UPDATE session SET turn = ?");
  sql::bind_all(*up, turn);
  up->exec();
  std::int64_t seq;
  {
    Appender events(ctx);
    seq = events.add(turn, "user_message", {{"text", text}, {"by", by}});
  }
  auto s = session_json(ctx.db(), nullptr, nullptr);
  TurnPlan plan{ctx.address(), sandbox::address(s["org_id"], s["task_id"]), s["agent"], turn, text,
                s["agent_session_id"].is_string() ? s["agent_session_id"].get<std::string>() : "",
                std::chrono::milliseconds(s["permission_timeout_ms"].get<std::int64_t>())};
  auto job = ctx.spawn_io("turn", kTurnEnded, {{"turn", turn}},
                          [&runner, plan](std::stop_token stop) { return runner.run_turn(plan, stop); });
  if (!job) return job.error();
  set_status(ctx, runner, "running", true);
  report(ctx, "turn_started", {{"prompt", text.substr(0, 1000)}});
  // Counted for the organization's plan (monthly turns).
  const auto org = s["org_id"].get<std::string>();
  if (auto st = ctx.create(billing::address(org), {{"org_id", org}}, Json::array({{{"queue", billing::kTurn}, {"body", Json::object()}}}));
      !st)
    return st.error();
  return Json{{"turn", turn}, {"seq", seq}, {"status", "running"}};
}

Result<Json> on_turn_ended(AgentRunner& runner, StepContext& ctx, const Json& body) {
  auto turn = body["context"].value("turn", std::int64_t{0});
  if (turn != turn_of(ctx.db())) return Json{{"ignored", "not the latest turn"}};
  std::string turn_status, session_status = "idle";
  Json stop_reason = nullptr, error = nullptr;
  {
    Appender events(ctx);
    if (body.value("ok", false)) {
      const auto& r = body["result"];
      stop_reason = r.value("stop_reason", std::string("end_turn"));
      turn_status = stop_reason == "cancelled" ? "cancelled" : "completed";
      Json data{{"stop_reason", stop_reason}};
      if (r.contains("cancelled_by")) data["cancelled_by"] = r["cancelled_by"];
      events.add(turn, "turn_ended", data);
    } else if (error_from_json(body["error"]).code == ErrorCode::interrupted) {
      turn_status = "interrupted";
      session_status = "interrupted";
      error = body["error"].value("message", std::string("interrupted"));
      events.add(turn, "turn_interrupted", {{"reason", "the server stopped during the turn; the agent is gone"}});
    } else {
      turn_status = "failed";
      error = body["error"].value("message", std::string("the turn failed"));
      events.add(turn, "turn_failed", {{"error", error}, {"code", body["error"].value("code", "")}});
    }
    cancel_pending(ctx, events, "turn_end");
  }
  auto up = ctx.statement("UPDATE turns SET status = ?, stop_reason = ?, error = ?, ended_at = ? WHERE turn = ?");
  sql::bind_all(*up, turn_status, sql::optional_text(stop_reason), sql::optional_text(error), now(), turn);
  up->exec();
  if (status_of(ctx.db()) != "closed") set_status(ctx, runner, session_status, true);
  Json ended{{"turn_status", turn_status}};
  if (error.is_string()) ended["error"] = error;
  report(ctx, "turn_ended", ended);
  return Json{{"turn", turn}, {"status", turn_status}};
}

Result<Json> on_cancel(AgentRunner& runner, StepContext& ctx, const Json& b) {
  auto status = status_of(ctx.db());
  if (status == "cancelling") return Json{{"turn", turn_of(ctx.db())}, {"status", status}};
  if (status != "running") return Error{ErrorCode::conflict, "no turn is running"};
  auto by = b.value("by", std::string());
  {
    Appender events(ctx);
    events.add(turn_of(ctx.db()), "cancel_requested", {{"by", by}});
    cancel_pending(ctx, events, by.empty() ? "cancel" : by);  // who cancelled them, not "turn_end"
  }
  set_status(ctx, runner, "cancelling");
  ctx.after_commit([&runner, address = ctx.address(), by] { runner.cancel(address, by); });
  return Json{{"turn", turn_of(ctx.db())}, {"status", "cancelling"}};
}

Result<Json> on_append_events(StepContext& ctx, const Json& b) {
  auto turn = b.at("turn").get<std::int64_t>();
  Appender events(ctx);
  std::int64_t last = 0;
  for (const auto& e : b.at("events")) {
    auto kind = e.at("kind").get<std::string>();
    last = events.add(turn, kind, e.value("data", Json(nullptr)), e.value("at", std::int64_t{0}));
    if (kind == "agent_started" && e["data"].contains("agent_session_id")) {
      // The one place the agent's session is recorded: as soon as it is known, so that a
      // later agent can resume it even if this turn never ends.
      auto up = ctx.statement("UPDATE session SET agent_session_id = ?, agent_info_json = ?");
      sql::bind_all(*up, e["data"]["agent_session_id"].get<std::string>(),
                    e["data"].value("agent_info", Json(nullptr)).dump());
      up->exec();
    }
  }
  return Json{{"last_seq", last}};
}

Result<Json> on_permission_requested(StepContext& ctx, const Json& b) {
  auto id = b.at("permission_id").get<std::string>();
  auto options = b.value("options", Json::array());
  auto tool_call = resolved_tool_call(ctx.db(), b.value("tool_call", Json::object()));
  auto timeout = ctx.db().execAndGet("SELECT permission_timeout_ms FROM session").getInt64();
  auto deadline = now() + timeout;
  SQLite::Statement ins(ctx.db(), "INSERT INTO permissions(id, turn, tool_call_json, options_json, status, created_at, "
                                  "deadline_at) VALUES(?, ?, ?, ?, 'pending', ?, ?)");
  sql::bind_all(ins, id, b.at("turn").get<std::int64_t>(), tool_call.dump(), options.dump(), now(), deadline);
  ins.exec();
  Appender events(ctx);
  Json data{{"permission_id", id}, {"tool_call", tool_call}, {"options", options}, {"deadline_at", deadline},
            {"always_allow", rule_for(tool_call)}};
  events.add(b["turn"].get<std::int64_t>(), "permission_requested", data);
  ctx.broadcast("session.permission.requested", data);
  // What a person allowed always (this kind of call, this tool) is allowed again at once,
  // with the agent's allow-once option: the agent keeps asking, so a revoked rule holds.
  if (auto rule = rule_for(tool_call); !rule.is_null()) {
    auto rules = always_rules(Json::parse(ctx.db().execAndGet("SELECT always_allow_json FROM session").getString()));
    bool covered = std::any_of(rules.begin(), rules.end(), [&](const Json& r) { return r["rule"] == rule["rule"]; });
    auto outcome = outcome_for(options, "allow_once", "");
    if (covered && outcome) {
      resolve(ctx, events, *find_permission(ctx.db(), id), "allowed", "allow_always",
              *outcome, "policy (" + rule["label"].get<std::string>() + ")");
      return Json{{"permission_id", id}, {"status", "allowed"}, {"outcome", *outcome}};
    }
  }
  report(ctx, "permission_requested", {{"tool", tool_call.value("title", tool_call.value("kind", std::string("use a tool")))}});
  return Json{{"permission_id", id}, {"status", "pending"}, {"deadline_at", deadline}};
}

Result<Json> on_permission_reply(AgentRunner& runner, StepContext& ctx, const Json& b) {
  auto permission = find_permission(ctx.db(), b.at("permission_id").get<std::string>());
  if (!permission) return permission.error();
  if ((*permission)["status"] != "pending")
    return Error{ErrorCode::conflict, fmt::format("permission request {} is settled already ({}{})",
                                                  (*permission)["permission_id"].get<std::string>(),
                                                  (*permission)["status"].get<std::string>(),
                                                  (*permission)["answered_by"].is_string()
                                                      ? " by " + (*permission)["answered_by"].get<std::string>()
                                                      : std::string())};
  auto decision = b.value("decision", std::string());
  auto option_id = b.value("option_id", std::string());
  if (decision.empty()) {  // named an option: its kind says what it means
    bool offered = false;
    for (const auto& o : (*permission)["options"])
      if (o.value("optionId", "") == option_id) decision = o.value("kind", ""), offered = true;
    if (!offered) return Error{ErrorCode::invalid, fmt::format("the agent offered no option \"{}\"", option_id)};
    if (decision == "reject_once" || decision == "reject_always") decision = "reject";
    if (decision == "allow_once" || decision == "allow_always" || decision == "reject") option_id.clear();
  }
  auto rule = (*permission)["always_allow"];
  if (decision == "allow_always" && rule.is_null())
    return Error{ErrorCode::invalid, fmt::format("the agent does not say what kind of tool call this is (\"{}\"), so it "
                                                 "cannot be allowed always; allow it once",
                                                 (*permission)["tool_call"].value("kind", std::string("other")))};
  // The agent hears allow-once even for allow-always: Hearth keeps the rule (scoped, and
  // revocable), so the agent's own allow-always never covers more than a person chose.
  auto outcome = outcome_for((*permission)["options"], decision == "allow_always" ? "allow_once" : decision, option_id);
  if (!outcome) return outcome.error();
  auto status = decision == "reject" ? "rejected" : "allowed";
  Appender events(ctx);
  resolve(ctx, events, *permission, status, decision, *outcome, b.value("by", std::string()));
  if (decision == "allow_always") {
    auto rules = always_rules(Json::parse(ctx.db().execAndGet("SELECT always_allow_json FROM session").getString()));
    if (std::none_of(rules.begin(), rules.end(), [&](const Json& r) { return r["rule"] == rule["rule"]; })) {
      rule["by"] = b.value("by", std::string());
      rule["at"] = now();
      rules.push_back(rule);
    }
    auto up = ctx.statement("UPDATE session SET always_allow_json = ?");
    sql::bind_all(*up, rules.dump());
    up->exec();
    ctx.broadcast("session.status.changed", session_json(ctx.db(), &runner, nullptr));
  }
  ctx.after_commit([&runner, address = ctx.address(), id = (*permission)["permission_id"].get<std::string>(),
                    outcome = *outcome] { runner.answer(address, id, outcome); });
  return *find_permission(ctx.db(), (*permission)["permission_id"].get<std::string>());
}

// Takes back an allow-always rule: the next such call asks a person again.
Result<Json> on_revoke_always(AgentRunner& runner, StepContext& ctx, const Json& b) {
  auto rule = b.at("rule").get<std::string>();
  auto rules = always_rules(Json::parse(ctx.db().execAndGet("SELECT always_allow_json FROM session").getString()));
  auto kept = Json::array();
  for (const auto& r : rules)
    if (r["rule"] != rule) kept.push_back(r);
  if (kept.size() == rules.size())
    return Error{ErrorCode::not_found, fmt::format("no allow-always rule \"{}\" in this session", rule)};
  auto up = ctx.statement("UPDATE session SET always_allow_json = ?");
  sql::bind_all(*up, kept.dump());
  up->exec();
  {
    Appender events(ctx);
    events.add(turn_of(ctx.db()), "always_allow_revoked", {{"rule", rule}, {"by", b.value("by", std::string())}});
  }
  auto s = session_json(ctx.db(), &runner, &ctx.address());
  ctx.broadcast("session.status.changed", s);
  return s;
}

// Ends the session's live agent between turns, so that the next prompt starts a fresh one
// (changed org secrets reach an agent only when it starts), resuming its session.
Result<Json> on_restart(AgentRunner& runner, StepContext& ctx, const Json& b) {
  auto status = status_of(ctx.db());
  if (status == "closed") return Error{ErrorCode::conflict, "the session is closed"};
  if (status == "running" || status == "cancelling")
    return Error{ErrorCode::conflict, fmt::format("turn {} is still running; the agent restarts only between turns: "
                                                  "cancel the turn or wait for its end", turn_of(ctx.db()))};
  {
    Appender events(ctx);
    events.add(turn_of(ctx.db()), "agent_restart_requested", {{"by", b.value("by", std::string())}});
  }
  ctx.after_commit([&runner, address = ctx.address()] { runner.restart(address); });
  return session_json(ctx.db(), &runner, &ctx.address());
}

Result<Json> on_permission_timeout(AgentRunner& runner, StepContext& ctx, const Json& b) {
  auto permission = find_permission(ctx.db(), b.at("permission_id").get<std::string>());
  if (!permission) return permission.error();
  if ((*permission)["status"] != "pending") return Json{{"status", (*permission)["status"]}};
  auto outcome = outcome_for((*permission)["options"], "reject", "");
  Json answer = outcome ? *outcome : Json{{"outcome", "cancelled"}};
  Appender events(ctx);
  resolve(ctx, events, *permission, "timed_out", "reject", answer, "timeout");
  ctx.after_commit([&runner, address = ctx.address(), id = (*permission)["permission_id"].get<std::string>(),
                    answer] { runner.answer(address, id, answer); });
  return Json{{"status", "timed_out"}, {"outcome", answer}};
}

Result<Json> on_close(AgentRunner& runner, StepContext& ctx, const Json& b) {
  if (status_of(ctx.db()) == "closed") return session_json(ctx.db(), &runner, &ctx.address());
  auto by = b.value("by", std::string());
  {
    Appender events(ctx);
    cancel_pending(ctx, events, by.empty() ? "close" : by);
    events.add(turn_of(ctx.db()), "session_closed", {{"reason", b.value("reason", std::string("closed"))}, {"by", by}});
  }
  set_status(ctx, runner, "closed");
  ctx.after_commit([&runner, address = ctx.address()] { runner.close(address); });
  auto s = session_json(ctx.db(), nullptr, nullptr);
  if (auto st = ctx.send(sandbox::address(s["org_id"], s["task_id"]), sandbox::kDetachSession,
                         {{"session_id", s["session_id"]}});
      !st)
    return st.error();
  return s;
}

// --- Reads --------------------------------------------------------------------------------

Result<Json> get(AgentRunner& runner, ReadContext& ctx, const Json&) {
  auto s = session_json(ctx.db, &runner, &ctx.address);
  if (s.is_null()) return Error{ErrorCode::not_found, "no such session"};
  return s;
}

// The agent's own secrets named from its definition now; its sandbox's extra ones as
// noted when the session was created (null names: created before they were noted).
Result<Json> secret_names(ReadContext& ctx, const Json&) {
  auto q = ctx.statement("SELECT agent, task_id, agent_env_json FROM session");
  if (!q->executeStep()) return Error{ErrorCode::not_found, "no such session"};
  auto agent = q->getColumn(0).getString();
  auto env = sql::column<Json>(q->getColumn(2));
  Json names = env.is_null() ? Json(nullptr)
                             : Json(sandbox::agent_secret_names(agent, env.get<std::vector<std::string>>()));
  return Json{{"agent", agent}, {"task_id", q->getColumn(1).getString()}, {"secret_names", names}};
}

Result<Json> transcript(ReadContext& ctx, const Json& a) {
  auto after = std::max<std::int64_t>(a.value("after_seq", std::int64_t{0}), 0);
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{200}), 1, 1000);
  auto q = ctx.statement("SELECT seq, turn, kind, at, data_json FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
  sql::bind_all(*q, after, limit);
  Json items = Json::array();
  while (q->executeStep())
    items.push_back({{"seq", q->getColumn(0).getInt64()}, {"turn", q->getColumn(1).getInt64()},
                     {"kind", q->getColumn(2).getString()}, {"at", q->getColumn(3).getInt64()},
                     {"data", parse(q->getColumn(4))}});
  coalesce_messages(items);
  auto last = ctx.statement("SELECT COALESCE(MAX(seq), 0) FROM events");
  last->executeStep();
  auto last_seq = last->getColumn(0).getInt64();
  auto next = items.empty() ? after : items.back()["seq"].get<std::int64_t>();
  return Json{{"items", items}, {"next_after_seq", next}, {"last_seq", last_seq}, {"more", next < last_seq}};
}

Result<Json> permissions(ReadContext& ctx, const Json& a) {
  auto status = a.value("status", std::string());
  SQLite::Statement q(ctx.db, fmt::format("SELECT {} FROM permissions {} ORDER BY created_at DESC LIMIT 200", kPermissionColumns,
                                          status.empty() ? "" : "WHERE status = ?"));
  if (!status.empty()) sql::bind_all(q, status);
  Json items = Json::array();
  while (q.executeStep()) items.push_back(permission_json(q));
  return Json{{"items", items}};
}

}  // namespace

Status register_types(Host& host, AgentRunner& runner) {
  if (auto st = host.register_type(sandbox::make_type(runner.runtime())); !st) return st;
  if (auto st = host.register_type(task::make_type(runner.runtime())); !st) return st;
  return host.register_type(make_type(runner));
}

ActorType make_type(AgentRunner& runner) {
  ActorType t{"session"};
  t.on_create = create;
  auto with = [&runner](auto fn) {
    return [&runner, fn](StepContext& ctx, const Json& b) { return fn(runner, ctx, b); };
  };
  t.on_queue(kPrompt, with(on_prompt))
      .on_queue(kTurnEnded, with(on_turn_ended))
      .on_queue(kCancel, with(on_cancel))
      .on_queue(kAppendEvents, on_append_events)
      .on_queue(kPermissionRequested, on_permission_requested)
      .on_queue(kPermissionReply, with(on_permission_reply))
      .on_queue(kPermissionTimeout, with(on_permission_timeout))
      .on_queue(kClose, with(on_close))
      .on_queue(kRevokeAlways, with(on_revoke_always))
      .on_queue(kRestart, with(on_restart))
      .on_action(kGet, [&runner](ReadContext& ctx, const Json& a) { return get(runner, ctx, a); })
      .on_action(kSecretNames, secret_names)
      .on_action(kTranscript, transcript)
      .on_action(kPermissions, permissions);
  return t;
}

}  // namespace hearth::actors::session
