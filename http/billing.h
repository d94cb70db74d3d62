// The checks of new work against the organization's plan (docs/billing.md), made where
// the work starts: adding a member, creating a task or a session, prompting an agent.
#pragma once

#include "actors/billing/billing_state.h"
#include "http/router.h"

namespace hearth::http {

// The plan's caps for `work` (billing_state.h caps(); null when billing is off) when the
// plan allows it now; payment_required (402) naming the limit and the plan otherwise.
// Send the caps with the change to the organization, which holds them exactly.
Result<Json> plan_allows(Context& ctx, actors::billing::Work work);
// `handler`, once the plan allows `work` (for routes that restart work: unarchive,
// retry, a sandbox's start).
Handler gated(actors::billing::Work work, Handler handler);
// The same for organization `org_id` (a route outside any organization's path).
Result<Json> plan_allows_in(Context& ctx, const std::string& org_id, actors::billing::Work work);

}  // namespace hearth::http
