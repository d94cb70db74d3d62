// What a task handler announces after its writes: see task_announce.h.
#include "actors/task/task_announce.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <vector>

#include "actors/audit/audit_actor.h"
#include "actors/host/step_context.h"
#include "actors/organization/organization_actor.h"
#include "actors/task/task_store.h"
#include "actors/user/user_actor.h"
#include "storage/database.h"
#include "storage/sql.h"

namespace hearth::actors::task {
namespace {

std::int64_t now() { return storage::now_ms(); }

// Bumps the task in the feeds of the people concerned. With `notify`, they also get a
// notification; `by_id` (who caused it) is left out of "someone acted" bumps.
Status tell(StepContext& ctx, const std::string& reason, const Json& notify, const std::string& session_id,
            const std::string& by_id = {}, bool owner_only = false) {
  auto t = load_task(ctx.db()).value();
  Json body{{"org_id", t.org_id}, {"task_id", t.task_id}, {"repo_id", t.repo_id},
            {"title", t.title},   {"status", to_string(t.status)},   {"reason", reason},
            {"at", now()}};
  if (!session_id.empty()) body["session_id"] = session_id;
  if (!notify.is_null()) body["notify"] = notify;
  std::vector<std::string> people;
  if (owner_only) {
    people.push_back(t.owner_id);
  } else {
    SQLite::Statement q(ctx.db(), "SELECT user_id FROM participants");
    while (q.executeStep()) people.push_back(q.getColumn(0).getString());
  }
  for (const auto& p : people) {
    if (!by_id.empty() && p == by_id) continue;
    if (auto st = ctx.send(user::address(p), user::kFeedEvent, body); !st) return st;
  }
  return {};
}

}  // namespace

Status announce_change(StepContext& ctx) {
  // The row is read once here, and what is announced is built from it.
  auto t = load_task(ctx.db()).value();
  t.status = derived_status(ctx.db(), t);
  t.version += 1;
  t.updated_at = now();
  auto up = ctx.statement("UPDATE task SET status = ?, version = ?, updated_at = ?");
  sql::bind_all(*up, to_string(t.status), t.version, t.updated_at);
  up->exec();
  ctx.broadcast("task.changed", full_json(ctx.db(), t));
  // The index hears only of changes it shows (not every provisioning step): with many
  // tasks at work, the organization's queue stays short.
  auto summary = summary_json(ctx.db(), t);
  auto shown = summary;
  for (const char* k : {"version", "updated_at"}) shown.erase(k);
  auto text = shown.dump();
  auto before = ctx.db().execAndGet("SELECT indexed_json FROM task");
  if (!before.isNull() && before.getString() == text) return {};
  SQLite::Statement keep(ctx.db(), "UPDATE task SET indexed_json = ?");
  sql::bind_all(keep, text);
  keep.exec();
  return ctx.send(organization::address(t.org_id), organization::kTaskChanged, summary);
}

Status record_audit(StepContext& ctx, const std::string& kind, const std::string& by, const std::string& outcome,
                    Json detail) {
  auto t = load_task(ctx.db()).value();
  Json entry{{"at", now()}, {"user_id", nullptr}, {"username", by}, {"kind", kind},
             {"target", ctx.address().display()}, {"task_id", t.task_id}, {"repo_id", t.repo_id},
             {"outcome", outcome}, {"detail", std::move(detail)}};
  return ctx.create(audit::address(t.org_id), Json::object(), Json::array({{{"queue", audit::kAppend}, {"body", entry}}}));
}


Status tell_owner_someone_acted(StepContext& ctx, const Json& b, const std::string& what) {
  auto owner = ctx.db().execAndGet("SELECT owner_id FROM task").getString();
  auto by_id = b.value("by_id", std::string());
  if (by_id.empty() || by_id == owner) return {};
  return tell(ctx, fmt::format("{} {}", b.value("by", std::string("someone")), what), nullptr, "", by_id, true);
}

Status tell_participants(StepContext& ctx, const std::string& reason, const Json& notify,
                         const std::string& session_id) {
  return tell(ctx, reason, notify, session_id);
}

Status tell_owner(StepContext& ctx, const std::string& reason, const std::string& by_id) {
  return tell(ctx, reason, nullptr, "", by_id, true);
}

}  // namespace hearth::actors::task
