// The audit log over HTTP: an org's (org admins) and the server's own (server
// admins): query with filters page by page, export everything as NDJSON, verify the
// hash chain. Appending happens at the edge for every mutation (server.cpp) and in
// the actors for what they do on their own. See docs/security.md.
#include <httplib.h>

#include <fmt/format.h>

#include "actors/audit/audit_actor.h"
#include "http/routes.h"

namespace hearth::http {
namespace {

namespace audit = actors::audit;

std::string log_of(const Context& ctx) { return ctx.org_id.empty() ? audit::kServerLog : ctx.org_id; }

// The log may not exist yet (nothing was ever written): then it is empty.
Result<Json> call_log(Context& ctx, const char* action, const Json& args) {
  auto address = audit::address(log_of(ctx));
  auto exists = ctx.edge.host.exists(address);
  if (!exists) return exists.error();
  if (!*exists) {
    if (std::string(action) == audit::kVerify) return Json{{"ok", true}, {"entries", 0}, {"head", nullptr}};
    return Json{{"items", Json::array()}, {"next_cursor", nullptr}};
  }
  return ctx.edge.host.call(address, action, args);
}

Result<Reply> list(Context& ctx) {
  auto limit = ctx.int_query("limit", 100, 1, 1000);
  if (!limit) return limit.error();
  Json args{{"limit", *limit}};
  for (const char* f : {"before", "since", "until"}) {
    auto v = ctx.int_query(f, 0, 0, INT64_MAX);
    if (!v) return v.error();
    if (*v > 0) args[f] = *v;
  }
  for (const char* f : {"user", "kind", "task", "repo"}) {
    auto v = ctx.query(f);
    if (v.size() > 200) return Error{ErrorCode::invalid, fmt::format("{} is at most 200 characters", f)};
    if (!v.empty()) args[f] = v;
  }
  auto r = call_log(ctx, audit::kList, args);
  if (!r) return r.error();
  return Reply{200, *r};
}

Result<Reply> verify(Context& ctx) {
  auto r = call_log(ctx, audit::kVerify, Json::object());
  if (!r) return r.error();
  return Reply{200, *r};
}

// Every entry, oldest first, one JSON object per line, read page by page as it is sent.
Result<Reply> export_ndjson(Context& ctx) {
  auto first = call_log(ctx, audit::kExport, {{"after", 0}, {"limit", 1000}});
  if (!first) return first.error();
  struct State {
    Json page;
    std::size_t index = 0;
  };
  auto state = std::make_shared<State>(State{*first});
  auto& host = ctx.edge.host;
  auto address = audit::address(log_of(ctx));
  ctx.res.set_header("Content-Disposition", "attachment; filename=\"audit.ndjson\"");
  ctx.res.set_chunked_content_provider("application/x-ndjson", [state, &host, address](size_t, httplib::DataSink& sink) {
    std::string chunk;
    while (chunk.size() < 256 * 1024) {
      if (state->index >= state->page["items"].size()) {
        if (state->page["next_cursor"].is_null()) break;
        auto next = host.call(address, audit::kExport, {{"after", state->page["next_cursor"]}, {"limit", 1000}});
        if (!next) {
          state->page["next_cursor"] = nullptr;  // the log went away mid-export: end here
          break;
        }
        state->page = *next;
        state->index = 0;
        continue;
      }
      chunk += state->page["items"][state->index++].dump() + "\n";
    }
    if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
    if (state->index >= state->page["items"].size() && state->page["next_cursor"].is_null()) sink.done();
    return true;
  });
  ctx.streaming = true;
  return Reply{200, nullptr};
}

}  // namespace

void add_audit_routes(Router& r) {
  r.add({"GET", "/v1/orgs/{org}/audit", Policy::org_admin, "audit", list});
  r.add({"GET", "/v1/orgs/{org}/audit/export", Policy::org_admin, "audit", export_ndjson});
  r.add({"GET", "/v1/orgs/{org}/audit/verify", Policy::org_admin, "audit", verify});
  r.add({"GET", "/v1/audit", Policy::server_admin, "audit", list});
  r.add({"GET", "/v1/audit/export", Policy::server_admin, "audit", export_ndjson});
  r.add({"GET", "/v1/audit/verify", Policy::server_admin, "audit", verify});
}

}  // namespace hearth::http
