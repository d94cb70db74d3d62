#include <doctest/doctest.h>
#include <httplib.h>

#include "http/server.h"
#include "tests/support/test_host.h"

using namespace hearth;

TEST_CASE("the HTTP server answers health, readiness and unknown routes with JSON and a request id") {
  test::TempDir dir;
  test::TestHost host(dir);
  http::Server server({"127.0.0.1", 0, 4}, *host);
  auto port = server.start();
  REQUIRE(port.ok());
  httplib::Client cli("127.0.0.1", *port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(5, 0);

  auto not_ready = cli.Get("/readyz");
  REQUIRE(not_ready);
  CHECK(not_ready->status == 503);
  CHECK(nlohmann::json::parse(not_ready->body)["error"]["code"] == "unavailable");

  server.set_ready(true);
  auto ready = cli.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(nlohmann::json::parse(ready->body)["status"] == "ready");

  auto health = cli.Get("/healthz", {{"x-request-id", "trace-42"}});
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->get_header_value("x-request-id") == "trace-42");

  auto missing = cli.Get("/nope", {{"x-request-id", "bad id with spaces"}});
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->get_header_value("Content-Type") == "application/json");
  auto body = nlohmann::json::parse(missing->body);
  CHECK(body["error"]["code"] == "not_found");
  CHECK(body["error"]["message"] == "no route for GET /nope");
  CHECK(missing->get_header_value("x-request-id").size() == 16);  // ours, not the unsafe one

  server.stop();
  CHECK_FALSE(cli.Get("/healthz"));
}

TEST_CASE("a port that is taken is a clear error, not a crash") {
  test::TempDir dir;
  test::TestHost host(dir);
  http::Server first({"127.0.0.1", 0, 2}, *host);
  auto port = first.start();
  REQUIRE(port.ok());
  http::Server second({"127.0.0.1", *port, 2}, *host);
  auto again = second.start();
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find(std::to_string(*port)) != std::string::npos);
}
