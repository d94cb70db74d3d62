// The billing actor: one per organization (address `billing / [org_id]`), holding its
// Stripe customer and subscription as last applied (plan, seats, status), its invoices,
// the Stripe events received (each with its outcome) and the agent turns started this
// month. `billing / [_server]` records the events no organization claims and a note of
// every other's outcome, for server admins. Events arrive on kEvent with the dedupe key
// "stripe:<event id>", verified by the edge; an event older than the state applied
// changes nothing. See docs/billing.md.
#pragma once

#include <memory>

#include "actors/billing/billing_state.h"
#include "actors/host/actor_type.h"

namespace hearth::actors {
class Host;
}

namespace hearth::actors::billing {

inline constexpr const char* kServer = "_server";
inline Address address(const std::string& org_id) { return {"billing", {org_id}}; }

// Created with {org_id}.

// Queues.
// {event, org_id}: one verified Stripe event (on _server: {event, org_id?, outcome?} a note).
inline constexpr const char* kEvent = "billing.command.event";
// {customer_id, by}: the Stripe customer made for the organization.
inline constexpr const char* kCustomer = "billing.command.customer";
// {subscription, at, by, change?}: the subscription as read from Stripe at `at` (after
// Hearth changed it: change is "cancel" or "resume", audited as billing.<change>).
inline constexpr const char* kSubscription = "billing.command.subscription";
// spawn_io's outcome of reading the subscription after one of its events: {ok, context:
// {seq, subscription}, result: subscription | error}; applied as Stripe's state now
// unless a later read answered first.
inline constexpr const char* kSubscriptionRead = "billing.command.subscription_read";
// spawn_io's outcome of reading a payment method: {ok, result: payment method | error}.
inline constexpr const char* kPaymentMethod = "billing.command.payment_method";
// {}: an agent turn started (sent by its session), counted for this month. The edge
// refuses a prompt past the plan's monthly turns before it reaches a session.
inline constexpr const char* kTurn = "billing.command.turn";

// Actions.
inline constexpr const char* kGet = "billing.get";            // the state, with the plan's limits
inline constexpr const char* kInvoices = "billing.invoices";  // {limit?} newest first
inline constexpr const char* kEvents = "billing.events";      // {limit?} newest first

// The state as kept (for the edge's checks).
State state_from(const Json& get);

// `config` may be a server's without billing (it still counts turns, for usage).
ActorType make_type(std::shared_ptr<const BillingConfig> config);
Status register_type(Host& host, std::shared_ptr<const BillingConfig> config);

}  // namespace hearth::actors::billing
