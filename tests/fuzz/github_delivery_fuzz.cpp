// A GitHub webhook delivery after its signature checked out: GitHub's payload shapes
// vary by event and over time, so the parser must take any JSON without crashing.
// Input: "EVENT\nJSON".
#include <cstdint>
#include <string>

#include "actors/github_data/webhook_events.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto nl = input.find('\n');
  std::string event = nl == std::string::npos ? "push" : input.substr(0, nl);
  auto payload = nlohmann::json::parse(nl == std::string::npos ? input : input.substr(nl + 1), nullptr, false);
  if (payload.is_discarded()) return 0;
  (void)hearth::actors::github_data::installation_of(payload);
  (void)hearth::actors::github_data::parse_delivery(event, payload);
  return 0;
}
