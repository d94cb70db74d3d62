// git's output as the import script prints it, read back into the task's diff: the
// agent controls the file names and contents, so the parser sees whatever it likes.
#include <cstdint>
#include <string>

#include "actors/task/git_flows.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string out(reinterpret_cast<const char*>(data), size);
  auto diff = hearth::actors::task::parse_diff(out);
  if (!diff.is_object()) __builtin_trap();
  (void)diff.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  (void)hearth::actors::task::parse_conflicts(out);
  return 0;
}
