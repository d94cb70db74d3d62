// The organization actor's handlers: see organization_actor.h.
#include "actors/organization/organization_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <random>
#include <set>

#include "actors/billing/billing_state.h"
#include "actors/directory/directory_actor.h"
#include "actors/host/index_update.h"
#include "actors/host/step_context.h"
#include "actors/task/task_actor.h"
#include "actors/task/task_store.h"
#include "actors/task/titles.h"
#include "actors/user/user_actor.h"
#include "sandbox/agents.h"
#include "sandbox/egress.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::organization {
namespace {

std::string org_id(SQLite::Database& db) { return db.execAndGet("SELECT org_id FROM organization").getString(); }

// Copies one membership to the directory, versioned by the message that changed it.
Status index_membership(StepContext& ctx, Json& result, const std::string& user_id, const Json& role) {
  auto org = org_id(ctx.db());
  return send_index_update(ctx, result, directory::kAddress, directory::kPutMembership,
                           Json{{"org_id", org}, {"user_id", user_id}, {"role", role}, {"version", ctx.message_id()}},
                           fmt::format("membership:{}:{}:{}", org, user_id, ctx.message_id()));
}

Json member_json(SQLite::Statement& q) {
  return Json{{"user_id", q.getColumn(0).getString()},
              {"username", q.getColumn(1).getString()},
              {"role", q.getColumn(2).getString()},
              {"added_at", q.getColumn(3).getInt64()},
              {"updated_at", q.getColumn(4).getInt64()}};
}

Result<Json> find_member(SQLite::Database& db, const std::string& user_id) {
  SQLite::Statement q(db, "SELECT user_id, username, role, added_at, updated_at FROM members WHERE user_id = ?");
  sql::bind_all(q, user_id);
  if (!q.executeStep()) return Error{ErrorCode::not_found, "that user is not a member of this organization"};
  return member_json(q);
}

int owner_count(SQLite::Database& db) {
  return db.execAndGet("SELECT COUNT(*) FROM members WHERE role = 'owner'").getInt();
}

Status create(StepContext& ctx, const Json& in) {
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement ins(ctx.db(),
                        "INSERT INTO organization(id, org_id, slug, name, created_at, updated_at) VALUES(1, ?, ?, ?, ?, ?)");
  sql::bind_all(ins, in.at("org_id").get<std::string>(), in.at("slug").get<std::string>(),
                in.at("name").get<std::string>(), now, now);
  ins.exec();
  const auto& owner = in.at("owner");
  SQLite::Statement mem(ctx.db(),
                        "INSERT INTO members(user_id, username, role, added_at, updated_at) VALUES(?, ?, 'owner', ?, ?)");
  sql::bind_all(mem, owner.at("user_id").get<std::string>(), owner.at("username").get<std::string>(), now, now);
  mem.exec();
  Json ignored;
  return index_membership(ctx, ignored, owner.at("user_id").get<std::string>(), "owner");
}

Result<Json> add_member(StepContext& ctx, const Json& b) {
  auto user_id = b.at("user_id").get<std::string>();
  auto role = b.value("role", std::string("member"));
  if (role_rank(role) == 0) return Error{ErrorCode::invalid, fmt::format("unknown role \"{}\"", role)};
  if (find_member(ctx.db(), user_id))
    return Error{ErrorCode::conflict, fmt::format("{} is a member already", b.at("username").get<std::string>())};
  // The plan's seats, held here where the count is exact (requests at once included).
  if (b.contains("caps"))
    if (auto st = billing::over_cap(b["caps"], "members", ctx.db().execAndGet("SELECT count(*) FROM members").getInt64()); !st)
      return st.error();
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement mem(ctx.db(), "INSERT INTO members(user_id, username, role, added_at, updated_at) VALUES(?, ?, ?, ?, ?)");
  sql::bind_all(mem, user_id, b.at("username").get<std::string>(), role, now, now);
  mem.exec();
  auto result = *find_member(ctx.db(), user_id);
  if (auto st = index_membership(ctx, result, user_id, role); !st) return st.error();
  if (auto st = ctx.send(user::address(user_id), user::kMembership, {{"org_id", ctx.address().key[0]}, {"member", true}}); !st)
    return st.error();
  ctx.broadcast("organization.member.added", {{"user_id", user_id}, {"username", b["username"]}, {"role", role}});
  return result;
}

Result<Json> set_role(StepContext& ctx, const Json& b) {
  auto user_id = b.at("user_id").get<std::string>();
  auto role = b.at("role").get<std::string>();
  if (role_rank(role) == 0) return Error{ErrorCode::invalid, fmt::format("unknown role \"{}\"", role)};
  auto member = find_member(ctx.db(), user_id);
  if (!member) return member.error();
  if ((*member)["role"] == "owner" && role != "owner" && owner_count(ctx.db()) <= 1)
    return Error{ErrorCode::conflict, "the last owner cannot be demoted; make someone else owner first"};
  SQLite::Statement upd(ctx.db(), "UPDATE members SET role = ?, updated_at = ? WHERE user_id = ?");
  sql::bind_all(upd, role, storage::now_ms(), user_id);
  upd.exec();
  auto result = *find_member(ctx.db(), user_id);
  if (auto st = index_membership(ctx, result, user_id, role); !st) return st.error();
  ctx.broadcast("organization.member.changed", {{"user_id", user_id}, {"role", role}});
  return result;
}

Result<Json> remove_member(StepContext& ctx, const Json& b) {
  auto user_id = b.at("user_id").get<std::string>();
  auto member = find_member(ctx.db(), user_id);
  if (!member) return member.error();
  if ((*member)["role"] == "owner" && owner_count(ctx.db()) <= 1)
    return Error{ErrorCode::conflict, "the last owner cannot be removed; make someone else owner first"};
  SQLite::Statement del(ctx.db(), "DELETE FROM members WHERE user_id = ?");
  sql::bind_all(del, user_id);
  del.exec();
  Json result{{"removed", user_id}};
  if (auto st = index_membership(ctx, result, user_id, nullptr); !st) return st.error();
  // Their feed forgets the org, and hears nothing more of its tasks.
  if (auto st = ctx.send(user::address(user_id), user::kMembership, {{"org_id", ctx.address().key[0]}, {"member", false}}); !st)
    return st.error();
  ctx.broadcast("organization.member.removed", {{"user_id", user_id}});
  return result;
}

// Secrets arrive sealed (the edge seals them), so no plaintext is ever queued or stored.
Result<Json> set_secret(StepContext& ctx, const Json& b) {
  auto now = static_cast<int64_t>(storage::now_ms());
  SQLite::Statement up(ctx.db(),
                       "INSERT INTO secrets(name, nonce, ciphertext, created_at, updated_at) VALUES(?, ?, ?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
                       "updated_at = excluded.updated_at");
  sql::bind_all(up, b.at("name").get<std::string>(), b.at("nonce").get<std::string>(),
                b.at("ciphertext").get<std::string>(), now, now);
  up.exec();
  SQLite::Statement q(ctx.db(), "SELECT created_at, updated_at FROM secrets WHERE name = ?");
  sql::bind_all(q, b.at("name").get<std::string>());
  q.executeStep();
  Json result{{"name", b["name"]}, {"created_at", q.getColumn(0).getInt64()}, {"updated_at", q.getColumn(1).getInt64()}};
  ctx.broadcast("organization.secret.set", {{"name", b["name"]}});
  return result;
}

Result<Json> delete_secret(StepContext& ctx, const Json& b) {
  auto name = b.at("name").get<std::string>();
  SQLite::Statement del(ctx.db(), "DELETE FROM secrets WHERE name = ?");
  sql::bind_all(del, name);
  if (del.exec() == 0) return Error{ErrorCode::not_found, fmt::format("no secret \"{}\"", name)};
  ctx.broadcast("organization.secret.deleted", {{"name", name}});
  return Json{{"deleted", name}};
}

Result<Json> secrets(ReadContext& ctx, const Json&) {
  auto q = ctx.statement("SELECT name, created_at, updated_at FROM secrets ORDER BY name");
  Json items = Json::array();
  while (q->executeStep())
    items.push_back(Json{{"name", q->getColumn(0).getString()},
                         {"created_at", q->getColumn(1).getInt64()},
                         {"updated_at", q->getColumn(2).getInt64()}});
  return items;
}

Result<Json> sealed_secrets(ReadContext& ctx, const Json& a) {
  Json out = Json::object();
  for (const auto& name : a.at("names")) {
    auto q = ctx.statement("SELECT nonce, ciphertext FROM secrets WHERE name = ?");
    sql::bind_all(*q, name.get<std::string>());
    if (!q->executeStep()) continue;  // names the org has no secret for are left out
    out[name.get<std::string>()] = Json{{"nonce", q->getColumn(0).getString()}, {"ciphertext", q->getColumn(1).getString()}};
  }
  return out;
}

Json network_json(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT pattern, added_by, added_at FROM network_allow ORDER BY pattern");
  Json allow = Json::array(), items = Json::array();
  while (q.executeStep()) {
    allow.push_back(q.getColumn(0).getString());
    items.push_back({{"pattern", q.getColumn(0).getString()}, {"added_by", q.getColumn(1).getString()},
                     {"added_at", q.getColumn(2).getInt64()}});
  }
  return Json{{"allow", allow}, {"items", items}};
}

Result<Json> network(ReadContext& ctx, const Json&) { return network_json(ctx.db); }

// Replaces the allowlist (allow), or adds and removes patterns; one change, broadcast.
// Every pattern is normalized here (the edge checked them too): the list holds nothing
// else, whoever sent the message.
Result<Json> set_network(StepContext& ctx, const Json& in) {
  Json b = in;
  for (const char* field : {"allow", "add", "remove"}) {
    if (!b.contains(field)) continue;
    Json normalized = Json::array();
    for (const auto& p : b[field]) {
      auto n = hearth::sandbox::egress::normalize_pattern(p.is_string() ? p.get<std::string>() : std::string());
      if (!n) return n.error();
      normalized.push_back(*n);
    }
    b[field] = normalized;
  }
  auto by = b.value("by", std::string());
  auto now = storage::now_ms();
  auto add = [&](const Json& patterns) {
    SQLite::Statement ins(ctx.db(), "INSERT OR IGNORE INTO network_allow(pattern, added_by, added_at) VALUES (?, ?, ?)");
    for (const auto& p : patterns) {
      ins.reset();
      sql::bind_all(ins, p.get<std::string>(), by, now);
      ins.exec();
    }
  };
  if (b.contains("allow")) {
    SQLite::Statement keep(ctx.db(), "DELETE FROM network_allow WHERE pattern NOT IN (SELECT value FROM json_each(?))");
    sql::bind_all(keep, b["allow"].dump());
    keep.exec();
    add(b["allow"]);
  }
  if (b.contains("add")) add(b["add"]);
  if (b.contains("remove")) {
    SQLite::Statement del(ctx.db(), "DELETE FROM network_allow WHERE pattern IN (SELECT value FROM json_each(?))");
    sql::bind_all(del, b["remove"].dump());
    del.exec();
  }
  auto out = network_json(ctx.db());
  ctx.broadcast("organization.network.changed", out);
  return out;
}

bool conventional_titles(SQLite::Database& db) {
  return db.execAndGet("SELECT conventional_titles FROM organization").getInt() != 0;
}

bool auto_archive_prs(SQLite::Database& db) {
  return db.execAndGet("SELECT auto_archive_prs FROM organization").getInt() != 0;
}

Json settings_json(SQLite::Database& db) {
  return Json{{"conventional_titles", conventional_titles(db)}, {"auto_archive_prs", auto_archive_prs(db)}};
}

Result<Json> set_settings(StepContext& ctx, const Json& b) {
  for (const char* name : {"conventional_titles", "auto_archive_prs"}) {
    if (!b.contains(name)) continue;
    SQLite::Statement up(ctx.db(), fmt::format("UPDATE organization SET {} = ?, updated_at = ?", name));
    sql::bind_all(up, b[name].get<bool>() ? 1 : 0, storage::now_ms());
    up.exec();
  }
  Json settings = settings_json(ctx.db());
  ctx.broadcast("organization.settings.changed", settings);
  return settings;
}

Result<Json> get(ReadContext& ctx, const Json&) {
  auto q_lease = ctx.statement("SELECT org_id, slug, name, created_at, updated_at FROM organization");
  auto& q = *q_lease;
  if (!q.executeStep()) return Error{ErrorCode::not_found, "no such organization"};
  return Json{{"id", q.getColumn(0).getString()},
              {"slug", q.getColumn(1).getString()},
              {"name", q.getColumn(2).getString()},
              {"created_at", q.getColumn(3).getInt64()},
              {"updated_at", q.getColumn(4).getInt64()},
              {"settings", settings_json(ctx.db)},
              {"member_count", [&] {
                auto count = ctx.statement("SELECT COUNT(*) FROM members");
                count->executeStep();
                return count->getColumn(0).getInt64();
              }()}};
}

Result<Json> members(ReadContext& ctx, const Json&) {
  auto q_lease = ctx.statement("SELECT user_id, username, role, added_at, updated_at FROM members ORDER BY username LIMIT 1000");
  auto& q = *q_lease;
  Json items = Json::array();
  while (q.executeStep()) items.push_back(member_json(q));
  return items;
}

// What billing counts (billing_state.h Usage): members, tasks working now (provisioning
// or running) and tasks that keep a sandbox (not archived or killed).
Result<Json> usage(ReadContext& ctx, const Json&) {
  auto q = ctx.statement(
      "SELECT (SELECT count(*) FROM members), "
      "(SELECT count(*) FROM tasks WHERE status IN ('provisioning', 'running')), "
      "(SELECT count(*) FROM tasks WHERE status NOT IN ('archived', 'killed'))");
  q->executeStep();
  return Json{{"members", q->getColumn(0).getInt64()}, {"running_tasks", q->getColumn(1).getInt64()},
              {"live_tasks", q->getColumn(2).getInt64()}};
}

Result<Json> member_named(ReadContext& ctx, const Json& b) {
  auto name = b.value("username", std::string());
  auto q_lease = ctx.statement("SELECT user_id, username, role, added_at, updated_at FROM members WHERE username = ?");
  auto& q = *q_lease;
  sql::bind_all(q, name);
  if (!q.executeStep()) return Error{ErrorCode::not_found, fmt::format("no member \"{}\"", name.substr(0, 64))};
  return member_json(q);
}

// --- Repositories ----------------------------------------------------------------------

Json repo_json(SQLite::Statement& q) {
  Json r{{"repo_id", q.getColumn(0).getString()},        {"name", q.getColumn(1).getString()},
         {"url", q.getColumn(2).getString()},            {"default_branch", q.getColumn(3).getString()},
         {"credential", sql::text_or_null(q.getColumn(4))},
         {"added_by", q.getColumn(5).getString()},       {"created_at", q.getColumn(6).getInt64()},
         {"source", q.getColumn(7).isNull() ? "git" : "github"}, {"github", nullptr}};
  if (!q.getColumn(7).isNull())
    r["github"] = {{"repository_id", q.getColumn(7).getInt64()}, {"full_name", sql::text_or_null(q.getColumn(8))},
                   {"html_url", sql::text_or_null(q.getColumn(9))}, {"archived", q.getColumn(10).getInt() != 0},
                   {"removed_at", sql::int_or_null(q.getColumn(11))}};
  return r;
}
constexpr const char* kRepoColumns = "repo_id, name, url, default_branch, credential, added_by, created_at, github_id, "
                                     "github_full_name, github_url, archived, github_removed_at";

Result<Json> find_repo(SQLite::Database& db, const std::string& id) {
  SQLite::Statement q(db, fmt::format("SELECT {} FROM repos WHERE repo_id = ?", kRepoColumns));
  sql::bind_all(q, id);
  if (!q.executeStep()) return Error{ErrorCode::not_found, fmt::format("no repository \"{}\" in this organization", id)};
  return repo_json(q);
}

Result<Json> add_repo(StepContext& ctx, const Json& b) {
  auto id = b.at("repo_id").get<std::string>();
  if (find_repo(ctx.db(), id)) return Error{ErrorCode::conflict, fmt::format("a repository \"{}\" is connected already", id)};
  SQLite::Statement same(ctx.db(), "SELECT repo_id FROM repos WHERE url = ?");
  sql::bind_all(same, b.at("url").get<std::string>());
  if (same.executeStep())
    return Error{ErrorCode::conflict, fmt::format("that URL is connected already as \"{}\"", same.getColumn(0).getString())};
  SQLite::Statement ins(ctx.db(), "INSERT INTO repos(repo_id, name, url, default_branch, credential, added_by, created_at) "
                                  "VALUES(?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(ins, id, b.at("name").get<std::string>(), b.at("url").get<std::string>(),
                b.at("default_branch").get<std::string>(), sql::optional_text(b, "credential"),
                b.value("by", std::string()), storage::now_ms());
  ins.exec();
  auto repo = *find_repo(ctx.db(), id);
  ctx.broadcast("organization.repo.added", repo);
  return repo;
}

std::int64_t live_tasks(SQLite::Database& db, const std::string& repo_id) {
  SQLite::Statement live(db, "SELECT COUNT(*) FROM tasks WHERE repo_id = ? AND status NOT IN ('killed', 'archived')");
  sql::bind_all(live, repo_id);
  live.executeStep();
  return live.getColumn(0).getInt64();
}

Result<Json> remove_repo(StepContext& ctx, const Json& b) {
  auto id = b.at("repo_id").get<std::string>();
  auto r = find_repo(ctx.db(), id);
  if (!r) return r.error();
  if (!(*r)["github"].is_null() && (*r)["github"]["removed_at"].is_null())
    return Error{ErrorCode::conflict, fmt::format("\"{}\" comes from the organization's GitHub installation; remove it "
                                                  "from the installation on GitHub (or unlink the installation)", id)};
  if (auto n = live_tasks(ctx.db(), id); n > 0)
    return Error{ErrorCode::conflict,
                 fmt::format("{} live task(s) work on \"{}\"; archive or kill them first", n, id)};
  SQLite::Statement del(ctx.db(), "DELETE FROM repos WHERE repo_id = ?");
  sql::bind_all(del, id);
  del.exec();
  ctx.broadcast("organization.repo.removed", {{"repo_id", id}});
  return Json{{"removed", id}};
}

// --- Repositories from GitHub -------------------------------------------------------------

// A free repository id for GitHub's `name` ("Hello.World" -> "hello.world", then
// "hello.world-2", ...).
std::string free_repo_id(SQLite::Database& db, const std::string& name) {
  std::string base;
  for (unsigned char c : name) {
    if (std::isalnum(c)) base += static_cast<char>(std::tolower(c));
    else if (c == '-' || c == '_' || c == '.') base += static_cast<char>(c);
    else if (!base.empty() && base.back() != '-') base += '-';
  }
  if (base.empty()) base = "repo";
  if (base.size() > 56) base.resize(56);
  for (int n = 1;; ++n) {
    auto id = n == 1 ? base : fmt::format("{}-{}", base, n);
    if (!find_repo(db, id)) return id;
  }
}

// The repository GitHub's id `github_id` is here, if any.
std::optional<std::string> github_repo(SQLite::Database& db, std::int64_t github_id) {
  SQLite::Statement q(db, "SELECT repo_id FROM repos WHERE github_id = ?");
  sql::bind_all(q, github_id);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

// One repository of the installation, as the github-data actor sends it; its id here
// stays across renames. A repository connected by URL before is left as it is (its own
// credential, its own tasks): the GitHub one is another, named apart.
Json upsert_github_repo(StepContext& ctx, const Json& g) {
  auto github_id = g.at("github_id").get<std::int64_t>();
  auto credential = fmt::format("github:{}", github_id);
  auto id = github_repo(ctx.db(), github_id);
  bool added = !id;
  if (added) {
    auto full = g.at("full_name").get<std::string>();
    id = free_repo_id(ctx.db(), full.substr(full.find('/') + 1));
    auto ins = ctx.statement("INSERT INTO repos(repo_id, name, url, default_branch, credential, added_by, created_at) "
                             "VALUES(?, ?, '', '', NULL, 'github', ?)");
    sql::bind_all(*ins, *id, *id, storage::now_ms());
    ins->exec();
  }
  auto up = ctx.statement("UPDATE repos SET url = ?, default_branch = ?, credential = ?, github_id = ?, "
                          "github_full_name = ?, github_url = ?, archived = ?, github_removed_at = NULL WHERE repo_id = ?");
  sql::bind_all(*up, g.at("clone_url").get<std::string>(), g.at("default_branch").get<std::string>(), credential,
                github_id, g.at("full_name").get<std::string>(), g.value("html_url", std::string()),
                g.value("archived", false), *id);
  up->exec();
  auto repo = *find_repo(ctx.db(), *id);
  ctx.broadcast(added ? "organization.repo.added" : "organization.repo.changed", repo);
  return repo;
}

// A repository that left the installation: gone, or kept and marked while live tasks
// use it (they are listed; removing it again once they end deletes it).
Json remove_github_repo(StepContext& ctx, const std::string& id, std::int64_t at) {
  // Its pull requests leave the task list with it.
  auto pulls = ctx.statement("DELETE FROM pulls WHERE repo_id = ?");
  sql::bind_all(*pulls, id);
  if (pulls->exec() > 0) ctx.broadcast("organization.pulls.changed", {{"repo_id", id}});
  if (auto n = live_tasks(ctx.db(), id); n > 0) {
    auto mark = ctx.statement("UPDATE repos SET github_removed_at = COALESCE(github_removed_at, ?) WHERE repo_id = ?");
    sql::bind_all(*mark, at, id);
    mark->exec();
    Json tasks = Json::array();
    auto q = ctx.statement("SELECT task_id FROM tasks WHERE repo_id = ? AND status NOT IN ('killed', 'archived') "
                           "ORDER BY task_id");
    sql::bind_all(*q, id);
    while (q->executeStep()) tasks.push_back(q->getColumn(0).getString());
    auto repo = *find_repo(ctx.db(), id);
    ctx.broadcast("organization.repo.changed", repo);
    return {{"repo_id", id}, {"kept", true}, {"live_tasks", tasks}};
  }
  auto del = ctx.statement("DELETE FROM repos WHERE repo_id = ?");
  sql::bind_all(*del, id);
  del->exec();
  ctx.broadcast("organization.repo.removed", {{"repo_id", id}});
  return {{"repo_id", id}, {"kept", false}};
}

// --- Pull requests from GitHub -----------------------------------------------------------

std::string pull_id(std::int64_t github_repo_id, std::int64_t number) {
  return fmt::format("pr_{}_{}", github_repo_id, number);
}

// The live task (not killed) working on `branch` of `repo_id`, if any.
std::optional<std::string> task_on_branch(SQLite::Database& db, const std::string& repo_id, const std::string& branch) {
  SQLite::Statement q(db, "SELECT task_id FROM tasks WHERE repo_id = ? AND branch = ? AND status != 'killed'");
  sql::bind_all(q, repo_id, branch);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

// A pull request as a row of the task list (no task works on it yet).
Json pull_summary(const std::string& id, const std::string& repo_id, const Json& pull) {
  auto updated = pull.value("updated_at", std::int64_t{0});
  return Json{{"task_id", id},
              {"kind", "pull_request"},
              {"repo_id", repo_id},
              {"title", pull.value("title", std::string())},
              {"branch", pull.value("head_ref", std::string())},
              {"base_branch", pull.value("base_ref", std::string())},
              {"status", "pull_request"},
              {"owner_id", nullptr},
              {"owner_name", pull.value("author", std::string())},
              {"agent", nullptr},
              {"attention", nullptr},
              {"sessions", 0},
              {"running_sessions", 0},
              {"pending_permissions", 0},
              {"needs_you", nullptr},
              {"pull", {{"number", pull["number"]}, {"url", pull["url"]}, {"state", pull["state"]},
                        {"draft", pull.value("draft", false)}, {"author", pull.value("author", std::string())}}},
              {"created_at", updated},
              {"updated_at", updated},
              {"version", 0}};
}

Status forget_pull(StepContext& ctx, const std::string& id) {
  auto del = ctx.statement("DELETE FROM pulls WHERE pull_id = ?");
  sql::bind_all(*del, id);
  if (del->exec() > 0) ctx.broadcast("organization.pull.removed", {{"task_id", id}});
  return {};
}

// What GitHub says of one pull request ({pull, action, sender, generation}): told to the
// task working on its branch, or kept as a row of the task list while it is open.
Result<Json> route_pull(StepContext& ctx, const Json& p) {
  const auto& pull = p.at("pull");
  auto github_id = pull.at("repo_github_id").get<std::int64_t>();
  auto repo_id = github_repo(ctx.db(), github_id);
  if (!repo_id) return Json(nullptr);  // a repository the organization does not show
  auto number = pull.at("number").get<std::int64_t>();
  auto id = pull_id(github_id, number);
  auto head = pull.value("head_ref", std::string());
  // A fork's branch is another repository's: no task works on it here, whatever its name.
  if (pull.value("fork", false)) {
    if (auto st = forget_pull(ctx, id); !st) return st.error();
    return Json{{"number", number}, {"ignored", "a pull request from a fork"}};
  }
  if (auto task_id = task_on_branch(ctx.db(), *repo_id, head)) {
    if (auto st = forget_pull(ctx, id); !st) return st.error();
    Json body{{"pull", pull}, {"action", p.value("action", std::string())}, {"sender", p.value("sender", std::string())},
              {"auto_archive", auto_archive_prs(ctx.db())}};
    for (const char* said : {"review", "check"})
      if (p.contains(said)) body[said] = p[said];
    if (auto st = ctx.send(task::address(org_id(ctx.db()), *task_id), task::kPullChanged, body); !st) return st.error();
    return Json{{"number", number}, {"task_id", *task_id}};
  }
  auto state = pull.value("state", std::string());
  if (state != "open" && state != "draft") {
    if (auto st = forget_pull(ctx, id); !st) return st.error();
    return Json{{"number", number}, {"removed", id}};
  }
  auto summary = pull_summary(id, *repo_id, pull);
  auto up = ctx.statement(
      "INSERT INTO pulls(pull_id, github_repo_id, number, repo_id, title, head_ref, base_ref, author, pull_json, "
      "summary_json, generation, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
      "ON CONFLICT(pull_id) DO UPDATE SET repo_id = ?4, title = ?5, head_ref = ?6, base_ref = ?7, author = ?8, "
      "pull_json = ?9, summary_json = ?10, generation = MAX(generation, ?11), updated_at = ?12");
  sql::bind_all(*up, id, github_id, number, *repo_id, summary["title"].get<std::string>(), head,
                summary["base_branch"].get<std::string>(), summary["owner_name"].get<std::string>(), pull.dump(),
                summary.dump(), p.value("generation", std::int64_t{0}), summary["updated_at"].get<std::int64_t>());
  up->exec();
  ctx.broadcast("organization.task.changed", summary);
  return Json{{"number", number}, {"listed", id}};
}

Result<Json> github_repos(StepContext& ctx, const Json& b) {
  Json changed = Json::array(), removed = Json::array();
  for (const auto& g : b.value("upsert", Json::array())) changed.push_back(upsert_github_repo(ctx, g));
  std::vector<std::string> gone;
  if (b.value("remove_all", false) || b.value("complete", false)) {
    // All of them, or (complete) those not in `upsert`; one kept for its live tasks goes
    // once they have ended.
    std::set<std::int64_t> listed;
    if (!b.value("remove_all", false))
      for (const auto& g : b.value("upsert", Json::array())) listed.insert(g.at("github_id").get<std::int64_t>());
    auto q = ctx.statement("SELECT repo_id, github_id FROM repos WHERE github_id IS NOT NULL ORDER BY repo_id");
    while (q->executeStep())
      if (!listed.count(q->getColumn(1).getInt64())) gone.push_back(q->getColumn(0).getString());
  }
  for (const auto& github_id : b.value("remove", Json::array()))
    if (auto id = github_repo(ctx.db(), github_id.get<std::int64_t>())) gone.push_back(*id);
  auto at = storage::now_ms();
  for (const auto& id : gone) removed.push_back(remove_github_repo(ctx, id, at));
  Json routed = Json::array();
  for (const auto& p : b.value("pulls", Json::array())) {
    auto r = route_pull(ctx, p);
    if (!r) return r.error();
    if (!r->is_null()) routed.push_back(*r);
  }
  if (b.contains("pulls_swept_before")) {
    // A full sync saw every open pull request: those it did not see are not open.
    auto sweep = ctx.statement("DELETE FROM pulls WHERE generation < ?");
    sql::bind_all(*sweep, b["pulls_swept_before"].get<std::int64_t>());
    if (sweep->exec() > 0) ctx.broadcast("organization.pulls.changed", Json::object());
  }
  return Json{{"changed", changed}, {"removed", removed}, {"pulls", routed}};
}

Result<Json> repos(ReadContext& ctx, const Json&) {
  auto q = ctx.statement(fmt::format("SELECT {} FROM repos ORDER BY repo_id", kRepoColumns));
  Json items = Json::array();
  while (q->executeStep()) items.push_back(repo_json(*q));
  return Json{{"items", items}};
}

Result<Json> repo(ReadContext& ctx, const Json& a) {
  auto q = ctx.statement(fmt::format("SELECT {} FROM repos WHERE repo_id = ?", kRepoColumns));
  sql::bind_all(*q, a.at("repo_id").get<std::string>());
  if (!q->executeStep())
    return Error{ErrorCode::not_found, fmt::format("no repository \"{}\" in this organization", a["repo_id"].get<std::string>())};
  auto r = repo_json(*q);
  auto n = ctx.statement("SELECT COUNT(*) FROM tasks WHERE repo_id = ?");
  sql::bind_all(*n, a["repo_id"].get<std::string>());
  n->executeStep();
  r["task_count"] = n->getColumn(0).getInt64();
  if (!r["github"].is_null() && !r["github"]["removed_at"].is_null()) {
    // Gone from the installation: the live tasks that keep it here.
    Json live = Json::array();
    auto t = ctx.statement("SELECT task_id FROM tasks WHERE repo_id = ? AND status NOT IN ('killed', 'archived') "
                           "ORDER BY task_id");
    sql::bind_all(*t, a["repo_id"].get<std::string>());
    while (t->executeStep()) live.push_back(t->getColumn(0).getString());
    r["live_tasks"] = live;
  }
  return r;
}

// --- The task index ----------------------------------------------------------------------

bool branch_taken(SQLite::Database& db, const std::string& repo_id, const std::string& branch) {
  SQLite::Statement q(db, "SELECT 1 FROM tasks WHERE repo_id = ? AND branch = ? AND status != 'killed'");
  sql::bind_all(q, repo_id, branch);
  return q.executeStep();
}

std::string random_suffix() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 4; ++i) s += alphabet[rng() % 36];
  return s;
}

void upsert_summary(SQLite::Database& db, const Json& s) {
  SQLite::Statement up(db,
                       "INSERT INTO tasks(task_id, repo_id, title, branch, base_branch, status, owner_id, owner_name, "
                       "agent, attention, summary_json, version, created_at, updated_at) "
                       "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT(task_id) DO UPDATE SET title = excluded.title, status = excluded.status, "
                       "owner_id = excluded.owner_id, owner_name = excluded.owner_name, attention = excluded.attention, "
                       "summary_json = excluded.summary_json, version = excluded.version, updated_at = excluded.updated_at "
                       "WHERE excluded.version > tasks.version");
  sql::bind_all(up, s.at("task_id").get<std::string>(), s.at("repo_id").get<std::string>(),
                s.at("title").get<std::string>(), s.at("branch").get<std::string>(),
                s.at("base_branch").get<std::string>(), s.at("status").get<std::string>(),
                s.at("owner_id").get<std::string>(), s.at("owner_name").get<std::string>(),
                s.at("agent").get<std::string>(), sql::optional_text(s, "attention"), s.dump(),
                s.value("version", std::int64_t{0}), s.at("created_at").get<std::int64_t>(),
                s.at("updated_at").get<std::int64_t>());
  up.exec();
}

// The network a task's sandbox gets: proxy when its agent calls a model API (sandbox/
// agents.h needs_network): the org's allowlist and the model APIs with keys put in by
// the egress proxy, never the host's network; else none. (Hearth's own git reaches the
// repository from outside the sandbox whatever this is.)
std::string task_network(const std::string& agent) {
  auto def = hearth::sandbox::find_agent(agent);
  return def && (*def)->needs_network ? "proxy" : "none";
}

// Decides the task's title (when not given), branch and network, reserves the branch,
// indexes the task and brings its actor into being, which creates the sandbox and, once
// it is ready, the first session with the prompt.
Result<Json> create_task(StepContext& ctx, const Json& in) {
  // "Work on this pull request": the task takes the pull request's repository, branch,
  // base and title, and records the pull request from the start.
  Json b = in;
  Json pull = nullptr;
  if (in.contains("pull_id")) {
    auto q = ctx.statement("SELECT repo_id, head_ref, base_ref, title, pull_json FROM pulls WHERE pull_id = ?");
    sql::bind_all(*q, in["pull_id"].get<std::string>());
    if (!q->executeStep())
      return Error{ErrorCode::not_found, "no open pull request " + in["pull_id"].get<std::string>() +
                                             " without a task (a task may work on it already)"};
    b["repo_id"] = q->getColumn(0).getString();
    b["branch"] = q->getColumn(1).getString();
    b["base_branch"] = q->getColumn(2).getString();
    if (b.value("title", std::string()).empty()) b["title"] = q->getColumn(3).getString();
    pull = Json::parse(q->getColumn(4).getString());
  }
  auto repo = find_repo(ctx.db(), b.at("repo_id").get<std::string>());
  if (!repo) return repo.error();
  if (!(*repo)["github"].is_null() && !(*repo)["github"]["removed_at"].is_null())
    return Error{ErrorCode::conflict, fmt::format("\"{}\" was removed from the organization's GitHub installation",
                                                  (*repo)["repo_id"].get<std::string>())};
  // The plan's sandboxes and running tasks, held here where the counts are exact.
  if (b.contains("caps")) {
    auto live = ctx.db().execAndGet("SELECT count(*) FROM tasks WHERE status NOT IN ('archived', 'killed')").getInt64();
    auto running = ctx.db().execAndGet("SELECT count(*) FROM tasks WHERE status IN ('provisioning', 'running')").getInt64();
    if (auto st = billing::over_cap(b["caps"], "live_tasks", live); !st) return st.error();
    if (auto st = billing::over_cap(b["caps"], "running_tasks", running); !st) return st.error();
  }
  auto task_id = b.at("task_id").get<std::string>();
  auto title = b.value("title", std::string());
  if (title.empty()) title = task::derive_title(b.at("prompt").get<std::string>(), conventional_titles(ctx.db()));
  auto base = b.value("base_branch", std::string());
  if (base.empty()) base = (*repo)["default_branch"];
  auto branch = b.value("branch", std::string());
  if (!branch.empty()) {
    if (branch_taken(ctx.db(), (*repo)["repo_id"], branch))
      return Error{ErrorCode::conflict, fmt::format("branch {} belongs to another live task of {}", branch,
                                                    (*repo)["repo_id"].get<std::string>())};
    if (branch == base) return Error{ErrorCode::invalid, "a task's branch must differ from its base branch"};
  } else {
    for (int attempt = 0; attempt < 100 && branch.empty(); ++attempt) {
      auto candidate = task::derive_branch(title, random_suffix());
      if (!branch_taken(ctx.db(), (*repo)["repo_id"], candidate)) branch = candidate;
    }
    if (branch.empty()) return Error{ErrorCode::conflict, "no free branch name; name one"};
  }
  auto now = static_cast<std::int64_t>(storage::now_ms());
  Json input{{"org_id", org_id(ctx.db())},    {"task_id", task_id},          {"repo_id", (*repo)["repo_id"]},
             {"repo_url", (*repo)["url"]},    {"base_branch", base},         {"branch", branch},
             {"title", title},                {"prompt", b.at("prompt")},    {"agent", b.at("agent")},
             {"owner", b.at("owner")},        {"network", task_network(b.at("agent"))},
             {"git_credential", (*repo)["credential"]}};
  if (b.contains("permission_timeout_ms")) input["permission_timeout_ms"] = b["permission_timeout_ms"];
  // A pull request open for the branch is the task's from now on (its row leaves the list).
  if (!(*repo)["github"].is_null()) {
    auto q = ctx.statement("SELECT pull_id, pull_json FROM pulls WHERE repo_id = ? AND head_ref = ?");
    sql::bind_all(*q, (*repo)["repo_id"].get<std::string>(), branch);
    std::optional<std::string> listed;
    if (q->executeStep()) {
      listed = q->getColumn(0).getString();
      if (pull.is_null()) pull = Json::parse(q->getColumn(1).getString());
    }
    q->reset();
    if (listed)
      if (auto st = forget_pull(ctx, *listed); !st) return st.error();
  }
  if (!pull.is_null()) input["pull"] = pull;
  // Indexed at once, as the task will index itself: provisioning, no sessions, version 0.
  task::TaskRow created;
  created.task_id = task_id;
  created.repo_id = (*repo)["repo_id"].get<std::string>();
  created.base_branch = base;
  created.branch = branch;
  created.title = title;
  created.agent = b.at("agent").get<std::string>();
  created.owner_id = b.at("owner").at("user_id").get<std::string>();
  created.owner_name = b.at("owner").at("username").get<std::string>();
  created.created_at = created.updated_at = now;
  created.pull = pull;
  auto summary = task::index_summary(created, {}, nullptr);
  upsert_summary(ctx.db(), summary);
  if (auto st = ctx.create(task::address(org_id(ctx.db()), task_id), input); !st) return st.error();
  ctx.broadcast("organization.task.changed", summary);
  return summary;
}

Result<Json> task_changed(StepContext& ctx, const Json& s) {
  upsert_summary(ctx.db(), s);
  ctx.broadcast("organization.task.changed", s);
  return Json{{"task_id", s["task_id"]}, {"version", s["version"]}};
}

// Newest change first; the cursor is "<updated_at>:<task_id>" of the last item.
Result<Json> tasks(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{50}), 1, 500);
  std::string where = "1 = 1";
  std::vector<std::string> binds;
  auto filter = [&](const char* field, const char* column) {
    if (a.contains(field) && a[field].is_string() && !a[field].get<std::string>().empty()) {
      where += fmt::format(" AND {} = ?", column);
      binds.push_back(a[field]);
    }
  };
  filter("repo", "repo_id");
  filter("status", "status");
  filter("owner", "owner_id");
  if (a.value("needs_you", false)) where += " AND json_extract(summary_json, '$.needs_you') IS NOT NULL";
  auto archived = a.value("archived", std::string("exclude"));
  if (archived == "exclude") where += " AND status NOT IN ('archived', 'killed')";
  else if (archived == "only") where += " AND status = 'archived'";
  if (auto q = a.value("q", std::string()); !q.empty()) {
    where += " AND (title LIKE ? ESCAPE '\\' OR branch LIKE ? ESCAPE '\\')";
    std::string escaped;
    for (char c : q) {
      if (c == '%' || c == '_' || c == '\\') escaped += '\\';
      escaped += c;
    }
    binds.push_back("%" + escaped + "%");
    binds.push_back("%" + escaped + "%");
  }
  std::int64_t after_time = INT64_MAX;
  std::string after_id;
  if (auto cursor = a.value("after", std::string()); !cursor.empty()) {
    auto colon = cursor.find(':');
    if (colon == std::string::npos) return Error{ErrorCode::invalid, "the cursor is not one this server gave"};
    try {
      after_time = std::stoll(cursor.substr(0, colon));
    } catch (...) {
      return Error{ErrorCode::invalid, "the cursor is not one this server gave"};
    }
    after_id = cursor.substr(colon + 1);
    where += " AND (updated_at < ? OR (updated_at = ? AND task_id < ?))";
  }
  // Open pull requests no task works on are rows of the list too (no actor behind them).
  // Each table is read through its own index, newest first, `limit` rows at most, and
  // the two are merged: a page costs the same with 10,000 pull requests as with none.
  auto pulls = a.value("pulls", std::string("include"));
  const std::string kTaskRows = "SELECT summary_json, updated_at, task_id, repo_id, status, owner_id, title, branch FROM tasks";
  const std::string kPullRows = "SELECT summary_json, updated_at, pull_id AS task_id, repo_id, 'pull_request' AS status, "
                                "NULL AS owner_id, title, head_ref AS branch FROM pulls";
  auto newest = [&](const std::string& rows) {
    return fmt::format("SELECT * FROM (SELECT * FROM ({}) WHERE {} ORDER BY updated_at DESC, task_id DESC LIMIT ?)",
                       rows, where);
  };
  std::vector<std::string> parts;
  if (pulls != "only") parts.push_back(newest(kTaskRows));
  if (pulls != "exclude") parts.push_back(newest(kPullRows));
  auto q = ctx.statement(fmt::format("SELECT summary_json, updated_at, task_id FROM ({}) "
                                     "ORDER BY updated_at DESC, task_id DESC LIMIT ?",
                                     fmt::join(parts, " UNION ALL ")));
  // For each part: the filters present, in the order `where` names them, the cursor and
  // the part's limit; then the page's limit.
  int i = 1;
  for (std::size_t part = 0; part < parts.size(); ++part) {
    for (const auto& v : binds) sql::bind_one(*q, i++, v);
    if (after_time != INT64_MAX) {
      sql::bind_one(*q, i++, after_time);
      sql::bind_one(*q, i++, after_time);
      sql::bind_one(*q, i++, after_id);
    }
    sql::bind_one(*q, i++, limit);
  }
  sql::bind_one(*q, i, limit);
  Json items = Json::array();
  std::string last;
  while (q->executeStep()) {
    items.push_back(Json::parse(q->getColumn(0).getString()));
    last = fmt::format("{}:{}", q->getColumn(1).getInt64(), q->getColumn(2).getString());
  }
  Json next = items.size() == static_cast<std::size_t>(limit) ? Json(last) : Json(nullptr);
  return Json{{"items", items}, {"next_cursor", next}};
}

// A task's summary, or a listed pull request's row (its id "pr_...").
Result<Json> task_summary(ReadContext& ctx, const Json& a) {
  for (const char* sql : {"SELECT summary_json FROM tasks WHERE task_id = ?", "SELECT summary_json FROM pulls WHERE pull_id = ?"}) {
    auto q = ctx.statement(sql);
    sql::bind_all(*q, a.at("task_id").get<std::string>());
    if (q->executeStep()) return Json::parse(q->getColumn(0).getString());
  }
  return Error{ErrorCode::not_found, "no such task"};
}

}  // namespace

int role_rank(const std::string& role) {
  if (role == "owner") return 3;
  if (role == "admin") return 2;
  if (role == "member") return 1;
  return 0;
}

ActorType make_type() {
  ActorType t{"organization"};
  t.on_create = create;
  t.on_queue(kAddMember, add_member)
      .on_queue(kSetRole, set_role)
      .on_queue(kRemoveMember, remove_member)
      .on_queue(kSetSecret, set_secret)
      .on_queue(kDeleteSecret, delete_secret)
      .on_queue(kSetSettings, set_settings)
      .on_queue(kSetNetwork, set_network)
      .on_action(kNetwork, network)
      .on_action(kSecrets, secrets)
      .on_action(kSealedSecrets, sealed_secrets)
      .on_action(kGet, get)
      .on_action(kMembers, members)
      .on_action(kUsage, usage)
      .on_action(kMemberNamed, member_named)
      .on_queue(kAddRepo, add_repo)
      .on_queue(kRemoveRepo, remove_repo)
      .on_queue(kGitHubRepos, github_repos)
      .on_queue(kCreateTask, create_task)
      .on_queue(kTaskChanged, task_changed)
      .on_action(kRepos, repos)
      .on_action(kRepo, repo)
      .on_action(kTasks, tasks)
      .on_action(kTask, task_summary);
  return t;
}

}  // namespace hearth::actors::organization
