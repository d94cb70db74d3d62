// The connection gate: see connection_gate.h. Waiting connections are known by an
// arrival number (their epoll tag), never by descriptor, so that an event for a
// connection already handed off or closed (whose descriptor number may belong to a new
// one by now) is recognized and ignored. Every connection gets the same head deadline,
// so the oldest expires first: one ordered map is both the index and the timer list.
#include "http/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hearth::http {
namespace {

using Clock = std::chrono::steady_clock;

std::string peer_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
  else if (addr.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
  return text;
}

void send_all(int fd, const std::string& text) {
  std::string_view rest(text);
  while (!rest.empty()) {
    auto n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a client that does not read its answer gets what fit
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string response(const GateAnswer& a) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                                "Connection: close\r\n",
                                a.status, reason(a.status), a.body.size());
  for (const auto& [k, v] : a.headers) out += k + ": " + v + "\r\n";
  return out + "\r\n" + a.body;
}

void refuse(int fd, int status, const std::string& message) {
  send_all(fd, response(GateAnswer{status, {}, fmt::format(R"({{"error":{{"code":"{}","message":"{}"}}}})",
                                                           status == 431 ? "too_large" : "timeout", message)}));
  ::close(fd);
}

enum class Head { complete, waiting, closed, too_large };

// Reads what has arrived on `fd` into `buf` (without waiting), and says where the head
// stands. `scanned` is how much of `buf` is known to hold no head end yet.
Head read_head(int fd, std::string& buf, std::size_t& scanned, std::size_t max) {
  char chunk[16384];
  bool eof = false;
  while (buf.size() <= max) {
    auto n = ::recv(fd, chunk, std::min(sizeof chunk, max + 1 - buf.size()), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      eof = true;
      break;
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  auto from = scanned > 3 ? scanned - 3 : 0;
  if (buf.find("\r\n\r\n", from) != std::string::npos) return Head::complete;
  scanned = buf.size();
  if (buf.size() > max) return Head::too_large;
  return eof ? Head::closed : Head::waiting;
}

}  // namespace

struct ConnectionGate::Impl {
  GateConfig config;
  Handoff handoff;
  Quick quick;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::atomic<bool> stopped{false};
  std::atomic<std::size_t> count{0};

  struct Waiting {
    int fd = -1;
    std::string address;
    std::string buf;
    std::size_t scanned = 0;
    Clock::time_point deadline;
  };
  // Handed over by admit(), taken by the gate's thread.
  std::mutex mu;
  std::deque<Waiting> incoming;
  // The gate thread's own.
  std::map<std::uint64_t, Waiting> waiting;                 // arrival number -> connection (oldest first)
  std::map<std::string, std::deque<std::uint64_t>> by_address;
  std::uint64_t next_seq = 1;

  void forget(std::uint64_t seq) {
    auto it = waiting.find(seq);
    if (it == waiting.end()) return;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->second.fd, nullptr);
    auto& list = by_address[it->second.address];
    std::erase(list, seq);
    if (list.empty()) by_address.erase(it->second.address);
    waiting.erase(it);
    count = waiting.size();
  }

  void evict(std::uint64_t seq) {
    int fd = waiting[seq].fd;
    forget(seq);
    refuse(fd, 408, "the request head did not arrive in time");
  }

  void add(Waiting w) {
    auto& mine = by_address[w.address];
    if (mine.size() >= config.max_waiting_per_address) evict(mine.front());
    if (waiting.size() >= config.max_waiting && !waiting.empty()) evict(waiting.begin()->first);
    auto seq = next_seq++;
    int fd = w.fd;
    by_address[w.address].push_back(seq);
    waiting.emplace(seq, std::move(w));
    count = waiting.size();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = seq;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    check(seq);  // what arrived before it was watched
  }

  // A complete head: answered here (health checks) or handed to a worker.
  void serve(int fd, std::string buf) {
    if (quick) {
      auto head = buf.substr(0, buf.find("\r\n\r\n") + 4);
      auto line = head.substr(0, head.find("\r\n"));
      auto sp1 = line.find(' ');
      auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
      if (sp2 != std::string::npos) {
        auto method = line.substr(0, sp1);
        auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        if (auto answer = quick(method, target.substr(0, target.find('?')), head)) {
          if (method == "HEAD") answer->body.clear();
          send_all(fd, response(*answer));
          ::shutdown(fd, SHUT_WR);
          ::close(fd);
          return;
        }
      }
    }
    handoff(fd, std::move(buf));
  }

  void check(std::uint64_t seq) {
    auto it = waiting.find(seq);
    if (it == waiting.end()) return;  // handed off or closed already: a stale event
    auto& w = it->second;
    auto head = read_head(w.fd, w.buf, w.scanned, config.max_head_bytes);
    if (head == Head::waiting) return;
    int fd = w.fd;
    auto buf = std::move(w.buf);
    forget(seq);
    if (head == Head::closed) return (void)::close(fd);
    if (head == Head::too_large)
      return refuse(fd, 431, fmt::format("the request head is larger than {} bytes", config.max_head_bytes));
    serve(fd, std::move(buf));
  }

  void sweep() {
    auto now = Clock::now();
    while (!waiting.empty() && waiting.begin()->second.deadline <= now) evict(waiting.begin()->first);
  }

  int next_timeout_ms() {
    if (waiting.empty()) return 1000;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(waiting.begin()->second.deadline - Clock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count() + 1, 0, 1000));
  }

  void take_incoming() {
    std::uint64_t drained;
    (void)::read(wake_fd, &drained, sizeof drained);
    std::deque<Waiting> batch;
    {
      std::lock_guard lock(mu);
      batch.swap(incoming);
    }
    for (auto& w : batch) add(std::move(w));
  }

  void run() {
    epoll_event events[64];
    while (!stopped) {
      int n = ::epoll_wait(epoll_fd, events, 64, next_timeout_ms());
      if (n < 0 && errno != EINTR) {
        spdlog::error("http.gate_failed error={}", std::strerror(errno));
        return;
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == 0) take_incoming();
        else check(events[i].data.u64);
      }
      sweep();
    }
  }
};

ConnectionGate::ConnectionGate(GateConfig config, Handoff handoff, Quick quick) : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  impl_->handoff = std::move(handoff);
  impl_->quick = std::move(quick);
  impl_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // arrival numbers start at 1
  ::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, impl_->wake_fd, &ev);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

ConnectionGate::~ConnectionGate() {
  stop();
  ::close(impl_->epoll_fd);
  ::close(impl_->wake_fd);
}

std::optional<std::string> ConnectionGate::admit(int fd, std::string bytes) {
  std::size_t scanned = 0;
  auto head = read_head(fd, bytes, scanned, impl_->config.max_head_bytes);
  if (head == Head::complete || impl_->stopped) return bytes;
  if (head == Head::closed) {
    ::close(fd);
    return std::nullopt;
  }
  if (head == Head::too_large) {
    refuse(fd, 431, fmt::format("the request head is larger than {} bytes", impl_->config.max_head_bytes));
    return std::nullopt;
  }
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return bytes;  // stopping: the caller serves it, then closes
    impl_->incoming.push_back(
        Impl::Waiting{fd, peer_address(fd), std::move(bytes), scanned, Clock::now() + impl_->config.head_deadline});
  }
  std::uint64_t one = 1;
  (void)::write(impl_->wake_fd, &one, sizeof one);
  return std::nullopt;
}

void ConnectionGate::stop() {
  if (impl_->stopped.exchange(true)) return;
  std::uint64_t one = 1;
  (void)::write(impl_->wake_fd, &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  for (auto& [seq, w] : impl_->waiting) ::close(w.fd);
  impl_->waiting.clear();
  impl_->by_address.clear();
  std::lock_guard lock(impl_->mu);
  for (auto& w : impl_->incoming) ::close(w.fd);
  impl_->incoming.clear();
  impl_->count = 0;
}

std::size_t ConnectionGate::waiting() const { return impl_->count + 0; }

}  // namespace hearth::http
