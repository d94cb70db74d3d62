// What a task handler says after its writes, and to whom: the task's watchers and the
// organization's index (announce_change), the people in the task's feeds
// (tell_participants, tell_owner, tell_owner_someone_acted), and the organization's
// audit log (record_audit). Each runs inside the handler's step, so what it sends
// leaves with the step's commit (step_context.h).
#pragma once

#include <string>

#include "actors/host/address.h"
#include "storage/error.h"

namespace hearth::actors {
class StepContext;
}

namespace hearth::actors::task {

// Every change ends here: the status derived afresh and a new version; the whole task
// broadcast as task.changed to whoever watches it; the index summary sent to the
// organization when what the index shows changed.
Status announce_change(StepContext& ctx);

// Appends an entry to the organization's audit log: `kind` done by `by`, with `outcome`.
Status record_audit(StepContext& ctx, const std::string& kind, const std::string& by, const std::string& outcome,
                    Json detail = Json::object());

// Bumps the task in the feeds of all its participants, `reason` saying why; with
// `notify`, they also get that notification; `session_id` names the session concerned.
Status tell_participants(StepContext& ctx, const std::string& reason, const Json& notify,
                         const std::string& session_id);

// Bumps the task in its owner's feed, `reason` saying why, unless the owner is `by_id`.
Status tell_owner(StepContext& ctx, const std::string& reason, const std::string& by_id);

// Someone other than the owner (the body's by_id and by) did `what`: the owner hears of it.
Status tell_owner_someone_acted(StepContext& ctx, const Json& b, const std::string& what);

}  // namespace hearth::actors::task
