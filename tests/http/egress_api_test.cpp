// Sandbox egress through the real server, from inside real bwrap sandboxes: an org's
// allowlist over the HTTP API (admins only, patterns checked), a sandbox with network
// `proxy` reaching an allowed host and refused the others, with the refusal in the audit
// log, in the org's counts and in the transcript of the session whose command was
// refused; and neither `proxy` nor `none` reaching the server's own HTTP port, not even
// once an admin lists 127.0.0.1. The fake hosts are on 127.0.0.2, the one address these
// servers' admins allowed; names resolve through a table of the test's.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sandbox/egress.h"
#include "tests/support/agent_world.h"
#include "tests/support/loopback_server.h"

using namespace hearth;
using nlohmann::json;
using test::AgentWorld;

namespace {

sockaddr_storage at_127_0_0_2(int port) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.2", &in->sin_addr);
  return s;
}

// Sandboxes of this server reach 127.0.0.2 (as an admin's --egress-allow-address would
// let them), and allowed.test and denied.test are there.
void egress_setup(actors::sandbox::RuntimeConfig& rc, actors::session::RunnerConfig&) {
  rc.egress.allowed_addresses.push_back(sandbox::egress::Cidr::parse("127.0.0.2").value());
  rc.egress.resolve = [](const std::string& host, int port) -> Result<std::vector<sockaddr_storage>> {
    if (host == "allowed.test" || host == "denied.test") return std::vector{at_127_0_0_2(port)};
    return Error{ErrorCode::unavailable, "no such host " + host};
  };
}


}  // namespace

TEST_CASE("an org's egress allowlist is read and changed by its admins only, patterns checked") {
  AgentWorld w;
  const std::string path = "/v1/orgs/acme/network";
  auto empty = w.s.call("GET", path, w.owner);
  REQUIRE(empty.status == 200);
  CHECK(empty.body["allow"] == json::array());
  CHECK(empty.body["defaults"].dump().find("api.anthropic.com") != std::string::npos);
  CHECK(empty.body["counts"]["refused"] == 0);

  auto set = w.s.call("PUT", path, w.owner, json{{"allow", {"Registry.NPMjs.org", "*.GitHubUserContent.com"}}});
  REQUIRE_MESSAGE(set.status == 200, set.body.dump());
  CHECK(set.body["allow"] == json{"*.githubusercontent.com", "registry.npmjs.org"});
  CHECK(set.body["items"][0]["added_by"] == "owner");

  auto added = w.s.call("POST", path + "/allow", w.owner, json{{"hosts", {"pypi.org", "pypi.org"}}});
  REQUIRE(added.status == 200);
  CHECK(added.body["allow"] == json{"*.githubusercontent.com", "pypi.org", "registry.npmjs.org"});
  auto removed = w.s.call("POST", path + "/deny", w.owner, json{{"hosts", {"registry.npmjs.org", "nothere.org"}}});
  REQUIRE(removed.status == 200);
  CHECK(removed.body["allow"] == json{"*.githubusercontent.com", "pypi.org"});

  // Members neither read nor change it; other orgs do not see it.
  CHECK(w.s.call("GET", path, w.member).status == 403);
  CHECK(w.s.call("PUT", path, w.member, json{{"allow", json::array()}}).status == 403);
  CHECK(w.s.call("POST", path + "/allow", w.member, json{{"hosts", {"evil.com"}}}).status == 403);
  CHECK(w.s.call("GET", path, w.outsider).status == 404);

  // Bad input: a clear error, nothing changed.
  auto bad = w.s.call("PUT", path, w.owner, json{{"allow", {"ok.org", "http://evil.com/x"}}});
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["code"] == "invalid");
  CHECK(bad.body["error"]["message"].get<std::string>().find("\"http://evil.com/x\" is not a host pattern") != std::string::npos);
  CHECK(w.s.call("PUT", path, w.owner, json{{"allow", "pypi.org"}}).status == 400);
  CHECK(w.s.call("PUT", path, w.owner, json{{"allow", {1}}}).status == 400);
  CHECK(w.s.call("PUT", path, w.owner, json{{"allow", json::array()}, {"extra", 1}}).status == 400);
  CHECK(w.s.call("POST", path + "/allow", w.owner, json{{"hosts", {"*"}}}).status == 400);
  CHECK(w.s.call("GET", path, w.owner).body["allow"] == json{"*.githubusercontent.com", "pypi.org"});

  // Every change is in the audit log.
  auto changes = [](const json& b) {
    int n = 0;
    for (const auto& e : b["items"])
      n += e["kind"].get<std::string>().find(" /network") != std::string::npos && e["outcome"] == "ok";
    return n;
  };
  auto audit = w.s.poll("/v1/orgs/acme/audit?limit=200", w.owner, [&](const json& b) { return changes(b) >= 3; });
  CHECK(changes(audit) == 3);
}

TEST_CASE("a sandbox with network proxy reaches allowed hosts only, and never the server's own port") {
  test::LoopbackServer fake(nullptr, "127.0.0.2");
  fake.server().Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("hello, " + req.get_header_value("Host"), "text/plain");
  });
  fake.start();
  AgentWorld w(egress_setup);
  auto port = std::to_string(fake.port());
  // The fake is on a port of its own, which the pattern names (without, 80 and 443).
  REQUIRE(w.s.call("PUT", "/v1/orgs/acme/network", w.owner, json{{"allow", {"allowed.test:" + port}}}).status == 200);
  auto box = w.ready_sandbox("t1", json{{"network", "proxy"}});
  REQUIRE_MESSAGE(box["state"] == "ready", box.dump());
  CHECK(box["network"] == "proxy");

  // The proxy's variables, and nothing else of the host's.
  auto [env, vars] = w.run_process("t1", {"env"});
  CHECK(vars.find("HTTP_PROXY=http://127.0.0.1:3128") != std::string::npos);
  CHECK(vars.find("NO_PROXY=127.0.0.1,localhost") != std::string::npos);

  auto reached = w.run_process("t1", {"curl", "-sS", "--max-time", "20", "http://allowed.test:" + port + "/hello"});
  CHECK_MESSAGE(reached.first["exit_code"] == 0, reached.second);
  CHECK(reached.second == "hello, allowed.test:" + port);

  auto [refused, why] = w.run_process("t1", {"curl", "-sS", "--max-time", "20", "http://denied.test:" + port + "/hello"});
  CHECK(why.find("refused a connection to denied.test:" + port + ": it is not on the organization's allowlist") !=
        std::string::npos);
  auto [tunnel, tunnel_said] = w.run_process("t1", {"curl", "-sS", "--max-time", "20", "https://denied.test/"});
  CHECK(tunnel["exit_code"] != 0);
  CHECK(tunnel_said.find("403") != std::string::npos);

  // The server's own port: not on the loopback of the sandbox (its own), and refused by
  // the proxy even once an admin lists 127.0.0.1 (loopback is no sandbox's to reach).
  const auto server = "http://127.0.0.1:" + std::to_string(w.s.port) + "/healthz";
  auto [direct, direct_said] = w.run_process("t1", {"curl", "-sS", "--max-time", "20", server});
  CHECK(direct["exit_code"] != 0);
  CHECK(direct_said.find("ok") == std::string::npos);
  REQUIRE(w.s.call("POST", "/v1/orgs/acme/network/allow", w.owner,
                   json{{"hosts", {"127.0.0.1:" + std::to_string(w.s.port)}}}).status == 200);
  auto [via, via_said] = w.run_process("t1", {"curl", "-sS", "--max-time", "20", "--noproxy", "", "--proxy", "http://127.0.0.1:3128", server});
  CHECK(via_said.find("refused a connection to 127.0.0.1:" + std::to_string(w.s.port) +
                      ": 127.0.0.1 resolves to 127.0.0.1, loopback. The organization's allowlist cannot allow such an "
                      "address; a server admin can (--egress-allow-address).") != std::string::npos);

  // Counted; each refusal in the audit log.
  auto network = w.s.call("GET", "/v1/orgs/acme/network", w.owner).body;
  CHECK(network["counts"]["allowed"] == 1);
  CHECK(network["counts"]["refused"] == 3);
  auto audit = w.s.poll("/v1/orgs/acme/audit?kind=sandbox.egress", w.owner,
                        [](const json& b) { return b["items"].size() >= 2; });
  bool denied_seen = false;
  for (const auto& e : audit["items"]) {
    CHECK(e["outcome"] == "refused");
    denied_seen = denied_seen || e["detail"]["host"] == "denied.test";
  }
  CHECK(denied_seen);

  SUBCASE("network none reaches neither the proxy nor the server") {
    auto none = w.ready_sandbox("t2", json{{"network", "none"}});
    REQUIRE(none["state"] == "ready");
    auto [n, n_said] = w.run_process("t2", {"curl", "-sS", "--max-time", "20", "--noproxy", "", "--proxy", "http://127.0.0.1:3128", server});
    CHECK(n["exit_code"] != 0);
    auto [d, d_said] = w.run_process("t2", {"curl", "-sS", "--max-time", "20", server});
    CHECK(d["exit_code"] != 0);
  }
}

TEST_CASE("a sandbox asking for name after name is refused every time, counted, and told a bounded number of times") {
  AgentWorld w(egress_setup);
  REQUIRE(w.ready_sandbox("t1", json{{"network", "proxy"}})["state"] == "ready");
  auto [loop, said] = w.run_process("t1", {"sh", "-c", "for i in $(seq 40); do curl -s -o /dev/null --max-time 5 "
                                                       "http://host$i.denied.test/; done; echo looped"});
  CHECK(said.find("looped") != std::string::npos);
  auto network = w.s.call("GET", "/v1/orgs/acme/network", w.owner).body;
  CHECK(network["counts"]["refused"] == 40);
  auto audit = w.s.poll("/v1/orgs/acme/audit?kind=sandbox.egress&limit=200", w.owner,
                        [](const json& b) { return b["items"].size() >= 20; });
  CHECK(audit["items"].size() == 20);  // twenty hosts a minute per sandbox are told; all are counted
}

TEST_CASE("a connection refused during a turn is told in the session's transcript") {
  AgentWorld w(egress_setup);
  auto box = w.ready_sandbox("t1", json{{"network", "proxy"}});
  REQUIRE(box["state"] == "ready");
  auto session = w.session("t1");
  auto done = w.run_turn(session, "/run curl -sS --max-time 20 http://denied.test/\n/say done");
  CHECK(done["last_turn"]["status"] == "completed");
  json events;
  w.poll(session + "/transcript?limit=1000", [&](const json& b) {
    events = b["items"];
    for (const auto& e : events)
      if (e["kind"] == "network_refused") return true;
    return false;
  });
  bool told = false;
  for (const auto& e : events)
    if (e["kind"] == "network_refused") {
      told = true;
      CHECK(e["data"]["host"] == "denied.test");
      CHECK(e["data"]["message"].get<std::string>().find("An admin of the organization can allow it (hearth network "
                                                         "allow ORG denied.test).") != std::string::npos);
    }
  CHECK(told);
}
