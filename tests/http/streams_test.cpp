// Pure parts of the event streams (http/streams.h).
#include <doctest/doctest.h>

#include "http/streams.h"

using hearth::http::parse_last_event_id;

TEST_CASE("a Last-Event-ID resumes only when it is this process's epoch and a plain number") {
  auto parse = [](const std::string& text, bool& reset) { return parse_last_event_id(text, "1700000000", reset); };
  bool reset = false;
  CHECK(parse("1700000000.42", reset) == 42u);
  CHECK(!reset);
  CHECK(parse("1700000000.0", reset) == 0u);
  CHECK(!parse("", reset));
  CHECK(!reset);  // no id: a fresh stream, not a reset
  for (const char* bad : {"1600000000.42", "1700000000", "1700000000.", "1700000000.-1", "1700000000. 5",
                          "1700000000.+5", "1700000000.5x", "1700000000.18446744073709551616", ".5", "x.5"}) {
    bool r = false;
    CHECK_MESSAGE(!parse(bad, r), bad);
    CHECK_MESSAGE(r, bad);  // from another process or malformed: the client starts over
  }
  CHECK(parse("1700000000.18446744073709551615", reset) == 18446744073709551615u);
}
