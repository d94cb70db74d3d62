#include <doctest/doctest.h>

#include <thread>

#include "sandbox/process.h"

using namespace hearth;
using namespace std::chrono_literals;

TEST_CASE("a child process reads stdin, writes stdout lines and reports its exit code") {
  auto p = sandbox::Process::spawn({{"sh", "-c", "read x; echo got-$x; echo second; exit 3"}, {}, {}});
  REQUIRE(p.ok());
  REQUIRE(p->write("hello\n").ok());
  CHECK(p->read_line(5s) == "got-hello");
  CHECK(p->read_line(5s) == "second");
  auto code = p->wait(5s);
  REQUIRE(code.ok());
  CHECK(*code == 3);
  CHECK_FALSE(p->read_line(100ms));
}

TEST_CASE("kill reaches the whole process group, grandchildren included") {
  auto p = sandbox::Process::spawn({{"sh", "-c", "sleep 300 & echo $!; wait"}, {}, {}});
  REQUIRE(p.ok());
  auto grandchild = p->read_line(5s);
  REQUIRE(grandchild);
  int gpid = std::stoi(*grandchild);
  p->kill(SIGKILL);
  auto code = p->wait(5s);
  REQUIRE(code.ok());
  CHECK(*code == 128 + SIGKILL);
  // The grandchild is gone too (reparented and reaped, or a zombie about to be).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(gpid, 0) != 0;
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(gone);
}

TEST_CASE("a program that does not exist is an error naming it, and an empty argv is refused") {
  auto p = sandbox::Process::spawn({{"/no/such/program"}, {}, {}});
  if (p.ok()) {  // posix_spawnp may report exec failure through exit status 127
    auto code = p->wait(5s);
    REQUIRE(code.ok());
    CHECK(*code == 127);
  } else {
    CHECK(p.error().message.find("/no/such/program") != std::string::npos);
  }
  CHECK_FALSE(sandbox::Process::spawn({{}, {}, {}}).ok());
}
