// The egress proxy (sandbox/egress.h) on its own, over a real Unix socket, against fake
// upstreams on 127.0.0.2 (the one address these tests let it reach, as a server admin
// would a company registry): allowlist patterns, the address rules (loopback, cloud
// metadata, private ranges), CONNECT tunnels and plain forwarding, the model API
// endpoints that put the org's key in over TLS with a test CA and pass a streamed
// response through unbuffered, malformed and silent clients, 200 connections at once,
// and the relay that carries a sandbox's loopback port to the socket.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "sandbox/egress.h"
#include "tests/support/loopback_server.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
namespace egress = hearth::sandbox::egress;

namespace {

sockaddr_storage ipv4(const char* text, int port = 0) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, text, &in->sin_addr);
  return s;
}

sockaddr_storage ipv6(const char* text) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in6*>(&s);
  in->sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, text, &in->sin6_addr);
  return s;
}

std::string reason(const sockaddr_storage& s, const std::vector<egress::Cidr>& allowed = {}) {
  return egress::refused_reason(reinterpret_cast<const sockaddr*>(&s), allowed, {});
}

int connect_unix(const std::filesystem::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{20, 0};  // a test never waits forever
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& data) {
  for (std::size_t off = 0; off < data.size();) {
    auto w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    REQUIRE(w > 0);
    off += static_cast<std::size_t>(w);
  }
}

// Reads until the other end closes (or `until` says enough was seen).
std::string read_all(int fd, const std::function<bool(const std::string&)>& until = {}) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
    if (until && until(out)) break;
  }
  return out;
}

std::string round_trip(const std::filesystem::path& socket, const std::string& request) {
  int fd = connect_unix(socket);
  send_all(fd, request);
  auto out = read_all(fd);
  ::close(fd);
  return out;
}

// A proxy listening for one sandbox of org "acme", resolving names from a table of its
// own: allowed.test and model.test on 127.0.0.2, metadata.test on the cloud metadata
// address, localhost on 127.0.0.1. Only 127.0.0.2 is allowed although private. The
// allowlist names the fake upstream's `port` (patterns without one allow 80 and 443).
struct World {
  test::TempDir dir;
  std::filesystem::path socket = dir.path() / "egress.sock";
  std::vector<std::string> allow;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> refused;
  Result<egress::Upstream> upstream = Error{ErrorCode::conflict, "no key"};
  std::unique_ptr<egress::Proxy> proxy;

  explicit World(int port = 0, egress::Proxy::Config config = {}) {
    auto p = std::to_string(port);
    allow = {"allowed.test:" + p, "*.wild.test:" + p, "localhost:" + p, "metadata.test", "169.254.169.254"};
    config.allowed_addresses.push_back(egress::Cidr::parse("127.0.0.2").value());
    config.resolve = [](const std::string& host, int port) -> Result<std::vector<sockaddr_storage>> {
      if (host == "allowed.test" || host == "model.test" || host == "a.wild.test") return std::vector{ipv4("127.0.0.2", port)};
      if (host == "metadata.test") return std::vector{ipv4("169.254.169.254", port)};
      if (host == "localhost") return std::vector{ipv4("127.0.0.1", port)};
      return Error{ErrorCode::unavailable, "cannot resolve " + host};
    };
    proxy = std::make_unique<egress::Proxy>(std::move(config));
    egress::Proxy::Hooks hooks;
    hooks.allowlist = [this]() -> Result<std::vector<std::string>> {
      std::lock_guard lock(mu);
      return allow;
    };
    hooks.upstream = [this](const egress::Vendor&) -> Result<egress::Upstream> {
      std::lock_guard lock(mu);
      return upstream;
    };
    hooks.refused = [this](const std::string& host, const std::string& why) {
      std::lock_guard lock(mu);
      refused.emplace_back(host, why);
    };
    REQUIRE(proxy->listen("sandbox-1", "acme", socket, ::getgid(), std::move(hooks)).ok());
  }
  std::vector<std::pair<std::string, std::string>> refusals() {
    std::lock_guard lock(mu);
    return refused;
  }
};

// Waits (bounded) for `done`.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace

TEST_CASE("egress allowlist patterns are names or *.domain, matched without case") {
  CHECK(egress::normalize_pattern(" Registry.NPMjs.org. ").value() == "registry.npmjs.org");
  CHECK(egress::normalize_pattern("*.GitHubUserContent.com").value() == "*.githubusercontent.com");
  for (const char* bad : {"", "*", "*.com", "a*.b.com", "https://github.com", "github.com/x", "a..b", "-a.com", "a b.com",
                          "*.10.0.0.1"})
    CHECK_MESSAGE(!egress::normalize_pattern(bad).ok(), bad);
  CHECK_FALSE(egress::normalize_pattern(std::string("evil.com\0.github.com", 21)).ok());
  CHECK(egress::normalize_pattern("http://x").error().message.find("is not a host pattern") != std::string::npos);
  CHECK(egress::matches("*.github.com", "api.github.com", 443));
  CHECK(egress::matches("*.github.com", "a.b.GITHUB.com", 80));
  CHECK_FALSE(egress::matches("*.github.com", "github.com", 443));
  CHECK_FALSE(egress::matches("*.github.com", "evilgithub.com", 443));
  CHECK(egress::matches("github.com", "GitHub.com", 443));
  CHECK_FALSE(egress::matches("github.com", "api.github.com", 443));
  CHECK(egress::allowed({"pypi.org"}, "pypi.org.", 443));
  // Ports: 80 and 443 unless the pattern names one.
  CHECK_FALSE(egress::matches("github.com", "github.com", 22));
  CHECK(egress::normalize_pattern("Registry.Local:4873").value() == "registry.local:4873");
  CHECK(egress::matches("registry.local:4873", "registry.local", 4873));
  CHECK_FALSE(egress::matches("registry.local:4873", "registry.local", 443));
  CHECK_FALSE(egress::normalize_pattern("a.com:99999").ok());
  CHECK_FALSE(egress::normalize_pattern("a.com:x").ok());
  CHECK_FALSE(egress::normalize_pattern("a.com:0").ok());
}

TEST_CASE("egress refuses loopback, cloud metadata, private and reserved addresses unless an admin allowed them") {
  CHECK(reason(ipv4("127.0.0.1")) == "loopback");
  CHECK(reason(ipv4("127.9.9.9")) == "loopback");
  CHECK(reason(ipv6("::1")) == "loopback");
  CHECK(reason(ipv6("::ffff:127.0.0.1")) == "loopback");  // IPv4-mapped
  CHECK(reason(ipv4("169.254.169.254")) == "link-local (cloud metadata)");
  CHECK(reason(ipv6("fe80::1")) == "link-local (cloud metadata)");
  CHECK(reason(ipv4("10.1.2.3")) == "a private network");
  CHECK(reason(ipv4("172.31.0.1")) == "a private network");
  CHECK(reason(ipv4("192.168.1.1")) == "a private network");
  CHECK(reason(ipv6("fd00::1")) == "a private network");
  CHECK(reason(ipv4("0.0.0.0")) == "reserved");
  CHECK(reason(ipv4("8.8.8.8")).empty());
  CHECK(reason(ipv6("2606:4700::1111")).empty());
  auto allowed = std::vector{egress::Cidr::parse("10.0.0.0/8").value()};
  CHECK(reason(ipv4("10.1.2.3"), allowed).empty());
  CHECK(reason(ipv4("169.254.169.254"), allowed) == "link-local (cloud metadata)");
  auto own = std::vector{egress::Cidr::parse("8.8.4.4").value()};  // as if this server were there
  auto mine = ipv4("8.8.4.4");
  CHECK(reason(ipv4("203.0.113.7")) == "reserved");
  CHECK(egress::refused_reason(reinterpret_cast<const sockaddr*>(&mine), {}, own) == "this server's own address");
  CHECK_FALSE(egress::Cidr::parse("10.0.0.0/33").ok());
  CHECK_FALSE(egress::Cidr::parse("example.com").ok());
}

TEST_CASE("egress request heads: well formed ones parse, malformed ones are refused with a reason") {
  auto h = egress::parse_request_head("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\nX-A:  b ");
  REQUIRE(h.ok());
  CHECK(h->method == "CONNECT");
  CHECK(h->target == "api.example.com:443");
  CHECK(h->header("x-a") == "b");
  for (const char* bad : {"", "GET\r\n", "GET / HTTP/2", "GET / HTTP/1.1\r\nno colon", "GET / HTTP/1.1\r\n: v",
                          "GET / HTTP/1.1\r\nBad Name: v", "G\x01T / HTTP/1.1"})
    CHECK_MESSAGE(!egress::parse_request_head(bad).ok(), bad);
  CHECK(egress::split_authority("[::1]:8443", 443).value() == std::pair<std::string, int>{"::1", 8443});
  CHECK(egress::split_authority("Example.com", 443).value() == std::pair<std::string, int>{"example.com", 443});
  for (const char* bad : {"", ":80", "a.com:", "a.com:99999", "a.com:x", "user@a.com:80", "[::1", "a b:80", "a/b:80",
                          "exa\x01mple.com:443", "caf\xc3\xa9.com:443"})
    CHECK_MESSAGE(!egress::split_authority(bad, 443).ok(), bad);
  CHECK_FALSE(egress::split_authority(std::string("1.2.3.4\0.github.com:443", 24), 443).ok());
  CHECK_FALSE(egress::parse_request_head(std::string("CONNECT a\0.b.com:443 HTTP/1.1", 30)).ok());
}

TEST_CASE("under proxy an agent gets placeholders for its keys and the proxy's endpoints for its base URLs") {
  auto s = egress::proxied_secrets({{"ANTHROPIC_API_KEY", "sk-ant-real"},
                                    {"ANTHROPIC_BASE_URL", "https://gateway.example/anthropic"},
                                    {"GEMINI_API_KEY", "g-real"},
                                    {"OPENAI_BASE_URL", "https://nokey.example/v1"},
                                    {"ANTHROPIC_MODEL", "claude-x"}});
  CHECK(s["ANTHROPIC_API_KEY"] == egress::kPlaceholderKey);
  CHECK(s["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:3128/v/anthropic");
  CHECK(s["GEMINI_API_KEY"] == egress::kPlaceholderKey);
  CHECK(s["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:3128/v/gemini");
  CHECK(s["ANTHROPIC_MODEL"] == "claude-x");
  CHECK_FALSE(s.count("OPENAI_BASE_URL"));
  for (const auto& kv : s) CHECK_MESSAGE(kv.second.find("real") == std::string::npos, kv.first);
  auto env = egress::proxy_env();
  CHECK(std::find(env.begin(), env.end(), "HTTPS_PROXY=http://127.0.0.1:3128") != env.end());
  CHECK(std::find(env.begin(), env.end(), "NO_PROXY=127.0.0.1,localhost") != env.end());
}

TEST_CASE("egress tunnels CONNECT and forwards plain HTTP to allowed hosts, and refuses the others with the reason") {
  test::LoopbackServer upstream(nullptr, "127.0.0.2");
  upstream.server().Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("hello from " + req.get_header_value("Host"), "text/plain");
  });
  upstream.start();
  World w(upstream.port());
  auto port = std::to_string(upstream.port());

  SUBCASE("CONNECT to an allowed name") {
    int fd = connect_unix(w.socket);
    send_all(fd, "CONNECT allowed.test:" + port + " HTTP/1.1\r\nHost: allowed.test:" + port + "\r\n\r\n");
    auto established = read_all(fd, [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
    CHECK(established.starts_with("HTTP/1.1 200"));
    send_all(fd, "GET /hello HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n");
    CHECK(read_all(fd).find("hello from allowed.test") != std::string::npos);
    ::close(fd);
    CHECK(w.proxy->counts_of("acme").allowed == 1);
  }
  SUBCASE("a *.domain pattern") {
    auto out = round_trip(w.socket, "GET http://a.wild.test:" + port + "/hello HTTP/1.1\r\nHost: a.wild.test:" + port + "\r\n\r\n");
    CHECK(out.find("hello from a.wild.test") != std::string::npos);
    CHECK(out.find("Connection: close") != std::string::npos);
  }
  SUBCASE("plain HTTP forwarded") {
    auto out = round_trip(w.socket, "GET http://allowed.test:" + port + "/hello HTTP/1.1\r\nHost: allowed.test:" + port +
                                      "\r\nProxy-Connection: keep-alive\r\n\r\n");
    CHECK(out.starts_with("HTTP/1.1 200"));
    CHECK(out.find("hello from allowed.test") != std::string::npos);
  }
  SUBCASE("a host not on the allowlist") {
    auto out = round_trip(w.socket, "CONNECT registry.npmjs.org:443 HTTP/1.1\r\n\r\n");
    CHECK(out.starts_with("HTTP/1.1 403"));
    CHECK(out.find("refused a connection to registry.npmjs.org: it is not on the organization's allowlist") !=
          std::string::npos);
    CHECK(out.find("hearth network allow ORG registry.npmjs.org") != std::string::npos);
    REQUIRE(w.refusals().size() == 1);
    CHECK(w.refusals()[0].first == "registry.npmjs.org");
    CHECK(w.proxy->counts_of("acme").refused == 1);
    CHECK(w.proxy->counts_of("acme").allowed == 0);
  }
  SUBCASE("a host put on the allowlist is no longer refused for it at the next connection") {
    CHECK(round_trip(w.socket, "CONNECT other.test:" + port + " HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 403"));
    {
      std::lock_guard lock(w.mu);
      w.allow.push_back("other.test:" + port);
    }
    // Listed now, the proxy goes on to resolve it, which the table cannot: 502, not 403.
    auto out = round_trip(w.socket, "CONNECT other.test:" + port + " HTTP/1.1\r\n\r\n");
    CHECK(out.starts_with("HTTP/1.1 502"));
    CHECK(out.find("cannot resolve other.test") != std::string::npos);
  }
  SUBCASE("names that resolve to loopback or cloud metadata, and such addresses given directly") {
    for (const std::string& target : {std::string("localhost:") + port, std::string("metadata.test:80"),
                                      std::string("169.254.169.254:80"), std::string("127.0.0.1:") + port}) {
      auto out = round_trip(w.socket, "CONNECT " + target + " HTTP/1.1\r\n\r\n");
      CHECK_MESSAGE(out.starts_with("HTTP/1.1 403"), target << ": " << out);
    }
    auto r = w.refusals();
    REQUIRE(r.size() == 4);
    CHECK(r[0].first == "localhost:" + port);
    CHECK(r[0].second == "localhost resolves to 127.0.0.1, loopback");
    // An address rule is a server admin's to lift, which the answer says.
    auto out = round_trip(w.socket, "CONNECT metadata.test:80 HTTP/1.1\r\n\r\n");
    CHECK(out.find("The organization's allowlist cannot allow such an address; a server admin can "
                   "(--egress-allow-address).") != std::string::npos);
    CHECK(r[1].second == "metadata.test resolves to 169.254.169.254, link-local (cloud metadata)");
    CHECK(r[2].second == "169.254.169.254 resolves to 169.254.169.254, link-local (cloud metadata)");
    CHECK(r[3].second == "it is not on the organization's allowlist");  // 127.0.0.1 is not listed
  }
}

TEST_CASE("egress answers malformed requests with the status that says what is wrong, and a client that sends nothing is let go") {
  egress::Proxy::Config config;
  config.head_timeout = std::chrono::milliseconds(300);
  World w(0, config);
  const std::vector<std::pair<std::string, std::string>> cases{
      {"garbage\r\n\r\n", "HTTP/1.1 400"},
      {"GET / HTTP/9\r\n\r\n", "HTTP/1.1 400"},
      {"CONNECT a.test:x HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
      {"CONNECT :0 HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
      {"GET ftp://x/ HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
      {"GET /nothing HTTP/1.1\r\n\r\n", "HTTP/1.1 404"},
      {"GET / HTTP/1.1\r\nX: " + std::string(70'000, 'a') + "\r\n\r\n", "HTTP/1.1 431"}};
  for (const auto& c : cases) {
    auto out = round_trip(w.socket, c.first);
    CHECK_MESSAGE(out.starts_with(c.second), c.first.substr(0, 40) << " -> " << out.substr(0, 80));
  }
  // Silent: the proxy closes the connection after its head timeout; no thread is left.
  int fd = connect_unix(w.socket);
  CHECK(read_all(fd).empty());
  ::close(fd);
  CHECK(eventually([&] { return w.proxy->threads() == 0 && w.proxy->open_connections() == 0; }));
}

TEST_CASE("egress serves 200 connections at once and leaves no thread behind") {
  test::LoopbackServer upstream(nullptr, "127.0.0.2");
  upstream.server().new_task_queue = [] { return new httplib::ThreadPool(64); };
  upstream.server().Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
  upstream.start();
  World w(upstream.port());
  auto port = std::to_string(upstream.port());
  constexpr int kClients = 200;
  std::vector<int> fds;
  // All connected and tunnelled before any is used: 200 open at once.
  for (int i = 0; i < kClients; ++i) {
    int fd = connect_unix(w.socket);
    send_all(fd, "CONNECT allowed.test:" + port + " HTTP/1.1\r\n\r\n");
    fds.push_back(fd);
  }
  for (int fd : fds)
    CHECK(read_all(fd, [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }).starts_with("HTTP/1.1 200"));
  CHECK(w.proxy->open_connections() == kClients);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int fd : fds)
    clients.emplace_back([fd, &ok] {
      send_all(fd, "GET /hello HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n");
      if (read_all(fd).find("\r\n\r\nhi") != std::string::npos) ++ok;
      ::close(fd);
    });
  for (auto& t : clients) t.join();
  CHECK(ok == kClients);
  CHECK(w.proxy->counts_of("acme").allowed == kClients);
  CHECK(eventually([&] { return w.proxy->threads() == 0 && w.proxy->open_connections() == 0; }));
}

TEST_CASE("one sandbox cannot hold more connections than its share: the next is told so") {
  egress::Proxy::Config config;
  config.max_per_sandbox = 2;
  World w(0, config);
  int a = connect_unix(w.socket), b = connect_unix(w.socket);  // held, sending nothing
  REQUIRE(eventually([&] { return w.proxy->open_connections() == 2; }));
  int third = connect_unix(w.socket);  // answered as it is accepted, before it says anything
  auto out = read_all(third);
  ::close(third);
  CHECK(out.starts_with("HTTP/1.1 503"));
  CHECK(out.find("connections of this sandbox open, its limit") != std::string::npos);
  ::close(a);
  ::close(b);
  CHECK(eventually([&] { return w.proxy->open_connections() == 0; }));
}

TEST_CASE("a model API endpoint puts the org's key in over TLS and streams the answer through unbuffered") {
  test::TempDir certs;
  test::TestCertificate cert(certs.path());
  std::mutex mu;
  std::condition_variable cv;
  bool first_seen = false, waited_for_client = false;
  std::string seen_key, seen_auth, seen_path, seen_body, seen_forwarded;
  test::LoopbackServer model(&cert, "127.0.0.2");
  model.server().Post("/base/v1/messages", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mu);
      seen_key = req.get_header_value("x-api-key");
      seen_auth = req.get_header_value("Authorization");
      seen_forwarded = req.get_header_value("X-Forwarded-Host") + req.get_header_value("Forwarded");
      seen_path = req.path;
      seen_body = req.body;
    }
    res.set_chunked_content_provider("text/event-stream", [&](std::size_t, httplib::DataSink& sink) {
      std::string first = "event: message_start\ndata: {\"n\":1}\n\n";
      sink.write(first.data(), first.size());
      // The second event only once the client has the first: a proxy that held the
      // response back would have the client wait here in vain.
      {
        std::unique_lock lock(mu);
        waited_for_client = cv.wait_for(lock, std::chrono::seconds(10), [&] { return first_seen; });
      }
      std::string second = "event: message_stop\ndata: {\"n\":2}\n\n";
      sink.write(second.data(), second.size());
      sink.done();
      return true;
    });
  });
  model.start();

  egress::Proxy::Config config;
  config.ca_file = cert.cert;
  World w(0, config);
  w.upstream = egress::Upstream{"https://model.test:" + std::to_string(model.port()) + "/base", "x-api-key", "sk-real-key"};

  int fd = connect_unix(w.socket);
  std::string body = R"({"model":"claude","stream":true})";
  send_all(fd, "POST /v/anthropic/v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:3128\r\nx-api-key: " +
                   std::string(egress::kPlaceholderKey) + "\r\nAuthorization: Bearer nothing\r\nX-Forwarded-Host: "
                   "evil.example\r\nForwarded: host=evil.example\r\nContent-Type: "
                   "application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto head = read_all(fd, [](const std::string& s) { return s.find("message_start") != std::string::npos; });
  CHECK(head.starts_with("HTTP/1.1 200"));
  CHECK(head.find("Connection: close") != std::string::npos);
  {
    std::lock_guard lock(mu);
    first_seen = true;
  }
  cv.notify_all();
  auto rest = read_all(fd);
  ::close(fd);
  CHECK(rest.find("message_stop") != std::string::npos);
  std::lock_guard lock(mu);
  CHECK(waited_for_client);
  CHECK(seen_key == "sk-real-key");
  CHECK(seen_auth.empty());
  CHECK(seen_forwarded.empty());  // nothing that tells a gateway to route elsewhere
  CHECK(seen_path == "/base/v1/messages");
  CHECK(seen_body == body);

  SUBCASE("an upstream whose certificate the proxy does not trust is refused") {
    World plain;  // no CA file
    plain.upstream = w.upstream;
    auto out = round_trip(plain.socket, "POST /v/anthropic/v1/messages HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(out.starts_with("HTTP/1.1 502"));
    CHECK(out.find("TLS with model.test") != std::string::npos);
  }
}

TEST_CASE("a model API endpoint says what is missing and never reaches a refused address") {
  World w;
  auto out = round_trip(w.socket, "POST /v/anthropic/v1/messages HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 409"));
  CHECK(out.find("no key") != std::string::npos);
  out = round_trip(w.socket, "GET /v/nobody/x HTTP/1.1\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 404"));
  // Paths that would leave the vendor's base on a gateway that resolves them, and methods
  // that reflect a request: refused before any upstream is asked.
  w.upstream = egress::Upstream{"https://gateway.example/anthropic", "x-api-key", "sk-real-key"};
  for (const std::string& path : {std::string("/v/anthropic//evil.example/x"), std::string("/v/anthropic/../x"),
                                  std::string("/v/anthropic/v1/./x"), std::string("/v/anthropic/%2E%2E/x"),
                                  std::string("/v/anthropic/a%2fb"), std::string("/v/anthropic/a\\b")}) {
    out = round_trip(w.socket, "GET " + path + " HTTP/1.1\r\n\r\n");
    CHECK_MESSAGE(out.starts_with("HTTP/1.1 400"), path << " -> " << out.substr(0, 60));
  }
  out = round_trip(w.socket, "TRACE /v/anthropic/v1/messages HTTP/1.1\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 405"));
  // A base URL that is no URL: said without repeating it (it may hold credentials).
  w.upstream = egress::Upstream{"https://user:secret-pass@gw.example", "x-api-key", "sk-real-key"};
  out = round_trip(w.socket, "GET /v/anthropic/v1/models HTTP/1.1\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 409"));
  CHECK(out.find("secret-pass") == std::string::npos);
  CHECK(w.proxy->counts_of("acme").refused == 0);  // none of these is a refused connection
  // An org's base URL at the cloud metadata address: refused, with the key never sent.
  w.upstream = egress::Upstream{"http://169.254.169.254/latest", "x-api-key", "sk-real-key"};
  out = round_trip(w.socket, "GET http://127.0.0.1:3128/v/anthropic/meta-data HTTP/1.1\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 403"));
  CHECK(out.find("link-local") != std::string::npos);
  CHECK(w.proxy->counts_of("acme").refused == 1);
}

TEST_CASE("the relay carries a loopback port to the proxy's socket, both ways") {
  test::LoopbackServer upstream(nullptr, "127.0.0.2");
  upstream.server().Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("relayed", "text/plain"); });
  upstream.start();
  World w(upstream.port());
  auto listening = egress::listen_loopback(0);
  REQUIRE(listening.ok());
  auto [fd, port] = *listening;
  std::thread relay([fd = fd, socket = w.socket.string()] { egress::relay(fd, socket); });
  httplib::Client client("127.0.0.1", port);
  auto r = client.Get("http://allowed.test:" + std::to_string(upstream.port()) + "/hello");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "relayed");
  ::shutdown(fd, SHUT_RDWR);
  relay.join();
  ::close(fd);
}
