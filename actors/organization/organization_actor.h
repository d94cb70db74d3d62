// The organization actor: one organization (address `organization / [org_id]`), its
// name, slug and members with their roles. Membership changes are copied to the
// directory, which the edge reads to authorize every request.
// Roles, from most to least: owner, admin, member. An organization always keeps at
// least one owner.
#pragma once

#include "actors/host/actor_type.h"

namespace hearth::actors::organization {

inline Address address(const std::string& org_id) { return {"organization", {org_id}}; }

// Created with {org_id, slug, name, owner: {user_id, username}}.
// Queues.
inline constexpr const char* kAddMember = "organization.command.add_member";      // {user_id, username, role}
inline constexpr const char* kSetRole = "organization.command.set_role";          // {user_id, role}
inline constexpr const char* kRemoveMember = "organization.command.remove_member";  // {user_id}

// Actions.
inline constexpr const char* kGet = "organization.get";
inline constexpr const char* kMembers = "organization.members";

// 0 for an unknown role; higher is more.
int role_rank(const std::string& role);

ActorType make_type();

}  // namespace hearth::actors::organization
