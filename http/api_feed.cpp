// The caller's inbox over HTTP: the feed of tasks that concern them (newest event that
// matters first, with unread state), its live stream, notifications, mark all read.
// Marking one task read and drafts live under the task's routes (api_tasks.cpp).
#include <httplib.h>

#include "actors/user/user_actor.h"
#include "http/actor_calls.h"
#include "http/routes.h"
#include "http/streams.h"

namespace hearth::http {
namespace {

namespace user = actors::user;

Result<Reply> feed(Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto before = ctx.int_query("before", 0, 0, INT64_MAX);
  if (!before) return before.error();
  return read(ctx, user::address(ctx.caller->user_id), user::kFeed,
              {{"before", *before}, {"limit", *limit}, {"unread_only", ctx.query("unread") == "true"}});
}

Result<Reply> feed_events(Context& ctx) { return event_stream(ctx, user::address(ctx.caller->user_id).id()); }

Result<Reply> notifications(Context& ctx) {
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto before = ctx.int_query("before", 0, 0, INT64_MAX);
  if (!before) return before.error();
  return read(ctx, user::address(ctx.caller->user_id), user::kNotifications,
              {{"before_id", *before}, {"limit", *limit}, {"unread_only", ctx.query("unread") == "true"}});
}

Result<Reply> read_all(Context& ctx) {
  return change(ctx, user::address(ctx.caller->user_id), user::kMarkRead, {{"all", true}});
}

}  // namespace

void add_feed_routes(Router& r) {
  r.add({"GET", "/v1/me/feed", Policy::signed_in, "user", feed});
  r.add({"GET", "/v1/me/feed/events", Policy::signed_in, "user", feed_events});
  r.add({"POST", "/v1/me/feed/read", Policy::signed_in, "user", read_all, false});
  r.add({"GET", "/v1/me/notifications", Policy::signed_in, "user", notifications});
}

}  // namespace hearth::http
