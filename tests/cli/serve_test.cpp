#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/stat.h>


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
  CHECK(*code == 2);  // a usage error (docs/cli.md)

  auto env = sandbox::Process::spawn({{HEARTH_BINARY, "serve"}, {"HEARTH_SQLITE_SYNCHRONOUS=sometimes"}, {}});
  REQUIRE(env.ok());
  auto env_code = env->wait(10s);
  REQUIRE(env_code.ok());
  CHECK(*env_code == 2);
}

TEST_CASE("the data dir hearth serve creates is its own: 0700, every file in it 0600, and a readable one is warned of") {
  test::TempDir dir;
  auto data = dir.path() / "data";
  auto p = sandbox::Process::spawn(
      {{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir", data.string()}, {}, {}});
  REQUIRE(p.ok());
  int port = test::port_from(*p);
  httplib::Client cli("127.0.0.1", port);
  REQUIRE(cli.Get("/healthz"));
  struct stat st {};
  REQUIRE(::stat(data.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // What another local user once read: the password hashes (the directory's database),
  // the master key, the initial password; nothing in the data dir is theirs to read.
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
    if (!e.is_regular_file()) continue;
    ++files;
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    CHECK_MESSAGE((st.st_mode & 077) == 0, e.path() << " is mode " << std::oct << (st.st_mode & 0777));
  }
  CHECK(files >= 3);
  ::kill(p->pid(), SIGTERM);
  REQUIRE(p->wait(15s).ok());

  // An existing data dir that others can read: served, with a warning saying what to do.
  ::chmod(data.c_str(), 0755);
  auto again = sandbox::Process::spawn(
      {{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir", data.string()}, {}, {}, true});
  REQUIRE(again.ok());
  std::string said;
  for (int i = 0; i < 50; ++i) {
    auto line = again->read_line(5s);
    if (!line) break;
    said += *line + "\n";
    if (line->find("listening") != std::string::npos) break;
  }
  CHECK(said.find("WARNING: the data dir " + data.string() + " is readable by other users (mode 0755)") !=
        std::string::npos);
  CHECK(said.find("chmod 700") != std::string::npos);
  ::kill(again->pid(), SIGTERM);
  CHECK(again->wait(15s).ok());
}
