// The fake Stripe (fake_stripe.h) as a process, for tests outside C++ (the browser test,
// tests/web/billing_ui_test.mjs). Usage:
//   hearth_test_fake_stripe SECRET_KEY WEBHOOK_SECRET PRICE
// serves Stripe's API for SECRET_KEY with the monthly price PRICE, signing events with
// WEBHOOK_SECRET. Prints {"url"} as one line, then reads commands on stdin, one a line:
//   webhook URL   where events are delivered (Hearth's /v1/webhooks/stripe)
//   past_due      the newest subscription's renewal fails: past_due, with its events
// answering "ok <command>" once done, and ends at the end of its input.
#include <iostream>
#include <string>

#include "tests/support/fake_stripe.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: hearth_test_fake_stripe SECRET_KEY WEBHOOK_SECRET PRICE\n";
    return 2;
  }
  hearth::test::FakeStripe stripe(argv[1], argv[2]);
  stripe.add_price(argv[3], 1500);
  std::cout << nlohmann::json{{"url", stripe.url()}}.dump() << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    if (line.rfind("webhook ", 0) == 0) {
      stripe.set_webhook_endpoint(line.substr(8));
    } else if (line == "past_due") {
      std::string newest;
      for (const auto& d : stripe.delivered())
        if (d["event"]["type"] == "customer.subscription.created") newest = d["event"]["data"]["object"]["id"];
      if (!newest.empty()) stripe.set_subscription_status(newest, "past_due");
    }
    std::cout << "ok " << line << std::endl;
  }
  return 0;
}
