// The `hearth` CLI's edges, run as a separate process: the exit codes of docs/cli.md for
// usage errors and missing sign-ins, the closest command named for a mistyped one, URLs
// and unreachable servers described in words, and output people read (slugs first,
// tables aligned by display width).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "tests/support/served.h"
#include "tests/support/serve_process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using test::contains;
using test::run_hearth;

namespace {

// A loopback port nothing listens on: bound for a moment, then closed.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t size = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Nothing of httplib's own names for errors ever reaches people.
void says_no_enum_names(const std::string& out) {
  for (const char* name : {"Error::", "Connection\n", "ConnectionTimeout", "SSLConnection", "Unknown\n"})
    CHECK_MESSAGE(!contains(out, name), out);
}

}  // namespace

TEST_CASE("the CLI exits 2 on a usage error and names the closest command for a mistyped one") {
  test::TempDir dir;
  std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.path().string(), "HEARTH_URL=", "HEARTH_TOKEN="};

  auto top = run_hearth({"tsk", "list", "acme"}, env);
  CHECK(top.code == 2);
  CHECK(contains(top.out, "`tsk` is not a `hearth` command; did you mean `task`?"));

  auto sub = run_hearth({"--log-level", "warn", "task", "lst", "acme"}, env);
  CHECK(sub.code == 2);
  CHECK(contains(sub.out, "`lst` is not a `hearth task` command; did you mean `list`?"));

  auto nothing_close = run_hearth({"org", "frobnicate"}, env);
  CHECK(nothing_close.code == 2);
  CHECK(contains(nothing_close.out, "`frobnicate` is not a `hearth org` command; see `hearth org --help`"));

  auto missing = run_hearth({"task", "list"}, env);  // no organization
  CHECK(missing.code == 2);
  CHECK(contains(missing.out, "hearth task list --help"));
  CHECK(run_hearth({"org", "list", "--bogus"}, env).code == 2);
  CHECK(run_hearth({"task"}, env).code == 2);
  CHECK(run_hearth({"task", "show", "not-a-task-ref"}, env).code == 2);

  auto help = run_hearth({"task", "--help"}, env);
  CHECK(help.code == 0);
  CHECK(contains(help.out, "prompt"));
}

TEST_CASE("the CLI exits 3 when it is not signed in") {
  test::TempDir dir;
  std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.path().string(), "HEARTH_URL=", "HEARTH_TOKEN="};
  auto no_url = run_hearth({"org", "list"}, env);
  CHECK(no_url.code == 3);
  CHECK(contains(no_url.out, "no server URL"));
  auto no_token = run_hearth({"org", "list", "--url", "http://127.0.0.1:" + std::to_string(closed_port())}, env);
  CHECK(no_token.code == 3);
  CHECK(contains(no_token.out, "not signed in: run `hearth login`"));
  CHECK(run_hearth({"task", "watch", "acme/t_1"}, env).code == 3);
  CHECK(run_hearth({"logout"}, env).code == 3);
}

TEST_CASE("the CLI takes a URL with a trailing slash and says in words why a server cannot be reached") {
  test::TempDir dir;
  std::vector<std::string> env{"XDG_CONFIG_HOME=" + dir.path().string(), "HEARTH_URL=", "HEARTH_TOKEN=hearth_x"};

  auto url = "http://127.0.0.1:" + std::to_string(closed_port());
  auto refused = run_hearth({"org", "list", "--url", url}, env);
  CHECK(refused.code == 1);
  CHECK(contains(refused.out, "hearth: connection refused: is `hearth serve` running at " + url + "?"));
  says_no_enum_names(refused.out);
  auto streamed = run_hearth({"session", "watch", "acme/t1/s_1", "--url", url + "/"}, env);  // the stream's path too
  CHECK(streamed.code == 1);
  CHECK(contains(streamed.out, "connection refused: is `hearth serve` running at " + url + "?"));

  for (std::string bad : {"127.0.0.1:7741", "ftp://127.0.0.1:7741", "http://127.0.0.1:7741/api", "http://127.0.0.1:99999",
                          "http://", "http://[::1]:", "http://host:"}) {
    auto r = run_hearth({"org", "list", "--url", bad}, env);
    CHECK_MESSAGE(r.code == 2, bad);
    CHECK_MESSAGE(contains(r.out, "not a URL: \"" + bad + "\""), r.out);
  }
  auto login = run_hearth({"login", "--url", "localhost", "--with-token", "hearth_x"}, env);
  CHECK(login.code == 2);
  CHECK(contains(login.out, "not a URL: \"localhost\""));

  auto unknown = run_hearth({"org", "list", "--url", "http://no-such-host.invalid:7741"}, env);
  CHECK(unknown.code == 1);
  CHECK(contains(unknown.out, "host no-such-host.invalid"));
  says_no_enum_names(unknown.out);

  // A real server: a trailing slash is fine; https:// to its plain HTTP is said as such.
  test::Served s(dir.path());
  std::vector<std::string> env_served{"XDG_CONFIG_HOME=" + (dir.path() / "config").string(), "HEARTH_URL=",
                                      "HEARTH_TOKEN="};  // the token Served's login stored
  auto slash = run_hearth({"org", "list", "--url", s.url + "/"}, env_served);
  CHECK_MESSAGE(slash.code == 0, slash.out);
  CHECK(contains(slash.out, "(none)"));
  CHECK(run_hearth({"login", "--url", s.url + "//", "--with-token", s.token}, env_served).code == 0);
  CHECK(contains(run_hearth({"whoami"}, env_served).out, "admin"));
  auto tls = s.url;
  tls.replace(0, 4, "https");
  auto no_tls = run_hearth({"org", "list", "--url", tls}, env_served);
  CHECK(no_tls.code == 1);
  CHECK(contains(no_tls.out, "the server at " + tls + " does not speak TLS (for a plain HTTP server, use " + s.url + ")"));
  says_no_enum_names(no_tls.out);
}

TEST_CASE("hearth org create in the CLI prints the slug first: what every other command takes") {
  test::TempDir dir;
  test::Served s(dir.path());
  auto made = s.hearth({"org", "create", "Acme Tools"});
  CHECK(made.code == 0);
  CHECK(made.out.rfind("slug: acme-tools\n", 0) == 0);
  CHECK(contains(made.out, "name: Acme Tools\n"));
  CHECK(s.hearth({"org", "show", "acme-tools"}).out.rfind("slug: acme-tools\n", 0) == 0);
  // Accents are spelled in ASCII, not dropped.
  CHECK(s.hearth({"org", "create", "Équipe Ærø"}).out.rfind("slug: equipe-aero\n", 0) == 0);
  // Settings: titles keep the prompt's words unless the org wants Conventional Commits types.
  auto on = s.hearth({"org", "set", "acme-tools", "--conventional-titles", "on"});
  CHECK(on.code == 0);
  CHECK(contains(on.out, "\"conventional_titles\":true"));
  CHECK_FALSE(contains(on.out, "position"));
  CHECK(s.hearth({"org", "set", "acme-tools", "--conventional-titles", "maybe"}).code == 2);
  CHECK(contains(s.hearth({"org", "set", "acme-tools", "--conventional-titles", "off"}).out, "\"conventional_titles\":false"));
  // A task whose pull request is merged or closed is archived, unless the org says not to.
  auto kept = s.hearth({"org", "set", "acme-tools", "--auto-archive-prs", "off"});
  CHECK(kept.code == 0);
  CHECK(contains(kept.out, "\"auto_archive_prs\":false"));
  CHECK(s.hearth({"org", "set", "acme-tools"}).code == 2);
}

TEST_CASE("CLI tables align cells with wide characters (CJK, emoji) and accents by their display width") {
  test::TempDir dir;
  test::Served s(dir.path());
  REQUIRE(s.hearth({"org", "create", "修复小组", "--slug", "fix"}).code == 0);
  REQUIRE(s.hearth({"org", "create", "🚀 Rockets", "--slug", "rockets"}).code == 0);
  REQUIRE(s.hearth({"org", "create", "Café crème", "--slug", "cafe"}).code == 0);
  REQUIRE(s.hearth({"org", "create", "Plain", "--slug", "plain"}).code == 0);
  auto listed = s.hearth({"org", "list"});
  REQUIRE(listed.code == 0);
  // Where ROLE's column starts on each line, in terminal columns: these names' two- and
  // four-byte characters take one and two columns, their three-byte ones two.
  std::set<std::size_t> starts;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find(line.rfind("ROLE") != std::string::npos ? "ROLE" : "owner");
    REQUIRE_MESSAGE(at != std::string::npos, listed.out);
    std::size_t columns = 0;
    for (std::size_t i = 0; i < at; ++i) {
      auto byte = static_cast<unsigned char>(line[i]);
      if ((byte & 0xC0) == 0x80) continue;  // a continuation byte
      columns += byte >= 0xE0 ? 2 : 1;
    }
    starts.insert(columns);
  }
  CHECK_MESSAGE(starts.size() == 1, listed.out);
}
