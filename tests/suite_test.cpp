// The suite itself: ctest (doctest_discover_tests) splits test names at ';' and then runs
// filters that match no test, which pass without running anything. No name may hold one.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

TEST_CASE("no test name holds a semicolon (ctest would split it and run nothing)") {
  std::regex name(R"re(TEST_CASE\("([^"]*)"\))re");
  int checked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::filesystem::path(HEARTH_SOURCE_DIR) / "tests")) {
    if (e.path().extension() != ".cpp") continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    auto s = text.str();
    for (std::sregex_iterator it(s.begin(), s.end(), name), end; it != end; ++it) {
      ++checked;
      CHECK_MESSAGE((*it)[1].str().find(';') == std::string::npos, e.path().string() << ": " << (*it)[1].str());
    }
  }
  CHECK(checked > 100);
}
