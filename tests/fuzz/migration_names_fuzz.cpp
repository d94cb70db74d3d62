// Migration sets are checked before they are applied: names must read NNNN_name.sql
// and count 1, 2, 3... Input: names, one per line.
#include <cstdint>
#include <string>

#include "storage/migrations.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  hearth::storage::MigrationSet set{"fuzz", {}};
  std::size_t start = 0;
  while (start <= input.size() && set.migrations.size() < 64) {
    auto nl = input.find('\n', start);
    if (nl == std::string::npos) nl = input.size();
    set.migrations.push_back({input.substr(start, nl - start), "SELECT 1;"});
    start = nl + 1;
  }
  (void)hearth::storage::validate(set);
  return 0;
}
