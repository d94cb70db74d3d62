// Billing's rules alone (actors/billing/billing_state.h): plans, subscriptions applied in
// order, and what a plan allows.
#include <doctest/doctest.h>

#include "actors/billing/billing_state.h"

namespace hearth::actors::billing {
namespace {

Json subscription(const std::string& status, std::int64_t quantity, const std::string& price = "price_team") {
  return {{"id", "sub_1"},
          {"customer", "cus_1"},
          {"status", status},
          {"cancel_at_period_end", false},
          {"current_period_end", 2000},
          {"items", {{"data", Json::array({{{"quantity", quantity}, {"price", {{"id", price}}}}})}}}};
}

}  // namespace

TEST_CASE("plans: free and team built in, more from a plans file, mistakes named") {
  auto plans = load_plans("price_team", "");
  REQUIRE(plans.ok());
  REQUIRE(plans->size() == 2);
  CHECK(plan_named(*plans, "team")->seats_bought);
  CHECK(plan_for_price(*plans, "price_team")->name == "team");
  CHECK(load_plans("", "")->size() == 1);  // no team price: only free
  auto more = load_plans("price_team", R"({"plans": [{"name": "pro", "price_id": "price_pro", "seats": 10,
                                             "limits": {"running_tasks": 50, "monthly_turns": -1}},
                                            {"name": "free", "seats": 2}]})");
  REQUIRE(more.ok());
  CHECK(plan_named(*more, "pro")->limits.seats == 10);
  CHECK(plan_named(*more, "pro")->limits.monthly_turns == -1);
  CHECK(plan_named(*more, "free")->limits.seats == 2);
  for (const char* bad : {R"({"plans": [{"name": "x", "seats": 0}]})", R"({"plans": [{"seats": 1}]})",
                          R"({"plans": [{"name": "x", "seats": "bought"}]})", R"([1])",
                          R"({"plans": [{"name": "x", "seats": 1, "limits": {"sandboxes": "many"}}]})",
                          R"({"plans": [{"name": "x", "seats": 1, "price_id": "price_team"}]})"}) {
    auto r = load_plans("price_team", bad);
    CHECK_MESSAGE(!r.ok(), bad);
  }
}

TEST_CASE("a subscription applies in the order Stripe made its events, whatever order they arrive in") {
  auto plans = *load_plans("price_team", "");
  auto sub = [&](const std::string& status, std::int64_t quantity, const std::string& id = "sub_1") {
    auto j = subscription(status, quantity);
    j["id"] = id;
    return subscription_from(j, plans);
  };
  State s;
  CHECK(apply_subscription(s, sub("active", 3), 20, 0, plans) == Applied::applied);
  CHECK(s.plan == "team");
  CHECK(s.seats == 3);
  CHECK(s.customer_id == "cus_1");
  CHECK(apply_subscription(s, sub("incomplete", 1), 10, 0, plans) == Applied::stale);
  CHECK(s.seats == 3);
  CHECK(apply_subscription(s, sub("past_due", 3), 30, 0, plans) == Applied::applied);
  CHECK(s.past_due_since == 30);
  CHECK(apply_subscription(s, sub("past_due", 3), 40, 0, plans) == Applied::applied);
  CHECK(s.past_due_since == 30);  // since the first
  // What Stripe answered a read: applied as it is now, the events' time kept.
  CHECK(apply_subscription(s, sub("active", 4), std::nullopt, 45, plans) == Applied::applied);
  CHECK(s.seats == 4);
  CHECK(s.past_due_since == 0);
  CHECK(s.subscription_at == 40);
  // Another subscription while this one is in force: not the org's plan.
  CHECK(apply_subscription(s, sub("active", 9, "sub_2"), 50, 0, plans) == Applied::other);
  CHECK(s.seats == 4);
  // Deleted: final, even against an event of the same second or a later read.
  CHECK(apply_deleted(s, "sub_2", 60) == Applied::other);
  CHECK(apply_deleted(s, "sub_1", 35) == Applied::applied);  // older than the last event: still final
  CHECK(s.plan == "free");
  CHECK(s.seats == 1);
  CHECK(apply_subscription(s, sub("active", 3), 60, 0, plans) == Applied::ended);
  CHECK(apply_subscription(s, sub("active", 3), std::nullopt, 70, plans) == Applied::ended);
  CHECK(s.status == "canceled");
  // A new subscription after it: the org's.
  CHECK(apply_subscription(s, sub("active", 2, "sub_3"), 80, 0, plans) == Applied::applied);
  CHECK(s.subscription_id == "sub_3");
  // A price no plan has: free; no id or no status: nothing.
  State t;
  apply_subscription(t, subscription_from(subscription("active", 3, "price_unknown"), plans), 1, 0, plans);
  CHECK(t.plan == "free");
  CHECK(apply_subscription(t, subscription_from({{"customer", "cus_1"}}, plans), 2, 0, plans) == Applied::other);
  CHECK(apply_subscription(t, subscription_from(Json("not an object"), plans), 2, 0, plans) == Applied::other);
  // Fields of other types count as absent.
  auto odd = subscription_from({{"id", "sub_9"}, {"status", "active"}, {"cancel_at_period_end", nullptr}, {"items", "x"},
                                {"metadata", 7}, {"current_period_end", "soon"}}, plans);
  CHECK(!odd.cancel_at_period_end);
  CHECK(odd.plan == "free");
}

TEST_CASE("what a plan allows: seats, running tasks, sandboxes, turns, and past due beyond the grace") {
  auto plans = *load_plans("price_team", R"({"plans": [{"name": "free", "seats": 1,
      "limits": {"running_tasks": 1, "sandboxes": 2, "monthly_turns": 5}}]})");
  State s;
  const auto grace = std::chrono::seconds(100);
  auto allowed = [&](Usage u, Work w, std::int64_t now = 1000) { return allows(s, u, w, plans, grace, now); };
  CHECK(!allowed({1, 0, 0, 0}, Work::member).ok());
  CHECK(allowed({0, 0, 0, 0}, Work::member).ok());
  CHECK(allowed({1, 0, 1, 0}, Work::task).ok());
  CHECK(!allowed({1, 1, 1, 0}, Work::task).ok());
  CHECK(!allowed({1, 0, 2, 0}, Work::task).ok());
  CHECK(allowed({1, 0, 2, 0}, Work::session).ok());  // a session needs no new sandbox
  CHECK(!allowed({1, 1, 1, 0}, Work::session).ok());
  CHECK(!allowed({1, 0, 0, 5}, Work::turn).ok());
  auto refused = allowed({1, 0, 0, 5}, Work::turn);
  CHECK(refused.error().code == ErrorCode::payment_required);
  CHECK(refused.error().message.find("free plan's 5 agent turns this month are used") != std::string::npos);
  apply_subscription(s, subscription_from(subscription("past_due", 2), plans), 500, 0, plans);
  CHECK(allowed({1, 0, 0, 0}, Work::turn, 600).ok());
  CHECK(!allowed({1, 0, 0, 0}, Work::turn, 601).ok());
  CHECK(allowed({1, 0, 0, 0}, Work::member, 601).ok());  // people may still join
  CHECK(payment_method_label({{"card", {{"brand", "visa"}, {"last4", "4242"}}}}) == "Visa ending in 4242");
  CHECK(payment_method_label({{"type", "sepa_debit"}}).empty());
  CHECK(month_of(1764633600) == "2025-12");
}

}  // namespace hearth::actors::billing
