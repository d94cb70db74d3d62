// `hearth network ...` against `hearth serve` as a separate process: the allowlist listed,
// hosts allowed and taken off, a bad pattern refused with the reason; and `hearth serve`
// refusing an --egress-allow-address that is no address.
#include <doctest/doctest.h>

#include "tests/support/served.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using test::contains;
using test::Served;

TEST_CASE("hearth network lists, allows and denies hosts of an org's egress allowlist") {
  test::TempDir dir;
  Served s(dir.path(), {"--egress-allow-address", "10.1.2.3,192.168.0.0/16"});
  REQUIRE(s.hearth({"org", "create", "Acme"}).code == 0);

  auto empty = s.hearth({"network", "list", "acme"});
  REQUIRE_MESSAGE(empty.code == 0, empty.out);
  CHECK(contains(empty.out, "no hosts allowed beyond the model APIs"));
  CHECK(contains(empty.out, "model APIs (through the proxy, keys put in): api.anthropic.com, api.openai.com"));
  CHECK(contains(empty.out, "0 allowed, 0 refused"));

  auto allowed = s.hearth({"network", "allow", "acme", "Registry.NPMjs.org", "*.githubusercontent.com"});
  REQUIRE_MESSAGE(allowed.code == 0, allowed.out);
  CHECK(contains(allowed.out, "registry.npmjs.org"));
  CHECK(contains(allowed.out, "*.githubusercontent.com"));
  CHECK(contains(allowed.out, "admin"));  // who added them

  auto denied = s.hearth({"network", "deny", "acme", "registry.npmjs.org"});
  REQUIRE_MESSAGE(denied.code == 0, denied.out);
  CHECK(!contains(denied.out, "registry.npmjs.org"));
  CHECK(contains(s.hearth({"network", "list", "acme"}).out, "*.githubusercontent.com"));

  auto bad = s.hearth({"network", "allow", "acme", "https://evil.example/x"});
  CHECK(bad.code != 0);
  CHECK(contains(bad.out, "\"https://evil.example/x\" is not a host pattern"));
}

TEST_CASE("hearth serve refuses an egress allowance that is no address") {
  test::TempDir dir;
  auto r = test::run_hearth({"serve", "--port", "0", "--data-dir", (dir.path() / "data").string(),
                             "--egress-allow-address", "metadata.google.internal"},
                            {"HEARTH_ADMIN_PASSWORD=admin-password-1"});
  CHECK(r.code == 2);
  CHECK(contains(r.out, "--egress-allow-address: \"metadata.google.internal\" is not an IP address or range"));
}
