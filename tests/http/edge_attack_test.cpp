// The HTTP edge under attack from outside: bytes that are not UTF-8, bodies past the
// limit in every framing, slow clients, stream hogs, password guessing and DNS
// rebinding. Each test performs the attack and fails if it works again.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/proc.h"
#include "tests/support/raw_http.h"
#include "tests/support/test_server.h"

using namespace hearth;
using namespace hearth::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The server still answers: /healthz through the gate, and an API read through a worker.
void still_serving(TestServer& s, const std::string& token) {
  CHECK(raw_status(raw_request(s.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) == 200);
  CHECK(s.call("GET", "/v1/orgs", token).status == 200);
}

// A JSON error answer with `status`, whose body parses (the server quoted nothing raw).
void json_error(const std::string& answer, int status) {
  CHECK(raw_status(answer) == status);
  auto body = json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
  REQUIRE_MESSAGE(!body.is_discarded(), answer);
  CHECK(body["error"]["code"].is_string());
  CHECK(body["error"]["message"].is_string());
}

std::string gzip(const std::string& data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST_CASE("bytes that are not UTF-8 in the path, a path parameter, the query or a header get a clear error") {
  TestServer s;
  auto token = s.user_with_token("root", true);
  REQUIRE(s.call("POST", "/v1/orgs", token, json{{"name", "Acme"}}).status == 201);
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  for (const char* target : {"/%FF", "/\xff", "/v1/orgs/%FF", "/v1/orgs/acme/tasks/%C3%28",
                             "/v1/orgs/acme/repos/%ED%A0%80/branches", "/v1/orgs/acme/tasks?q=%FF",
                             "/v1/orgs/acme/tasks?%FE=1", "/v1/audit?user=%C0%AF"}) {
    CAPTURE(target);
    for (const char* method : {"GET", "POST", "DELETE"}) {
      auto answer = raw_request(s.port, std::string(method) + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                                            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
      json_error(answer, 400);
    }
  }
  // Header values reach messages (Content-Type) and stored sessions (User-Agent).
  auto media = raw_request(s.port, "POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                                       "Content-Type: text/\xff\xfe\r\nContent-Length: 2\r\n\r\n{}");
  json_error(media, 415);
  auto body = json{{"username", "root"}, {"password", "password-root"}}.dump();
  auto signed_in = raw_request(s.port, "POST /v1/auth/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: evil\xff\xc3\r\n"
                                       "X-Request-Id: \xff\r\nContent-Type: application/json\r\nContent-Length: " +
                                           std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(raw_status(signed_in) == 200);
  auto sessions = s.call("GET", "/v1/auth/sessions", token);
  REQUIRE(sessions.status == 200);
  CHECK(sessions.text.find("evil") != std::string::npos);
  still_serving(s, token);
}

TEST_CASE("a chunked or compressed body past the limit gets 413 without being read whole") {
  http::EdgeConfig edge;
  edge.max_body_bytes = 64 * 1024;
  TestServer s(edge);
  auto token = s.user_with_token("root", true);

  SUBCASE("chunked, unauthenticated, far past the limit: refused before the body is read") {
    RawSocket sock(s.port);
    REQUIRE(sock.send("POST /v1/auth/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";
    std::size_t sent = 0;
    for (int i = 0; i < 4096 && sock.send(chunk); ++i) sent += 0x10000;  // up to 256 MiB
    auto answer = sock.response(5s);
    CHECK(raw_status(answer) == 413);
    CHECK(sent < 64u << 20);  // the server stopped reading long before the 256 MiB
  }
  SUBCASE("chunked within the limit still works") {
    auto body = json{{"name", "Acme"}}.dump();
    auto answer = raw_request(s.port, "POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                                          "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                          fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", body.size(), body));
    CHECK(raw_status(answer) == 201);
  }
  SUBCASE("a gzip body that inflates past the limit") {
    auto bomb = gzip(std::string(32u << 20, ' '));  // 32 MiB of spaces, ~32 KiB compressed
    REQUIRE(bomb.size() < edge.max_body_bytes);
    auto answer = raw_request(s.port, "POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                                          "\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                                          "Content-Length: " + std::to_string(bomb.size()) + "\r\n\r\n" + bomb);
    CHECK(raw_status(answer) == 413);
  }
  SUBCASE("no length at all: read to the end, and refused past the limit") {
    RawSocket sock(s.port);
    REQUIRE(sock.send("POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                      "\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"));
    for (int i = 0; i < 64 && sock.send(std::string(0x10000, ' ')); ++i) {
    }
    CHECK(raw_status(sock.response(5s)) == 413);
  }
  still_serving(s, token);
}

TEST_CASE("hundreds of clients trickling header bytes hold no worker: /healthz and reads keep answering") {
  http::EdgeConfig edge;
  edge.sse_max_streams = 8;  // 12 workers in all, against 300 slow clients
  TestServer s(edge, 4, {}, {}, [](http::ServerConfig& c) {
    c.gate.head_deadline = 8s;
    c.gate.max_waiting_per_address = 400;
  });
  auto token = s.user_with_token("root", true);
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 300; ++i) {
    slow.push_back(std::make_unique<RawSocket>(s.port));
    REQUIRE(slow.back()->send("GET /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (int round = 0; round < 100 && !done; ++round) {  // a header byte every 50 ms, each
      for (auto& c : slow) c->send("X");
      std::this_thread::sleep_for(50ms);
    }
  });
  // The attack holds while the server answers: every slow client still waits in the
  // gate after each round (none timed out yet), so these answers came during it.
  for (int i = 0; i < 3; ++i) {
    still_serving(s, token);
    CHECK(s.server->waiting_connections() == 300);
  }
  // Past the head deadline every slow client is answered 408 and closed.
  done = true;
  trickle.join();
  int closed = 0;
  for (auto& c : slow) {
    closed += raw_status(c->response(15s)) == 408;
  }
  CHECK(closed == 300);
}

TEST_CASE("the oldest connections of one address that never finish their head make room for new ones") {
  TestServer s({}, 4, {}, {}, [](http::ServerConfig& c) { c.gate.max_waiting_per_address = 20; });
  auto token = s.user_with_token("root", true);
  std::vector<std::unique_ptr<RawSocket>> stalled;
  for (int i = 0; i < 40; ++i) {
    stalled.push_back(std::make_unique<RawSocket>(s.port));
    REQUIRE(stalled.back()->send("GET /v1/orgs HTTP/1.1\r\n"));
  }
  CHECK(s.server->waiting_connections() <= 20);
  still_serving(s, token);
  int evicted = 0;
  for (auto& c : stalled) evicted += raw_status(c->response(200ms)) == 408;
  CHECK(evicted >= 20);
}

TEST_CASE("one user cannot hold every event stream") {
  http::EdgeConfig edge;
  edge.sse_max_streams_per_user = 2;
  TestServer s(edge);
  auto hog = s.user_with_token("hog", true);
  auto other = s.user_with_token("other", true);
  REQUIRE(s.call("POST", "/v1/orgs", hog, json{{"name", "Acme"}}).status == 201);
  REQUIRE(s.call("POST", "/v1/orgs/acme/members", hog, json{{"username", "other"}, {"role", "member"}}).status == 201);
  auto open = [&](const std::string& token) {
    auto sock = std::make_unique<RawSocket>(s.port);
    sock->send("GET /v1/orgs/acme/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n");
    return sock;
  };
  auto a = open(hog), b = open(hog);
  // A stream's head comes at once; its body never ends.
  auto head = [](RawSocket& sock) {
    std::string got;
    for (int i = 0; i < 100 && got.find("\r\n\r\n") == std::string::npos; ++i) got += sock.receive(100ms);
    return got;
  };
  CHECK(raw_status(head(*a)) == 200);
  CHECK(raw_status(head(*b)) == 200);
  auto refused = open(hog)->response(5s);
  CHECK(raw_status(refused) == 503);
  CHECK(refused.find("the limit per user") != std::string::npos);
  auto third = open(other);
  CHECK(raw_status(head(*third)) == 200);
}

TEST_CASE("failed sign-ins slow down that name from that address and never lock its owner out") {
  http::EdgeConfig edge;
  edge.trusted_proxies = {"127.0.0.1"};  // requests carry the client's address as a proxy would
  TestServer s(edge);
  s.user_with_token("bob");
  auto sign_in = [&](const std::string& from, const std::string& password) {
    return s.call("POST", "/v1/auth/sign-in", "", json{{"username", "bob"}, {"password", password}}.dump(),
                  {{"X-Forwarded-For", from}});
  };
  for (int i = 0; i < 5; ++i) CHECK(sign_in("203.0.113.9", "wrong-password").status == 401);
  auto slowed = sign_in("203.0.113.9", "password-bob");
  CHECK(slowed.status == 429);
  CHECK(std::stoi(slowed.header("Retry-After")) <= 2);
  // The owner, from elsewhere, signs in at once: no lockout.
  CHECK(sign_in("198.51.100.7", "password-bob").status == 200);
  // A proxy that adds its own X-Forwarded-For line after the client's forged one: the
  // last hop counts, not the client's claim.
  for (int i = 0; i < 5; ++i)
    s.call("POST", "/v1/auth/sign-in", "", json{{"username", "bob"}, {"password", "wrong-password"}}.dump(),
           {{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-For", "192.0.2.44"}});
  CHECK(sign_in("192.0.2.44", "password-bob").status == 429);
  CHECK(sign_in("198.51.100.7", "password-bob").status == 200);
  // IPv6: one client holds a whole /64; rotating within it does not reset the count.
  for (int i = 0; i < 5; ++i) sign_in("2001:db8:1:2::" + std::to_string(i + 1), "wrong-password");
  CHECK(sign_in("2001:db8:1:2::ffff", "password-bob").status == 429);
  CHECK(sign_in("2001:db8:1:3::1", "password-bob").status == 200);
  // A forged X-Forwarded-For from an untrusted peer is ignored.
  http::EdgeConfig plain;
  TestServer direct(plain);
  direct.user_with_token("bob");
  for (int i = 0; i < 5; ++i)
    direct.call("POST", "/v1/auth/sign-in", "", json{{"username", "bob"}, {"password", "nope-nope"}}.dump(),
                {{"X-Forwarded-For", "10.9.9." + std::to_string(i)}});
  CHECK(direct.call("POST", "/v1/auth/sign-in", "", json{{"username", "bob"}, {"password", "password-bob"}}).status ==
        429);
}

TEST_CASE("a flood of sign-in attempts leaves a bounded number of audit entries") {
  TestServer s;
  auto admin = s.user_with_token("root", true);
  auto before = s.call("GET", "/v1/audit?limit=500", admin);
  REQUIRE(before.status == 200);
  int statuses[600] = {};
  for (int i = 0; i < 400; ++i) {
    auto r = s.call("POST", "/v1/auth/sign-in", "",
                    json{{"username", "guess" + std::to_string(i % 50)}, {"password", "nope-nope"}});
    statuses[r.status]++;
  }
  CHECK(statuses[429] > 300);  // most were refused before any password check
  // Entries reach the log through a queue: wait for the count to settle.
  std::size_t added = 0;
  for (int i = 0; i < 100; ++i) {
    auto after = s.call("GET", "/v1/audit?limit=500", admin);
    auto now = after.body["items"].size() - before.body["items"].size();
    if (i > 5 && now == added) break;
    added = now;
    std::this_thread::sleep_for(50ms);
  }
  CHECK(added <= 32);  // 30 a minute one by one, and a summary
  CHECK(added >= 1);
}

TEST_CASE("a request for another host name (DNS rebinding) gets 421 and reaches nothing") {
  http::EdgeConfig edge;
  edge.public_url = "https://hearth.example.com";
  TestServer s(edge);
  auto token = s.user_with_token("root", true);
  auto ask = [&](const std::string& host) {
    return raw_status(raw_request(s.port, "GET /v1/orgs HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " +
                                              token + "\r\n\r\n"));
  };
  CHECK(ask("evil.example:" + std::to_string(s.port)) == 421);
  CHECK(ask("hearth.example.com.evil.example") == 421);
  CHECK(ask("hearth.example.com") == 200);
  CHECK(ask("127.0.0.1:" + std::to_string(s.port)) == 200);
  CHECK(ask("localhost:" + std::to_string(s.port)) == 200);
  CHECK(ask("[::1]:" + std::to_string(s.port)) == 200);
  auto metrics = raw_request(s.port, "GET /metrics HTTP/1.1\r\nHost: rebound.evil.example\r\n\r\n");
  CHECK(raw_status(metrics) == 421);
}

TEST_CASE("the gate cannot be gone around: pipelined heads, a huge first head, a declared length past the limit, an endless chunk-size line") {
  http::EdgeConfig edge;
  edge.sse_max_streams = 8;
  edge.max_body_bytes = 64 * 1024;
  TestServer s(edge, 4, {}, {}, [](http::ServerConfig& c) { c.gate.max_waiting_per_address = 400; });
  auto token = s.user_with_token("root", true);
  const std::string auth = "Authorization: Bearer " + token + "\r\n";

  SUBCASE("a second, pipelined head waits in the gate like any other, not on a worker") {
    std::vector<std::unique_ptr<RawSocket>> slow;
    for (int i = 0; i < 60; ++i) {
      slow.push_back(std::make_unique<RawSocket>(s.port));
      REQUIRE(slow.back()->send("GET /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                                "\r\nGET /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
    }
    for (auto& c : slow) CHECK(raw_status(c->response(5s)) == 200);  // the first request of each, answered
    // The second heads are incomplete: they wait in the gate, and the server answers others.
    for (int i = 0; i < 50 && s.server->waiting_connections() < 60; ++i) std::this_thread::sleep_for(20ms);
    CHECK(s.server->waiting_connections() == 60);
    still_serving(s, token);
  }
  SUBCASE("a first head past the limit in one go: 431, never handed to httplib") {
    auto answer = raw_request(s.port, "GET /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(100'000, 'a') +
                                          "\r\n\r\n");
    CHECK(raw_status(answer) == 431);
  }
  SUBCASE("a declared length past the limit: 413 at once, before any of the body") {
    for (const char* path : {"/v1/orgs", "/v1/auth/sign-in"}) {
      CAPTURE(path);
      RawSocket sock(s.port);
      REQUIRE(sock.send(std::string("POST ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                        "Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{"));
      CHECK(raw_status(sock.response(5s)) == 413);  // answered while the client has sent one byte
    }
  }
  SUBCASE("a chunk-size line that never ends: the connection ends, memory stays bounded") {
    RawSocket sock(s.port);
    REQUIRE(sock.send("POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
    std::size_t sent = 0;
    const std::string ones(0x10000, '1');
    for (int i = 0; i < 1024 && sock.send(ones); ++i) sent += ones.size();  // up to 64 MiB of one number
    CHECK(sent < 32u << 20);  // the server stopped reading far before the end
  }
  still_serving(s, token);
}

TEST_CASE("an answer httplib gives by itself closes the connection: nothing after it is taken for a request") {
  TestServer s;
  auto token = s.user_with_token("root", true);
  // A header line past httplib's 8 KiB: it answers 400 before our handlers run.
  RawSocket sock(s.port);
  REQUIRE(sock.send("POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + std::string(9000, 'a') +
                    "\r\nAuthorization: Bearer " + token + "\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
                    "GET /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Smuggled: 1\r\n\r\n"));
  auto first = sock.response(5s);
  CHECK(raw_status(first) == 400);
  CHECK(sock.closed_by_peer(5s));  // no second answer: the smuggled request was never read
}

TEST_CASE("bodies sent slowly from one address hold at most their share of the workers") {
  TestServer s({}, 4);  // 4 workers: 2 body readers per address
  auto token = s.user_with_token("root", true);
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(std::make_unique<RawSocket>(s.port));
    REQUIRE(slow.back()->send("POST /v1/auth/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: 100\r\n\r\n{\"us"));
  }
  // Both hold a worker, reading: wait until they do, then a third finds no slot.
  for (int i = 0; i < 500 && s.server->reading_bodies() < 2; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(s.server->reading_bodies() == 2);
  RawSocket probe(s.port);
  probe.send("POST /v1/auth/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Content-Length: 100\r\n\r\n{");
  auto answer = probe.response(5s);
  CHECK(raw_status(answer) == 503);
  still_serving(s, token);
}

TEST_CASE("a thousand event-stream clients coming and going leave no thread, stream slot or memory behind") {
  http::EdgeConfig edge;
  edge.sse_max_streams_per_user = 256;
  edge.sse_heartbeat = 100ms;  // a gone client is noticed at the next write
  TestServer s(edge);
  auto token = s.user_with_token("watcher", true);
  REQUIRE(s.call("POST", "/v1/orgs", token, json{{"name", "Acme"}}).status == 201);
  auto open_streams = [&] {
    auto text = raw_request(s.port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    auto at = text.find("\nhearth_sse_clients ");
    REQUIRE_MESSAGE(at != std::string::npos, text.substr(0, 300));
    return std::stoi(text.substr(at + 20));
  };
  auto threads = [] {
    int n = 0;
    for ([[maybe_unused]] const auto& t : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
  };
  using test::rss_mib;
  constexpr int kRounds = 5, kPerRound = 200;
  auto round = [&] {
    std::vector<std::unique_ptr<RawSocket>> clients;
    for (int i = 0; i < kPerRound; ++i) {
      clients.push_back(std::make_unique<RawSocket>(s.port));
      REQUIRE(clients.back()->send("GET /v1/orgs/acme/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                   token + "\r\n\r\n"));
    }
    for (auto& c : clients) {
      std::string got;
      for (int i = 0; i < 100 && got.find("\r\n\r\n") == std::string::npos; ++i) got += c->receive(100ms);
      REQUIRE_MESSAGE(raw_status(got) == 200, got.substr(0, 200));
    }
    CHECK(open_streams() == kPerRound);
    clients.clear();  // every client leaves at once
    auto until = std::chrono::steady_clock::now() + 30s;
    while (open_streams() != 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
    CHECK(open_streams() == 0);
  };
  round();
  auto threads_after_first = threads();
  auto rss_after_first = rss_mib();
  for (int r = 1; r < kRounds; ++r) round();
  CHECK_MESSAGE(threads() <= threads_after_first + 2, "threads: " << threads_after_first << " -> " << threads());
  if (test::kRssMeaningful)
    CHECK_MESSAGE(rss_mib() <= rss_after_first + 64, "RSS MiB: " << rss_after_first << " -> " << rss_mib());
  still_serving(s, token);
}
