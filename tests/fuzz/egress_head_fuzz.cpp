// The egress proxy reads what a sandboxed process sends it: a request head (CONNECT or
// a proxied request), its authority, and (from org admins) allowlist patterns. Input:
// the head; its first line also goes through the pattern and authority parsers.
#include <cstdint>
#include <string>

#include "sandbox/egress.h"

namespace eg = hearth::sandbox::egress;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto head = eg::parse_request_head(text);
  auto line = text.substr(0, text.find('\n'));
  if (auto authority = eg::split_authority(line, 443)) {
    // A host that parsed is a name or an address: no byte that could cut it short.
    for (char c : authority->first)
      if (c == '\0' || c == '/' || c == ' ' || c == '@') __builtin_trap();
    (void)eg::allowed({"*.example.com", "registry.internal:4873"}, authority->first, authority->second);
  }
  if (auto pattern = eg::normalize_pattern(line)) (void)eg::matches(*pattern, "a.example.com", 443);
  (void)head;
  return 0;
}
