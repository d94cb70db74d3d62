// What the task, repository, sandbox and session routes share: the {task} path
// parameter, the edge's agent runner, and the shapes of reads and changes.
#pragma once

#include <optional>

#include "http/router.h"

namespace hearth::actors::sandbox {
class Runtime;
}

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

// The member of {org} called `username`: {user_id, username, role, ...}, or not_found
// "no member \"NAME\"" for anyone else, whether or not such a user exists (no route
// tells an org's people who else has an account on the server).
Result<Json> member_named(Context& ctx, const std::string& username);

// POST .../tasks/{task}/sessions for a task actor: a new session through the task.
Result<Reply> create_task_session(Context& ctx);

// The remote's branches and default branch, asked with `git ls-remote` (sandbox/git.h,
// SandboxGit::ls_remote: https from a throwaway sandbox): {default_branch, items}. When
// git cannot read it, one message whatever git said (git's words go to the log only),
// so that connecting repositories cannot probe what the server's network or disk holds.
Result<Json> describe_remote(actors::sandbox::Runtime& rt, const std::string& org_id, const std::string& url,
                             const std::string& credential);

// `text` with the values of the org secrets `agent` gets replaced (a prompt never
// carries them into a transcript).
Result<std::string> redact_for_agent(const Context& ctx, const std::string& agent, const std::vector<std::string>& extra_names,
                                     const std::string& text);

}  // namespace hearth::http
