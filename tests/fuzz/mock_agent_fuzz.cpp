// The mock agent reads NDJSON JSON-RPC from its client (and scripts from prompts): any
// bytes on its stdin. Input: the whole stdin. Prompts are made harmless first (no /
// command: a script could write files or sleep), so this explores the protocol side.
#include <cstdint>
#include <cstdio>
#include <string>

#include "sandbox/acp/mock_agent.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  for (auto& c : input)
    if (c == '/') c = '_';
  std::FILE* in = fmemopen(input.data(), input.size(), "r");
  std::FILE* out = std::fopen("/dev/null", "w");
  if (in && out) (void)hearth::sandbox::acp::run_mock_agent(in, out);
  if (in) std::fclose(in);
  if (out) std::fclose(out);
  return 0;
}
