// Benchmark "egress_proxy": a streamed model API response (server-sent events over TLS,
// as Anthropic's Messages API sends them) read directly and through the path an agent
// under network `proxy` takes: plain HTTP to the relay on a loopback port
// (`hearth egress-relay`'s code), the sandbox's Unix socket, Hearth's egress proxy (which
// drops the placeholder key, puts the real one in, and opens TLS to the API), in the
// same run against the same server on 127.0.0.1.
//
// - first byte: a POST whose answer's first event comes at once; time from sending the
//   request on a new connection to the first body byte (each request a new connection,
//   directly as through the proxy, which opens a new upstream connection per request).
// - throughput: a POST whose answer streams 64 MiB in 16 KiB events; MiB/s.
// Goals: first-byte overhead < 2 ms p50; throughput through the proxy >= 90% of direct.
#include <unistd.h>

#include <thread>

#include <httplib.h>

#include "bench/bench_util.h"
#include "sandbox/egress.h"

using namespace hearth;
using namespace hearth::bench;
namespace egress = hearth::sandbox::egress;

namespace {

constexpr int kFirstByteRounds = 300;
constexpr std::size_t kStreamBytes = 64u << 20;
constexpr std::size_t kEventBytes = 16u << 10;

// Sends `req` and returns ms to the first body byte and the body's size.
template <class Client>
std::pair<double, std::size_t> timed(Client& cli, const std::string& path, httplib::Headers headers) {
  auto t0 = Clock::now();
  double first = -1;
  std::size_t bytes = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = std::move(headers);
  req.body = R"({"model":"claude-bench","stream":true,"max_tokens":1024,"messages":[{"role":"user","content":"hi"}]})";
  req.headers.emplace("Content-Type", "application/json");
  req.content_receiver = [&](const char*, std::size_t n, std::uint64_t, std::uint64_t) {
    if (first < 0) first = millis_since(t0);
    bytes += n;
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  if (!cli.send(req, res, error) || res.status != 200) {
    std::cerr << "request failed: " << (error == httplib::Error::Success ? std::to_string(res.status) : httplib::to_string(error)) << "\n";
    std::exit(1);
  }
  return {first, bytes};
}

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

  auto direct_client = [&] {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", api_port);
    c->set_ca_cert_path(cert.c_str());
    c->enable_server_certificate_verification(true);
    c->set_keep_alive(false);
    c->set_read_timeout(30, 0);
    return c;
  };
  auto proxied_client = [&] {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", relay_listen.second);
    c->set_keep_alive(false);
    c->set_read_timeout(30, 0);
    return c;
  };
  const httplib::Headers direct_headers{{"x-api-key", "sk-bench-real"}, {"anthropic-version", "2023-06-01"}};
  const httplib::Headers proxied_headers{{"x-api-key", egress::kPlaceholderKey}, {"anthropic-version", "2023-06-01"}};

  // First byte, alternating so that both see the same machine.
  std::vector<double> direct_first, proxied_first;
  for (int i = 0; i < 20; ++i) {  // warm-up
    timed(*direct_client(), "/v1/messages", direct_headers);
    timed(*proxied_client(), "/v/anthropic/v1/messages", proxied_headers);
  }
  for (int i = 0; i < kFirstByteRounds; ++i) {
    direct_first.push_back(timed(*direct_client(), "/v1/messages", direct_headers).first);
    proxied_first.push_back(timed(*proxied_client(), "/v/anthropic/v1/messages", proxied_headers).first);
  }

  // Throughput: the best of three each way.
  double direct_mibs = 0, proxied_mibs = 0;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    auto [f1, b1] = timed(*direct_client(), "/v1/messages?big=1", direct_headers);
    direct_mibs = std::max(direct_mibs, static_cast<double>(b1) / (1 << 20) / seconds_since(t));
    t = Clock::now();
    auto [f2, b2] = timed(*proxied_client(), "/v/anthropic/v1/messages?big=1", proxied_headers);
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
