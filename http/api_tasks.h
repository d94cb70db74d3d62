// What the sandbox and session routes share: the {task} path parameter (until tasks
// are actors of their own, a task is named by its id in the path) and the edge's
// agent runner.
#pragma once

#include "http/router.h"

namespace hearth::http {

// {task}: 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.', starting with a letter or digit.
Result<std::string> task_param(const Context& ctx);

// The agent runner, or unavailable when this server runs no sandboxes.
Result<actors::session::AgentRunner*> agent_runner(const Context& ctx);

// 202 {message_id, status} for ?wait=false, else `status` with the handler's result.
Reply accepted(const Context& ctx, const actors::SendReceipt& r, int status = 200);

// The read action `action` of the actor at `address` (or the error that named no actor): 200 with its answer.
Result<Reply> read(Context& ctx, const Result<actors::Address>& address, const char* action, const Json& args = Json::object());
// not_found ("no such `what`") unless the actor at `address` was created.
Status must_exist(Context& ctx, const Result<actors::Address>& address, const char* what);
// A change: `body` to `queue` of the actor at `address`, answered as `accepted` says.
Result<Reply> change(Context& ctx, const Result<actors::Address>& address, const char* queue, const Json& body,
                     int status = 200);

}  // namespace hearth::http
