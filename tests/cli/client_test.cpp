// The `hearth` CLI end to end: offline admin commands on a data dir, then `hearth serve`
// on a free port and the client commands against it, as separate processes.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "sandbox/process.h"
#include "tests/support/serve_process.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace std::chrono_literals;
using nlohmann::json;
using test::contains;
using test::run_hearth;

TEST_CASE("the CLI administers a data dir offline, then signs in and manages orgs, members, tokens and actors") {
  test::TempDir dir;
  auto data = (dir.path() / "data").string();
  std::vector<std::string> env{"XDG_CONFIG_HOME=" + (dir.path() / "config").string(), "HEARTH_URL=", "HEARTH_TOKEN="};

  // Offline: users are created against the data dir before any server runs (so the
  // server's first run creates no admin of its own).
  auto root = run_hearth({"admin", "user", "create", "root", "--admin", "--password-stdin", "--data-dir", data}, env,
                         "root-password-1\n");
  CHECK(root.code == 0);
  auto bob = run_hearth({"admin", "user", "create", "bob", "--password-stdin", "--data-dir", data}, env, "bob-password-1\n");
  CHECK(bob.code == 0);
  CHECK(contains(bob.out, "created bob"));
  CHECK(run_hearth({"admin", "user", "create", "bob", "--password-stdin", "--data-dir", data}, env, "x-password-2\n").code ==
        1);
  CHECK(run_hearth({"admin", "user", "create", "carol", "--password-stdin", "--data-dir", data}, env, "short\n").code == 1);

  auto server = sandbox::Process::spawn({{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir", data},
                                         {"HEARTH_ADMIN_PASSWORD="},
                                         {}});
  REQUIRE(server.ok());
  auto url = "http://127.0.0.1:" + std::to_string(test::port_from(*server));

  // The data dir is locked while the server runs: offline commands refuse it.
  auto locked = run_hearth({"admin", "user", "list", "--data-dir", data}, env);
  CHECK(locked.code == 1);
  CHECK(contains(locked.out, "hearth.lock"));

  // Nothing works before login, and a wrong password says so.
  auto anonymous = run_hearth({"org", "list", "--url", url}, env);
  CHECK(anonymous.code == 3);
  CHECK(contains(anonymous.out, "not signed in"));
  auto wrong = run_hearth({"login", "--url", url, "--username", "root", "--password-stdin"}, env, "nope-nope-nope\n");
  CHECK(wrong.code == 3);
  CHECK(contains(wrong.out, "wrong username or password"));

  auto login = run_hearth({"login", "--url", url, "--username", "root", "--password-stdin"}, env, "root-password-1\n");
  INFO(login.out);
  REQUIRE(login.code == 0);
  CHECK(std::filesystem::exists(std::filesystem::path(data) / "initial-admin-password") == false);
  auto config_file = dir.path() / "config" / "hearth" / "config.json";
  struct stat st {};
  REQUIRE(::stat(config_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(config_file.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);  // created 0600 in a 0700 dir: never readable by others, not for an instant
  std::ifstream in(config_file);
  auto config = json::parse(in);
  CHECK(config["url"] == url);
  CHECK(config["token"].get<std::string>().starts_with("hearth_"));
  auto me = run_hearth({"whoami"}, env);
  CHECK(me.code == 0);
  CHECK(contains(me.out, "root (server admin), token tok_"));

  // Organizations.
  auto made = run_hearth({"org", "create", "Acme Inc"}, env);
  CHECK(made.code == 0);
  CHECK(contains(made.out, "slug: acme-inc"));
  auto orgs = run_hearth({"org", "list"}, env);
  CHECK(std::regex_search(orgs.out, std::regex(R"(acme-inc\s+Acme Inc\s+owner)")));
  auto missing = run_hearth({"org", "show", "nope"}, env);
  CHECK(missing.code == 4);
  CHECK(contains(missing.out, "no organization \"nope\" (HTTP 404)"));
  auto listed = run_hearth({"org", "list", "--json"}, env);
  CHECK(json::parse(listed.out)["items"][0]["slug"] == "acme-inc");
  auto bad = run_hearth({"org", "create", std::string(120, 'n')}, env);
  CHECK(bad.code == 1);
  CHECK(contains(bad.out, "HTTP 400"));

  // Members.
  CHECK(run_hearth({"member", "add", "acme-inc", "bob", "--role", "admin"}, env).code == 0);
  CHECK(std::regex_search(run_hearth({"member", "list", "acme-inc"}, env).out, std::regex(R"(bob\s+admin)")));
  CHECK(run_hearth({"member", "set-role", "acme-inc", "bob", "member"}, env).code == 0);
  CHECK(std::regex_search(run_hearth({"member", "list", "acme-inc"}, env).out, std::regex(R"(bob\s+member)")));
  auto last_owner = run_hearth({"member", "remove", "acme-inc", "root"}, env);
  CHECK(last_owner.code == 1);
  CHECK(contains(last_owner.out, "HTTP 409"));
  CHECK(run_hearth({"member", "remove", "acme-inc", "bob"}, env).code == 0);
  CHECK(run_hearth({"member", "add", "acme-inc", "nobody"}, env).code == 4);

  // Tokens: shown once, usable through HEARTH_TOKEN, listed without the value, revocable.
  auto created = run_hearth({"token", "create", "ci", "--expires-in-days", "3", "--json"}, env);
  REQUIRE(created.code == 0);
  auto token = json::parse(created.out);
  auto secret = token["token"].get<std::string>();
  std::vector<std::string> with_token{env[0], "HEARTH_URL=", "HEARTH_TOKEN=" + secret};
  CHECK(run_hearth({"org", "list"}, {env[0], "HEARTH_URL=", "HEARTH_TOKEN=hearth_not-a-token"}).code == 3);
  CHECK(run_hearth({"org", "list"}, with_token).code == 0);
  auto tokens = run_hearth({"token", "list"}, env);
  CHECK(contains(tokens.out, "ci"));
  CHECK_FALSE(contains(tokens.out, secret));
  CHECK(std::regex_search(tokens.out, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)")));  // times read as times
  CHECK(run_hearth({"token", "revoke", token["id"].get<std::string>()}, env).code == 0);
  auto revoked = run_hearth({"org", "list"}, with_token);
  CHECK(revoked.code == 3);
  CHECK(contains(revoked.out, "revoked"));

  // Actors: the inspector, for server admins.
  auto actors = run_hearth({"actors", "list", "--type", "organization", "--json"}, env);
  REQUIRE(actors.code == 0);
  auto org_actor = json::parse(actors.out)["items"][0]["id"].get<std::string>();
  CHECK(contains(run_hearth({"actors", "show", org_actor}, env).out, "organization"));
  auto history = run_hearth({"actors", "history", org_actor}, env);
  CHECK(history.code == 0);
  CHECK(contains(history.out, "organization.command.add_member"));
  CHECK(run_hearth({"actors", "queue", org_actor, "--status", "completed"}, env).code == 0);
  auto tables = run_hearth({"actors", "tables", org_actor}, env);
  CHECK(contains(tables.out, "members"));
  CHECK(run_hearth({"actors", "show", "0000"}, env).code == 4);
  CHECK(run_hearth({"actors", "retry", org_actor, "999999"}, env).code == 4);

  // Secrets: set from stdin, listed by name only, deleted.
  auto put = run_hearth({"secret", "set", "acme-inc", "API_KEY", "--value-stdin"}, env, "sk-cli-secret-value\n");
  CHECK(put.code == 0);
  CHECK_FALSE(contains(put.out, "sk-cli-secret-value"));
  auto names = run_hearth({"secret", "list", "acme-inc"}, env);
  CHECK(contains(names.out, "API_KEY"));
  CHECK_FALSE(contains(names.out, "sk-cli-secret-value"));
  CHECK(run_hearth({"secret", "set", "acme-inc", "bad-name", "--value-stdin"}, env, "v\n").code == 1);
  CHECK(run_hearth({"secret", "delete", "acme-inc", "API_KEY"}, env).code == 0);
  CHECK(run_hearth({"secret", "delete", "acme-inc", "API_KEY"}, env).code == 4);

  // Users, over the API (server admins).
  auto carol = run_hearth({"user", "create", "carol", "--password-stdin"}, env, "carol-password-1\n");
  CHECK(carol.code == 0);
  CHECK(contains(carol.out, "username: carol"));
  CHECK(std::regex_search(run_hearth({"user", "list"}, env).out, std::regex(R"(carol\s+false\s+false)")));
  auto weak = run_hearth({"user", "create", "dave", "--password-stdin"}, env, "short\n");
  CHECK(weak.code == 1);
  CHECK(contains(weak.out, "at least 8 characters (HTTP 400)"));
  CHECK(run_hearth({"user", "set-password", "carol", "--password-stdin"}, env, "carol-password-2\n").code == 0);
  CHECK(run_hearth({"user", "disable", "carol"}, env).code == 0);
  CHECK(std::regex_search(run_hearth({"user", "list"}, env).out, std::regex(R"(carol\s+false\s+true)")));
  CHECK(run_hearth({"user", "enable", "nobody"}, env).code == 4);

  // Help works everywhere.
  auto help = run_hearth({"member", "--help"}, env);
  CHECK(help.code == 0);
  CHECK(contains(help.out, "set-role"));

  // Logout revokes the stored token and forgets it.
  auto stored_token = config["token"].get<std::string>();
  auto bye = run_hearth({"logout"}, env);
  CHECK(bye.code == 0);
  CHECK(contains(bye.out, "signed out: the token is revoked"));
  CHECK(contains(run_hearth({"org", "list"}, env).out, "not signed in"));
  CHECK(run_hearth({"org", "list"}, {env[0], "HEARTH_URL=" + url, "HEARTH_TOKEN=" + stored_token}).code == 3);

  ::kill(server->pid(), SIGTERM);
  REQUIRE(server->wait(20s).ok());

  // Offline again: list, disable, reset a password.
  auto users = run_hearth({"admin", "user", "list", "--data-dir", data, "--json"}, env);
  REQUIRE(users.code == 0);
  CHECK(json::parse(users.out).size() == 3);
  CHECK(run_hearth({"admin", "user", "disable", "bob", "--data-dir", data}, env).code == 0);
  CHECK(run_hearth({"admin", "user", "reset-password", "root", "--password-stdin", "--data-dir", data}, env,
                   "root-password-2\n")
            .code == 0);
  CHECK(run_hearth({"admin", "user", "disable", "nobody", "--data-dir", data}, env).code == 4);
}

TEST_CASE("the first run creates the admin with a random password in a 0600 file, once") {
  test::TempDir dir;
  auto data = dir.path() / "data";
  for (int run = 0; run < 2; ++run) {
    auto server = sandbox::Process::spawn(
        {{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir", data.string()}, {"HEARTH_ADMIN_PASSWORD="}, {}});
    REQUIRE(server.ok());
    std::string said;
    for (int i = 0; i < 20; ++i) {
      auto line = server->read_line(10s);
      REQUIRE(line);
      said += *line + "\n";
      if (contains(*line, "hearth listening")) break;
    }
    CHECK(contains(said, "initial-admin-password") == (run == 0));
    ::kill(server->pid(), SIGTERM);
    REQUIRE(server->wait(20s).ok());
  }
  struct stat st {};
  REQUIRE(::stat((data / "initial-admin-password").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(data / "initial-admin-password");
  std::string password;
  std::getline(in, password);
  CHECK(password.size() >= 20);
}
