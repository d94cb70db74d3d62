// Tasks over HTTP: create, list, read, the commands, the git flows, the diff, the
// task's event stream, and a task's new sessions. See docs/http-api.md.
#include <charconv>
#include <filesystem>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "actors/github_data/github_data_actor.h"
#include "actors/identity/identity.h"
#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/sandbox/secrets.h"
#include "actors/session/agent_runner.h"
#include "actors/session/session_actor.h"
#include "actors/task/task_actor.h"
#include "actors/task/task_state.h"
#include "actors/user/user_actor.h"
#include "http/actor_calls.h"
#include "http/billing.h"
#include "http/fields.h"
#include "http/remote.h"
#include "http/routes.h"
#include "http/streams.h"
#include "sandbox/agents.h"
#include "sandbox/git.h"
#include "storage/text.h"

namespace hearth::http {
namespace {

namespace task = actors::task;
namespace org = actors::organization;

Result<actors::Address> task_address(const Context& ctx) {
  auto id = task_param(ctx);
  if (!id) return id.error();
  return task::address(ctx.org_id, *id);
}

// Who asks, as every task command records it.
Json by(const Context& ctx, Json body = Json::object()) {
  body["by"] = ctx.caller->username;
  body["by_id"] = ctx.caller->user_id;
  return body;
}

// A command to the task in the path (404 when there is none), saying who asks.
Result<Reply> to_task(Context& ctx, const char* queue, Json body = Json::object(), int status = 200) {
  auto address = task_address(ctx);
  if (auto st = must_exist(ctx, address, "task"); !st) return st.error();
  return change(ctx, address, queue, by(ctx, std::move(body)), status);
}

// `text` redacted of the org secrets the task's agent is given (named when the task was
// created): one read of the task.
Result<std::string> redact_for_task(Context& ctx, const actors::Address& address, const std::string& text) {
  auto t = ctx.edge.host.call(address, task::kSecretNames);
  if (!t) return t.error();
  auto secrets = ctx.edge.secrets();
  if (!secrets) return secrets.error();
  return (*secrets)->redact(ctx.org_id, (*t)["secret_names"].get<std::vector<std::string>>(), text);
}

// `text` redacted of the org secrets `agent` is given in a task's sandbox (which has no
// agent_env): no read at all.
Result<std::string> redact_for_agent(Context& ctx, const std::string& agent, const std::string& text) {
  auto secrets = ctx.edge.secrets();
  if (!secrets) return secrets.error();
  return (*secrets)->redact(ctx.org_id, actors::sandbox::agent_secret_names(agent), text);
}

// A base branch the remote does not have is refused now (a provisioning error would
// follow, and no retry could mend it).
Status check_base_branch(Context& ctx, actors::sandbox::Runtime& rt, const Json& repo, const std::string& base) {
  if (base.empty() || base == repo["default_branch"]) return {};
  auto remote = describe_remote(rt, ctx.org_id, repo["url"],
                                repo["credential"].is_string() ? repo["credential"].get<std::string>() : "");
  if (!remote) return remote.error();
  std::vector<std::string> names;
  for (const auto& b : (*remote)["items"]) names.push_back(b["name"]);
  if (std::find(names.begin(), names.end(), base) != names.end()) return {};
  if (names.size() > 10) names.resize(10), names.push_back("…");
  return Error{ErrorCode::invalid, fmt::format("repository {} has no branch \"{}\" (it has: {})",
                                               repo["repo_id"].get<std::string>(), base,
                                               names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")))};
}

// The edge checks what only it can (the body's shape, that the agent is installed on
// this server's disk, that the remote has the base branch) and redacts the prompt before
// its first durable write; the organization decides the rest (title, branch, network)
// in the one message it is sent. The install probe stays here: it reads the server's
// data dir, which the organization's actor does not know.
Result<Reply> create_task(Context& ctx) {
  auto runner = ctx.edge.agent_runner();
  if (!runner) return runner.error();
  auto caps = plan_allows(ctx, actors::billing::Work::task);
  if (!caps) return caps.error();
  // "Work on this pull request": {"pull": a listed pull request's id} instead of a
  // repository, the prompt optional (the pull request says what the branch is for).
  auto pull = string_field(ctx.body, "pull", false);
  if (!pull) return pull.error();
  auto repo_id = pull->empty() ? string_field(ctx.body, "repo") : Result<std::string>(std::string());
  if (!repo_id) return repo_id.error();
  auto prompt = prompt_field(ctx.body, "prompt", pull->empty());
  if (!prompt) return prompt.error();
  auto agent = string_field(ctx.body, "agent", false);
  if (!agent) return agent.error();
  if (agent->empty()) *agent = "mock";
  auto def = hearth::sandbox::find_agent(*agent);
  if (!def) return def.error();
  auto data_dir = (*runner)->runtime().config().data_dir;
  if (!hearth::sandbox::installed_version(data_dir, **def))
    return Error{ErrorCode::conflict, fmt::format("the agent {} is not installed on this server; an admin runs "
                                                  "`hearth agents install {}`", *agent, *agent)};
  // Each field's type first, then the branch names, then the title's length: the order
  // of the errors a client sees.
  Json fields;
  for (const char* f : {"base_branch", "branch", "title"}) {
    auto v = string_field(ctx.body, f, false);
    if (!v) return v.error();
    fields[f] = *v;
  }
  for (const char* f : {"base_branch", "branch"}) {
    auto v = fields[f].get<std::string>();
    if (!v.empty() && !hearth::sandbox::valid_branch(v))
      return Error{ErrorCode::invalid, fmt::format("field \"{}\": \"{}\" is not a valid branch name", f, v.substr(0, 200))};
  }
  auto title = optional_title(ctx.body);
  if (!title) return title.error();
  auto timeout = int_field(ctx.body, "permission_timeout_s", 1, 7 * 24 * 3600);
  if (!timeout) return timeout.error();
  if (pull->empty()) {
    auto repo = ctx.edge.host.call(org::address(ctx.org_id), org::kRepo, {{"repo_id", *repo_id}});
    if (!repo) return repo.error();
    if (auto st = check_base_branch(ctx, (*runner)->runtime(), *repo, fields["base_branch"]); !st) return st.error();
  } else if (!fields["base_branch"].get<std::string>().empty() || !fields["branch"].get<std::string>().empty()) {
    return Error{ErrorCode::invalid, "a task on a pull request works on its branch, into its base: give no branch "
                                     "or base_branch"};
  }
  auto redacted = redact_for_agent(ctx, *agent, *prompt);
  if (!redacted) return redacted.error();
  Json body{{"task_id", identity::new_id("t_")},
            {"prompt", *redacted},
            {"agent", *agent},
            {"owner", {{"user_id", ctx.caller->user_id}, {"username", ctx.caller->username}}}};
  if (pull->empty()) body["repo_id"] = *repo_id;
  else body["pull_id"] = *pull;
  if (!title->empty()) body["title"] = *title;
  if (!fields["base_branch"].get<std::string>().empty()) body["base_branch"] = fields["base_branch"];
  if (!fields["branch"].get<std::string>().empty()) body["branch"] = fields["branch"];
  if (*timeout) body["permission_timeout_ms"] = **timeout * 1000;
  if (!caps->is_null()) body["caps"] = *caps;
  auto r = ctx.edge.send(org::address(ctx.org_id), org::kCreateTask, body, true);
  if (!r) return r.error();
  spdlog::info("task.created by={} org={} task={} repo={} agent={}", ctx.caller->user_id, ctx.org_id,
               body["task_id"].get<std::string>(), r->result.value("repo_id", std::string()), *agent);
  return Reply{201, r->result};
}

Result<Reply> list_tasks(Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto archived = ctx.query("archived", "exclude");
  if (archived != "exclude" && archived != "include" && archived != "only")
    return Error{ErrorCode::invalid, "archived must be exclude, include or only"};
  auto status = ctx.query("status");
  auto listed = task::parse_status(status);
  if (!status.empty() && !listed && status != "pull_request")
    return Error{ErrorCode::invalid, "status must be one of provisioning, running, idle, conflict, error, archived, "
                                     "killed, pull_request"};
  auto pulls = ctx.query("pulls", "include");
  if (pulls != "include" && pulls != "exclude" && pulls != "only")
    return Error{ErrorCode::invalid, "pulls must be include, exclude or only"};
  if (listed == task::TaskStatus::archived || listed == task::TaskStatus::killed) archived = "include";
  auto owner = ctx.query("owner");
  if (owner == "me") owner = ctx.caller->user_id;
  else if (!owner.empty()) {
    // Someone who is not a member owns no task here: the same empty answer as a member
    // with none, whether or not such a user exists.
    auto member = member_named(ctx, owner);
    if (!member && member.error().code != ErrorCode::not_found) return member.error();
    if (!member)
      return positioned(ctx, position(ctx, org::address(ctx.org_id).id()),
                        Json{{"items", Json::array()}, {"next_cursor", nullptr}});
    owner = (*member)["user_id"];
  }
  auto q = ctx.query("q");
  if (q.size() > 200) return Error{ErrorCode::invalid, "q is at most 200 characters"};
  auto needs_you = ctx.query("needs_you");
  if (!needs_you.empty() && needs_you != "1" && needs_you != "0" && needs_you != "true" && needs_you != "false")
    return Error{ErrorCode::invalid, "needs_you is 1 (only tasks that wait for a person) or 0"};
  return read(ctx, org::address(ctx.org_id), org::kTasks,
              {{"repo", ctx.query("repo")}, {"status", status}, {"owner", owner}, {"archived", archived}, {"q", q},
               {"needs_you", needs_you == "1" || needs_you == "true"}, {"pulls", pulls}, {"after", ctx.query("after")},
               {"limit", *limit}});
}

// The task from its actor, or (in the moment between creation and the actor's first
// step) the organization's summary of it.
Result<Reply> get_task(Context& ctx) {
  auto address = task_address(ctx);
  if (!address) return address.error();
  auto at = position(ctx, address->id());
  auto t = ctx.edge.host.call(*address, task::kGet);
  if (t) return positioned(ctx, at, std::move(*t));
  if (t.error().code != ErrorCode::not_found) return t.error();
  auto summary = ctx.edge.host.call(org::address(ctx.org_id), org::kTask, {{"task_id", address->key[1]}});
  if (!summary) return Error{ErrorCode::not_found, "no such task"};
  // The org has the task, its actor not yet: the index's summary, shaped as a task (its
  // `sessions` is a count in listings; here the list, empty until the task starts one).
  (*summary)["sessions"] = Json::array();
  return Reply{200, *summary};
}

Handler command(const char* queue, int status = 200) {
  return [queue, status](Context& ctx) { return to_task(ctx, queue, Json::object(), status); };
}

// POST .../push and .../merge {force?}: force replaces the branch even though someone
// else pushed to it on GitHub.
Handler replacing(const char* queue) {
  return [queue](Context& ctx) -> Result<Reply> {
    if (auto st = only_fields(ctx.body, {"force"}); !st) return st.error();
    auto force = bool_field(ctx.body, "force");
    if (!force) return force.error();
    return to_task(ctx, queue, force->value_or(false) ? Json{{"force", true}} : Json::object(), 202);
  };
}

Result<Reply> rename(Context& ctx) {
  auto title = title_field(ctx.body);
  if (!title) return title.error();
  return to_task(ctx, task::kRename, {{"title", *title}});
}

Result<Reply> change_owner(Context& ctx) {
  auto username = string_field(ctx.body, "username");
  if (!username) return username.error();
  auto member = member_named(ctx, *username);
  if (!member) return Error{member.error().code == ErrorCode::not_found ? ErrorCode::invalid : member.error().code,
                            member.error().message};
  return to_task(ctx, task::kChangeOwner, {{"user_id", (*member)["user_id"]}, {"username", *username}});
}

Result<Reply> prompt(Context& ctx) {
  auto text = prompt_field(ctx.body, "text", true);
  if (!text) return text.error();
  if (auto st = plan_allows(ctx, actors::billing::Work::turn); !st) return st.error();
  auto session_id = string_field(ctx.body, "session_id", false);
  if (!session_id) return session_id.error();
  auto address = task_address(ctx);
  if (!address) return address.error();
  auto redacted = redact_for_task(ctx, *address, *text);
  if (!redacted) return redacted.error();
  Json body = by(ctx, {{"text", *redacted}});
  if (!session_id->empty()) body["session_id"] = *session_id;
  return change(ctx, address, task::kPrompt, body, 202);
}

}  // namespace

Result<Reply> create_task_session(Context& ctx) {
  auto address = task_address(ctx);
  if (auto st = must_exist(ctx, address, "task"); !st) return st.error();
  if (auto st = plan_allows(ctx, actors::billing::Work::session); !st) return st.error();
  auto agent = string_field(ctx.body, "agent", false);
  if (!agent) return agent.error();
  if (!agent->empty())
    if (auto def = hearth::sandbox::find_agent(*agent); !def) return def.error();
  auto title = optional_title(ctx.body);
  if (!title) return title.error();
  auto text = prompt_field(ctx.body, "prompt", false);
  if (!text) return text.error();
  Json body = by(ctx, {{"agent", *agent}, {"title", *title}});
  if (!text->empty()) {
    auto redacted = agent->empty() ? redact_for_task(ctx, *address, *text) : redact_for_agent(ctx, *agent, *text);
    if (!redacted) return redacted.error();
    body["prompt"] = *redacted;
  }
  return change(ctx, address, task::kCreateSession, body, 201);
}

namespace {

Result<Reply> rename_session(Context& ctx) {
  auto title = title_field(ctx.body);
  if (!title) return title.error();
  return to_task(ctx, task::kRenameSession, {{"session_id", ctx.param("session")}, {"title", *title}});
}

Result<Reply> commit(Context& ctx) {
  auto message = string_field(ctx.body, "message", false);
  if (!message) return message.error();
  if (message->size() > 10000) return Error{ErrorCode::invalid, "field \"message\" is at most 10000 characters"};
  Json body = Json::object();
  if (!message->empty()) body["message"] = *message;
  return to_task(ctx, task::kCommit, body, 202);
}

// A path in the work tree: relative, no "..", no NUL, at most 4096 bytes.
Result<std::string> work_path(const Json& body) {
  auto path = string_field(body, "path");
  if (!path) return path.error();
  if (path->empty() || path->size() > 4096 || path->front() == '/' || path->find('\0') != std::string::npos)
    return Error{ErrorCode::invalid, "field \"path\" must be a path relative to the repository's root"};
  std::filesystem::path p(*path);
  for (const auto& part : p)
    if (part == ".." || part == ".git") return Error{ErrorCode::invalid, "field \"path\" must stay inside the work tree"};
  return path;
}

Result<Reply> revert(Context& ctx) {
  auto path = work_path(ctx.body);
  if (!path) return path.error();
  return to_task(ctx, task::kRevert, {{"path", *path}}, 202);
}

Result<Reply> diff(Context& ctx) {
  auto limit = ctx.int_query("limit", 100, 1, 5000);
  if (!limit) return limit.error();
  return read(ctx, task_address(ctx), task::kDiff, {{"after", ctx.query("after")}, {"limit", *limit}});
}

Result<Reply> diff_file(Context& ctx) {
  auto path = ctx.query("path");
  if (path.empty()) return Error{ErrorCode::invalid, "give the file as ?path="};
  return read(ctx, task_address(ctx), task::kDiffFile, {{"path", path}});
}

// What the agent said last (its messages of the newest session's latest turn), for a
// pull request's body; "" when it said nothing.
Result<std::string> agent_summary(Context& ctx, const actors::Address& address) {
  auto t = ctx.edge.host.call(address, task::kGet);
  if (!t) return t.error();
  const auto& sessions = (*t)["sessions"];
  for (auto it = sessions.rbegin(); it != sessions.rend(); ++it) {
    if ((*it).value("turn", std::int64_t{0}) == 0) continue;
    auto session = actors::session::address(ctx.org_id, address.key[1], (*it)["session_id"].get<std::string>());
    auto s = ctx.edge.host.call(session, actors::session::kGet);
    if (!s) return s.error();
    auto last = (*s).value("last_seq", std::int64_t{0});
    auto page = ctx.edge.host.call(session, actors::session::kTranscript,
                                   {{"after_seq", std::max<std::int64_t>(last - 400, 0)}, {"limit", 400}});
    if (!page) return page.error();
    std::int64_t turn = (*it)["turn"];
    std::string said;
    for (const auto& e : (*page)["items"])
      if (e["turn"] == turn && e["kind"] == "agent_message" && e["data"].contains("text"))
        said += (said.empty() ? "" : "\n\n") + e["data"]["text"].get<std::string>();
    constexpr std::size_t kKept = 8000;
    if (said.size() > kKept) said = utf8_prefix(said, kKept) + "…";
    return said;
  }
  return std::string();
}

// Where people reach the task in the web UI: the configured public URL, or the Host the
// request came to.
std::string task_link(const Context& ctx, const std::string& task_id) {
  return own_url(ctx) + "/orgs/" + percent_encoded(ctx.org_slug) + "/tasks/" + percent_encoded(task_id);
}

// POST .../pr {title?, body?, draft?}: the body defaults to what the agent said last
// and a link back to the task.
Result<Reply> publish_pr(Context& ctx) {
  auto address = task_address(ctx);
  if (auto st = must_exist(ctx, address, "task"); !st) return st.error();
  auto title = string_field(ctx.body, "title", false);
  if (!title) return title.error();
  if (title->size() > 256) return Error{ErrorCode::invalid, "field \"title\" is at most 256 characters"};
  auto text = string_field(ctx.body, "body", false);
  if (!text) return text.error();
  if (text->size() > 60000) return Error{ErrorCode::invalid, "field \"body\" is at most 60000 characters"};
  auto draft = bool_field(ctx.body, "draft");
  if (!draft) return draft.error();
  if (auto st = only_fields(ctx.body, {"title", "body", "draft"}); !st) return st.error();
  std::string body = *text;
  if (body.empty()) {
    auto said = agent_summary(ctx, *address);
    if (!said) return said.error();
    auto redacted = redact_for_task(ctx, *address, *said);
    if (!redacted) return redacted.error();
    body = (redacted->empty() ? "" : *redacted + "\n\n---\n") + "Opened from Hearth task [" + address->key[1] + "](" +
           task_link(ctx, address->key[1]) + ").";
  }
  Json command{{"title", *title}, {"body", body}, {"draft", draft->value_or(false)}};
  return change(ctx, address, task::kPublishPr, by(ctx, command), 202);
}

// The task's pull request ({number, repo_github_id, head_sha, ...}) and the GitHub App
// it goes through, or why there is none.
struct TaskPull {
  Json pull;
  github::App* app;
};
Result<TaskPull> task_pull(Context& ctx, const actors::Address& address) {
  if (!ctx.edge.config.github)
    return Error{ErrorCode::unavailable, "the GitHub App is not configured on this server (see docs/github.md)"};
  auto t = ctx.edge.host.call(address, task::kGet);
  if (!t) return t.error();
  const auto& pull = (*t)["pull"];
  if (!pull.is_object() || pull.value("number", std::int64_t{0}) == 0)
    return Error{ErrorCode::conflict, "the task has no pull request; open one first"};
  return TaskPull{pull, ctx.edge.config.github.get()};
}

// Whether the org archives a task when its pull request closes (its setting auto_archive_prs).
bool archives_pulls(Context& ctx) {
  auto org = ctx.edge.host.call(actors::organization::address(ctx.org_id), actors::organization::kGet);
  return !org || (*org)["settings"].value("auto_archive_prs", true);
}


// "Address review comments": what the reviewers said since the last time (read from
// GitHub), as one follow-up prompt, oldest first, each item at most 8 KiB and the whole
// within kMaxPromptBytes; `through` is the time of the last item it holds (the next time
// starts after it: what did not fit comes then).
struct ReviewPrompt {
  std::string text;
  std::int64_t through = 0;
  std::size_t left = 0;  // items that did not fit
};
ReviewPrompt review_prompt(const Json& pull, const Json& feedback) {
  constexpr std::size_t kItemBytes = 8 * 1024;
  std::vector<std::pair<std::int64_t, std::string>> items;  // (at, the line), reviews before comments
  for (const auto& r : feedback["reviews"]) {
    auto state = r["state"].get<std::string>();
    auto verb = state == "CHANGES_REQUESTED" ? "requested changes" : state == "APPROVED" ? "approved" : "commented";
    auto body = utf8_prefix(r["body"].get<std::string>(), kItemBytes);
    items.emplace_back(r["at"].get<std::int64_t>(), fmt::format("- {} {}{}\n", r["author"].get<std::string>(),
                                                                verb, body.empty() ? "" : ": " + body));
  }
  for (const auto& c : feedback["comments"]) {
    auto where = c["path"].get<std::string>() + (c["line"].is_number() ? fmt::format(" line {}", c["line"].get<int>()) : "");
    items.emplace_back(c["at"].get<std::int64_t>(), fmt::format("- {} ({}): {}\n", where, c["author"].get<std::string>(),
                                                                utf8_prefix(c["body"].get<std::string>(), kItemBytes)));
  }
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ReviewPrompt out;
  out.text = fmt::format("Address the review feedback on pull request #{} ({}).\n\n",
                         pull.value("number", std::int64_t{0}), pull.value("url", std::string()));
  const std::string ending =
      "\nMake the changes they ask for, or say why not where you disagree. Then commit; the task's pull request is "
      "updated when it is pushed.";
  // As many as fit, whole; a cut never splits items of one time (the next time reads
  // after `through`, so what is left must all be later).
  const std::size_t budget = kMaxPromptBytes - ending.size() - 200;
  std::size_t taken = 0, size = out.text.size();
  while (taken < items.size() && size + items[taken].second.size() <= budget) size += items[taken++].second.size();
  if (taken < items.size()) {
    auto whole = taken;
    while (whole > 0 && items[whole - 1].first == items[taken].first) --whole;
    if (whole > 0) taken = whole;  // else one time's items fill the prompt alone: those that fit go
  }
  for (std::size_t i = 0; i < taken; ++i) out.text += items[i].second;
  if (taken > 0) out.through = items[taken - 1].first;
  out.left = items.size() - taken;
  if (out.left) out.text += fmt::format("\n({} more, handed over the next time.)\n", out.left);
  out.text += ending;
  return out;
}

// POST .../pr/address-reviews {session_id?}: the review feedback since the last time,
// from GitHub, as a prompt to the agent.
Result<Reply> address_reviews(Context& ctx) {
  if (auto st = only_fields(ctx.body, {"session_id"}); !st) return st.error();
  auto session_id = string_field(ctx.body, "session_id", false);
  if (!session_id) return session_id.error();
  if (auto st = plan_allows(ctx, actors::billing::Work::turn); !st) return st.error();
  auto address = task_address(ctx);
  if (!address) return address.error();
  auto tp = task_pull(ctx, *address);
  if (!tp) return tp.error();
  const auto& pull = tp->pull;
  auto feedback = actors::github_data::review_feedback(ctx.edge.host, *tp->app, ctx.org_id,
                                                       pull.value("repo_github_id", std::int64_t{0}),
                                                       pull.value("number", std::int64_t{0}),
                                                       pull.value("reviews_addressed_at", std::int64_t{0}));
  if (!feedback) return feedback.error();
  if ((*feedback)["reviews"].empty() && (*feedback)["comments"].empty())
    return Error{ErrorCode::conflict, "there is no review feedback on the pull request since it was last handed to the agent"};
  auto prompt = review_prompt(pull, *feedback);
  auto redacted = redact_for_task(ctx, *address, prompt.text);
  if (!redacted) return redacted.error();
  Json body = by(ctx, {{"text", *redacted}, {"addresses_reviews", true}, {"reviews_through", prompt.through},
                       {"reviews_left", prompt.left}});
  if (!session_id->empty()) body["session_id"] = *session_id;
  return change(ctx, address, task::kPrompt, body, 202);
}

// PATCH .../pr {title?, body?, state?: open|closed}: the pull request changed on GitHub,
// recorded by the task (audited as task.pr.updated).
Result<Reply> update_pr(Context& ctx) {
  if (auto st = only_fields(ctx.body, {"title", "body", "state"}); !st) return st.error();
  Json change_to = Json::object();
  for (const char* key : {"title", "body", "state"}) {
    auto v = string_field(ctx.body, key, false);
    if (!v) return v.error();
    if (!v->empty()) change_to[key] = *v;
  }
  if (change_to.empty()) return Error{ErrorCode::invalid, "give at least one of title, body, state"};
  if (change_to.contains("state") && change_to["state"] != "open" && change_to["state"] != "closed")
    return Error{ErrorCode::invalid, "field \"state\" is open or closed"};
  if (change_to.value("title", std::string()).size() > 256) return Error{ErrorCode::invalid, "field \"title\" is at most 256 characters"};
  if (change_to.value("body", std::string()).size() > 60000) return Error{ErrorCode::invalid, "field \"body\" is at most 60000 characters"};
  auto address = task_address(ctx);
  if (!address) return address.error();
  auto tp = task_pull(ctx, *address);
  if (!tp) return tp.error();
  auto updated = actors::github_data::update_pull(ctx.edge.host, *tp->app, ctx.org_id,
                                                  tp->pull.value("repo_github_id", std::int64_t{0}),
                                                  tp->pull.value("number", std::int64_t{0}), change_to);
  if (!updated) return updated.error();
  Json fields = Json::array();
  for (const auto& [k, _] : change_to.items()) fields.push_back(k);
  return change(ctx, address, task::kPullChanged,
                by(ctx, {{"pull", *updated}, {"action", change_to.value("state", std::string()) == "closed" ? "closed" : "edited"},
                         {"sender", ctx.caller->username}, {"from_hearth", "updated"}, {"fields", fields},
                         {"auto_archive", archives_pulls(ctx)}}));
}

// POST .../pr/merge {method?: merge|squash|rebase}: merged on GitHub if its head is the
// one the task knows; the task records it at once (audited as task.pr.merged) and is
// archived as for GitHub's own "merged" when the org archives merged tasks.
Result<Reply> merge_pr(Context& ctx) {
  if (auto st = only_fields(ctx.body, {"method"}); !st) return st.error();
  auto method = string_field(ctx.body, "method", false);
  if (!method) return method.error();
  if (method->empty()) *method = "merge";
  if (*method != "merge" && *method != "squash" && *method != "rebase")
    return Error{ErrorCode::invalid, "field \"method\" is merge, squash or rebase"};
  auto address = task_address(ctx);
  if (!address) return address.error();
  auto tp = task_pull(ctx, *address);
  if (!tp) return tp.error();
  auto state = tp->pull.value("state", std::string());
  if (state != "open") return Error{ErrorCode::conflict, fmt::format("the pull request is {}; only an open one merges", state)};
  auto merged = actors::github_data::merge_pull(ctx.edge.host, *tp->app, ctx.org_id,
                                                tp->pull.value("repo_github_id", std::int64_t{0}),
                                                tp->pull.value("number", std::int64_t{0}), *method,
                                                tp->pull.value("head_sha", std::string()));
  if (!merged) return merged.error();
  return change(ctx, address, task::kPullChanged,
                by(ctx, {{"pull", (*merged)["pull"]}, {"action", "closed"}, {"sender", ctx.caller->username},
                         {"from_hearth", "merged"}, {"method", *method}, {"auto_archive", archives_pulls(ctx)}}));
}

Result<Reply> ops(Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto before = ctx.int_query("before", 0, 0, INT64_MAX);
  if (!before) return before.error();
  return read(ctx, task_address(ctx), task::kOps, {{"before_id", *before}, {"limit", *limit}});
}

Result<Reply> op(Context& ctx) {
  std::int64_t id = 0;
  const auto& text = ctx.param("op");
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) return Error{ErrorCode::not_found, "no such op"};
  return read(ctx, task_address(ctx), task::kOp, {{"op_id", id}});
}

Result<Reply> task_events(Context& ctx) {
  auto address = task_address(ctx);
  if (auto st = must_exist(ctx, address, "task"); !st) return st.error();
  return event_stream(ctx, address->id());
}

Result<Reply> mark_read(Context& ctx) {
  auto id = task_param(ctx);
  if (!id) return id.error();
  Json body{{"org_id", ctx.org_id}, {"task_id", *id}};
  if (auto s = ctx.query("session"); !s.empty()) body["session_id"] = s;
  return change(ctx, actors::user::address(ctx.caller->user_id), actors::user::kMarkRead, body);
}

Result<Reply> get_draft(Context& ctx) {
  auto id = task_param(ctx);
  if (!id) return id.error();
  return read(ctx, actors::user::address(ctx.caller->user_id), actors::user::kDraft,
              {{"org_id", ctx.org_id}, {"task_id", *id}, {"session_id", ctx.param("session")}});
}

Result<Reply> put_draft(Context& ctx) {
  auto id = task_param(ctx);
  if (!id) return id.error();
  auto text = prompt_field(ctx.body, "text", false);
  if (!text) return text.error();
  return change(ctx, actors::user::address(ctx.caller->user_id), actors::user::kSetDraft,
                {{"org_id", ctx.org_id}, {"task_id", *id}, {"session_id", ctx.param("session").substr(0, 64)}, {"text", *text}});
}

}  // namespace

void add_task_routes(Router& r) {
  const std::string base = "/v1/orgs/{org}/tasks";
  const std::string one = base + "/{task}";
  r.add({"GET", base, Policy::org_member, "organization", list_tasks});
  r.add({"POST", base, Policy::org_member, "organization, task", create_task});
  r.add({"GET", one, Policy::org_member, "task", get_task});
  r.add({"PATCH", one, Policy::org_member, "task", rename});
  r.add({"POST", one + "/owner", Policy::org_member, "task", change_owner});
  r.add({"POST", one + "/prompt", Policy::org_member, "task, session", prompt});
  r.add({"POST", one + "/stop", Policy::org_member, "task, session", command(task::kStop)});
  r.add({"POST", one + "/archive", Policy::org_member, "task, sandbox", command(task::kArchive)});
  r.add({"POST", one + "/unarchive", Policy::org_member, "task, sandbox",
         gated(actors::billing::Work::task, command(task::kUnarchive))});
  r.add({"POST", one + "/kill", Policy::org_member, "task, sandbox", command(task::kKill)});
  r.add({"POST", one + "/retry", Policy::org_member, "task, sandbox", gated(actors::billing::Work::task, command(task::kRetry))});
  r.add({"PATCH", one + "/sessions/{session}", Policy::org_member, "task", rename_session});
  r.add({"GET", one + "/diff", Policy::org_member, "task", diff});
  r.add({"GET", one + "/diff/file", Policy::org_member, "task", diff_file});
  r.add({"POST", one + "/diff/refresh", Policy::org_member, "task", command(task::kRefreshDiff, 202)});
  r.add({"POST", one + "/commit", Policy::org_member, "task", commit});
  r.add({"POST", one + "/push", Policy::org_member, "task", replacing(task::kPush)});
  r.add({"POST", one + "/sync", Policy::org_member, "task", command(task::kSync, 202)});
  r.add({"POST", one + "/merge", Policy::org_member, "task", replacing(task::kMerge)});
  r.add({"POST", one + "/revert", Policy::org_member, "task", revert});
  r.add({"POST", one + "/pr", Policy::org_member, "task, session", publish_pr});
  r.add({"PATCH", one + "/pr", Policy::org_member, "task, github_data, organization", update_pr});
  r.add({"POST", one + "/pr/merge", Policy::org_member, "task, github_data, organization", merge_pr});
  r.add({"POST", one + "/pr/address-reviews", Policy::org_member, "task, session, github_data", address_reviews});
  r.add({"GET", one + "/ops", Policy::org_member, "task", ops});
  r.add({"GET", one + "/ops/{op}", Policy::org_member, "task", op});
  r.add({"GET", one + "/events", Policy::org_member, "task", task_events});
  r.add({"POST", one + "/read", Policy::org_member, "user", mark_read, false});
  r.add({"GET", one + "/sessions/{session}/draft", Policy::org_member, "user", get_draft});
  r.add({"PUT", one + "/sessions/{session}/draft", Policy::org_member, "user", put_draft, false});
}

}  // namespace hearth::http
