// Billing's rules (billing_state.h).
#include "actors/billing/billing_state.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace hearth::actors::billing {
namespace {

std::string text(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}
std::int64_t integer(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : 0;
}

std::string limit_text(std::int64_t n) { return n < 0 ? "unlimited" : std::to_string(n); }

}  // namespace

Result<std::vector<Plan>> load_plans(const std::string& team_price, const std::string& plans_json) {
  std::vector<Plan> plans{{"free", "Free", "", false, {1, 2, 5, 100}}};
  if (!team_price.empty()) plans.push_back({"team", "Team", team_price, true, {1, 20, 100, 10000}});
  if (plans_json.empty()) return plans;
  auto doc = Json::parse(plans_json, nullptr, false);
  if (!doc.is_object() || !doc.contains("plans") || !doc["plans"].is_array())
    return Error{ErrorCode::invalid, "the plans file is not a JSON object with a \"plans\" array"};
  for (const auto& p : doc["plans"]) {
    auto name = text(p, "name");
    if (name.empty() || name.size() > 40) return Error{ErrorCode::invalid, "a plan in the plans file has no name (1 to 40 characters)"};
    Plan plan{name, text(p, "title").empty() ? name : text(p, "title"), text(p, "price_id"), false, {}};
    auto bad = [&](const std::string& field) {
      return Error{ErrorCode::invalid, fmt::format("plan \"{}\" in the plans file: {}", name, field)};
    };
    if (p.contains("seats") && p["seats"] == "bought") plan.seats_bought = true;
    else if (p.contains("seats") && p["seats"].is_number_integer() && p["seats"].get<std::int64_t>() >= 1)
      plan.limits.seats = p["seats"].get<std::int64_t>();
    else return bad("\"seats\" is a number of at least 1, or \"bought\"");
    if (plan.seats_bought && plan.price_id.empty()) return bad("seats are bought, so it needs a \"price_id\"");
    const Json limits = p.value("limits", Json::object());
    if (!limits.is_object()) return bad("\"limits\" is an object");
    for (auto [key, field] : {std::pair{"running_tasks", &Limits::running_tasks}, std::pair{"sandboxes", &Limits::sandboxes},
                              std::pair{"monthly_turns", &Limits::monthly_turns}}) {
      if (!limits.contains(key)) continue;
      if (!limits[key].is_number_integer() || limits[key].get<std::int64_t>() < -1)
        return bad(fmt::format("limit \"{}\" is a number (-1: none)", key));
      plan.limits.*field = limits[key].get<std::int64_t>();
    }
    bool replaced = false;
    for (auto& existing : plans)
      if (existing.name == name) existing = plan, replaced = true;
    if (!replaced) plans.push_back(plan);
  }
  for (std::size_t i = 0; i < plans.size(); ++i)
    for (std::size_t j = i + 1; j < plans.size(); ++j)
      if (!plans[i].price_id.empty() && plans[i].price_id == plans[j].price_id)
        return Error{ErrorCode::invalid, fmt::format("plans \"{}\" and \"{}\" have the same price", plans[i].name, plans[j].name)};
  return plans;
}

const Plan* plan_named(const std::vector<Plan>& plans, const std::string& name) {
  for (const auto& p : plans)
    if (p.name == name) return &p;
  return nullptr;
}

const Plan* plan_for_price(const std::vector<Plan>& plans, const std::string& price_id) {
  if (price_id.empty()) return nullptr;
  for (const auto& p : plans)
    if (p.price_id == price_id) return &p;
  return nullptr;
}

Json plan_json(const Plan& plan, std::int64_t seats) {
  return {{"name", plan.name},
          {"title", plan.title},
          {"purchasable", !plan.price_id.empty()},
          {"seats_bought", plan.seats_bought},
          {"limits",
           {{"seats", plan.seats_bought ? seats : plan.limits.seats},
            {"running_tasks", plan.limits.running_tasks},
            {"sandboxes", plan.limits.sandboxes},
            {"monthly_turns", plan.limits.monthly_turns}}}};
}

Subscription subscription_from(const Json& object, const std::vector<Plan>& plans) {
  Subscription s;
  s.id = text(object, "id");
  s.customer = text(object, "customer");
  s.status = text(object, "status");
  s.cancel_at_period_end = object.is_object() && object.contains("cancel_at_period_end") &&
                           object["cancel_at_period_end"].is_boolean() && object["cancel_at_period_end"].get<bool>();
  s.current_period_end = integer(object, "current_period_end");
  s.trial_end = integer(object, "trial_end");
  s.payment_method = text(object, "default_payment_method");
  if (object.is_object() && object.contains("items") && object["items"].is_object() &&
      object["items"].contains("data") && object["items"]["data"].is_array() && !object["items"]["data"].empty()) {
    const auto& item = object["items"]["data"][0];
    if (item.is_object() && item.contains("price") && item["price"].is_object()) s.price_id = text(item["price"], "id");
    if (auto q = integer(item, "quantity"); q > 0) s.quantity = q;
    if (s.current_period_end == 0) s.current_period_end = integer(item, "current_period_end");
  }
  const Plan* plan = plan_for_price(plans, s.price_id);
  if (!plan && object.is_object() && object.contains("metadata")) plan = plan_named(plans, text(object["metadata"], "plan"));
  s.plan = plan ? plan->name : "free";
  return s;
}

bool status_keeps_plan(const std::string& status) {
  return status == "active" || status == "trialing" || status == "past_due" || status == "unpaid";
}

Applied apply_subscription(State& state, const Subscription& sub, std::optional<std::int64_t> at, std::int64_t now,
                           const std::vector<Plan>& plans) {
  if (sub.id.empty() || sub.status.empty()) return Applied::other;
  bool same = state.subscription_id.empty() || sub.id == state.subscription_id;
  // Another subscription while the recorded one is in force: not this organization's plan.
  if (!same && status_keeps_plan(state.status)) return Applied::other;
  if (same) {
    if (state.status == "canceled" && !state.subscription_id.empty()) return Applied::ended;  // final at Stripe too
    if (at && *at < state.subscription_at) return Applied::stale;
  }
  if (at) state.subscription_at = std::max(state.subscription_at, *at);
  state.subscription_id = sub.id;
  if (!sub.customer.empty()) state.customer_id = sub.customer;
  state.status = sub.status;
  state.price_id = sub.price_id;
  state.cancel_at_period_end = sub.cancel_at_period_end;
  state.current_period_end = sub.current_period_end;
  state.trial_end = sub.trial_end;
  const Plan* plan = status_keeps_plan(sub.status) ? plan_named(plans, sub.plan) : nullptr;
  state.plan = plan ? plan->name : "free";
  state.seats = plan ? (plan->seats_bought ? sub.quantity : plan->limits.seats) : 1;
  if (sub.status == "past_due" || sub.status == "unpaid") {
    if (state.past_due_since == 0) state.past_due_since = at ? *at : now;
  } else {
    state.past_due_since = 0;
  }
  return Applied::applied;
}

Applied apply_deleted(State& state, const std::string& subscription_id, std::int64_t at) {
  if (!state.subscription_id.empty() && subscription_id != state.subscription_id) return Applied::other;
  // Final, whenever it was made: nothing older or newer brings the subscription back.
  state.subscription_at = std::max(state.subscription_at, at);
  if (state.subscription_id.empty()) state.subscription_id = subscription_id;
  state.status = "canceled";
  state.plan = "free";
  state.seats = 1;
  state.cancel_at_period_end = false;
  state.past_due_since = 0;
  state.trial_end = 0;
  return Applied::applied;
}

namespace {

constexpr const char* kHowToChange = "; an owner can change the plan on the Billing page (hearth billing checkout)";

const Plan* plan_of(const State& state, const std::vector<Plan>& plans) {
  const Plan* plan = plan_named(plans, state.plan);
  return plan ? plan : plan_named(plans, "free");
}

}  // namespace

Json caps(const State& state, Work work, const std::vector<Plan>& plans) {
  Json out = Json::object();
  const Plan* plan = plan_of(state, plans);
  if (!plan) return out;
  auto cap = [&](const char* key, std::int64_t max, const std::string& why) {
    if (max >= 0) out[key] = {{"max", max}, {"message", why + kHowToChange}};
  };
  std::int64_t seats = plan->seats_bought ? state.seats : plan->limits.seats;
  switch (work) {
    case Work::member:
      cap("members", seats, fmt::format("the {} plan's {} seat{} {} taken", plan->name, seats, seats == 1 ? "" : "s",
                                        seats == 1 ? "is" : "are all"));
      return out;
    case Work::task:
      cap("live_tasks", plan->limits.sandboxes,
          fmt::format("the {} plan allows {} sandboxes (tasks not archived); archive a task first", plan->name,
                      limit_text(plan->limits.sandboxes)));
      [[fallthrough]];
    case Work::session:
      cap("running_tasks", plan->limits.running_tasks,
          fmt::format("the {} plan allows {} running task{} at once", plan->name, limit_text(plan->limits.running_tasks),
                      plan->limits.running_tasks == 1 ? "" : "s"));
      [[fallthrough]];
    case Work::turn:
      cap("turns_this_month", plan->limits.monthly_turns,
          fmt::format("the {} plan's {} agent turns this month are used", plan->name, limit_text(plan->limits.monthly_turns)));
      return out;
  }
  return out;
}

Status over_cap(const Json& caps, const char* key, std::int64_t count) {
  if (!caps.is_object() || !caps.contains(key) || !caps[key].is_object()) return {};
  const auto& cap = caps[key];
  if (!cap.contains("max") || !cap["max"].is_number_integer() || count < cap["max"].get<std::int64_t>()) return {};
  return Error{ErrorCode::payment_required, cap.contains("message") && cap["message"].is_string()
                                                ? cap["message"].get<std::string>()
                                                : std::string("the organization's plan does not allow it")};
}

Status allows(const State& state, const Usage& usage, Work work, const std::vector<Plan>& plans,
              std::chrono::seconds grace, std::int64_t now) {
  const Plan* plan = plan_of(state, plans);
  if (!plan) return {};
  auto refuse = [&](const std::string& why) { return Error{ErrorCode::payment_required, why + kHowToChange}; };
  if (work != Work::member && state.status == "unpaid")
    return refuse(fmt::format("the {} plan's subscription is unpaid, so new work is refused until it is paid", plan->name));
  if (work != Work::member && state.past_due_since > 0 && now > state.past_due_since + grace.count())
    return refuse(fmt::format("the {} plan's payment is past due beyond the {}-day grace period, so new work is refused "
                              "until it is paid",
                              plan->name, grace.count() / 86400));
  auto limits = caps(state, work, plans);
  for (auto [key, count] : {std::pair{"members", usage.members}, std::pair{"live_tasks", usage.live_tasks},
                            std::pair{"running_tasks", usage.running_tasks},
                            std::pair{"turns_this_month", usage.turns_this_month}})
    if (auto st = over_cap(limits, key, count); !st) return st;
  return {};
}

std::string payment_method_label(const Json& pm) {
  if (!pm.is_object() || !pm.contains("card") || !pm["card"].is_object()) return "";
  auto brand = text(pm["card"], "brand");
  auto last4 = text(pm["card"], "last4");
  if (brand.empty() || last4.empty()) return "";
  static const std::pair<const char*, const char*> kNames[] = {
      {"visa", "Visa"}, {"mastercard", "Mastercard"}, {"amex", "American Express"}, {"discover", "Discover"},
      {"jcb", "JCB"},   {"diners", "Diners Club"},    {"unionpay", "UnionPay"},    {"cartes_bancaires", "Cartes Bancaires"}};
  std::string name = brand;
  for (auto [k, v] : kNames)
    if (brand == k) name = v;
  return fmt::format("{} ending in {}", name, last4);
}

std::string month_of(std::int64_t t) {
  std::time_t seconds = t;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1);
}

}  // namespace hearth::actors::billing
