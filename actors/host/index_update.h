// Index updates: how an actor keeps a copy of its data current in another actor (the
// directory) exactly once, and visible at once to the caller who needs it.
//
// The handler calls `send_index_update`: the message goes into its outbox in the
// step's transaction (delivered after commit, again after a crash), and is also listed
// in the handler's result under "index". A caller that must see the copy before it
// answers (the edge, after sign-in) calls `apply_index_updates` on that result, which
// sends the same messages with the same dedupe keys and waits: whichever arrives first
// is applied, the other is recognised as the same message.
#pragma once

#include "actors/host/host.h"
#include "actors/host/step_context.h"

namespace hearth::actors {

Status send_index_update(StepContext& ctx, Json& result, const Address& to, std::string queue, Json body,
                         std::string dedupe_key);

// Sends every update listed in result["index"] with wait, removes the list from the
// result, and fails with the first error.
Status apply_index_updates(Host& host, Json& result);

}  // namespace hearth::actors
