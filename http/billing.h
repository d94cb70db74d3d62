// The checks of new work against the organization's plan (docs/billing.md), made where
// the work starts: adding a member, creating a task or a session, prompting an agent.
#pragma once

#include "actors/billing/billing_state.h"
#include "http/router.h"

namespace hearth::http {

// Ok when billing is off or the plan allows `work` now; payment_required (402) naming
// the limit and the plan otherwise.
Status plan_allows(Context& ctx, actors::billing::Work work);

}  // namespace hearth::http
