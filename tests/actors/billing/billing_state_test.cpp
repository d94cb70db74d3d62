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
  State s;
  CHECK(apply_subscription(s, subscription_from(subscription("active", 3), plans), 20, plans));
  CHECK(s.plan == "team");
  CHECK(s.seats == 3);
  CHECK(s.customer_id == "cus_1");
  CHECK(!apply_subscription(s, subscription_from(subscription("incomplete", 1), plans), 10, plans));  // older
  CHECK(s.seats == 3);
  CHECK(apply_subscription(s, subscription_from(subscription("past_due", 3), plans), 30, plans));
  CHECK(s.past_due_since == 30);
  CHECK(apply_subscription(s, subscription_from(subscription("past_due", 3), plans), 40, plans));
  CHECK(s.past_due_since == 30);  // since the first
  CHECK(apply_subscription(s, subscription_from(subscription("active", 3), plans), 50, plans));
  CHECK(s.past_due_since == 0);
  CHECK(!apply_deleted(s, "sub_1", 45));
  CHECK(apply_deleted(s, "sub_1", 60));
  CHECK(s.plan == "free");
  CHECK(s.seats == 1);
  // A price no plan has: free.
  State t;
  apply_subscription(t, subscription_from(subscription("active", 3, "price_unknown"), plans), 1, plans);
  CHECK(t.plan == "free");
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
  apply_subscription(s, subscription_from(subscription("past_due", 2), plans), 500, plans);
  CHECK(allowed({1, 0, 0, 0}, Work::turn, 600).ok());
  CHECK(!allowed({1, 0, 0, 0}, Work::turn, 601).ok());
  CHECK(allowed({1, 0, 0, 0}, Work::member, 601).ok());  // people may still join
  CHECK(payment_method_label({{"card", {{"brand", "visa"}, {"last4", "4242"}}}}) == "Visa ending in 4242");
  CHECK(payment_method_label({{"type", "sepa_debit"}}).empty());
  CHECK(month_of(1764633600) == "2025-12");
}

}  // namespace hearth::actors::billing
