// The inspector routes (server admins only): every actor's state, queue, workflow
// history and tables, read-only, paginated; and retry or discard of a failed message,
// which goes through the actor's own queue like any other mutation.
#include <httplib.h>

#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/routes.h"

namespace hearth::http {
namespace {

Result<std::size_t> limit_of(const Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  return static_cast<std::size_t>(*limit);
}

Result<std::int64_t> cursor_of(const Context& ctx) {
  return ctx.int_query("cursor", 0, 0, std::numeric_limits<std::int64_t>::max());
}

Result<actors::Address> actor_of(const Context& ctx) {
  auto info = ctx.edge.host.find_actor(ctx.param("id"));
  if (!info) return info.error();
  return info->address;
}

// A paged read of one actor: its address and the cursor and limit of the query.
struct PagedRead {
  actors::Address address;
  std::int64_t cursor = 0;
  std::size_t limit = 0;
};

Result<PagedRead> paged_read(const Context& ctx) {
  auto address = actor_of(ctx);
  if (!address) return address.error();
  auto cursor = cursor_of(ctx);
  if (!cursor) return cursor.error();
  auto limit = limit_of(ctx);
  if (!limit) return limit.error();
  return PagedRead{std::move(*address), *cursor, *limit};
}

std::string state_of(const actors::ActorInfo& a) {
  if (a.active) return "active";
  return a.broken.empty() ? "hibernated" : "broken";
}

// A handler's read result as a 200 reply.
Result<Reply> ok(Result<Json> page) {
  if (!page) return page.error();
  return Reply{200, std::move(*page)};
}

Result<Reply> list(Context& ctx) {
  auto state = ctx.query("state");
  std::optional<bool> active;
  if (state == "active") active = true;
  else if (state == "hibernated" || state == "broken") active = false;
  else if (!state.empty())
    return Error{ErrorCode::invalid, "query parameter \"state\" must be active, hibernated or broken"};
  auto limit_or = limit_of(ctx);
  if (!limit_or) return limit_or.error();
  auto limit = *limit_or;
  auto actors = ctx.edge.host.list_actors(ctx.query("type"), ctx.query("cursor"), limit, active);
  if (!actors) return actors.error();
  Json items = Json::array();
  for (const auto& a : *actors) {
    if (state == "broken" && a.broken.empty()) continue;
    Json item{{"id", a.actor_id}, {"type", a.address.type}, {"key", a.address.key}, {"state", state_of(a)},
              {"created_at", a.created_at}};
    if (!a.broken.empty()) item["error"] = a.broken;
    items.push_back(std::move(item));
  }
  Json next = actors->size() == limit ? Json(actors->back().actor_id) : Json(nullptr);
  return Reply{200, Json{{"items", items}, {"next_cursor", next}}};
}

Result<Reply> show(Context& ctx) {
  auto info = ctx.edge.host.find_actor(ctx.param("id"));
  if (!info) return info.error();
  auto summary = ctx.edge.host.actor_summary(info->address);
  if (!summary) {
    // One that cannot be opened is shown as broken, with why; the rest of it cannot be read.
    auto now = ctx.edge.host.find_actor(ctx.param("id"));
    if (!now || now->broken.empty()) return summary.error();
    return Reply{200, Json{{"actor_id", now->actor_id}, {"address", now->address.to_json()}, {"state", "broken"},
                           {"error", now->broken}, {"created_at", now->created_at}}};
  }
  (*summary)["state"] = state_of(*info);
  auto failed = ctx.edge.host.queue_messages(info->address, "failed", 0, 1);
  (*summary)["last_error"] = failed && !(*failed)["items"].empty() ? (*failed)["items"][0] : Json(nullptr);
  return Reply{200, *summary};
}

Result<Reply> queue(Context& ctx) {
  auto r = paged_read(ctx);
  if (!r) return r.error();
  auto status = ctx.query("status");
  if (!status.empty()) return ok(ctx.edge.host.queue_messages(r->address, status, r->cursor, r->limit));
  // Both lists the inspector shows: what waits and what failed.
  Json out = Json::object();
  for (const char* s : {"pending", "failed"}) {
    auto page = ctx.edge.host.queue_messages(r->address, s, r->cursor, r->limit);
    if (!page) return page.error();
    out[s] = *page;
  }
  return Reply{200, out};
}

Result<Reply> history(Context& ctx) {
  auto r = paged_read(ctx);
  if (!r) return r.error();
  return ok(ctx.edge.host.workflow_history(r->address, r->cursor, r->limit));
}

Result<Reply> tables(Context& ctx) {
  auto address = actor_of(ctx);
  if (!address) return address.error();
  auto summary = ctx.edge.host.actor_summary(*address);
  if (!summary) return summary.error();
  return Reply{200, Json{{"items", (*summary)["tables"]}}};
}

Result<Reply> table(Context& ctx) {
  auto r = paged_read(ctx);
  if (!r) return r.error();
  return ok(ctx.edge.host.table_rows(r->address, ctx.param("name"), r->cursor, r->limit));
}

Result<Reply> settle(Context& ctx, const char* queue, const char* verb) {
  auto address = actor_of(ctx);
  if (!address) return address.error();
  std::int64_t id = 0;
  try {
    std::size_t used = 0;
    id = std::stoll(ctx.param("message"), &used);
    if (used != ctx.param("message").size() || id <= 0) throw std::invalid_argument("id");
  } catch (const std::exception&) {
    return Error{ErrorCode::invalid, "the message id must be a positive integer"};
  }
  spdlog::info("audit.inspector action={} by={} actor={} message={}", verb, ctx.caller->user_id,
               address->display(), id);
  auto r = ctx.edge.send(*address, queue, Json{{"message_id", id}}, ctx.wait());
  if (!r) return r.error();
  if (!ctx.wait()) return Reply{202, Json{{"message_id", r->message_id}, {"status", r->status}}};
  return Reply{200, r->result};
}

}  // namespace

void add_inspector_routes(Router& r) {
  r.add({"GET", "/v1/inspector/actors", Policy::server_admin, "registry", list});
  r.add({"GET", "/v1/inspector/actors/{id}", Policy::server_admin, "any", show});
  r.add({"GET", "/v1/inspector/actors/{id}/queue", Policy::server_admin, "any", queue});
  r.add({"GET", "/v1/inspector/actors/{id}/history", Policy::server_admin, "any", history});
  r.add({"GET", "/v1/inspector/actors/{id}/tables", Policy::server_admin, "any", tables});
  r.add({"GET", "/v1/inspector/actors/{id}/tables/{name}", Policy::server_admin, "any", table});
  r.add({"POST", "/v1/inspector/actors/{id}/messages/{message}/retry", Policy::server_admin, "any",
         [](Context& ctx) { return settle(ctx, actors::kRetryQueue, "retry"); }});
  r.add({"POST", "/v1/inspector/actors/{id}/messages/{message}/discard", Policy::server_admin, "any",
         [](Context& ctx) { return settle(ctx, actors::kDiscardQueue, "discard"); }});
}

}  // namespace hearth::http
