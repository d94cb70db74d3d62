// Sandboxes over HTTP: one per task. Members create, read, stop, start, retry and
// destroy them and run processes in them; choosing which org secrets a sandbox's
// agents get (agent_env, git_credential) is for org admins. See docs/http-api.md.
#include <httplib.h>

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "http/actor_calls.h"
#include "http/billing.h"
#include "http/fields.h"
#include "http/routes.h"
#include "http/streams.h"
#include "sandbox/git.h"

namespace hearth::http {

namespace sandbox_actor = actors::sandbox;

namespace {

Result<actors::Address> sandbox_address(const Context& ctx) {
  auto task = task_param(ctx);
  if (!task) return task.error();
  return sandbox_actor::address(ctx.org_id, *task);
}

// `list` (field `field`): names of org secrets that must all exist.
Result<Json> secret_names(Context& ctx, const Json& list, const char* field) {
  if (list.is_null()) return Json::array();
  if (!list.is_array() || list.size() > 64)
    return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be a list of at most 64 secret names", field)};
  auto existing = ctx.edge.host.call(actors::organization::address(ctx.org_id), actors::organization::kSecrets);
  if (!existing) return existing.error();
  Json out = Json::array();
  for (const auto& n : list) {
    if (!n.is_string()) return Error{ErrorCode::invalid, fmt::format("field \"{}\" must hold strings", field)};
    bool found = false;
    for (const auto& e : *existing) found = found || e.value("name", "") == n.get<std::string>();
    if (!found) return Error{ErrorCode::invalid, fmt::format("the org has no secret {}", n.get<std::string>())};
    out.push_back(n);
  }
  return out;
}

Result<Reply> create_sandbox(Context& ctx) {
  auto runner = ctx.edge.agent_runner();
  if (!runner) return runner.error();
  auto address = sandbox_address(ctx);
  if (!address) return address.error();
  const auto& b = ctx.body;
  Json input{{"org_id", ctx.org_id}, {"task_id", address->key[1]}, {"created_by", ctx.caller->username},
             {"provider", (*runner)->runtime().config().provider}};
  auto network = string_field(b, "network", false);
  if (!network) return network.error();
  auto parsed = hearth::sandbox::network_from(network->empty() ? "none" : *network);
  if (!parsed) return parsed.error();
  input["network"] = hearth::sandbox::to_string(*parsed);
  if (b.contains("repo_url"))
    return Error{ErrorCode::invalid, "a sandbox clones only a repository connected to its org: name it with \"repo\" "
                                     "(see GET /v1/orgs/{org}/repos), not \"repo_url\""};
  for (const char* f : {"repo", "base_branch", "branch", "author_name", "author_email"}) {
    auto v = string_field(b, f, false);
    if (!v) return v.error();
    if (v->size() > 1024) return Error{ErrorCode::invalid, fmt::format("field \"{}\" is too long", f)};
    if (!v->empty()) input[f] = *v;
  }
  if (!input.contains("branch")) input["branch"] = "hearth/" + address->key[1];
  if (input.contains("repo")) {
    auto repo = ctx.edge.host.call(actors::organization::address(ctx.org_id), actors::organization::kRepo,
                                   {{"repo_id", input["repo"]}});
    if (!repo) return repo.error();
    input["repo_url"] = (*repo)["url"];
    if ((*repo)["credential"].is_string()) input["git_credential"] = (*repo)["credential"];
    hearth::sandbox::CheckoutSpec spec;
    spec.base_branch = input.value("base_branch", "");
    spec.task_branch = input["branch"];
    if (auto st = hearth::sandbox::validate(spec); !st) return st.error();
  }
  bool admin = actors::organization::role_rank(ctx.role) >= actors::organization::role_rank("admin");
  auto env = secret_names(ctx, b.value("agent_env", Json()), "agent_env");
  if (!env) return env.error();
  auto credential = string_field(b, "git_credential", false);  // overrides the repository's
  if (!credential) return credential.error();
  if ((!env->empty() || !credential->empty()) && !admin)
    return Error{ErrorCode::forbidden, "choosing which org secrets a sandbox gets (agent_env, git_credential) is for "
                                       "org admins"};
  input["agent_env"] = *env;
  if (!credential->empty()) {
    auto checked = secret_names(ctx, Json::array({*credential}), "git_credential");
    if (!checked) return checked.error();
    input["git_credential"] = *credential;
  }
  auto exists = ctx.edge.host.exists(*address);
  if (!exists) return exists.error();
  if (*exists) {
    auto current = ctx.edge.host.call(*address, sandbox_actor::kGet);
    return Error{ErrorCode::conflict,
                 fmt::format("task {} has a sandbox already ({}); destroy it and retry to start over", address->key[1],
                             current ? (*current)["state"].get<std::string>() : "unknown")};
  }
  if (auto st = ctx.edge.host.get_or_create(*address, input); !st) return st.error();
  auto made = ctx.edge.host.call(*address, sandbox_actor::kGet);
  if (!made) return made.error();
  spdlog::info("sandbox.created by={} org={} task={} network={}", ctx.caller->user_id, ctx.org_id, address->key[1],
               input["network"].get<std::string>());
  return Reply{201, *made};
}

Result<Reply> get_sandbox(Context& ctx) { return read(ctx, sandbox_address(ctx), sandbox_actor::kGet); }

// POST .../sandbox/{stop,start,retry} and DELETE .../sandbox: one queue each.
Handler command(const char* queue) {
  return [queue](Context& ctx) {
    return change(ctx, sandbox_address(ctx), queue, {{"by", ctx.caller->username}});
  };
}

Result<Reply> exec(Context& ctx) {
  auto address = sandbox_address(ctx);
  if (!address) return address.error();
  const auto& b = ctx.body;
  if (!b.contains("argv") || !b["argv"].is_array() || b["argv"].empty() || b["argv"].size() > 4096)
    return Error{ErrorCode::invalid, "field \"argv\" must be a non-empty list of strings (the program first)"};
  for (const auto& a : b["argv"])
    if (!a.is_string()) return Error{ErrorCode::invalid, "field \"argv\" must hold strings"};
  Json body{{"argv", b["argv"]}, {"by", ctx.caller->username}};
  if (b.contains("env")) {
    if (!b["env"].is_object()) return Error{ErrorCode::invalid, "field \"env\" must be an object of NAME: value"};
    Json env = Json::array();
    for (const auto& [k, v] : b["env"].items()) {
      if (!v.is_string()) return Error{ErrorCode::invalid, fmt::format("env {} must be a string", k)};
      env.push_back(k + "=" + v.get<std::string>());
    }
    body["env"] = env;
  }
  auto cwd = string_field(b, "cwd", false);
  if (!cwd) return cwd.error();
  body["cwd"] = *cwd;
  auto input = string_field(b, "stdin", false);
  if (!input) return input.error();
  body["stdin"] = *input;
  for (const char* f : {"timeout_ms", "idle_timeout_ms"}) {
    auto v = int_field(b, f, 100, 24LL * 3600 * 1000);
    if (!v) return v.error();
    if (*v) body[f] = **v;
  }
  hearth::sandbox::ExecRequest probe;
  for (const auto& a : body["argv"]) probe.argv.push_back(a);
  for (const auto& e : body.value("env", Json::array())) probe.env.push_back(e);
  probe.cwd = *cwd;
  if (auto st = hearth::sandbox::validate(probe); !st) return st.error();
  return change(ctx, address, sandbox_actor::kExec, body, 201);
}

Result<std::int64_t> process_param(const Context& ctx) {
  const auto& text = ctx.param("process");
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
    return Error{ErrorCode::invalid, "a process id is a positive integer"};
  return id;
}

Result<Reply> list_processes(Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto cursor = ctx.int_query("cursor", 0, 0, std::numeric_limits<std::int64_t>::max());
  if (!cursor) return cursor.error();
  return read(ctx, sandbox_address(ctx), sandbox_actor::kProcesses, {{"limit", *limit}, {"before_id", *cursor}});
}

Result<Reply> get_process(Context& ctx) {
  auto id = process_param(ctx);
  if (!id) return id.error();
  return read(ctx, sandbox_address(ctx), sandbox_actor::kProcess, {{"process_id", *id}});
}

Result<Reply> process_output(Context& ctx) {
  auto id = process_param(ctx);
  if (!id) return id.error();
  auto offset = ctx.int_query("offset", 0, 0, std::numeric_limits<std::int64_t>::max());
  if (!offset) return offset.error();
  auto limit = ctx.int_query("limit_bytes", 256 << 10, 1, 4 << 20);
  if (!limit) return limit.error();
  return read(ctx, sandbox_address(ctx), sandbox_actor::kProcessOutput,
              {{"process_id", *id}, {"offset", *offset}, {"limit_bytes", *limit}});
}

Result<Reply> kill_process(Context& ctx) {
  auto id = process_param(ctx);
  if (!id) return id.error();
  return change(ctx, sandbox_address(ctx), sandbox_actor::kKill, {{"process_id", *id}});
}

Result<Reply> sandbox_events(Context& ctx) {
  auto address = sandbox_address(ctx);
  if (auto st = must_exist(ctx, address, "sandbox"); !st) return st.error();
  return event_stream(ctx, address->id());
}

}  // namespace

void add_sandbox_routes(Router& r) {
  const std::string base = "/v1/orgs/{org}/tasks/{task}/sandbox";
  r.add({"POST", base, Policy::org_member, "sandbox", gated(actors::billing::Work::task, create_sandbox)});
  r.add({"GET", base, Policy::org_member, "sandbox", get_sandbox});
  r.add({"DELETE", base, Policy::org_member, "sandbox", command(sandbox_actor::kDestroy)});
  r.add({"POST", base + "/stop", Policy::org_member, "sandbox", command(sandbox_actor::kStop)});
  r.add({"POST", base + "/start", Policy::org_member, "sandbox", gated(actors::billing::Work::task, command(sandbox_actor::kStart))});
  r.add({"POST", base + "/retry", Policy::org_member, "sandbox", gated(actors::billing::Work::task, command(sandbox_actor::kRetry))});
  r.add({"GET", base + "/events", Policy::org_member, "sandbox", sandbox_events});
  r.add({"POST", base + "/processes", Policy::org_member, "sandbox", exec});
  r.add({"GET", base + "/processes", Policy::org_member, "sandbox", list_processes});
  r.add({"GET", base + "/processes/{process}", Policy::org_member, "sandbox", get_process});
  r.add({"GET", base + "/processes/{process}/output", Policy::org_member, "sandbox", process_output});
  r.add({"POST", base + "/processes/{process}/kill", Policy::org_member, "sandbox", kill_process});
}

}  // namespace hearth::http
