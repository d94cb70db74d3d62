// The connection gate: where a new connection waits until its whole request head
// (request line and headers) has arrived, without holding a worker thread. One thread
// watches every waiting connection with epoll; a connection whose head is complete is
// handed to the worker pool, one that is too slow (past the head deadline), too large,
// or the oldest of too many from one address is answered with an error and closed.
// This is what keeps a few hundred clients trickling header bytes (slowloris) from
// taking the workers that everyone else needs. Health checks are answered by the gate
// itself, so that they never wait for a worker at all.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hearth::http {

struct GateConfig {
  std::chrono::milliseconds head_deadline{10'000};  // request line + headers, from accept
  std::size_t max_head_bytes = 64 * 1024;            // larger heads get 431
  std::size_t max_waiting_per_address = 64;          // the oldest of an address beyond it is closed
  std::size_t max_waiting = 4096;                    // the oldest overall beyond it is closed
};

// An answer the gate gives itself (health checks): status, headers, JSON body.
struct GateAnswer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class ConnectionGate {
 public:
  // `handoff(fd)` serves a connection whose head is complete (on a worker; it owns and
  // closes the fd). `quick(method, path, head)` may answer a request without a worker.
  using Handoff = std::function<void(int fd)>;
  using Quick = std::function<std::optional<GateAnswer>(const std::string& method, const std::string& path,
                                                         const std::string& head)>;

  ConnectionGate(GateConfig config, Handoff handoff, Quick quick);
  ~ConnectionGate();  // stop()
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Takes `fd` (a newly accepted connection). Returns true when its head is complete
  // already and the caller should serve it now; false when the gate keeps it (and will
  // hand it off, answer it, or close it).
  bool admit(int fd);

  // Closes every waiting connection and ends the gate's thread; admit() afterwards
  // always returns true.
  void stop();

  // Connections waiting for their head now (for /metrics and tests).
  std::size_t waiting() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::http
