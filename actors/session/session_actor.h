// The session actor: one agent session working in a task's sandbox (address
// `session / [org_id, task_id, session_id]`). It owns the session's transcript, an
// append-only event log with an increasing `seq` that keeps every event, and the
// permission requests people answer.
//
// A prompt starts a turn: the handler records the prompt and hands the turn to the
// agent runner (agent_runner.h) as long work off the loop. The agent's updates come
// back as messages (session.command.append_events) while the turn runs, permission
// requests as session.command.permission_requested, and the turn's end as the I/O
// job's result. Reads never wait for a turn. If the server dies mid-turn, the session
// is `interrupted` when it wakes, its events intact; the next prompt starts a fresh
// agent (resuming the agent's own session with session/load where it can).
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors {
class Host;
}

namespace hearth::actors::session {

class AgentRunner;

inline Address address(const std::string& org_id, const std::string& task_id, const std::string& session_id) {
  return {"session", {org_id, task_id, session_id}};
}

// Created with {org_id, task_id, session_id, agent, title?, created_by, permission_timeout_ms?,
// agent_env?}: agent_env, the sandbox's extra secrets for its agents, only names which
// org secrets the session's prompts are redacted of (kSecretNames).

// Queues people's requests reach.
inline constexpr const char* kPrompt = "session.command.prompt";                    // {text, by}
inline constexpr const char* kCancel = "session.command.cancel";                    // {by}
inline constexpr const char* kPermissionReply = "session.command.permission_reply";  // {permission_id, decision | option_id, by}
inline constexpr const char* kClose = "session.command.close";                      // {reason?, by}
inline constexpr const char* kRevokeAlways = "session.command.revoke_always";      // {rule, by}
// Ends the live agent between turns (409 while one runs); the next prompt starts a fresh
// one, with the org's secrets as they are then, resuming with session/load.
inline constexpr const char* kRestart = "session.command.restart";  // {by}
// Queues the running turn reports on.
inline constexpr const char* kAppendEvents = "session.command.append_events";              // {turn, events: [{kind, data, at}]}
inline constexpr const char* kPermissionRequested = "session.command.permission_requested";  // {permission_id, turn, tool_call, options}
inline constexpr const char* kPermissionTimeout = "session.command.permission_timeout";      // {permission_id}

// Actions.
inline constexpr const char* kGet = "session.get";
inline constexpr const char* kTranscript = "session.transcript";    // {after_seq?, limit?} -> {items, last_seq}
inline constexpr const char* kPermissions = "session.permissions";  // {status?}
// {agent, task_id, secret_names}: the org secrets the session's agent is given: its own,
// named from its definition now, and its sandbox's agent_env as noted at creation (for
// the edge, which redacts prompts with them; no route answers it); secret_names is null
// for a session created before agent_env was noted.
inline constexpr const char* kSecretNames = "session.secret_names";

// Decisions a person gives on a permission request.
inline constexpr const char* kDecisions[] = {"allow_once", "allow_always", "reject"};

ActorType make_type(AgentRunner& runner);

// Registers the sandbox, task and session actor types, which share `runner`'s runtime.
Status register_types(Host& host, AgentRunner& runner);

}  // namespace hearth::actors::session
