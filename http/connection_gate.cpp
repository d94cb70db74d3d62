// The connection gate: see connection_gate.h. Connections are only peeked at
// (MSG_PEEK) until their head is complete, so that the HTTP server reads the request
// from the first byte as if the gate were not there. Edge-triggered epoll wakes the
// gate once per arrival; deadlines are swept in arrival order (every connection gets
// the same head deadline, so the oldest expires first).
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

// Where the head ends (just past the blank line), or npos while it is incomplete.
std::size_t head_end(std::string_view data) {
  auto crlf = data.find("\r\n\r\n");
  auto lf = data.find("\n\n");
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf < lf)) return crlf + 4;
  return lf == std::string_view::npos ? std::string_view::npos : lf + 2;
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

GateAnswer refusal(int status, const std::string& message) {
  return GateAnswer{status, {}, fmt::format(R"({{"error":{{"code":"{}","message":"{}"}}}})",
                                            status == 431 ? "too_large" : "timeout", message)};
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

  struct Waiting {
    std::string address;
    Clock::time_point deadline;
    std::uint64_t seq;
  };
  mutable std::mutex mu;
  std::map<int, Waiting> waiting;                          // fd -> what we know of it
  std::map<std::uint64_t, int> by_age;                     // arrival order -> fd
  std::map<std::string, std::deque<int>> by_address;       // address -> fds, oldest first
  std::uint64_t next_seq = 0;

  // Stops watching `fd` (under mu). The caller closes or hands it off.
  void forget(int fd) {
    auto it = waiting.find(fd);
    if (it == waiting.end()) return;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    by_age.erase(it->second.seq);
    auto& list = by_address[it->second.address];
    std::erase(list, fd);
    if (list.empty()) by_address.erase(it->second.address);
    waiting.erase(it);
  }

  void refuse(int fd, int status, const std::string& message) {
    send_all(fd, response(refusal(status, message)));
    ::close(fd);
  }

  // Adds `fd` (under mu), closing the oldest of its address or overall past the limits.
  void add(int fd) {
    auto address = peer_address(fd);
    auto& list = by_address[address];
    if (list.size() >= config.max_waiting_per_address) {
      int oldest = list.front();
      forget(oldest);
      refuse(oldest, 408, "the request head did not arrive in time");
    }
    if (waiting.size() >= config.max_waiting && !by_age.empty()) {
      int oldest = by_age.begin()->second;
      forget(oldest);
      refuse(oldest, 408, "the request head did not arrive in time");
    }
    auto seq = next_seq++;
    waiting[fd] = Waiting{address, Clock::now() + config.head_deadline, seq};
    by_age[seq] = fd;
    by_address[address].push_back(fd);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }

  enum class Head { complete, waiting, closed, too_large };

  Head peek(int fd, std::string& data) {
    data.resize(config.max_head_bytes + 1);
    for (;;) {
      auto n = ::recv(fd, data.data(), data.size(), MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        data.clear();
        return errno == EAGAIN || errno == EWOULDBLOCK ? Head::waiting : Head::closed;
      }
      data.resize(static_cast<std::size_t>(n));
      if (n == 0) return Head::closed;
      auto end = head_end(data);
      if (end != std::string::npos) {
        data.resize(end);
        return Head::complete;
      }
      return data.size() > config.max_head_bytes ? Head::too_large : Head::waiting;
    }
  }

  // A complete head: answered here (health checks) or handed to a worker.
  void serve(int fd, const std::string& head) {
    if (quick) {
      auto line_end = head.find_first_of("\r\n");
      std::string_view line(head.data(), line_end);
      auto sp1 = line.find(' ');
      auto sp2 = sp1 == std::string_view::npos ? std::string_view::npos : line.find(' ', sp1 + 1);
      if (sp2 != std::string_view::npos) {
        std::string method(line.substr(0, sp1));
        std::string target(line.substr(sp1 + 1, sp2 - sp1 - 1));
        auto path = target.substr(0, target.find('?'));
        if (auto answer = quick(method, path, head)) {
          std::string sink(head.size(), '\0');
          (void)::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);  // the head we answered
          if (method == "HEAD") answer->body.clear();
          send_all(fd, response(*answer));
          ::shutdown(fd, SHUT_WR);
          ::close(fd);
          return;
        }
      }
    }
    handoff(fd);
  }

  void check(int fd) {
    std::string data;
    auto head = peek(fd, data);
    if (head == Head::waiting) return;
    {
      std::lock_guard lock(mu);
      if (!waiting.count(fd)) return;
      forget(fd);
    }
    if (head == Head::closed) return (void)::close(fd);
    if (head == Head::too_large)
      return refuse(fd, 431, fmt::format("the request head is larger than {} bytes", config.max_head_bytes));
    serve(fd, data);
  }

  void sweep() {
    std::vector<int> expired;
    {
      std::lock_guard lock(mu);
      auto now = Clock::now();
      while (!by_age.empty()) {
        int fd = by_age.begin()->second;
        if (waiting[fd].deadline > now) break;
        forget(fd);
        expired.push_back(fd);
      }
    }
    for (int fd : expired) refuse(fd, 408, "the request head did not arrive in time");
  }

  int next_timeout_ms() {
    std::lock_guard lock(mu);
    if (by_age.empty()) return 1000;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(waiting[by_age.begin()->second].deadline -
                                                                      Clock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count() + 1, 0, 1000));
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
        if (events[i].data.fd == wake_fd) continue;
        check(events[i].data.fd);
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
  ev.data.fd = impl_->wake_fd;
  ::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, impl_->wake_fd, &ev);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

ConnectionGate::~ConnectionGate() {
  stop();
  ::close(impl_->epoll_fd);
  ::close(impl_->wake_fd);
}

bool ConnectionGate::admit(int fd) {
  if (impl_->stopped) return true;
  std::string data;
  auto head = impl_->peek(fd, data);
  if (head != Impl::Head::waiting) return true;  // complete, closed or too large: the server answers
  std::lock_guard lock(impl_->mu);
  if (impl_->stopped) return true;
  impl_->add(fd);
  return false;
}

void ConnectionGate::stop() {
  if (impl_->stopped.exchange(true)) return;
  std::uint64_t one = 1;
  (void)::write(impl_->wake_fd, &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard lock(impl_->mu);
  for (auto& [fd, w] : impl_->waiting) ::close(fd);
  impl_->waiting.clear();
  impl_->by_age.clear();
  impl_->by_address.clear();
}

std::size_t ConnectionGate::waiting() const {
  std::lock_guard lock(impl_->mu);
  return impl_->waiting.size();
}

}  // namespace hearth::http
