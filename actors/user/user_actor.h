// The user actor: one person (address `user / [user_id]`). It owns the profile, the
// Argon2id password hash, sign-in sessions, API tokens (metadata; the directory holds
// their hashes for lookups), preferences, and the inbox: a feed of the tasks that
// concern them ordered by the latest event that matters, unread state per task and
// session, drafts per session, and notifications. Every change that affects who may do
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
// {password_hash, keep_tokens?}: also ends every session and, unless keep_tokens, revokes every API token.
inline constexpr const char* kSetPassword = "user.command.set_password";
inline constexpr const char* kSetDisabled = "user.command.set_disabled";  // {disabled}
inline constexpr const char* kTouchToken = "user.command.touch_token";    // {credential_id, at}
inline constexpr const char* kSetPreference = "user.command.set_preference";  // {key, value}
// From task actors: {org_id, task_id, repo_id, title, status, reason, session_id?, by?,
// notify?: {type: needs_permission|finished|failed, message}}. Bumps the task in the
// feed, marks it (and the session) unread, and keeps the notification.
inline constexpr const char* kFeedEvent = "user.command.feed_event";
inline constexpr const char* kMarkRead = "user.command.mark_read";  // {org_id, task_id} or {all: true}
// From organization actors: {org_id, member: true|false}. Removed: the org's items leave
// the feed and its tasks' events are ignored from then on; added again: they are heard.
inline constexpr const char* kMembership = "user.command.membership";
inline constexpr const char* kSetDraft = "user.command.set_draft";  // {org_id, task_id, session_id, text}

// Actions.
inline constexpr const char* kProfile = "user.profile";
inline constexpr const char* kPasswordHash = "user.password_hash";  // for sign-in only; never returned to clients
inline constexpr const char* kTokens = "user.tokens";
inline constexpr const char* kSessions = "user.sessions";
inline constexpr const char* kFeed = "user.feed";  // {before?, limit?, unread_only?} -> {items, unread, next_cursor}
inline constexpr const char* kNotifications = "user.notifications";  // {before_id?, limit?, unread_only?}
inline constexpr const char* kDraft = "user.draft";  // {org_id, task_id, session_id}

// Notifications are kept this long, and at most this many.
inline constexpr std::int64_t kNotificationRetentionMs = 30LL * 24 * 3600 * 1000;
inline constexpr std::int64_t kNotificationsKept = 1000;

ActorType make_type();

}  // namespace hearth::actors::user
