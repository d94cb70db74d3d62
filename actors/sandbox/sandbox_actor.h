// The sandbox actor: one task's sandbox (address `sandbox / [org_id, task_id]`), its
// lifecycle, its processes and the agent sessions that work in it.
//
//   provisioning ──▶ ready ◀──▶ stopped
//        │             │           │
//        ▼             ▼           ▼
//      error ──(retry)──▶ provisioning      any ──(destroy)──▶ destroying ──▶ destroyed
//
// Provisioning (directories, control group, the repository checkout) and every process
// run off the loop; their outcomes come back as messages. Progress steps are broadcast
// as they happen and kept. Process output goes to a log per process (outside what the
// sandbox can see) and is broadcast live; the process list is broadcast on every change.
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::sandbox {

class Runtime;

inline Address address(const std::string& org_id, const std::string& task_id) {
  return {"sandbox", {org_id, task_id}};
}

// Created with {org_id, task_id, provider, network, repo_url?, base_branch?, branch?,
// token_secret?, secrets: [names], author_name?, author_email?, created_by}.

// Queues.
inline constexpr const char* kRetry = "sandbox.command.retry";            // {by}: provision again (error, destroyed)
inline constexpr const char* kExec = "sandbox.command.exec";              // {argv, env?, cwd?, stdin?, timeout_ms?, idle_timeout_ms?, by}
inline constexpr const char* kKill = "sandbox.command.kill_process";      // {process_id}
inline constexpr const char* kStop = "sandbox.command.stop";              // {by}
inline constexpr const char* kStart = "sandbox.command.start";            // {by}
inline constexpr const char* kDestroy = "sandbox.command.destroy";        // {by}
inline constexpr const char* kAttachSession = "sandbox.command.attach_session";  // {session_id, agent}
inline constexpr const char* kDetachSession = "sandbox.command.detach_session";  // {session_id}

// Actions.
inline constexpr const char* kGet = "sandbox.get";                  // -> the sandbox, its steps and sessions
inline constexpr const char* kProcesses = "sandbox.processes";      // {before_id?, limit?} -> newest first
inline constexpr const char* kProcess = "sandbox.process";          // {process_id}
inline constexpr const char* kProcessOutput = "sandbox.process_output";  // {process_id, offset?, limit_bytes?}

ActorType make_type(Runtime& runtime);

}  // namespace hearth::actors::sandbox
