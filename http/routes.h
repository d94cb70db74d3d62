// The route groups of the /v1 API, one per file of http/ (api_<group>.cpp): each adds
// its routes to the table (router.h). server.cpp adds them all at start.
#pragma once

#include "http/router.h"

namespace hearth::http {

void add_identity_routes(Router& router);
void add_inspector_routes(Router& router);
void add_event_routes(Router& router);
void add_secret_routes(Router& router);
void add_network_routes(Router& router);
void add_sandbox_routes(Router& router);
void add_session_routes(Router& router);
void add_repo_routes(Router& router);
void add_task_routes(Router& router);
void add_feed_routes(Router& router);
void add_audit_routes(Router& router);
void add_github_routes(Router& router);
void add_github_auth_routes(Router& router);
void add_billing_routes(Router& router);

// POST .../tasks/{task}/sessions for a task actor: a new session through the task.
// Part of the task routes (api_tasks.cpp); the session routes hand a task's sessions
// to it.
Result<Reply> create_task_session(Context& ctx);

// The value of cookie `name` in a Cookie header, or "" (server.cpp).
std::string cookie_value(const std::string& header, const std::string& name);
// The Set-Cookie of the session cookie holding `value` for `max_age_s` (0 and "": signs
// out), as password sign-in and GitHub sign-in set it (api_identity.cpp).
std::string session_cookie(const Context& ctx, const std::string& value, std::int64_t max_age_s);

}  // namespace hearth::http
