// The audit-log actor: one per organization (address `audit / [org_id]`; `audit /
// [_server]` for what belongs to no organization: sign-ins, tokens, users). An
// append-only list of every mutation: who, what, which actor, when, the request id and
// the outcome. Each entry carries the SHA-256 of the previous entry's hash and its own
// content, so that editing or deleting a row breaks the chain where it happened
// (verify). Appends are queue messages nobody waits for: the caller's work never
// blocks on or fails by the log. See docs/security.md for what the chain proves.
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::audit {

inline constexpr const char* kServerLog = "_server";
inline Address address(const std::string& org_id) { return {"audit", {org_id}}; }

// {at, user_id, username, kind, target, task_id?, repo_id?, request_id?, outcome, detail?}
inline constexpr const char* kAppend = "audit.command.append";

// {user?, kind? (prefix), task?, repo?, since?, until?, before?, limit?} -> {items, next_cursor}, newest first.
inline constexpr const char* kList = "audit.list";
// {after?, limit?} -> oldest first, for export.
inline constexpr const char* kExport = "audit.export";
// -> {ok, entries, head, first_bad?: {seq, reason}}
inline constexpr const char* kVerify = "audit.verify";

// The hash of an entry: SHA-256 over the previous hash and the entry's canonical JSON.
std::string entry_hash(const std::string& previous, const Json& entry);

ActorType make_type();

}  // namespace hearth::actors::audit
