// Text from outside on its way into JSON (storage/text.h).
#include <doctest/doctest.h>

#include "storage/text.h"

namespace hearth::test {
namespace {

TEST_CASE("a prefix of UTF-8 text is cut before a character, never inside one") {
  CHECK(utf8_prefix("hello", 10) == "hello");
  CHECK(utf8_prefix("hello", 3) == "hel");
  const std::string accented = "caf\xC3\xA9";  // café: é is two bytes
  CHECK(utf8_prefix(accented, 4) == "caf");
  CHECK(utf8_prefix(accented, 5) == accented);
  const std::string emoji = "a\xF0\x9F\x94\xA5";  // a🔥: four bytes
  for (std::size_t n = 1; n < 5; ++n) CHECK(utf8_prefix(emoji, n) == "a");
  CHECK(valid_utf8(utf8_prefix(emoji, 3)));
  CHECK(utf8_prefix("", 3).empty());
}

}  // namespace
}  // namespace hearth::test
