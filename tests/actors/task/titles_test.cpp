// A task's title and branch name from a prompt (actors/task/titles.h).
#include <doctest/doctest.h>

#include <string>

#include "actors/task/titles.h"

namespace hearth::test {
namespace {

using actors::task::derive_branch;
using actors::task::derive_title;

TEST_CASE("a title is the prompt's first written line in its own words, blanks collapsed, no leading command sign") {
  CHECK(derive_title("fix the flaky test in parser.cpp\nmore words") == "fix the flaky test in parser.cpp");
  CHECK(derive_title("\n\n  docs: explain the queue") == "docs: explain the queue");
  CHECK(derive_title("Add a <b>dark</b> mode!") == "Add a <b>dark</b> mode!");
  CHECK(derive_title("/write hello.txt   Hello\tthere") == "write hello.txt Hello there");
  CHECK(derive_title("- a bullet point") == "a bullet point");
  CHECK(derive_title("   ") == "untitled task");
  CHECK(derive_title("") == "untitled task");
  CHECK(derive_title("broken \xff byte") == "broken \xEF\xBF\xBD byte");  // U+FFFD, safe for JSON
}

TEST_CASE("a long title is cut between words at 72 bytes, never inside a character") {
  CHECK(derive_title(std::string(300, 'x')).size() == 72);
  CHECK(derive_title("make the parser accept trailing commas in every list and every map it reads from files") ==
        "make the parser accept trailing commas in every list and every map it");
  CHECK(derive_title(std::string(69, 'a') + " é") == std::string(69, 'a') + " é");  // 72 bytes: kept
  CHECK(derive_title(std::string(71, 'a') + "é") == std::string(71, 'a'));
}

TEST_CASE("with conventional titles, a Conventional Commits type comes first unless the line names one") {
  CHECK(derive_title("fix the flaky test in parser.cpp", true) == "fix: fix the flaky test in parser.cpp");
  CHECK(derive_title("a bug in the queue", true) == "fix: a bug in the queue");
  CHECK(derive_title("update the README", true) == "docs: update the README");
  CHECK(derive_title("refactor the runner", true) == "refactor: refactor the runner");
  CHECK(derive_title("cover the parser with tests", true) == "test: cover the parser with tests");
  CHECK(derive_title("Add a dark mode", true) == "feat: Add a dark mode");
  CHECK(derive_title("docs: explain the queue", true) == "docs: explain the queue");
  // A type the line names is kept, in lower case, conventional or not.
  CHECK(derive_title("FIX:   the parser") == "fix: the parser");
  CHECK(derive_title("chore: bump", true) == "chore: bump");
}

TEST_CASE("a branch is hearth/, an ASCII slug of the title without its type, and the suffix") {
  CHECK(derive_branch("fix: the flaky parser test", "k3x9") == "hearth/the-flaky-parser-test-k3x9");
  CHECK(derive_branch("feat: ÜBER große Änderung", "a1b2") == "hearth/uber-grosse-anderung-a1b2");
  CHECK(derive_branch("Équipe café", "a1b2") == "hearth/equipe-cafe-a1b2");
  CHECK(derive_branch("Fix  the  bug!", "s1") == "hearth/fix-the-bug-s1");
  CHECK(derive_branch(std::string(60, 'a'), "s1") == "hearth/" + std::string(40, 'a') + "-s1");
  // Nothing ASCII to slug: "task".
  CHECK(derive_branch("日本語", "zz01") == "hearth/task-zz01");
  CHECK(derive_branch("feat: !!!", "zz00") == "hearth/task-zz00");
}

}  // namespace
}  // namespace hearth::test
