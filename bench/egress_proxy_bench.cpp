// Benchmark "egress_proxy": a streamed model API response (server-sent events over TLS,
// as Anthropic's Messages API sends them) read directly and through the path an agent
// under network `proxy` takes: plain HTTP to the relay on a loopback port
// (`hearth egress-relay`'s code), the sandbox's Unix socket, Hearth's egress proxy (which
// drops the placeholder key, puts the real one in, and opens TLS to the API), in the
// same run against the same server on 127.0.0.1.
//
// - first byte: a POST whose answer's first event comes at once; time from opening the
//   connection to the first byte of the answer (each request a new connection,
//   directly as through the proxy, which opens a new upstream connection per request).
// - throughput: a POST whose answer streams 256 MiB in 16 KiB events; MiB/s.
// Goals: first-byte overhead < 2 ms p50; throughput through the proxy >= 90% of direct.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <thread>

#include <httplib.h>

#include "bench/bench_util.h"
#include "sandbox/egress.h"

using namespace hearth;
using namespace hearth::bench;
namespace egress = hearth::sandbox::egress;

namespace {

constexpr int kFirstByteRounds = 300;
constexpr std::size_t kStreamBytes = 256u << 20;
constexpr std::size_t kEventBytes = 16u << 10;

// A client as lean as an agent's HTTP stack: one connection per request, the request
// written at once, the answer read in 256 KiB reads until the server closes it; over TLS
// (its context made once) or plain. Returns ms to the answer's first byte and its size.
struct RawClient {
  int port = 0;
  SSL_CTX* tls = nullptr;  // null: plain HTTP

  std::pair<double, std::size_t> post(const std::string& path, const std::string& key_header) const {
    static thread_local std::vector<char> buf(256 * 1024);
    const std::string body = R"({"model":"claude-bench","stream":true,"max_tokens":1024,"messages":[{"role":"user","content":"hi"}]})";
    const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + key_header +
                                "\r\nanthropic-version: 2023-06-01\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    auto t0 = Clock::now();
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("connect");
    SSL* ssl = nullptr;
    if (tls) {
      ssl = SSL_new(tls);
      SSL_set_fd(ssl, fd);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
      if (SSL_connect(ssl) != 1) fail("TLS");
      if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0) fail("write");
    } else if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      fail("write");
    }
    double first = -1;
    std::size_t bytes = 0;
    for (;;) {
      long n = ssl ? SSL_read(ssl, buf.data(), static_cast<int>(buf.size())) : ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      if (first < 0) first = millis_since(t0);
      bytes += static_cast<std::size_t>(n);
    }
    if (ssl) SSL_free(ssl);
    ::close(fd);
    if (bytes == 0) fail("an empty answer");
    return {first, bytes};
  }
  [[noreturn]] static void fail(const char* what) {
    std::cerr << "request failed: " << what << "\n";
    std::exit(1);
  }
};

}  // namespace

int main() {
  ScratchDir scratch("egress_proxy");
  auto cert = scratch.path() / "server.crt", key = scratch.path() / "server.key";
  auto made = std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                           "-subj /CN=bench -addext subjectAltName=IP:127.0.0.1 -keyout '" + key.string() + "' -out '" +
                           cert.string() + "' 2>/dev/null").c_str());
  if (made != 0) {
    std::cerr << "openssl could not make a certificate\n";
    return 1;
  }

  // The model API: one event at once, or kStreamBytes of events.
  httplib::SSLServer api(cert.c_str(), key.c_str());
  std::atomic<int> wrong_key{0};
  api.Post("/v1/messages", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("x-api-key") != "sk-bench-real") ++wrong_key;
    bool big = req.has_param("big");
    res.set_chunked_content_provider("text/event-stream", [big, sent = std::size_t{0}](std::size_t,
                                                                                      httplib::DataSink& sink) mutable {
      static const std::string event = "event: content_block_delta\ndata: " + std::string(kEventBytes - 40, 'x') + "\n\n";

      if (!big) {
        sink.write("event: message_start\ndata: {}\n\n", 31);
        sink.done();
        return true;
      }
      for (int i = 0; i < 64 && sent < kStreamBytes; ++i, sent += event.size()) sink.write(event.data(), event.size());
      if (sent >= kStreamBytes) sink.done();
      return true;
    });
  });
  api.set_tcp_nodelay(true);  // as API servers do (Go's and nginx's defaults)
  int api_port = api.bind_to_any_port("127.0.0.1");
  std::thread api_thread([&] { api.listen_after_bind(); });
  while (!api.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  // The proxy (127.0.0.1 allowed, as an admin's --egress-allow-address would) and the relay.
  egress::Proxy::Config config;
  config.allowed_addresses.push_back(egress::Cidr::parse("127.0.0.1").value());
  config.ca_file = cert;
  egress::Proxy proxy(config);
  egress::Proxy::Hooks hooks;
  hooks.allowlist = []() -> Result<std::vector<std::string>> { return std::vector<std::string>{}; };
  hooks.upstream = [&](const egress::Vendor&) -> Result<egress::Upstream> {
    return egress::Upstream{"https://127.0.0.1:" + std::to_string(api_port), "x-api-key", "sk-bench-real"};
  };
  auto socket = scratch.path() / "egress.sock";
  if (auto st = proxy.listen("bench", "bench", socket, ::getgid(), hooks); !st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  auto relay_listen = egress::listen_loopback(0).value();
  std::thread relay([fd = relay_listen.first, s = socket.string()] { egress::relay(fd, s); });

  SSL_CTX* tls = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(tls, cert.c_str(), nullptr);
  SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_read_ahead(tls, 1);  // as the proxy's: many records per read(2)
  SSL_CTX_set_default_read_buffer_len(tls, 256 * 1024);
  const RawClient direct{api_port, tls}, proxied{relay_listen.second, nullptr};
  const std::string real = "x-api-key: sk-bench-real", placeholder = std::string("x-api-key: ") + egress::kPlaceholderKey;

  // First byte, alternating so that both see the same machine.
  std::vector<double> direct_first, proxied_first;
  for (int i = 0; i < 20; ++i) {  // warm-up
    direct.post("/v1/messages", real);
    proxied.post("/v/anthropic/v1/messages", placeholder);
  }
  for (int i = 0; i < kFirstByteRounds; ++i) {
    direct_first.push_back(direct.post("/v1/messages", real).first);
    proxied_first.push_back(proxied.post("/v/anthropic/v1/messages", placeholder).first);
  }

  // Throughput: the best of seven each way, alternating.
  double direct_mibs = 0, proxied_mibs = 0;
  for (int i = 0; i < 7; ++i) {
    auto t = Clock::now();
    auto [f1, b1] = direct.post("/v1/messages?big=1", real);
    direct_mibs = std::max(direct_mibs, static_cast<double>(b1) / (1 << 20) / seconds_since(t));
    t = Clock::now();
    auto [f2, b2] = proxied.post("/v/anthropic/v1/messages?big=1", placeholder);
    proxied_mibs = std::max(proxied_mibs, static_cast<double>(b2) / (1 << 20) / seconds_since(t));
    if (b1 < kStreamBytes || b2 < kStreamBytes) {
      std::cerr << "a stream was cut short: " << b1 << " / " << b2 << " bytes\n";
      return 1;
    }
  }

  ::shutdown(relay_listen.first, SHUT_RDWR);
  relay.join();
  proxy.stop();
  api.stop();
  api_thread.join();
  SSL_CTX_free(tls);

  double d50 = percentile(direct_first, 50), p50 = percentile(proxied_first, 50);
  nlohmann::json out{
      {"benchmark", "egress_proxy"},
      {"first_byte_rounds", kFirstByteRounds},
      {"direct_first_byte_ms_p50", d50},
      {"direct_first_byte_ms_p99", percentile(direct_first, 99)},
      {"proxied_first_byte_ms_p50", p50},
      {"proxied_first_byte_ms_p99", percentile(proxied_first, 99)},
      {"first_byte_overhead_ms_p50", p50 - d50},
      {"stream_mib", kStreamBytes >> 20},
      {"direct_mib_per_s", direct_mibs},
      {"proxied_mib_per_s", proxied_mibs},
      {"throughput_ratio", proxied_mibs / direct_mibs},
      {"requests_with_wrong_key", wrong_key.load()},
      {"goal_first_byte_overhead_ms_p50", 2},
      {"goal_throughput_ratio", 0.9},
      {"goals_met", p50 - d50 < 2 && proxied_mibs / direct_mibs >= 0.9 && wrong_key == 0},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
