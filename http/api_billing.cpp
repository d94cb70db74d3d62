// Billing over HTTP: an organization's plan, usage and invoices, Checkout and the
// customer portal, cancel and resume (owners), Stripe's webhook receiver (POST
// /v1/webhooks/stripe) and the checks of new work against the plan. See docs/billing.md.
//
// An event is verified before anything is parsed or recorded (400 otherwise, Stripe's
// convention), then put on the durable queue of the organization's billing actor with
// the event id as its dedupe key, and answered at once.
#include <httplib.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/billing/billing_actor.h"
#include "actors/directory/directory_actor.h"
#include "actors/identity/identity.h"
#include "actors/organization/organization_actor.h"
#include "http/actor_calls.h"
#include "http/billing.h"
#include "http/edge.h"
#include "http/fields.h"
#include "http/routes.h"
#include "storage/database.h"
#include "storage/text.h"
#include "stripe/stripe.h"

namespace hearth::http {
namespace {

namespace bl = actors::billing;
namespace dir = actors::directory;
namespace org = actors::organization;

// Stripe's events are small; a megabyte is generous.
constexpr std::size_t kMaxEventBytes = 1 << 20;

Result<const bl::BillingConfig*> billing(const Context& ctx) {
  if (!ctx.edge.config.billing)
    return Error{ErrorCode::unavailable, "billing is not configured on this server (see docs/billing.md)"};
  return ctx.edge.config.billing.get();
}

Result<stripe::Client*> client(const Context& ctx) {
  auto b = billing(ctx);
  if (!b) return b.error();
  if (!(*b)->client) return Error{ErrorCode::unavailable, "billing has no Stripe client on this server"};
  return (*b)->client.get();
}

Result<actors::Address> billing_of(Context& ctx, const std::string& org_id) {
  auto at = bl::address(org_id);
  if (auto st = ctx.edge.host.get_or_create(at, {{"org_id", org_id}}); !st) return st.error();
  return at;
}

std::string text(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

std::int64_t now_s() { return storage::now_ms() / 1000; }

Result<Json> state_of(Context& ctx, const std::string& org_id) {
  auto at = billing_of(ctx, org_id);
  if (!at) return at.error();
  return ctx.edge.host.call(*at, bl::kGet);
}
Result<Json> state_of(Context& ctx) { return state_of(ctx, ctx.org_id); }

Result<bl::Usage> usage_of(Context& ctx, const Json& state, const std::string& org_id) {
  auto u = ctx.edge.host.call(org::address(org_id), org::kUsage);
  if (!u) return u.error();
  return bl::Usage{(*u)["members"].get<std::int64_t>(), (*u)["running_tasks"].get<std::int64_t>(),
                   (*u)["live_tasks"].get<std::int64_t>(), state.value("turns_this_month", std::int64_t{0})};
}

// GET /v1/orgs/{org}/billing: plan, status, usage; for owners also the customer, the
// payment method and the plans on offer. {"enabled": false} when billing is off.
Result<Reply> show(Context& ctx) {
  auto b = billing(ctx);
  if (!b) return Reply{200, {{"enabled", false}}};
  auto state = state_of(ctx);
  if (!state) return state.error();
  auto usage = usage_of(ctx, *state, ctx.org_id);
  if (!usage) return usage.error();
  Json body = *state;
  body["enabled"] = true;
  body["usage"] = {{"seats", usage->members}, {"running_tasks", usage->running_tasks},
                   {"sandboxes", usage->live_tasks}, {"turns_this_month", usage->turns_this_month}};
  body["grace_days"] = (*b)->past_due_grace.count() / 86400;
  if (ctx.role != "owner") {
    for (const char* key : {"customer_id", "subscription_id", "payment_method"}) body.erase(key);
  } else {
    Json plans = Json::array();
    for (const auto& p : (*b)->plans) plans.push_back(bl::plan_json(p, 1));
    body["plans"] = plans;
  }
  return Reply{200, body};
}

// The organization's Billing page, where Stripe sends people back: under
// --billing-public-url when set, else the server's own address.
std::string billing_page(const Context& ctx, const bl::BillingConfig& config) {
  auto base = config.public_url.empty() ? own_url(ctx) : config.public_url;
  while (base.ends_with('/')) base.pop_back();
  return base + "/orgs/" + percent_encoded(ctx.org_slug) + "/billing";
}

// A hosted page's URL from Stripe's answer, or unavailable when it gave none.
Result<Reply> url_reply(const Json& answer, Json more = Json::object()) {
  auto url = text(answer, "url");
  if (!url.starts_with("https://") && !url.starts_with("http://"))
    return Error{ErrorCode::unavailable, "Stripe answered without a page to open"};
  more["url"] = url;
  return Reply{201, more};
}

// The organization's Stripe customer, made on first need (named after the org, its id in
// the metadata; the idempotency key is the org's, so two clicks make one customer).
Result<std::string> customer_of(Context& ctx, stripe::Client& stripe, const Json& state) {
  auto existing = text(state, "customer_id");
  if (!existing.empty()) return existing;
  auto made = stripe.post("/v1/customers",
                          {{"name", ctx.org_slug}, {"metadata", {{"org_id", ctx.org_id}, {"org_slug", ctx.org_slug}}}},
                          "hearth-customer-" + ctx.org_id);
  if (!made) return made.error();
  auto id = text(*made, "id");
  if (id.empty()) return Error{ErrorCode::internal, "Stripe made a customer without an id"};
  auto linked = ctx.edge.send(dir::kAddress, dir::kLinkCustomer, {{"customer_id", id}, {"org_id", ctx.org_id}}, true);
  if (!linked) return linked.error();
  auto at = billing_of(ctx, ctx.org_id);
  if (!at) return at.error();
  auto kept = ctx.edge.send(*at, bl::kCustomer, {{"customer_id", id}, {"by", ctx.caller->username}}, true);
  if (!kept) return kept.error();
  return id;
}

// POST .../billing/checkout {plan, seats?}: a Stripe Checkout Session (subscription mode)
// for the plan, its URL to send the browser to.
Result<Reply> checkout(Context& ctx) {
  if (auto st = only_fields(ctx.body, {"plan", "seats"}); !st) return st.error();
  auto b = billing(ctx);
  if (!b) return b.error();
  auto stripe = client(ctx);
  if (!stripe) return stripe.error();
  auto name = string_field(ctx.body, "plan", true);
  if (!name) return name.error();
  const bl::Plan* plan = bl::plan_named((*b)->plans, *name);
  if (!plan) return Error{ErrorCode::invalid, fmt::format("there is no plan \"{}\"", printable(*name, 40))};
  if (plan->price_id.empty())
    return Error{ErrorCode::invalid, fmt::format("the {} plan is not bought; to go back to it, cancel the subscription", plan->name)};
  auto state = state_of(ctx);
  if (!state) return state.error();
  // One subscription at a time: a second would bill twice.
  if (bl::status_keeps_plan(text(*state, "status")))
    return Error{ErrorCode::conflict,
                 fmt::format("the organization has a subscription ({} plan) already; change its plan or seats in the "
                             "billing portal",
                             (*state)["plan"].value("name", std::string("its")))};
  auto usage = usage_of(ctx, *state, ctx.org_id);
  if (!usage) return usage.error();
  std::int64_t seats = 1;
  if (plan->seats_bought) {
    seats = std::max<std::int64_t>(usage->members, 1);
    if (ctx.body.contains("seats")) {
      if (!ctx.body["seats"].is_number_integer() || ctx.body["seats"].get<std::int64_t>() < 1 ||
          ctx.body["seats"].get<std::int64_t>() > 10000)
        return Error{ErrorCode::invalid, "field \"seats\" is a number from 1 to 10000"};
      seats = ctx.body["seats"].get<std::int64_t>();
    }
    if (seats < usage->members)
      return Error{ErrorCode::conflict, fmt::format("the organization has {} members: buy at least {} seats, or remove "
                                                    "members first",
                                                    usage->members, usage->members)};
  }
  auto customer = customer_of(ctx, **stripe, *state);
  if (!customer) return customer.error();
  auto page = billing_page(ctx, **b);
  Json metadata{{"org_id", ctx.org_id}, {"plan", plan->name}};
  Json params{{"mode", "subscription"},
              {"customer", *customer},
              {"client_reference_id", ctx.org_id},
              {"line_items", Json::array({{{"price", plan->price_id}, {"quantity", seats}}})},
              {"success_url", page + "?checkout=done&session_id={CHECKOUT_SESSION_ID}"},
              {"cancel_url", page + "?checkout=cancelled"},
              {"metadata", metadata},
              {"subscription_data", {{"metadata", metadata}}}};
  auto session = (*stripe)->post("/v1/checkout/sessions", params, identity::new_id("hearth-checkout-"));
  if (!session) return session.error();
  spdlog::info("billing.checkout org={} plan={} seats={} session={}", ctx.org_id, plan->name, seats, text(*session, "id"));
  return url_reply(*session, {{"checkout_session_id", text(*session, "id")}, {"plan", plan->name}, {"seats", seats}});
}

// POST .../billing/portal: a Stripe customer portal session's URL (payment method,
// invoices, seats, cancellation), returning to the Billing page.
Result<Reply> portal(Context& ctx) {
  auto b = billing(ctx);
  if (!b) return b.error();
  auto stripe = client(ctx);
  if (!stripe) return stripe.error();
  auto state = state_of(ctx);
  if (!state) return state.error();
  auto customer = text(*state, "customer_id");
  if (customer.empty()) return Error{ErrorCode::conflict, "the organization has no Stripe customer yet: subscribe to a plan first"};
  auto session = (*stripe)->post("/v1/billing_portal/sessions",
                                 {{"customer", customer}, {"return_url", billing_page(ctx, **b)}},
                                 identity::new_id("hearth-portal-"));
  if (!session) return session.error();
  return url_reply(*session);
}

// POST .../billing/cancel and .../billing/resume: the subscription ends at the end of
// its period (or no longer does), read back from Stripe and applied at once.
Result<Reply> set_cancel(Context& ctx, bool cancel) {
  auto stripe = client(ctx);
  if (!stripe) return stripe.error();
  auto state = state_of(ctx);
  if (!state) return state.error();
  auto sub = text(*state, "subscription_id");
  if (sub.empty() || !bl::status_keeps_plan(text(*state, "status")))
    return Error{ErrorCode::conflict, "the organization has no subscription to " + std::string(cancel ? "cancel" : "resume")};
  if ((*state)["cancel_at_period_end"] == cancel)
    return Error{ErrorCode::conflict, cancel ? "the subscription ends at the end of its period already"
                                             : "the subscription is not set to end"};
  auto at = now_s();
  auto changed = (*stripe)->post("/v1/subscriptions/" + sub, {{"cancel_at_period_end", cancel}},
                                 identity::new_id("hearth-subscription-"));
  if (!changed) return changed.error();
  auto billing_at = billing_of(ctx, ctx.org_id);
  return change(ctx, billing_at, bl::kSubscription,
                {{"subscription", *changed}, {"at", at}, {"by", ctx.caller->username}, {"change", cancel ? "cancel" : "resume"}});
}
Result<Reply> cancel(Context& ctx) { return set_cancel(ctx, true); }
Result<Reply> resume(Context& ctx) { return set_cancel(ctx, false); }

Result<Reply> invoices(Context& ctx) {
  if (auto b = billing(ctx); !b) return b.error();
  auto limit = ctx.int_query("limit", 50, 1, 200);
  if (!limit) return limit.error();
  return read(ctx, billing_of(ctx, ctx.org_id), bl::kInvoices, {{"limit", *limit}});
}

Result<Reply> org_events(Context& ctx) {
  if (auto b = billing(ctx); !b) return b.error();
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  return read(ctx, billing_of(ctx, ctx.org_id), bl::kEvents, {{"limit", *limit}});
}

// GET /v1/billing/events (server admins): recent events of every organization, with
// their outcomes, and those no organization claimed.
Result<Reply> server_events(Context& ctx) {
  if (auto b = billing(ctx); !b) return b.error();
  auto limit = ctx.int_query("limit", 50, 1, 500);
  if (!limit) return limit.error();
  auto at = bl::address(bl::kServer);
  auto exists = ctx.edge.host.exists(at);
  if (!exists) return exists.error();
  if (!*exists) return Reply{200, {{"items", Json::array()}}};
  return read(ctx, at, bl::kEvents, {{"limit", *limit}});
}

// Which organization an event is about: the org id Hearth put in the metadata (of a
// customer, checkout session or subscription), else its customer as linked; else none.
Result<std::string> route(Context& ctx, const std::string& type, const Json& object) {
  if (!object.is_object()) return std::string(bl::kServer);
  auto by_id = [&](const std::string& org_id) -> Result<std::string> {
    auto found = ctx.edge.host.call(dir::kAddress, dir::kFindOrg, {{"org_id", org_id}});
    if (found) return org_id;
    if (found.error().code != ErrorCode::not_found) return found.error();
    return std::string();
  };
  std::string customer = type.starts_with("customer.") && !type.starts_with("customer.subscription.")
                             ? text(object, "id")
                             : text(object, "customer");
  if (!customer.empty()) {
    auto linked = ctx.edge.host.call(dir::kAddress, dir::kCustomerOrg, {{"customer_id", customer}});
    if (linked) return (*linked)["org_id"].get<std::string>();
    if (linked.error().code != ErrorCode::not_found) return linked.error();
  }
  const Json metadata = object.contains("metadata") ? object["metadata"] : Json();
  for (const auto& id : {text(metadata, "org_id"), text(object, "client_reference_id")})
    if (!id.empty() && id.size() <= 64) {
      auto org_id = by_id(id);
      if (!org_id || !org_id->empty()) return org_id;
    }
  return std::string(bl::kServer);
}

Result<Reply> receive_event(Context& ctx) {
  auto b = billing(ctx);
  if (!b) return b.error();
  if ((*b)->webhook_secrets.empty())
    return Error{ErrorCode::unavailable, "this server has no Stripe webhook secret configured, so it accepts no events"};
  if (auto st = stripe::verify_signature(ctx.req.get_header_value("Stripe-Signature"), ctx.raw, (*b)->webhook_secrets,
                                         std::chrono::system_clock::now());
      !st) {
    spdlog::info("billing.event_refused reason=\"{}\"", st.error().message);
    return st.error();  // 400: Stripe's convention for a bad signature
  }
  // Signed by Stripe: now it may be read.
  if (json_depth(ctx.raw) > 64) return Error{ErrorCode::invalid, "the event nests deeper than 64 levels"};
  auto event = Json::parse(ctx.raw, nullptr, false);
  if (event.is_discarded() || !event.is_object()) return Error{ErrorCode::invalid, "the event is not a JSON object"};
  auto id = text(event, "id");
  auto type = text(event, "type");
  if (id.empty() || id.size() > 255 || type.empty() || !event.contains("created") || !event["created"].is_number_integer())
    return Error{ErrorCode::invalid, "the event has no id, type or created"};
  const Json object = event.contains("data") && event["data"].is_object() ? event["data"].value("object", Json()) : Json();
  auto org_id = route(ctx, type, object);
  if (!org_id) return org_id.error();
  auto at = billing_of(ctx, *org_id);
  if (!at) return at.error();
  actors::SendOptions options;
  options.dedupe_key = "stripe:" + id;
  auto r = ctx.edge.host.send(*at, bl::kEvent, {{"event", event}, {"org_id", *org_id}}, options);
  if (!r) return r.error();
  spdlog::info("billing.event_received id={} type={} org={} duplicate={}", id, type, *org_id, r->duplicate);
  return Reply{200, {{"received", true}, {"event_id", id}, {"duplicate", r->duplicate}}};
}

}  // namespace

Result<Json> plan_allows(Context& ctx, actors::billing::Work work) { return plan_allows_in(ctx, ctx.org_id, work); }

Handler gated(actors::billing::Work work, Handler handler) {
  return [work, handler = std::move(handler)](Context& ctx) -> Result<Reply> {
    if (auto st = plan_allows(ctx, work); !st) return st.error();
    return handler(ctx);
  };
}

Result<Json> plan_allows_in(Context& ctx, const std::string& org_id, actors::billing::Work work) {
  if (!ctx.edge.config.billing) return Json();
  auto state = state_of(ctx, org_id);
  if (!state) return state.error();
  auto usage = usage_of(ctx, *state, org_id);
  if (!usage) return usage.error();
  const auto& config = *ctx.edge.config.billing;
  auto state_now = bl::state_from(*state);
  if (auto st = bl::allows(state_now, *usage, work, config.plans, config.past_due_grace, now_s()); !st) return st.error();
  return bl::caps(state_now, work, config.plans);
}

void add_billing_routes(Router& r) {
  Route webhook{"POST", "/v1/webhooks/stripe", Policy::anyone, "billing", receive_event};
  webhook.audited = false;  // the organization's billing actor audits what it applies
  webhook.max_body_bytes = kMaxEventBytes;
  webhook.raw_body = true;
  r.add(std::move(webhook));
  r.add({"GET", "/v1/orgs/{org}/billing", Policy::org_member, "billing", show});
  r.add({"POST", "/v1/orgs/{org}/billing/checkout", Policy::org_owner, "billing", checkout});
  r.add({"POST", "/v1/orgs/{org}/billing/portal", Policy::org_owner, "billing", portal});
  r.add({"POST", "/v1/orgs/{org}/billing/cancel", Policy::org_owner, "billing", cancel});
  r.add({"POST", "/v1/orgs/{org}/billing/resume", Policy::org_owner, "billing", resume});
  r.add({"GET", "/v1/orgs/{org}/billing/invoices", Policy::org_owner, "billing", invoices});
  r.add({"GET", "/v1/orgs/{org}/billing/events", Policy::org_owner, "billing", org_events});
  r.add({"GET", "/v1/billing/events", Policy::server_admin, "billing", server_events});
}

}  // namespace hearth::http
