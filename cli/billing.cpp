// `hearth billing ...`: an organization's plan and billing over the HTTP API
// (docs/billing.md): status and usage, Checkout and the customer portal (URLs to open
// in a browser), cancel and resume, invoices.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/api.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/times.h"

namespace hearth::cli {

using Json = nlohmann::json;

namespace {

std::string limit_text(const Json& used, const Json& limit) {
  auto n = limit.is_number_integer() ? limit.get<std::int64_t>() : -1;
  return used.dump() + (n < 0 ? " (no limit)" : " of " + std::to_string(n));
}

std::string seconds_text(const Json& t) { return t.is_number_integer() ? utc_text(t.get<std::int64_t>() * 1000) : "-"; }

void print_status(const Json& j) {
  if (!j.value("enabled", false)) {
    std::cout << "billing: off on this server (every organization may do everything)\n";
    return;
  }
  const auto& plan = j["plan"];
  const auto& limits = plan["limits"];
  const auto& usage = j["usage"];
  std::cout << "plan: " << plan.value("title", std::string()) << " (" << plan.value("name", std::string()) << ")\n";
  std::cout << "status: " << j.value("status", std::string());
  if (j.value("cancel_at_period_end", false)) std::cout << ", ends " << seconds_text(j["current_period_end"]);
  else if (!j["current_period_end"].is_null()) std::cout << ", renews " << seconds_text(j["current_period_end"]);
  std::cout << "\n";
  if (!j["past_due_since"].is_null())
    std::cout << "past due since " << seconds_text(j["past_due_since"]) << "; new work is refused after "
              << seconds_text(j["grace_ends_at"]) << "\n";
  if (j.contains("payment_method") && !j["payment_method"].is_null())
    std::cout << "payment method: " << j["payment_method"].get<std::string>() << "\n";
  std::cout << "seats: " << limit_text(usage["seats"], limits["seats"]) << "\n";
  std::cout << "running tasks: " << limit_text(usage["running_tasks"], limits["running_tasks"]) << "\n";
  std::cout << "sandboxes: " << limit_text(usage["sandboxes"], limits["sandboxes"]) << "\n";
  std::cout << "agent turns this month: " << limit_text(usage["turns_this_month"], limits["monthly_turns"]) << "\n";
}

void print_url(const Json& j) { std::cout << j["url"].get<std::string>() << "\n"; }

}  // namespace

std::shared_ptr<CommandSet> add_billing_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto opts = std::make_shared<ClientOptions>();
  auto common = [opts](CLI::App* cmd) { add_client_options(cmd, *opts); };
  auto s = std::make_shared<std::map<std::string, std::string>>();
  auto billing = app.add_subcommand("billing", "An organization's plan, usage and invoices (docs/billing.md)");
  billing->require_subcommand(1);
  auto org_arg = [s](CLI::App* c) { c->add_option("org", (*s)["org"], "Organization")->required(); };

  auto status = billing->add_subcommand("status", "The plan, its status, its limits and what is in use");
  org_arg(status);
  common(status);
  set->add(status, [=] {
    Api api(*opts);
    return api.run("GET", org_path((*s)["org"]) + "/billing", nullptr, print_status);
  });

  auto checkout = billing->add_subcommand("checkout", "Stripe Checkout for PLAN (owners): open the URL printed to pay");
  org_arg(checkout);
  checkout->add_option("plan", (*s)["plan"], "The plan (team, or one of the server's)")->required();
  checkout->add_option("--seats", (*s)["seats"], "Seats to buy (a plan with bought seats; default: the members)")
      ->check(CLI::Range(1, 10000));
  common(checkout);
  set->add(checkout, [=] {
    Api api(*opts);
    Json body{{"plan", (*s)["plan"]}};
    if (!(*s)["seats"].empty()) body["seats"] = std::stoll((*s)["seats"]);
    return api.run("POST", org_path((*s)["org"]) + "/billing/checkout", body, print_url);
  });

  auto portal = billing->add_subcommand("portal", "Stripe's customer portal (owners): payment method, invoices, seats");
  org_arg(portal);
  common(portal);
  set->add(portal, [=] {
    Api api(*opts);
    return api.run("POST", org_path((*s)["org"]) + "/billing/portal", nullptr, print_url);
  });

  for (const auto& [name, help] : {std::pair{"cancel", "End the subscription at the end of its period (owners)"},
                                   std::pair{"resume", "Keep a subscription set to end (owners)"}}) {
    auto cmd = billing->add_subcommand(name, help);
    org_arg(cmd);
    common(cmd);
    std::string path = std::string("/billing/") + name;
    set->add(cmd, [=] {
      Api api(*opts);
      return api.run("POST", org_path((*s)["org"]) + path, nullptr, [](const Json& j) {
        std::cout << (j.value("cancel_at_period_end", false) ? "the subscription ends " + seconds_text(j["current_period_end"])
                                                             : std::string("the subscription renews"))
                  << "\n";
      });
    });
  }

  auto invoices = billing->add_subcommand("invoices", "The organization's invoices, newest first (owners)");
  org_arg(invoices);
  common(invoices);
  set->add(invoices, [=] {
    Api api(*opts);
    return api.run("GET", org_path((*s)["org"]) + "/billing/invoices", nullptr, [](const Json& j) {
      Json rows = Json::array();
      for (const auto& i : j["items"]) {
        char amount[64];
        std::snprintf(amount, sizeof amount, "%.2f %s", static_cast<double>(i["amount"].get<std::int64_t>()) / 100,
                      i["currency"].get<std::string>().c_str());
        rows.push_back({{"number", i["number"]}, {"date", seconds_text(i["created"])}, {"amount", amount},
                        {"status", i["status"]}, {"url", i["hosted_url"]}});
      }
      print_table(rows, {"number", "date", "amount", "status", "url"});
    });
  });
  return set;
}

}  // namespace hearth::cli
