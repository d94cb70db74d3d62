#include <doctest/doctest.h>

#include "actors/host/address.h"

using namespace hearth;
using actors::Address;

TEST_CASE("an address maps to a stable id that depends on the exact key parts") {
  Address a{"task", {"acme", "web", "t_1"}};
  CHECK(a.id() == Address{"task", {"acme", "web", "t_1"}}.id());
  CHECK(a.id().size() == 32);
  CHECK(Address{"task", {"a/b"}}.id() != Address{"task", {"a", "b"}}.id());
  CHECK(Address{"task", {"ab"}}.id() != Address{"task", {"a", "b"}}.id());
  CHECK(Address{"task", {}}.id() != Address{"tas", {"k"}}.id());
  // Fixed forever: databases on disk are found by it.
  CHECK(Address{"org", {"acme"}}.id() == Address{"org", {"acme"}}.id());
}

TEST_CASE("an actor's database path is safe whatever bytes its key holds") {
  std::filesystem::path data = "/srv/hearth";
  for (const std::string& nasty : std::vector<std::string>{"../../etc/passwd", "/abs", "a\\b", std::string("nul\0byte", 8), "..", "ü/ß"}) {
    auto p = actors::database_path(data, Address{"task", {nasty}});
    CHECK(p.string().starts_with("/srv/hearth/actors/task/"));
    CHECK(p.lexically_normal() == p);
    CHECK(p.filename().string().size() == 35);  // 32 hex digits + ".db"
  }
}

TEST_CASE("addresses with a bad type or key are rejected with the reason") {
  CHECK(actors::validate(Address{"task", {"x"}}).ok());
  CHECK_FALSE(actors::validate(Address{"Task", {}}).ok());
  CHECK_FALSE(actors::validate(Address{"", {}}).ok());
  CHECK_FALSE(actors::validate(Address{"a b", {}}).ok());
  CHECK_FALSE(actors::validate(Address{"task", {std::string(600, 'x')}}).ok());
  CHECK_FALSE(actors::validate(Address{"task", std::vector<std::string>(17, "k")}).ok());
  auto bad_utf8 = actors::validate(Address{"task", {"\xff\xfe"}});
  REQUIRE_FALSE(bad_utf8.ok());
  CHECK(bad_utf8.error().message.find("UTF-8") != std::string::npos);
}

TEST_CASE("addresses round-trip through JSON and reject malformed JSON") {
  Address a{"session", {"acme", "s1"}};
  auto back = actors::address_from_json(a.to_json());
  REQUIRE(back.ok());
  CHECK(*back == a);
  CHECK_FALSE(actors::address_from_json(actors::Json{{"type", "x"}}).ok());
  CHECK_FALSE(actors::address_from_json(actors::Json{{"type", "x"}, {"key", {1, 2}}}).ok());
  CHECK(a.display() == "session [\"acme\",\"s1\"]");
}
