// The user actor: one person (address `user / [user_id]`). It owns the profile, the
// Argon2id password hash, sign-in sessions, API tokens (metadata; the directory holds
// their hashes for lookups) and preferences. Every change that affects who may do
// what is also sent to the directory (see actors/host/index_update.h).
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::user {

inline Address address(const std::string& user_id) { return {"user", {user_id}}; }

// Created with {user_id, username, password_hash, is_admin}.
// Queues.
inline constexpr const char* kAddSession = "user.command.add_session";  // {credential_id, token_hash, expires_at, client}
inline constexpr const char* kAddToken = "user.command.add_token";      // {credential_id, token_hash, name, expires_at|null}
inline constexpr const char* kRevokeCredential = "user.command.revoke_credential";  // {credential_id, kind}
inline constexpr const char* kSetPassword = "user.command.set_password";  // {password_hash}: also ends every session
inline constexpr const char* kSetDisabled = "user.command.set_disabled";  // {disabled}
inline constexpr const char* kTouchToken = "user.command.touch_token";    // {credential_id, at}
inline constexpr const char* kSetPreference = "user.command.set_preference";  // {key, value}

// Actions.
inline constexpr const char* kProfile = "user.profile";
inline constexpr const char* kPasswordHash = "user.password_hash";  // for sign-in only; never returned to clients
inline constexpr const char* kTokens = "user.tokens";
inline constexpr const char* kSessions = "user.sessions";

ActorType make_type();

}  // namespace hearth::actors::user
