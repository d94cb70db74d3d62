// Webhook signatures are checked before anything else reads a delivery: the header is
// the attacker's. Input: "HEADER\nBODY"; a random header must never pass, nor crash.
#include <cstdint>
#include <string>

#include "github/app.h"
#include "stripe/stripe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto nl = input.find('\n');
  std::string header = input.substr(0, nl);
  std::string body = nl == std::string::npos ? "" : input.substr(nl + 1);
  if (hearth::github::signature_valid("whsec-fuzz", body, header)) __builtin_trap();
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  if (hearth::stripe::verify_signature(header, body, {"whsec_fuzz"}, now)) __builtin_trap();
  (void)hearth::github::parse_time(header);
  return 0;
}
