#include <doctest/doctest.h>
#include <httplib.h>

#include <regex>

#include "sandbox/process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace std::chrono_literals;

namespace {

int port_from(sandbox::Process& p) {
  std::regex listening(R"(hearth listening on http://127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 50; ++i) {
    auto line = p.read_line(10s);
    REQUIRE(line);
    std::smatch m;
    if (std::regex_search(*line, m, listening)) return std::stoi(m[1]);
  }
  FAIL("hearth serve never said where it listens");
  return 0;
}

}  // namespace

TEST_CASE("hearth serve starts on a free port, serves /healthz and stops cleanly on SIGTERM") {
  test::TempDir dir;
  auto p = sandbox::Process::spawn(
      {{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir", (dir.path() / "data").string()},
       {},
       {}});
  REQUIRE(p.ok());
  int port = port_from(*p);
  httplib::Client cli("127.0.0.1", port);
  auto health = cli.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto ready = cli.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(std::filesystem::exists(dir.path() / "data" / "registry.db"));

  ::kill(p->pid(), SIGTERM);
  auto code = p->wait(15s);
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(p->read_line(1s) == "hearth stopped");
}

TEST_CASE("hearth serve refuses bad flags and environment values with a message") {
  auto p = sandbox::Process::spawn({{HEARTH_BINARY, "serve", "--port", "70000"}, {}, {}});
  REQUIRE(p.ok());
  auto code = p->wait(10s);
  REQUIRE(code.ok());
  CHECK(*code != 0);

  auto env = sandbox::Process::spawn({{HEARTH_BINARY, "serve"}, {"HEARTH_SQLITE_SYNCHRONOUS=sometimes"}, {}});
  REQUIRE(env.ok());
  auto env_code = env->wait(10s);
  REQUIRE(env_code.ok());
  CHECK(*env_code != 0);
}
