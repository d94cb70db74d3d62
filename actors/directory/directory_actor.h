// The directory actor: one per server (address `directory / ["global"]`), the index
// the edge reads on every request: credential hash -> user, username -> user, org
// slug -> org, (org, user) -> role. Reads are actions on a snapshot, so resolving a
// cookie or token never waits behind any workflow step, here or elsewhere.
// Its rows are copies: user and organization actors own the truth and send updates
// here through their outboxes with dedupe keys; whoever needs an update visible at
// once (the edge, after sign-in) sends the same message with the same key and waits.
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::directory {

inline const Address kAddress{"directory", {"global"}};

// Queues.
inline constexpr const char* kRegisterUser = "directory.command.register_user";  // 409 if the name is taken
inline constexpr const char* kUpdateUser = "directory.command.update_user";      // {user_id, is_admin?, disabled?, version}
inline constexpr const char* kPutCredential = "directory.command.put_credential";
inline constexpr const char* kRevokeCredentials = "directory.command.revoke_credentials";  // {credential_id} | {user_id, kind?}
inline constexpr const char* kRegisterOrg = "directory.command.register_org";    // 409 if the slug is taken
inline constexpr const char* kPutMembership = "directory.command.put_membership"; // {org_id, user_id, role|null, version}
// {installation_id, org_id}: 409 when either is linked to another already; relinking the same pair is harmless.
inline constexpr const char* kLinkInstallation = "directory.command.link_installation";
inline constexpr const char* kUnlinkInstallation = "directory.command.unlink_installation";  // {org_id}
// {github_id, login, user_id}: the GitHub account signs in as the user; 409 when either is
// linked to another already (relinking the same pair updates the login).
inline constexpr const char* kLinkGitHub = "directory.command.link_github";
inline constexpr const char* kUnlinkGitHub = "directory.command.unlink_github";  // {user_id}

// {customer_id, org_id}: the organization's Stripe customer; 409 when either is linked to
// another already (the same pair again is harmless).
inline constexpr const char* kLinkCustomer = "directory.command.link_customer";

// Actions.
// {token_hash, now, org_slug?} -> the caller; with org_slug also "org": the org's row with
// the caller's role (null role: not a member), or null when there is no such org.
inline constexpr const char* kAuthenticate = "directory.authenticate";
inline constexpr const char* kFindUser = "directory.find_user";         // {username} | {user_id}
inline constexpr const char* kListUsers = "directory.list_users";       // {after, limit}
inline constexpr const char* kFindOrg = "directory.find_org";           // {slug} | {org_id}
inline constexpr const char* kRole = "directory.role";                  // {org_id, user_id} -> {role|null}
inline constexpr const char* kOrgsOf = "directory.orgs_of";             // {user_id}
inline constexpr const char* kUserCount = "directory.user_count";
// {installation_id} -> {org_id}, or not_found when no organization links it.
inline constexpr const char* kInstallationOrg = "directory.installation_org";
// {customer_id} -> {org_id}, or not_found when no organization is that Stripe customer.
inline constexpr const char* kCustomerOrg = "directory.customer_org";
inline constexpr const char* kInstallations = "directory.installations";  // -> {items: [{installation_id, org_id}]}
// {github_id} | {user_id} -> {github_id, login, user_id, linked_at}; not_found when none.
inline constexpr const char* kGitHubIdentity = "directory.github_identity";

ActorType make_type();

}  // namespace hearth::actors::directory
