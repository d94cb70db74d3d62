// Actor calls from the edge: how a handler reads an actor (an action, answered with
// the position its stream resumes from) and changes one (a queue message, answered at
// once with 202 for ?wait=false), and the reads more than one route group makes.
#pragma once

#include <string>

#include "http/router.h"

namespace hearth::http {

// 202 {message_id, status} for ?wait=false, else `status` with the handler's result.
Reply accepted(const Context& ctx, const actors::SendReceipt& r, int status = 200);

// The read action `action` of the actor at `address` (or the error that named no actor): 200 with its answer.
Result<Reply> read(Context& ctx, const Result<actors::Address>& address, const char* action, const Json& args = Json::object());
// not_found ("no such `what`") unless the actor at `address` was created.
Status must_exist(Context& ctx, const Result<actors::Address>& address, const char* what);
// A change: `body` to `queue` of the actor at `address`, answered as `accepted` says.
Result<Reply> change(Context& ctx, const Result<actors::Address>& address, const char* queue, const Json& body,
                     int status = 200);

// The member of {org} called `username`: {user_id, username, role, ...}, or not_found
// "no member \"NAME\"" for anyone else, whether or not such a user exists (no route
// tells an org's people who else has an account on the server).
Result<Json> member_named(Context& ctx, const std::string& username);

}  // namespace hearth::http
