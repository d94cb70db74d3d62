// Billing's rules, apart from any actor: the plans (built in and from a plans file), what
// a Stripe subscription means for an organization (plan, seats, status), whether an
// event is older than what is applied, and whether new work fits the plan. Used by the
// billing actor (billing_actor.h) and the edge's checks; see docs/billing.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/error.h"

namespace hearth::stripe {
class Client;
}

namespace hearth::actors::billing {

using Json = nlohmann::json;

// What a plan allows; -1: no limit.
struct Limits {
  std::int64_t seats = 1;          // members (for a plan whose seats are bought: the subscription's quantity)
  std::int64_t running_tasks = -1; // tasks provisioning or running at once
  std::int64_t sandboxes = -1;     // tasks not archived (each keeps a sandbox)
  std::int64_t monthly_turns = -1; // agent turns started per calendar month (UTC)
};

struct Plan {
  std::string name;      // "free", "team", or an operator's
  std::string title;
  std::string price_id;  // Stripe's recurring price; empty for a plan nobody buys (free)
  bool seats_bought = false;  // seats = the subscription's quantity
  Limits limits;
};

// The built-in plans: free (1 seat, 2 running tasks, 5 sandboxes, 100 turns a month) and,
// when `team_price` is given, team (seats bought, 20 running tasks, 100 sandboxes, 10,000
// turns a month); then those of `plans_json` ({"plans": [{name, title?, price_id?, seats:
// N | "bought", limits: {running_tasks?, sandboxes?, monthly_turns?}}]}; empty: none),
// which may replace a built-in one by name. Fails with invalid naming the plan and the
// field at fault.
Result<std::vector<Plan>> load_plans(const std::string& team_price, const std::string& plans_json);

const Plan* plan_named(const std::vector<Plan>& plans, const std::string& name);
const Plan* plan_for_price(const std::vector<Plan>& plans, const std::string& price_id);
Json plan_json(const Plan& plan, std::int64_t seats);

struct BillingConfig {
  std::vector<Plan> plans;
  std::vector<std::string> webhook_secrets;  // one, or two during a rotation
  std::string public_url;                    // where Checkout and the portal return to
  std::chrono::seconds past_due_grace{std::chrono::hours(24 * 7)};
  std::shared_ptr<stripe::Client> client;
};

// What a Stripe subscription object says for the organization.
struct Subscription {
  std::string id, customer, status, price_id, plan, payment_method;
  std::int64_t quantity = 1;
  bool cancel_at_period_end = false;
  std::int64_t current_period_end = 0, trial_end = 0;  // unix seconds; 0: none
};
// Read without trusting its shape (a field of another type counts as absent); plan is the one of its price (or its metadata's
// plan), "free" when neither is known.
Subscription subscription_from(const Json& object, const std::vector<Plan>& plans);

// The plan in force for a subscription status: its own while active, trialing,
// past_due or unpaid; free once canceled, or before it is paid (incomplete).
bool status_keeps_plan(const std::string& status);

// The organization's billing state as the billing actor keeps it.
struct State {
  std::string customer_id, subscription_id, status = "none", plan = "free", price_id, payment_method;
  std::int64_t seats = 1;
  bool cancel_at_period_end = false;
  std::int64_t current_period_end = 0, trial_end = 0;
  std::int64_t past_due_since = 0;     // unix seconds; 0: not past due
  std::int64_t subscription_at = 0;    // `created` of the event (or read) last applied, unix seconds
  std::int64_t turns_this_month = 0;
};

enum class Applied {
  applied,
  stale,  // older than the state applied
  other,  // another subscription while the recorded one is in force (or no id or status)
  ended,  // the recorded subscription is canceled: final
};

// Applies `sub` as an event created at `at` (unix seconds) said it, or, without `at`, as
// Stripe answered a read just now (`now`: when it was asked). An event older than the
// one applied last changes nothing (stale); equal times apply (Stripe's are seconds: the
// later arrival wins, and the read each event starts settles it). A canceled
// subscription never comes back; another one replaces it, but not one in force.
Applied apply_subscription(State& state, const Subscription& sub, std::optional<std::int64_t> at, std::int64_t now,
                           const std::vector<Plan>& plans);
// The subscription deleted (customer.subscription.deleted, created at `at`): back to
// free, whatever came before or comes after.
Applied apply_deleted(State& state, const std::string& subscription_id, std::int64_t at);

// What is in use now.
struct Usage {
  std::int64_t members = 0, running_tasks = 0, live_tasks = 0, turns_this_month = 0;
};

enum class Work { member, task, session, turn };

// Whether `work` may start under `state` at `now` (unix seconds): ok, or
// payment_required naming the limit and the plan ("the team plan's 3 seats are all
// taken"), or the subscription past due beyond the grace, or unpaid.
Status allows(const State& state, const Usage& usage, Work work, const std::vector<Plan>& plans,
              std::chrono::seconds grace, std::int64_t now);

// The counted limits that hold `work` to the plan, each {max, message}, by what is counted
// ("members", "live_tasks", "running_tasks", "turns_this_month"); none when unlimited.
// The edge checks them, and sends those it can to the actor that adds what is counted
// (the organization: members and tasks), which checks them again in the step that adds,
// where the count is exact whatever runs at the same time.
Json caps(const State& state, Work work, const std::vector<Plan>& plans);
// payment_required with the cap's message when `count` has reached caps[key]; ok when
// there is no such cap.
Status over_cap(const Json& caps, const char* key, std::int64_t count);

// "Visa ending in 4242" from a payment method object; empty when it is not a card.
std::string payment_method_label(const Json& payment_method);

// The calendar month (UTC) of unix seconds `t`: "2026-12".
std::string month_of(std::int64_t t);

}  // namespace hearth::actors::billing
