// The github-data actor's handlers and reads: see github_data_actor.h and docs/github.md.
#include "actors/github_data/github_data_actor.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/audit/audit_actor.h"
#include "actors/github_data/github_sync.h"
#include "actors/github_data/webhook_events.h"
#include "actors/host/host.h"
#include "github/app.h"
#include "actors/host/step_context.h"
#include "actors/organization/organization_actor.h"
#include "storage/database.h"
#include "storage/sql.h"
#include "storage/text.h"

namespace hearth::actors::github_data {
namespace {

constexpr std::int64_t kKeptDeliveries = 500;

std::int64_t now() { return storage::now_ms(); }

Json summary_json(SQLite::Database& db) {
  SQLite::Statement q(db,
                      "SELECT org_id, installation_id, account_login, account_type, status, linked_by, linked_at, "
                      "sync_generation, sync_phase, sync_processed, sync_total, sync_error, last_sync_at, updated_at "
                      "FROM github_meta");
  if (!q.executeStep()) return nullptr;
  auto count = [&db](const char* sql) { return db.execAndGet(sql).getInt64(); };
  return Json{{"org_id", q.getColumn(0).getString()},
              {"installation",
               q.getColumn(1).isNull()
                   ? Json(nullptr)
                   : Json{{"installation_id", q.getColumn(1).getInt64()},
                          {"account_login", sql::text_or_null(q.getColumn(2))},
                          {"account_type", sql::text_or_null(q.getColumn(3))},
                          {"linked_by", sql::text_or_null(q.getColumn(5))},
                          {"linked_at", sql::int_or_null(q.getColumn(6))}}},
              {"status", q.getColumn(4).getString()},
              {"sync", {{"generation", q.getColumn(7).getInt64()},
                        {"phase", sql::text_or_null(q.getColumn(8))},
                        {"processed", q.getColumn(9).getInt64()},
                        {"total", sql::int_or_null(q.getColumn(10))},
                        {"error", sql::text_or_null(q.getColumn(11))},
                        {"last_sync_at", sql::int_or_null(q.getColumn(12))}}},
              {"repositories", count("SELECT COUNT(*) FROM repositories")},
              {"members", count("SELECT COUNT(*) FROM members")},
              {"open_pull_requests", count("SELECT COUNT(*) FROM pull_requests WHERE state IN ('open', 'draft')")},
              {"updated_at", q.getColumn(13).getInt64()}};
}

std::string org_of(StepContext& ctx) { return ctx.db().execAndGet("SELECT org_id FROM github_meta").getString(); }

std::optional<std::int64_t> linked_installation(SQLite::Database& db) {
  return sql::column<std::optional<std::int64_t>>(db.execAndGet("SELECT installation_id FROM github_meta"));
}

void announce(StepContext& ctx, const std::string& what) {
  auto s = summary_json(ctx.db());
  s["changed"] = what;
  ctx.broadcast("github.data.changed", s);
}

Status audit(StepContext& ctx, const std::string& kind, const std::string& by, const std::string& outcome, Json detail) {
  auto org = ctx.db().execAndGet("SELECT org_id FROM github_meta").getString();
  Json entry{{"at", now()},       {"user_id", nullptr},    {"username", by},
             {"kind", kind},      {"target", ctx.address().display()},
             {"outcome", outcome}, {"detail", std::move(detail)}};
  return ctx.create(audit::address(org), Json::object(), Json::array({{{"queue", audit::kAppend}, {"body", entry}}}));
}

// --- Applying a delivery's change -------------------------------------------------------

// What the organization is told of the installation's repositories, to show them as its
// own (organization::kGitHubRepos): upserts of repositories whose clone URL and default
// branch are known, removals, or all of them gone.
struct Mirror {
  Json upsert = Json::array();
  Json remove = Json::array();
  bool remove_all = false;
  bool complete = false;  // `upsert` is every repository: the others are gone
  Json pulls = Json::array();  // pull requests seen: {pull, action, sender, generation}
  std::optional<std::int64_t> pulls_swept_before;  // a full sync saw every open one
};

// The row of `repo_id` as the organization takes it; null until its clone URL and
// default branch are known.
Json mirror_row(SQLite::Database& db, std::int64_t repo_id) {
  SQLite::Statement q(db, "SELECT full_name, clone_url, default_branch, archived FROM repositories WHERE repo_id = ?");
  sql::bind_all(q, repo_id);
  if (!q.executeStep()) return nullptr;
  auto clone_url = q.getColumn(1).getString();
  auto branch = q.getColumn(2).getString();
  if (clone_url.empty() || branch.empty()) return nullptr;
  // GitHub's page is its clone URL without ".git".
  auto html = clone_url.ends_with(".git") ? clone_url.substr(0, clone_url.size() - 4) : clone_url;
  return Json{{"github_id", repo_id},  {"full_name", q.getColumn(0).getString()}, {"clone_url", clone_url},
              {"default_branch", branch}, {"html_url", html}, {"archived", q.getColumn(3).getInt() != 0}};
}

Status flush(StepContext& ctx, const Mirror& m) {
  if (m.upsert.empty() && m.remove.empty() && !m.remove_all && !m.complete && m.pulls.empty() && !m.pulls_swept_before)
    return {};
  auto org = ctx.db().execAndGet("SELECT org_id FROM github_meta").getString();
  Json body{{"upsert", m.upsert}, {"remove", m.remove}, {"remove_all", m.remove_all}, {"complete", m.complete}};
  // In the same message as the repositories, after them: the organization knows a pull
  // request's repository by the time it reads the pull request.
  if (!m.pulls.empty()) body["pulls"] = m.pulls;
  if (m.pulls_swept_before) body["pulls_swept_before"] = *m.pulls_swept_before;
  return ctx.send(organization::address(org), organization::kGitHubRepos, body);
}

// A repository as the delivery (or a sync page) shows it; what a slim delivery lacks
// (clone URL, default branch) keeps what was known. Told to the organization when what
// it shows changed.
void upsert_repository(StepContext& ctx, const RepoFacts& r, Mirror& mirror) {
  auto before = mirror_row(ctx.db(), r.id);
  auto up = ctx.statement(
      "INSERT INTO repositories(repo_id, full_name, clone_url, default_branch, private, archived, updated_at, "
      "sync_generation) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT sync_generation FROM github_meta)) "
      "ON CONFLICT(repo_id) DO UPDATE SET full_name = ?2, "
      "clone_url = CASE WHEN ?3 = '' THEN clone_url ELSE ?3 END, "
      "default_branch = CASE WHEN ?4 = '' THEN default_branch ELSE ?4 END, private = ?5, archived = ?6, "
      "updated_at = ?7, sync_generation = excluded.sync_generation");
  sql::bind_all(*up, r.id, r.full_name, r.clone_url, r.default_branch, r.is_private, r.archived, now());
  up->exec();
  auto after = mirror_row(ctx.db(), r.id);
  if (!after.is_null() && after != before) mirror.upsert.push_back(after);
}

void remove_repository(StepContext& ctx, std::int64_t repo_id, Mirror& mirror) {
  mirror.remove.push_back(repo_id);
  for (const char* table : {"repositories", "pull_requests", "branch_heads"}) {
    auto del = ctx.statement(fmt::format("DELETE FROM {} WHERE repo_id = ?", table));
    sql::bind_all(*del, repo_id);
    del->exec();
  }
}

std::int64_t current_generation(SQLite::Database& db) {
  return db.execAndGet("SELECT sync_generation FROM github_meta").getInt64();
}

// Also tells the organization (in `mirror`), which gives it to the task on its branch or
// lists it.
// `review`: what a reviewer said (webhook_events.h), passed on to the task.
void upsert_pull(StepContext& ctx, const PullFacts& p, const std::string& action, const std::string& sender,
                 Mirror& mirror, const Json& review = nullptr) {
  // A fork's: not followed (its branch is another repository's), not kept, not listed.
  if (p.fork) return;
  mirror.pulls.push_back({{"pull", pull_json(p)}, {"action", action}, {"sender", sender},
                          {"generation", current_generation(ctx.db())}});
  if (!review.is_null()) mirror.pulls.back()["review"] = review;
  auto up = ctx.statement(
      "INSERT INTO pull_requests(repo_id, number, repo_full_name, title, state, head_ref, head_sha, base_ref, author, "
      "url, github_updated_at, updated_at, sync_generation) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
      "(SELECT sync_generation FROM github_meta)) "
      "ON CONFLICT(repo_id, number) DO UPDATE SET repo_full_name = ?3, title = ?4, state = ?5, head_ref = ?6, "
      "head_sha = ?7, base_ref = ?8, author = ?9, url = ?10, github_updated_at = ?11, updated_at = ?12, "
      "sync_generation = excluded.sync_generation");
  sql::bind_all(*up, p.repo_id, p.number, p.repo_full_name, p.title, p.state, p.head_ref, p.head_sha, p.base_ref,
                p.author, p.url, p.updated_at_ms, now());
  up->exec();
}

// A check on a commit: told (as action "checks") for each known pull request it names,
// or, naming none (statuses), for the open ones whose head is that commit.
void check_pulls(StepContext& ctx, const WebhookChange& c, Mirror& mirror) {
  std::string sql =
      "SELECT repo_full_name, number, title, state, head_ref, head_sha, base_ref, author, url, github_updated_at "
      "FROM pull_requests WHERE repo_id = ? AND ";
  sql += c.check_pulls.empty() ? "head_sha = ? AND state IN ('open', 'draft')" : "number = ?";
  auto known = [&](auto&& bind) {
    auto q = ctx.statement(sql);
    bind(*q);
    while (q->executeStep()) {
      PullFacts p{.repo_id = c.repo_id, .number = q->getColumn(1).getInt64(),
                  .repo_full_name = q->getColumn(0).getString(), .title = q->getColumn(2).getString(),
                  .state = q->getColumn(3).getString(), .head_ref = q->getColumn(4).getString(),
                  .base_ref = q->getColumn(6).getString(), .author = q->getColumn(7).getString(),
                  .url = q->getColumn(8).getString(), .head_sha = q->getColumn(5).getString(),
                  .updated_at_ms = q->getColumn(9).getInt64()};
      Json check = c.check;
      check["head_sha"] = c.head_sha;
      mirror.pulls.push_back({{"pull", pull_json(p)}, {"action", "checks"}, {"sender", c.sender},
                              {"generation", current_generation(ctx.db())}, {"check", check}});
    }
  };
  if (c.check_pulls.empty()) known([&](SQLite::Statement& q) { sql::bind_all(q, c.repo_id, c.head_sha); });
  for (auto number : c.check_pulls) known([&](SQLite::Statement& q) { sql::bind_all(q, c.repo_id, number); });
}

void set_status(StepContext& ctx, const std::string& status) {
  auto up = ctx.statement("UPDATE github_meta SET status = ?, updated_at = ?");
  sql::bind_all(*up, status, now());
  up->exec();
}

void apply(StepContext& ctx, const WebhookChange& c, Mirror& mirror) {
  switch (c.kind) {
    case ChangeKind::installation:
      set_status(ctx, c.installation_status);
      if (c.installation_status == "removed") {
        // GitHub no longer shows the organization anything through it.
        for (const char* table : {"repositories", "pull_requests", "branch_heads", "members"})
          ctx.db().exec(fmt::format("DELETE FROM {}", table));
        mirror.remove_all = true;
        // A sync still running reads nothing more into it (its pages are ignored).
        ctx.db().exec("UPDATE github_meta SET sync_phase = 'failed', sync_error = 'the installation was removed' "
                      "WHERE sync_phase IS NOT NULL AND sync_phase NOT IN ('done', 'failed')");
        break;
      }
      for (const auto& r : c.repositories) upsert_repository(ctx, r, mirror);
      break;
    case ChangeKind::repositories_added:
    case ChangeKind::repository_changed:
      for (const auto& r : c.repositories) upsert_repository(ctx, r, mirror);
      break;
    case ChangeKind::repositories_removed:
    case ChangeKind::repository_deleted:
      for (auto id : c.removed_repository_ids) remove_repository(ctx, id, mirror);
      break;
    case ChangeKind::pull_request:
      upsert_repository(ctx, c.repositories.at(0), mirror);
      upsert_pull(ctx, *c.pull, c.action, c.sender, mirror, c.review);
      break;
    case ChangeKind::checks:
      check_pulls(ctx, c, mirror);
      break;
    case ChangeKind::push: {
      auto sql = c.head_sha.empty()
                     ? std::string("DELETE FROM branch_heads WHERE repo_id = ?1 AND ref = ?2")
                     : std::string("INSERT INTO branch_heads(repo_id, ref, sha, updated_at) VALUES(?1, ?2, ?3, ?4) "
                                   "ON CONFLICT(repo_id, ref) DO UPDATE SET sha = ?3, updated_at = ?4");
      auto up = ctx.statement(sql);
      if (c.head_sha.empty()) sql::bind_all(*up, c.repo_id, c.ref);
      else sql::bind_all(*up, c.repo_id, c.ref, c.head_sha, now());
      up->exec();
      break;
    }
    case ChangeKind::ping:
    case ChangeKind::ignored:
      break;
  }
}

// --- Handlers ---------------------------------------------------------------------------

Status create(StepContext& ctx, const Json& in) {
  auto ins = ctx.statement("INSERT INTO github_meta(id, org_id, updated_at) VALUES(1, ?, ?)");
  sql::bind_all(*ins, in.at("org_id").get<std::string>(), now());
  ins->exec();
  return {};
}

Result<Json> on_link(bool can_sync, StepContext& ctx, const Json& b) {
  if (ctx.address().key.at(0) == kUnlinked)
    return Error{ErrorCode::invalid, "the store of unrouted deliveries links no installation"};
  auto id = b.at("installation_id").get<std::int64_t>();
  if (auto current = linked_installation(ctx.db()); current && *current != id)
    return Error{ErrorCode::conflict, fmt::format("this organization is linked to GitHub installation {}; unlink it "
                                                  "first", *current)};
  auto up = ctx.statement(
      "UPDATE github_meta SET installation_id = ?, account_login = ?, account_type = ?, status = 'connected', "
      "linked_by = ?, linked_at = ?, updated_at = ?");
  sql::bind_all(*up, id, b.value("account_login", std::string()), b.value("account_type", std::string()),
                b.value("by", std::string()), now(), now());
  up->exec();
  if (auto st = audit(ctx, "github.installation.linked", b.value("by", std::string()), "ok",
                      {{"installation_id", id}, {"account", b.value("account_login", std::string())}});
      !st)
    return st.error();
  announce(ctx, "linked");
  // Deliveries for this installation that came before the link, kept unrouted: handed
  // over to be applied here, in the order received.
  if (auto st = ctx.create(address(kUnlinked), {{"org_id", kUnlinked}},
                           Json::array({{{"queue", kHandOver}, {"body", {{"installation_id", id}, {"org_id", org_of(ctx)}}}}}));
      !st)
    return st.error();
  if (can_sync)
    if (auto id = ctx.send_self(kSync, {{"by", b.value("by", std::string())}, {"reason", "linked"}}); !id)
      return id.error();
  return summary_json(ctx.db());
}

// On the unrouted store: sends the deliveries kept for `installation_id` to `org_id`'s
// actor (each with its delivery id as the dedupe key, as the edge sends them), marks
// them forwarded.
Result<Json> on_hand_over(StepContext& ctx, const Json& b) {
  if (ctx.address().key.at(0) != kUnlinked) return Error{ErrorCode::invalid, "only unrouted deliveries are handed over"};
  auto installation = b.at("installation_id").get<std::int64_t>();
  auto org = b.at("org_id").get<std::string>();
  auto q = ctx.statement("SELECT delivery_id, event, payload_json FROM deliveries WHERE installation_id = ? AND "
                         "outcome = 'unrouted' ORDER BY received_at, rowid");
  sql::bind_all(*q, installation);
  std::vector<std::string> ids;
  while (q->executeStep()) {
    auto id = q->getColumn(0).getString();
    Json body{{"delivery_id", id}, {"event", q->getColumn(1).getString()}, {"payload", Json::parse(q->getColumn(2).getString())}};
    if (auto st = ctx.send(address(org), kWebhook, body, "delivery:" + id); !st) return st.error();
    ids.push_back(id);
  }
  q->reset();
  for (const auto& id : ids) {
    auto up = ctx.statement("UPDATE deliveries SET outcome = 'forwarded', error = NULL WHERE delivery_id = ?");
    sql::bind_all(*up, id);
    up->exec();
  }
  return Json{{"forwarded", ids.size()}, {"org_id", org}};
}

Result<Json> on_unlink(StepContext& ctx, const Json& b) {
  auto current = linked_installation(ctx.db());
  if (!current) return summary_json(ctx.db());
  ctx.db().exec("UPDATE github_meta SET installation_id = NULL, account_login = NULL, account_type = NULL, "
                "status = 'unlinked', linked_by = NULL, linked_at = NULL, sync_phase = NULL, sync_processed = 0, "
                "sync_total = NULL, sync_error = NULL");
  for (const char* table : {"repositories", "pull_requests", "branch_heads", "members"})
    ctx.db().exec(fmt::format("DELETE FROM {}", table));
  set_status(ctx, "unlinked");
  Mirror mirror;
  mirror.remove_all = true;
  if (auto st = flush(ctx, mirror); !st) return st.error();
  if (auto st = audit(ctx, "github.installation.unlinked", b.value("by", std::string()), "ok",
                      {{"installation_id", *current}});
      !st)
    return st.error();
  announce(ctx, "unlinked");
  return summary_json(ctx.db());
}

void record_delivery(StepContext& ctx, const Json& b, const WebhookChange& c, const std::string& outcome,
                     const std::optional<std::string>& error) {
  auto ins = ctx.statement(
      "INSERT OR REPLACE INTO deliveries(delivery_id, event, action, installation_id, outcome, summary, error, "
      "payload_json, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
  sql::bind_all(*ins, b.at("delivery_id").get<std::string>(), c.event, c.action,
                c.installation_id ? std::optional(c.installation_id) : std::nullopt, outcome, c.summary, error,
                b.at("payload").dump(), now());
  ins->exec();
  auto prune = ctx.statement(
      "DELETE FROM deliveries WHERE received_at < (SELECT received_at FROM deliveries ORDER BY received_at DESC "
      "LIMIT 1 OFFSET ?)");
  sql::bind_all(*prune, kKeptDeliveries - 1);
  prune->exec();
}

// Repositories added to the installation arrive without their clone URL and default
// branch: those are read from GitHub off the loop (kRepoDetails), one token per
// repository reading its metadata only.
Status fetch_details(const std::shared_ptr<github::App>& app, StepContext& ctx, const WebhookChange& c) {
  if (!app || c.kind != ChangeKind::repositories_added) return {};
  std::vector<std::pair<std::int64_t, std::string>> missing;
  for (const auto& r : c.repositories)
    if (mirror_row(ctx.db(), r.id).is_null()) missing.emplace_back(r.id, r.full_name);
  auto installation = linked_installation(ctx.db());
  if (missing.empty() || !installation) return {};
  auto job = ctx.spawn_io("github repositories", kRepoDetails, Json::object(),
                          [app, missing, id = *installation](std::stop_token stop) -> Result<Json> {
                            // One that cannot be read is left for the next sync; the others go on.
                            Json rows = Json::array(), failed = Json::array();
                            for (const auto& [repo_id, full] : missing) {
                              auto r = app->get(id, {{}, {{"metadata", "read"}}, {repo_id}}, "/repos/" + full, stop);
                              if (!r && r.error().code == ErrorCode::interrupted) return r.error();
                              if (!r) failed.push_back({{"full_name", full}, {"error", r.error().message}});
                              else rows.push_back(repository_row(*r));
                            }
                            return Json{{"repositories", rows}, {"failed", failed}};
                          });
  if (!job) return job.error();
  return {};
}

Result<Json> on_repo_details(StepContext& ctx, const Json& b) {
  if (!b.value("ok", false)) {
    auto error = error_from_json(b["error"]);
    spdlog::warn("github.repositories.details_failed actor={} error=\"{}\"", ctx.address().display(), error.message);
    return Json{{"error", error.message}};  // the next sync fills them in
  }
  for (const auto& f : b["result"].value("failed", Json::array()))
    spdlog::warn("github.repository.details_failed actor={} repository={} error=\"{}\"", ctx.address().display(),
                 f.value("full_name", std::string()), f.value("error", std::string()));
  Mirror mirror;
  for (const auto& r : b["result"].value("repositories", Json::array())) {
    if (!mirror_row(ctx.db(), r.at("id").get<std::int64_t>()).is_null()) continue;
    // Only repositories still in the installation (one removed meanwhile stays removed).
    auto known = ctx.statement("SELECT 1 FROM repositories WHERE repo_id = ?");
    sql::bind_all(*known, r.at("id").get<std::int64_t>());
    if (!known->executeStep()) continue;
    upsert_repository(ctx, {r.at("id").get<std::int64_t>(), r.at("full_name").get<std::string>(),
                            r.at("clone_url").get<std::string>(), r.at("default_branch").get<std::string>(),
                            r.at("private").get<bool>(), r.at("archived").get<bool>()},
                      mirror);
  }
  if (auto st = flush(ctx, mirror); !st) return st.error();
  announce(ctx, "repositories read");
  return Json{{"repositories", mirror.upsert.size()}};
}

// Whether delivery `delivery_id` was taken already (applied, ignored, kept unrouted or
// forwarded); one rejected may come again (after a link, GitHub's own redelivery).
bool delivery_kept(StepContext& ctx, const std::string& delivery_id) {
  auto q = ctx.statement("SELECT 1 FROM deliveries WHERE delivery_id = ? AND outcome != 'rejected'");
  sql::bind_all(*q, delivery_id);
  bool kept = q->executeStep();
  q->reset();
  return kept;
}

Result<Json> on_webhook(const std::shared_ptr<github::App>& app, StepContext& ctx, const Json& b) {
  // Past the queue's dedupe window, the kept deliveries still catch GitHub's redelivery
  // of one applied already; a server admin's redelivery applies it again on purpose.
  if (!b.value("redelivery", false) && delivery_kept(ctx, b.at("delivery_id").get<std::string>()))
    return Json{{"outcome", "duplicate"}};
  auto event = b.at("event").get<std::string>();
  const auto& payload = b.at("payload");
  auto change = parse_delivery(event, payload);
  if (!change) {
    // Kept and shown, not failed: a retry would read the same payload.
    WebhookChange c;
    c.event = event;
    c.action = payload.is_object() ? payload.value("action", std::string()) : std::string();
    c.installation_id = installation_of(payload);
    c.summary = event;
    record_delivery(ctx, b, c, "rejected", change.error().message);
    return Json{{"outcome", "rejected"}, {"error", change.error().message}};
  }
  if (ctx.address().key.at(0) == kUnlinked) {
    record_delivery(ctx, b, *change, "unrouted", std::nullopt);
    return Json{{"outcome", "unrouted"}};
  }
  auto linked = linked_installation(ctx.db());
  if (change->installation_id != 0 && linked != change->installation_id) {
    auto why = fmt::format("for installation {}, not the one this organization links", change->installation_id);
    record_delivery(ctx, b, *change, "rejected", why);
    return Json{{"outcome", "rejected"}, {"error", why}};
  }
  Mirror mirror;
  apply(ctx, *change, mirror);
  if (auto st = flush(ctx, mirror); !st) return st.error();
  if (auto st = fetch_details(app, ctx, *change); !st) return st.error();
  auto outcome = change->kind == ChangeKind::ignored ? "ignored" : "applied";
  record_delivery(ctx, b, *change, outcome, std::nullopt);
  if (auto st = audit(ctx, "github.webhook." + event, "github", outcome,
                      {{"delivery_id", b.at("delivery_id")}, {"action", change->action}, {"summary", change->summary}});
      !st)
    return st.error();
  if (change->kind != ChangeKind::ignored && change->kind != ChangeKind::ping) announce(ctx, change->summary);
  return Json{{"outcome", outcome}, {"summary", change->summary}};
}

// --- Full sync (github_sync.h) --------------------------------------------------------

bool sync_running(SQLite::Database& db) {
  auto phase = sql::column<std::optional<std::string>>(db.execAndGet("SELECT sync_phase FROM github_meta"));
  return phase && *phase != "done" && *phase != "failed";
}

Result<Json> on_sync(Host& host, const std::shared_ptr<github::App>& app, StepContext& ctx, const Json&) {
  if (!app) return Error{ErrorCode::unavailable, "the GitHub App is not configured on this server (see docs/github.md)"};
  auto meta = summary_json(ctx.db());
  if (meta["installation"].is_null()) return Error{ErrorCode::conflict, "link a GitHub installation first"};
  if (meta["status"] != "connected")
    return Error{ErrorCode::conflict, fmt::format("the installation is {}; it cannot be synced",
                                                  meta["status"].get<std::string>())};
  if (sync_running(ctx.db())) return meta;
  auto generation = meta["sync"]["generation"].get<std::int64_t>() + 1;
  auto up = ctx.statement("UPDATE github_meta SET sync_generation = ?, sync_phase = 'discovering_repositories', "
                          "sync_processed = 0, sync_total = NULL, sync_error = NULL, updated_at = ?");
  sql::bind_all(*up, generation, now());
  up->exec();
  SyncPlan plan{ctx.address(), generation, meta["installation"]["installation_id"].get<std::int64_t>(),
                meta["installation"]["account_login"].get<std::string>(),
                meta["installation"]["account_type"].get<std::string>()};
  auto job = ctx.spawn_io("github sync", kSyncDone, {{"generation", generation}},
                          [&host, app, plan](std::stop_token stop) { return run_sync(*app, host, plan, stop); });
  if (!job) return job.error();
  announce(ctx, "sync started");
  return summary_json(ctx.db());
}

Result<Json> on_sync_page(StepContext& ctx, const Json& b) {
  auto generation = b.at("generation").get<std::int64_t>();
  if (generation != current_generation(ctx.db()) || !sync_running(ctx.db()))
    return Json{{"ignored", "from a sync that is over"}};
  if (auto st = ctx.db().execAndGet("SELECT status FROM github_meta").getString(); st != "connected")
    return Json{{"ignored", "the installation is " + st}};
  auto at = now();
  Mirror mirror;
  for (const auto& r : b.value("repositories", Json::array())) {
    auto before = mirror_row(ctx.db(), r.at("id").get<std::int64_t>());
    auto up = ctx.statement(
        "INSERT INTO repositories(repo_id, full_name, clone_url, default_branch, private, archived, sync_generation, "
        "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(repo_id) DO UPDATE SET full_name = ?2, "
        "clone_url = ?3, default_branch = ?4, private = ?5, archived = ?6, sync_generation = ?7, updated_at = ?8");
    sql::bind_all(*up, r.at("id").get<std::int64_t>(), r.at("full_name").get<std::string>(),
                  r.at("clone_url").get<std::string>(), r.at("default_branch").get<std::string>(),
                  r.at("private").get<bool>(), r.at("archived").get<bool>(), generation, at);
    up->exec();
    auto after = mirror_row(ctx.db(), r.at("id").get<std::int64_t>());
    if (!after.is_null() && after != before) mirror.upsert.push_back(after);
  }
  for (const auto& m : b.value("members", Json::array())) {
    auto up = ctx.statement("INSERT INTO members(login, role, sync_generation, updated_at, github_id) "
                            "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(login) DO UPDATE SET role = ?2, "
                            "sync_generation = ?3, updated_at = ?4, github_id = ?5");
    auto id = m.value("github_id", Json());
    sql::bind_all(*up, m.at("login").get<std::string>(), m.at("role").get<std::string>(), generation, at,
                  id.is_number_integer() ? std::optional(id.get<std::int64_t>()) : std::nullopt);
    up->exec();
  }
  for (const auto& p : b.value("pulls", Json::array())) {
    PullFacts f{p.at("repo_id").get<std::int64_t>(), p.at("number").get<std::int64_t>(),
                p.at("repo_full_name").get<std::string>(), p.at("title").get<std::string>(),
                p.at("state").get<std::string>(), p.at("head_ref").get<std::string>(),
                p.at("base_ref").get<std::string>(), p.at("author").get<std::string>(),
                p.at("url").get<std::string>(), p.at("head_sha").get<std::string>(),
                parse_github_time(p.at("updated_at").get<std::string>())};
    upsert_pull(ctx, f, "sync", "", mirror);  // stamped with the current generation, this sync's
  }
  if (auto st = flush(ctx, mirror); !st) return st.error();
  auto up = ctx.statement("UPDATE github_meta SET sync_phase = ?, sync_processed = ?, sync_total = ?, updated_at = ?");
  sql::bind_all(*up, b.at("phase").get<std::string>(), b.value("processed", std::int64_t{0}),
                sql::optional_int(b.value("total", Json())), at);
  up->exec();
  auto s = summary_json(ctx.db());
  ctx.broadcast("github.sync.progress", s["sync"]);
  return s["sync"];
}

Result<Json> on_sync_done(StepContext& ctx, const Json& b) {
  auto generation = b["context"].value("generation", std::int64_t{0});
  if (generation != current_generation(ctx.db())) return Json{{"ignored", "from an earlier sync"}};
  if (!b.value("ok", false)) {
    auto error = error_from_json(b["error"]);
    if (error.code == ErrorCode::interrupted) {
      // The server stopped during the sync: it starts again (what it fetched stays).
      ctx.db().exec("UPDATE github_meta SET sync_phase = 'failed'");
      if (auto id = ctx.send_self(kSync, {{"reason", "resumed after a restart"}}); !id) return id.error();
      return Json{{"restarted", true}};
    }
    auto up = ctx.statement("UPDATE github_meta SET sync_phase = 'failed', sync_error = ?, updated_at = ?");
    sql::bind_all(*up, error.message, now());
    up->exec();
    announce(ctx, "sync failed");
    return Json{{"phase", "failed"}, {"error", error.message}};
  }
  // Rows the sync did not see are gone from GitHub (pull requests: no longer open).
  for (const char* sweep : {"DELETE FROM repositories WHERE sync_generation < ?",
                            "DELETE FROM members WHERE sync_generation < ?",
                            "DELETE FROM pull_requests WHERE sync_generation < ? AND state IN ('open', 'draft')"}) {
    auto del = ctx.statement(sweep);
    sql::bind_all(*del, generation);
    del->exec();
  }
  ctx.db().exec("DELETE FROM pull_requests WHERE repo_id NOT IN (SELECT repo_id FROM repositories)");
  // The organization is told the whole set (its repositories from GitHub are these and
  // no others), which also mends anything it missed.
  Mirror mirror;
  mirror.complete = true;
  mirror.pulls_swept_before = generation;
  auto all = ctx.statement("SELECT repo_id FROM repositories ORDER BY repo_id");
  while (all->executeStep())
    if (auto row = mirror_row(ctx.db(), all->getColumn(0).getInt64()); !row.is_null()) mirror.upsert.push_back(row);
  if (auto st = flush(ctx, mirror); !st) return st.error();
  auto up = ctx.statement("UPDATE github_meta SET sync_phase = 'done', last_sync_at = ?, updated_at = ?");
  sql::bind_all(*up, now(), now());
  up->exec();
  announce(ctx, "synced");
  return b["result"];
}

// --- Reads ------------------------------------------------------------------------------

Result<Json> summary(ReadContext& ctx, const Json&) { return summary_json(ctx.db); }

Result<Json> repositories(ReadContext& ctx, const Json&) {
  auto q = ctx.statement(
      "SELECT repo_id, full_name, clone_url, default_branch, private, archived, updated_at FROM repositories "
      "ORDER BY full_name");
  Json items = Json::array();
  while (q->executeStep())
    items.push_back({{"repo_id", q->getColumn(0).getInt64()},       {"full_name", q->getColumn(1).getString()},
                     {"clone_url", q->getColumn(2).getString()},    {"default_branch", q->getColumn(3).getString()},
                     {"private", q->getColumn(4).getInt() != 0},    {"archived", q->getColumn(5).getInt() != 0},
                     {"updated_at", q->getColumn(6).getInt64()}});
  return Json{{"items", items}};
}

Result<Json> pull_requests(ReadContext& ctx, const Json& a) {
  auto state = a.value("state", std::string());
  if (!state.empty() && state != "open" && state != "draft" && state != "closed" && state != "merged")
    return Error{ErrorCode::invalid, "state must be open, draft, closed or merged"};
  SQLite::Statement q(ctx.db,
                      std::string("SELECT repo_id, number, repo_full_name, title, state, head_ref, head_sha, base_ref, "
                                  "author, url, github_updated_at FROM pull_requests WHERE ") +
                          (state.empty() ? "state IN ('open', 'draft')" : "state = ?") +
                          " ORDER BY github_updated_at DESC, repo_full_name, number");
  if (!state.empty()) sql::bind_all(q, state);
  Json items = Json::array();
  while (q.executeStep())
    items.push_back({{"repo_id", q.getColumn(0).getInt64()},  {"number", q.getColumn(1).getInt64()},
                     {"repo_full_name", q.getColumn(2).getString()}, {"title", q.getColumn(3).getString()},
                     {"state", q.getColumn(4).getString()},   {"head_ref", q.getColumn(5).getString()},
                     {"head_sha", q.getColumn(6).getString()}, {"base_ref", q.getColumn(7).getString()},
                     {"author", q.getColumn(8).getString()},  {"url", q.getColumn(9).getString()},
                     {"updated_at", q.getColumn(10).getInt64()}});
  return Json{{"items", items}};
}

Result<Json> member(ReadContext& ctx, const Json& a) {
  SQLite::Statement q(ctx.db, "SELECT login, role, github_id FROM members WHERE login = ? COLLATE NOCASE");
  sql::bind_all(q, a.at("login").get<std::string>());
  if (!q.executeStep()) return Error{ErrorCode::not_found, "not a member of the installation's account"};
  // The same account, not only the same login (logins can be given up and taken).
  if (a.contains("github_id") && (q.getColumn(2).isNull() || q.getColumn(2).getInt64() != a["github_id"].get<std::int64_t>()))
    return Error{ErrorCode::not_found, "not a member of the installation's account"};
  return Json{{"login", q.getColumn(0).getString()}, {"role", q.getColumn(1).getString()}};
}

Result<Json> git_access(ReadContext& ctx, const Json& a) {
  SQLite::Statement meta(ctx.db, "SELECT installation_id, status FROM github_meta");
  if (!meta.executeStep() || meta.getColumn(0).isNull())
    return Error{ErrorCode::conflict, "the organization has no GitHub installation linked"};
  auto status = meta.getColumn(1).getString();
  if (status != "connected")
    return Error{ErrorCode::conflict, fmt::format("the organization's GitHub installation is {}", status)};
  SQLite::Statement q(ctx.db, "SELECT full_name FROM repositories WHERE repo_id = ?");
  sql::bind_all(q, a.at("repo_id").get<std::int64_t>());
  if (!q.executeStep())
    return Error{ErrorCode::not_found, "the repository is no longer part of the organization's GitHub installation"};
  auto full = q.getColumn(0).getString();
  return Json{{"installation_id", meta.getColumn(0).getInt64()}, {"full_name", full},
              {"name", full.substr(full.find('/') + 1)}};
}

Json delivery_json(SQLite::Statement& q, bool with_payload) {
  Json d{{"delivery_id", q.getColumn(0).getString()}, {"event", q.getColumn(1).getString()},
         {"action", q.getColumn(2).getString()},      {"installation_id", sql::int_or_null(q.getColumn(3))},
         {"outcome", q.getColumn(4).getString()},     {"summary", q.getColumn(5).getString()},
         {"error", sql::text_or_null(q.getColumn(6))}, {"received_at", q.getColumn(7).getInt64()}};
  if (with_payload) d["payload"] = Json::parse(q.getColumn(8).getString());
  return d;
}

constexpr const char* kDeliveryColumns =
    "delivery_id, event, action, installation_id, outcome, summary, error, received_at, payload_json";

Result<Json> deliveries(ReadContext& ctx, const Json& a) {
  auto limit = std::clamp<std::int64_t>(a.value("limit", std::int64_t{50}), 1, kKeptDeliveries);
  SQLite::Statement q(ctx.db, fmt::format("SELECT {} FROM deliveries ORDER BY received_at DESC, rowid DESC LIMIT ?",
                                          kDeliveryColumns));
  sql::bind_all(q, limit);
  Json items = Json::array();
  while (q.executeStep()) items.push_back(delivery_json(q, false));
  return Json{{"items", items}};
}

Result<Json> delivery(ReadContext& ctx, const Json& a) {
  SQLite::Statement q(ctx.db, fmt::format("SELECT {} FROM deliveries WHERE delivery_id = ?", kDeliveryColumns));
  sql::bind_all(q, a.at("delivery_id").get<std::string>());
  if (!q.executeStep()) return Error{ErrorCode::not_found, "no such delivery"};
  return delivery_json(q, true);
}

}  // namespace

ActorType make_type(Host& host, std::shared_ptr<github::App> app) {
  ActorType t{"github_data"};
  t.on_create = create;
  bool can_sync = app != nullptr;
  t.on_queue(kLink, [can_sync](StepContext& ctx, const Json& b) { return on_link(can_sync, ctx, b); })
      .on_queue(kUnlink, on_unlink)
      .on_queue(kHandOver, on_hand_over)
      .on_queue(kWebhook, [app](StepContext& ctx, const Json& b) { return on_webhook(app, ctx, b); })
      .on_queue(kRepoDetails, on_repo_details)
      .on_queue(kSync, [&host, app](StepContext& ctx, const Json& b) { return on_sync(host, app, ctx, b); })
      .on_queue(kSyncPage, on_sync_page)
      .on_queue(kSyncDone, on_sync_done)
      .on_action(kSummary, summary)
      .on_action(kRepositories, repositories)
      .on_action(kPullRequests, pull_requests)
      .on_action(kDeliveries, deliveries)
      .on_action(kDelivery, delivery)
      .on_action(kGitAccess, git_access)
      .on_action(kMember, member);
  return t;
}

Result<std::string> git_token(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                              bool write, std::stop_token stop) {
  auto access = host.call(address(org_id), kGitAccess, {{"repo_id", repo_id}});
  if (!access) return access.error();
  // Narrowed by id, which a rename does not change.
  auto token = app.token((*access)["installation_id"].get<std::int64_t>(),
                         {{}, {{"contents", write ? "write" : "read"}}, {repo_id}}, stop);
  if (!token) return token.error();
  return token->value;
}

Result<Json> open_pull(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                       const PullDraft& d, std::stop_token stop) {
  auto access = host.call(address(org_id), kGitAccess, {{"repo_id", repo_id}});
  if (!access) return access.error();
  auto installation = (*access)["installation_id"].get<std::int64_t>();
  auto full = (*access)["full_name"].get<std::string>();
  RepoFacts repo{repo_id, full};
  const github::TokenScope scope{{}, {{"pull_requests", "write"}}, {repo_id}};
  Json request{{"title", d.title}, {"head", d.head}, {"base", d.base}, {"body", d.body}, {"draft", d.draft}};
  auto made = app.write(installation, scope, "POST", "/repos/" + full + "/pulls", request, stop);
  if (made) {
    auto pull = pull_json(pull_facts(repo, *made));
    pull["linked"] = false;
    return pull;
  }
  const auto& why = made.error().message;
  if (made.error().code != ErrorCode::invalid) return made.error();
  if (why.find("already exists") != std::string::npos) {
    // The branch's open pull request, found by its head (owner:branch).
    auto owner = full.substr(0, full.find('/'));
    auto open = app.get(installation, scope,
                        "/repos/" + full + "/pulls?state=open&head=" + percent_encoded(owner + ":" + d.head), stop);
    if (!open) return open.error();
    if (open->is_array() && !open->empty()) {
      auto pull = pull_json(pull_facts(repo, open->at(0)));
      pull["linked"] = true;
      return pull;
    }
    return Error{ErrorCode::conflict, fmt::format("GitHub says a pull request exists for {} already, and lists none "
                                                  "open: {}", d.head, why)};
  }
  if (why.find("No commits between") != std::string::npos)
    return Error{ErrorCode::conflict, fmt::format("there is nothing to open a pull request for: {} has no commits "
                                                  "that {} lacks", d.head, d.base)};
  if (why.find("base invalid") != std::string::npos)
    return Error{ErrorCode::invalid, fmt::format("{} has no branch {} to open the pull request against", full, d.base)};
  if (why.find("head invalid") != std::string::npos)
    return Error{ErrorCode::conflict, fmt::format("GitHub does not see the branch {} in {} (was it pushed?)", d.head, full)};
  return Error{ErrorCode::invalid, "GitHub refused the pull request: " + why};
}

Result<Json> review_feedback(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                             std::int64_t number, std::int64_t since_ms, std::stop_token stop) {
  auto access = host.call(address(org_id), kGitAccess, {{"repo_id", repo_id}});
  if (!access) return access.error();
  auto installation = (*access)["installation_id"].get<std::int64_t>();
  auto pulls = "/repos/" + (*access)["full_name"].get<std::string>() + "/pulls/" + std::to_string(number);
  const github::TokenScope scope{{}, {{"pull_requests", "read"}}, {repo_id}};
  auto text = [](const Json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  auto author = [&](const Json& j) { return text(j.value("user", Json::object()), "login"); };
  Json out{{"reviews", Json::array()}, {"comments", Json::array()}};
  auto reviews = app.get_all(installation, scope, pulls + "/reviews", {}, {}, stop);
  if (!reviews) return reviews.error();
  // Only the repository's own people's words (anyone may comment on a public one).
  for (const auto& r : *reviews) {
    auto at = parse_github_time(text(r, "submitted_at"));
    auto state = text(r, "state");
    if (!trusted_reviewer(text(r, "author_association"))) continue;
    if (at <= since_ms || (text(r, "body").empty() && state != "CHANGES_REQUESTED")) continue;
    out["reviews"].push_back({{"author", author(r)}, {"state", state}, {"body", text(r, "body")},
                              {"url", text(r, "html_url")}, {"at", at}});
  }
  auto comments = app.get_all(installation, scope, pulls + "/comments?sort=created&direction=asc", {}, {}, stop);
  if (!comments) return comments.error();
  for (const auto& c : *comments) {
    auto at = parse_github_time(text(c, "created_at"));
    if (at <= since_ms || !trusted_reviewer(text(c, "author_association"))) continue;
    Json line = c.contains("line") && c["line"].is_number_integer() ? c["line"] : Json(nullptr);
    out["comments"].push_back({{"author", author(c)}, {"path", text(c, "path")}, {"line", line},
                               {"body", text(c, "body")}, {"url", text(c, "html_url")}, {"at", at}});
  }
  return out;
}

Result<Json> merge_pull(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                        std::int64_t number, const std::string& method, const std::string& head_sha,
                        std::stop_token stop) {
  auto access = host.call(address(org_id), kGitAccess, {{"repo_id", repo_id}});
  if (!access) return access.error();
  auto installation = (*access)["installation_id"].get<std::int64_t>();
  auto path = "/repos/" + (*access)["full_name"].get<std::string>() + "/pulls/" + std::to_string(number) + "/merge";
  Json request{{"merge_method", method}};
  if (!head_sha.empty()) request["sha"] = head_sha;
  auto merged = app.write(installation, {{}, {{"contents", "write"}, {"pull_requests", "write"}}, {repo_id}}, "PUT",
                          path, request, stop);
  if (!merged) {
    if (merged.error().code == ErrorCode::invalid || merged.error().code == ErrorCode::conflict)
      return Error{ErrorCode::conflict, "GitHub did not merge the pull request: " + merged.error().message};
    return merged.error();
  }
  // The pull request as it stands now (merged), read back.
  RepoFacts repo{repo_id, (*access)["full_name"].get<std::string>()};
  auto now_pull = app.get(installation, {{}, {{"pull_requests", "read"}}, {repo_id}},
                          "/repos/" + repo.full_name + "/pulls/" + std::to_string(number), stop);
  if (!now_pull) return now_pull.error();
  return Json{{"merged", merged->value("merged", false)}, {"sha", merged->value("sha", std::string())},
              {"message", merged->value("message", std::string())}, {"pull", pull_json(pull_facts(repo, *now_pull))}};
}

Result<Json> update_pull(Host& host, github::App& app, const std::string& org_id, std::int64_t repo_id,
                         std::int64_t number, const Json& change, std::stop_token stop) {
  auto access = host.call(address(org_id), kGitAccess, {{"repo_id", repo_id}});
  if (!access) return access.error();
  RepoFacts repo{repo_id, (*access)["full_name"].get<std::string>()};
  auto updated = app.write((*access)["installation_id"].get<std::int64_t>(), {{}, {{"pull_requests", "write"}}, {repo_id}},
                           "PATCH", "/repos/" + repo.full_name + "/pulls/" + std::to_string(number), change, stop);
  if (!updated) {
    if (updated.error().code == ErrorCode::invalid)
      return Error{ErrorCode::invalid, "GitHub did not change the pull request: " + updated.error().message};
    return updated.error();
  }
  return pull_json(pull_facts(repo, *updated));
}

Status register_type(Host& host, std::shared_ptr<github::App> app) {
  return host.register_type(make_type(host, std::move(app)));
}

}  // namespace hearth::actors::github_data
