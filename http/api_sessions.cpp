// Agent sessions over HTTP: create one in a task's sandbox, prompt it, cancel its
// turn, answer its permission requests, read its transcript page by page or follow it
// live (Server-Sent Events whose ids are transcript seqs, so that Last-Event-ID resumes
// exactly), close it. Also the agents this server can run. See docs/http-api.md.
#include <httplib.h>

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/identity/identity.h"
#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/sandbox/secrets.h"
#include "actors/session/agent_runner.h"
#include "actors/session/session_actor.h"
#include "actors/task/task_actor.h"
#include "http/actor_calls.h"
#include "http/billing.h"
#include "http/fields.h"
#include "http/routes.h"
#include "http/streams.h"
#include "sandbox/agents.h"

namespace hearth::http {
namespace {

namespace session = actors::session;

Result<actors::Address> session_address(const Context& ctx) {
  auto task = task_param(ctx);
  if (!task) return task.error();
  const auto& id = ctx.param("session");
  bool ok = id.size() > 2 && id.size() <= 64 && id.rfind("s_", 0) == 0;
  for (unsigned char c : id) ok = ok && (std::isalnum(c) || c == '_');
  if (!ok) return Error{ErrorCode::not_found, "no such session"};
  return session::address(ctx.org_id, *task, id);
}

// The org secrets the session's agent is given (its sandbox's agent_env, the agent's
// credentials and settings), named when the session was created: one read. A session
// from before they were kept names none, so its sandbox is asked for its agent_env.
Result<std::vector<std::string>> secret_names(Context& ctx, const actors::Address& address) {
  auto s = ctx.edge.host.call(address, session::kSecretNames);
  if (!s) return s.error();
  if (!(*s)["secret_names"].is_null()) return (*s)["secret_names"].get<std::vector<std::string>>();
  auto sandbox = ctx.edge.host.call(actors::sandbox::address(ctx.org_id, (*s)["task_id"]), actors::sandbox::kGet);
  if (!sandbox) return sandbox.error();
  return actors::sandbox::agent_secret_names((*s)["agent"], (*sandbox)["agent_env"].get<std::vector<std::string>>());
}

// A task's sessions come through the task; a bare sandbox (no task actor) gets one directly.
Result<Reply> create_session(Context& ctx) {
  auto runner = ctx.edge.agent_runner();
  if (!runner) return runner.error();
  if (auto st = plan_allows(ctx, actors::billing::Work::session); !st) return st.error();
  auto task = task_param(ctx);
  if (!task) return task.error();
  auto has_task = ctx.edge.host.exists(actors::task::address(ctx.org_id, *task));
  if (!has_task) return has_task.error();
  if (*has_task) return create_task_session(ctx);
  auto agent = string_field(ctx.body, "agent", false);
  if (!agent) return agent.error();
  if (agent->empty()) *agent = "mock";
  auto def = hearth::sandbox::find_agent(*agent);
  if (!def) return def.error();
  auto title = optional_title(ctx.body);
  if (!title) return title.error();
  auto timeout = int_field(ctx.body, "permission_timeout_s", 1, 7 * 24 * 3600);
  if (!timeout) return timeout.error();
  auto sandbox = ctx.edge.host.call(actors::sandbox::address(ctx.org_id, *task), actors::sandbox::kGet);
  if (!sandbox) {
    if (sandbox.error().code == ErrorCode::not_found)
      return Error{ErrorCode::conflict, fmt::format("task {} has no sandbox; create it first", *task)};
    return sandbox.error();
  }
  auto state = (*sandbox)["state"].get<std::string>();
  if (state == "destroyed" || state == "destroying")
    return Error{ErrorCode::conflict, fmt::format("the sandbox of task {} is {}", *task, state)};
  auto id = identity::new_id("s_");
  auto address = session::address(ctx.org_id, *task, id);
  auto ms = *timeout ? **timeout * 1000 : (*runner)->runtime().config().permission_timeout.count();
  Json input{{"org_id", ctx.org_id}, {"task_id", *task}, {"session_id", id}, {"agent", *agent},
             {"created_by", ctx.caller->username}, {"permission_timeout_ms", ms}, {"agent_env", (*sandbox)["agent_env"]}};
  if (!title->empty()) input["title"] = *title;
  if (auto st = ctx.edge.host.get_or_create(address, input); !st) return st.error();
  auto made = ctx.edge.host.call(address, session::kGet);
  if (!made) return made.error();
  spdlog::info("session.created by={} org={} task={} session={} agent={}", ctx.caller->user_id, ctx.org_id, *task, id,
               *agent);
  return Reply{201, *made};
}

Result<Reply> list_sessions(Context& ctx) {
  auto task = task_param(ctx);
  if (!task) return task.error();
  auto sandbox = ctx.edge.host.call(actors::sandbox::address(ctx.org_id, *task), actors::sandbox::kGet);
  if (!sandbox) return sandbox.error();
  Json items = Json::array();
  for (const auto& s : (*sandbox)["sessions"]) {
    auto address = session::address(ctx.org_id, *task, s["session_id"]);
    auto at = position(ctx, address.id());
    auto one = ctx.edge.host.call(address, session::kGet);
    if (!one) continue;
    (*one)["position"] = at;
    items.push_back(*one);
  }
  return Reply{200, Json{{"items", items}}};
}

Result<Reply> get_session(Context& ctx) { return read(ctx, session_address(ctx), session::kGet); }

Result<Reply> prompt(Context& ctx) {
  auto address = session_address(ctx);
  if (!address) return address.error();
  auto text = prompt_field(ctx.body, "text", true);
  if (!text) return text.error();
  if (auto st = plan_allows(ctx, actors::billing::Work::turn); !st) return st.error();
  // The secret values the session's agent gets never reach the transcript through a prompt.
  auto names = secret_names(ctx, *address);
  if (!names) return names.error();
  auto secrets = ctx.edge.secrets();
  if (!secrets) return secrets.error();
  auto redacted = (*secrets)->redact(ctx.org_id, *names, *text);
  if (!redacted) return redacted.error();
  return change(ctx, address, session::kPrompt, {{"text", *redacted}, {"by", ctx.caller->username}}, 202);
}

Result<Reply> cancel(Context& ctx) {
  return change(ctx, session_address(ctx), session::kCancel, {{"by", ctx.caller->username}}, 202);
}

Result<Reply> close(Context& ctx) {
  return change(ctx, session_address(ctx), session::kClose, {{"by", ctx.caller->username}, {"reason", "closed by a person"}});
}

// POST …/restart: the next prompt starts a fresh agent (with the org's secrets as they
// are then), resuming the conversation; 409 while a turn runs.
Result<Reply> restart(Context& ctx) {
  return change(ctx, session_address(ctx), session::kRestart, {{"by", ctx.caller->username}});
}

Result<Reply> permissions(Context& ctx) {
  auto address = session_address(ctx);
  if (!address) return address.error();
  auto status = ctx.query("status");
  if (!status.empty() && status != "pending" && status != "allowed" && status != "rejected" && status != "timed_out" &&
      status != "cancelled")
    return Error{ErrorCode::invalid, "status must be pending, allowed, rejected, timed_out or cancelled"};
  return read(ctx, address, session::kPermissions, {{"status", status}});
}

Result<Reply> answer(Context& ctx) {
  auto address = session_address(ctx);
  if (!address) return address.error();
  auto decision = string_field(ctx.body, "decision", false);
  if (!decision) return decision.error();
  auto option = string_field(ctx.body, "option_id", false);
  if (!option) return option.error();
  if (decision->empty() == option->empty())
    return Error{ErrorCode::invalid, "give either \"decision\" (allow_once, allow_always or reject) or \"option_id\""};
  if (!decision->empty() && *decision != "allow_once" && *decision != "allow_always" && *decision != "reject")
    return Error{ErrorCode::invalid, "field \"decision\" must be allow_once, allow_always or reject"};
  Json body{{"permission_id", ctx.param("permission")}, {"by", ctx.caller->username}};
  if (!decision->empty()) body["decision"] = *decision;
  else body["option_id"] = *option;
  return change(ctx, address, session::kPermissionReply, body);
}

// DELETE …/always-allow/{rule}: the next such tool call asks a person again.
Result<Reply> revoke_always(Context& ctx) {
  const auto& rule = ctx.param("rule");
  bool ok = !rule.empty() && rule.size() <= 200;
  for (unsigned char c : rule) ok = ok && (std::isalnum(c) || c == '_' || c == '-' || c == ':' || c == '.');
  if (!ok) return Error{ErrorCode::not_found, "no such allow-always rule"};
  return change(ctx, session_address(ctx), session::kRevokeAlways, {{"rule", rule}, {"by", ctx.caller->username}});
}

Result<Reply> transcript(Context& ctx) {
  auto address = session_address(ctx);
  if (!address) return address.error();
  auto after = ctx.int_query("after_seq", 0, 0, std::numeric_limits<std::int64_t>::max());
  if (!after) return after.error();
  auto limit = ctx.int_query("limit", 200, 1, 1000);
  if (!limit) return limit.error();
  return read(ctx, address, session::kTranscript, {{"after_seq", *after}, {"limit", *limit}});
}

std::string frame(const Json& event) {
  return fmt::format("id: {}\nevent: transcript\ndata: {}\n\n", event["seq"].get<std::int64_t>(),
                     event.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// The live transcript: events after Last-Event-ID (or ?after_seq) from the session's
// database, then live ones as they commit. Subscribing before reading leaves no gap;
// seqs already sent are skipped; a gap or a lagging subscription is filled from the
// database again. Status and permission changes are sent as events without ids, those
// after ?position= (from a read of the session) replayed first, or `reset` when they
// can no longer be: the client reads the session again.
Result<Reply> events(Context& ctx) {
  auto address = session_address(ctx);
  if (auto st = must_exist(ctx, address, "session"); !st) return st.error();
  std::int64_t after = 0;
  auto last = ctx.req.get_header_value("Last-Event-ID");
  if (!last.empty()) {
    auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), after);
    if (ec != std::errc() || end != last.data() + last.size() || after < 0)
      return Error{ErrorCode::invalid, "Last-Event-ID must be a transcript seq (a non-negative integer)"};
  } else {
    auto q = ctx.int_query("after_seq", 0, 0, std::numeric_limits<std::int64_t>::max());
    if (!q) return q.error();
    after = *q;
  }
  struct State {
    std::shared_ptr<actors::Subscription> sub;
    std::int64_t last_sent;
    bool catch_up = true;
  };
  bool reset = false;
  auto sub = resume(ctx, address->id(), ctx.query("position"), reset);
  auto state = std::make_shared<State>(State{std::move(sub), after});
  auto& host = ctx.edge.host;
  std::string preamble;
  if (reset) preamble = "event: reset\ndata: {\"reason\":\"missed events are no longer retained\"}\n\n";
  return serve_stream(ctx, [&host, state, address = *address](const StreamWrite& write) {
    auto& s = *state;
    if (s.catch_up) {
      auto page = host.call(address, session::kTranscript, {{"after_seq", s.last_sent}, {"limit", 500}});
      if (!page) return false;
      for (const auto& e : (*page)["items"]) {
        if (!write(frame(e))) return false;
        s.last_sent = e["seq"].get<std::int64_t>();
      }
      s.catch_up = (*page)["more"].get<bool>();
      return true;
    }
    auto e = s.sub->next(std::chrono::milliseconds(500));
    if (s.sub->take_lagged()) {
      s.catch_up = true;
      return true;
    }
    if (!e) return !s.sub->closed();
    if (e->name != "session.events.appended") {
      return write(fmt::format("event: {}\ndata: {}\n\n", e->name,
                               e->payload.dump(-1, ' ', false, Json::error_handler_t::replace)));
    }
    for (const auto& ev : e->payload["events"]) {
      auto seq = ev["seq"].get<std::int64_t>();
      if (seq <= s.last_sent) continue;
      if (seq != s.last_sent + 1) {  // missed some: read them
        s.catch_up = true;
        return true;
      }
      if (!write(frame(ev))) return false;
      s.last_sent = seq;
    }
    return true;
  }, std::move(preamble));
}

Result<Reply> agents(Context& ctx) {
  auto runner = ctx.edge.agent_runner();
  if (!runner) return runner.error();
  auto secrets = ctx.edge.host.call(actors::organization::address(ctx.org_id), actors::organization::kSecrets);
  if (!secrets) return secrets.error();
  auto has = [&](const std::string& name) {
    for (const auto& s : *secrets)
      if (s.value("name", "") == name) return true;
    return false;
  };
  const auto& data_dir = (*runner)->runtime().config().data_dir;
  Json items = Json::array();
  for (const auto& def : hearth::sandbox::agent_registry()) {
    auto installed = hearth::sandbox::installed_version(data_dir, def);
    Json credentials = Json::array();
    bool configured = def.credentials.empty();
    for (const auto& name : def.credentials) {
      credentials.push_back({{"name", name}, {"set", has(name)}});
      configured = configured || has(name);
    }
    Json settings = Json::array();
    for (const auto& name : def.settings) settings.push_back({{"name", name}, {"set", has(name)}});
    items.push_back({{"name", def.name},
                     {"title", def.title},
                     {"package", def.package.empty() ? Json(nullptr) : Json(def.package)},
                     {"version", def.version.empty() ? Json(nullptr) : Json(def.version)},
                     {"installed", installed.has_value()},
                     {"installed_version", installed ? Json(*installed) : Json(nullptr)},
                     {"credentials", credentials},
                     {"credentials_configured", configured},
                     {"settings", settings},
                     {"needs_network", def.needs_network},
                     {"example", def.example}});
  }
  return Reply{200, Json{{"items", items}}};
}

}  // namespace

void add_session_routes(Router& r) {
  const std::string base = "/v1/orgs/{org}/tasks/{task}/sessions";
  r.add({"POST", base, Policy::org_member, "session", create_session});
  r.add({"GET", base, Policy::org_member, "session", list_sessions});
  r.add({"GET", base + "/{session}", Policy::org_member, "session", get_session});
  r.add({"DELETE", base + "/{session}", Policy::org_member, "session", close});
  r.add({"POST", base + "/{session}/prompt", Policy::org_member, "session", prompt});
  r.add({"POST", base + "/{session}/cancel", Policy::org_member, "session", cancel});
  r.add({"POST", base + "/{session}/restart", Policy::org_member, "session", restart});
  r.add({"GET", base + "/{session}/permissions", Policy::org_member, "session", permissions});
  r.add({"POST", base + "/{session}/permissions/{permission}", Policy::org_member, "session", answer});
  r.add({"DELETE", base + "/{session}/always-allow/{rule}", Policy::org_member, "session", revoke_always});
  r.add({"GET", base + "/{session}/transcript", Policy::org_member, "session", transcript});
  r.add({"GET", base + "/{session}/events", Policy::org_member, "session", events});
  r.add({"GET", "/v1/orgs/{org}/agents", Policy::org_member, "session", agents});
}

}  // namespace hearth::http
