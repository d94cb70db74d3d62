// The test runner: doctest's main, with Hearth's logging turned down to errors so that
// a failing test's output is readable (HEARTH_TEST_LOG=debug turns it back up).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

int main(int argc, char** argv) {
  const char* level = std::getenv("HEARTH_TEST_LOG");
  spdlog::set_level(spdlog::level::from_str(level ? level : "error"));
  doctest::Context context(argc, argv);
  return context.run();
}
