// SSE resumption: a client's Last-Event-ID (or ?position=) is any text it likes.
// Input: the text. A position must come back only for this process's epoch.
#include <cstdint>
#include <string>

#include "http/streams.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  bool reset = false;
  auto seq = hearth::http::parse_last_event_id(text, "1700000000", reset);
  if (seq && (reset || !text.starts_with("1700000000."))) __builtin_trap();
  if (seq)  // a position is digits and nothing else
    for (char c : text.substr(11))
      if (c < '0' || c > '9') __builtin_trap();
  return 0;
}
