#include <doctest/doctest.h>
#include <httplib.h>


#include "sandbox/process.h"
#include "tests/support/serve_process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace std::chrono_literals;

TEST_CASE("hearth serve starts on a free port, serves /healthz and stops cleanly on SIGTERM") {
  test::TempDir dir;
  auto p = sandbox::Process::spawn(
      {{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir", (dir.path() / "data").string()},
       {},
       {}});
  REQUIRE(p.ok());
  int port = test::port_from(*p);
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
