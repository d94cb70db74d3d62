// A corrupt actor database under `hearth serve`, seen from outside: requests for that
// org get a 503 that names the actor and SQLite's reason, another org serves on, and
// `hearth actors list --state broken` (the inspector) shows it with why.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>

#include "actors/host/address.h"
#include "tests/support/served.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using test::contains;
using test::Served;

TEST_CASE("hearth serve with one org's database overwritten: that org 503s naming it, the other serves, the inspector "
          "lists it broken") {
  test::TempDir dir;
  Served s(dir.path());
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);
  REQUIRE(s.hearth({"org", "create", "Beta"}).code == 0);
  auto org = s.get("/v1/orgs/acme");
  REQUIRE_MESSAGE(org.contains("id"), org.dump());
  actors::Address acme_actor{"organization", {org["id"].get<std::string>()}};
  auto acme_id = acme_actor.id();
  s.server->kill(SIGTERM);
  REQUIRE(s.server->wait(std::chrono::seconds(30)).ok());

  auto db = actors::database_path(dir.path() / "data", acme_actor);
  REQUIRE(std::filesystem::exists(db));
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    for (int i = 0; i < 100; ++i) f.put(static_cast<char>(0x5A ^ i));
  }
  std::filesystem::remove(db.string() + "-wal");
  std::filesystem::remove(db.string() + "-shm");
  s.start();

  httplib::Client cli(s.url);
  httplib::Headers auth{{"Authorization", "Bearer " + s.token}};
  auto acme = cli.Get("/v1/orgs/acme", auth);
  REQUIRE(acme);
  CHECK(acme->status == 503);
  auto error = nlohmann::json::parse(acme->body)["error"];
  CHECK(error["code"] == "unavailable");
  CHECK_MESSAGE(contains(error["message"], "organization"), acme->body);
  CHECK_MESSAGE(contains(error["message"], "not a database"), acme->body);
  auto beta = cli.Get("/v1/orgs/beta", auth);
  REQUIRE(beta);
  CHECK(beta->status == 200);

  auto listed = s.hearth({"actors", "list", "--state", "broken"});
  REQUIRE_MESSAGE(listed.code == 0, listed.out);
  CHECK(contains(listed.out, acme_id));
  CHECK(contains(listed.out, "not a database"));
  auto shown = s.get("/v1/inspector/actors/" + acme_id);
  CHECK(shown["state"] == "broken");
  CHECK(contains(shown["error"], "not a database"));
  CHECK(s.get("/v1/inspector/actors?state=broken")["items"].size() == 1);
}
