// Benchmark "sse_idle": ordinary request latency while a thousand idle clients hold (or
// try to hold) Server-Sent Event streams, against the same requests with no streams, in
// the same run. Event streams are bounded (sse_max_streams); the clients past the bound
// are refused with 503 and, worst case, keep their connections open and silent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "bench/edge_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr int kStreams = 1000;
constexpr std::size_t kMaxStreams = 256;
constexpr auto kMeasure = std::chrono::seconds(6);  // longer than the keep-alive timeout (5 s)

std::vector<double> requests_for(BenchEdge& edge, std::chrono::milliseconds span, int& errors) {
  std::vector<double> lat;
  auto until = Clock::now() + span;
  while (Clock::now() < until) {
    httplib::Client cli("127.0.0.1", edge.port);  // a new connection each time, like a fresh browser tab
    cli.set_read_timeout(30, 0);
    auto t0 = Clock::now();
    auto r = cli.Get("/v1/orgs/bench", edge.auth());
    lat.push_back(millis_since(t0));
    if (!r || r->status != 200) ++errors;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return lat;
}

// Opens a connection and asks for the org's event stream; returns the socket.
int open_stream(int port, const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  std::string req = "GET /v1/orgs/bench/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                    "Authorization: Bearer " + token + "\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The status of the answer on `fd` (0 if none came within the timeout).
int read_status(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return 0;
  char buf[512];
  auto n = ::recv(fd, buf, sizeof buf - 1, 0);
  if (n < 12) return 0;
  buf[n] = 0;
  return std::atoi(buf + 9);  // "HTTP/1.1 200 OK"
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  http::EdgeConfig config;
  config.sse_max_streams = kMaxStreams;
  config.sse_max_streams_per_user = kMaxStreams;  // one user's clients here: the server's bound is what is measured
  BenchEdge edge("sse_idle", 32, {}, config);
  int errors = 0;
  auto baseline = requests_for(edge, kMeasure, errors);

  std::cout << "sse_idle: " << kStreams << " idle event-stream clients, at most " << kMaxStreams << " streams, "
            << 32 << " workers for ordinary requests\n";
  // Ordinary requests run all along: while the clients connect, and while they idle.
  std::atomic<bool> measuring{true};
  std::vector<double> during;
  std::thread measurer([&] {
    while (measuring.load()) {
      auto more = requests_for(edge, std::chrono::milliseconds(200), errors);
      during.insert(during.end(), more.begin(), more.end());
    }
  });
  std::vector<int> fds;
  auto opening = Clock::now();
  for (int i = 0; i < kStreams; ++i) fds.push_back(open_stream(edge.port, edge.token));
  int accepted = 0, refused = 0, unanswered = 0;
  for (int fd : fds) {
    int status = fd < 0 ? 0 : read_status(fd, 10'000);
    if (status == 200) ++accepted;
    else if (status == 503) ++refused;
    else ++unanswered;
  }
  double open_s = seconds_since(opening);
  std::this_thread::sleep_for(kMeasure);  // every client stays connected and silent
  measuring = false;
  measurer.join();
  for (int fd : fds)
    if (fd >= 0) ::close(fd);

  auto r3 = [](double v) { return std::round(v * 1000) / 1000; };
  std::printf("  streams: %d open, %d refused with 503, %d unanswered (%.2f s until all were answered)\n", accepted,
              refused, unanswered, open_s);
  std::printf("  ordinary requests: no streams p50 %.3f ms p99 %.3f ms; with %d idle clients p50 %.3f ms p99 %.3f "
              "ms max %.3f ms (%zu requests)\n",
              percentile(baseline, 50), percentile(baseline, 99), kStreams, percentile(during, 50),
              percentile(during, 99), percentile(during, 100), during.size());
  print_figures({{"bench", "sse_idle"},
                 {"clients", kStreams},
                 {"streams_open", accepted},
                 {"streams_refused", refused},
                 {"unanswered", unanswered},
                 {"all_answered_s", std::round(open_s * 100) / 100},
                 {"errors", errors},
                 {"baseline_p50_ms", r3(percentile(baseline, 50))},
                 {"baseline_p99_ms", r3(percentile(baseline, 99))},
                 {"p50_ms", r3(percentile(during, 50))},
                 {"p99_ms", r3(percentile(during, 99))},
                 {"max_ms", r3(percentile(during, 100))},
                 {"requests", during.size()}});
  return errors == 0 ? 0 : 1;
}
