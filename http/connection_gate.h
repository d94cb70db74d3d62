// The connection gate: where a connection waits until its whole request head (request
// line and headers) has arrived, without holding a worker thread. One thread watches
// every waiting connection with epoll and reads what arrives into the connection's own
// buffer; a connection whose head is complete is handed to the worker pool with those
// bytes, one that is too slow (past the head deadline), too large, or the oldest of too
// many from one address is answered with an error and closed. This is what keeps a few
// hundred clients trickling header bytes (slowloris) from taking the workers that
// everyone else needs. Health checks are answered by the gate itself, so that they
// never wait for a worker at all.
//
// A connection belongs to exactly one thread at a time: the worker that admits it, then
// the gate, then the worker it is handed to. Only the gate's thread closes connections
// it holds.
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
  std::chrono::milliseconds head_deadline{10'000};  // request line + headers, from accept (or the last answer)
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
  // `handoff(fd, bytes)` serves a connection whose head is complete (on a worker; it owns
  // and closes the fd); `bytes` is what was read of it so far: the head, perhaps more.
  // `quick(method, path, head)` may answer a request without a worker.
  using Handoff = std::function<void(int fd, std::string bytes)>;
  using Quick = std::function<std::optional<GateAnswer>(const std::string& method, const std::string& path,
                                                         const std::string& head)>;

  ConnectionGate(GateConfig config, Handoff handoff, Quick quick);
  ~ConnectionGate();  // stop()
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Takes `fd` (a new connection, or a kept-alive one after an answer) with the bytes
  // already read of it. Returns those bytes, with whatever has arrived since, when a
  // whole head is there already: the caller serves it now and keeps the fd. Otherwise
  // the gate keeps the fd (it hands it off, answers it, or closes it) and returns nullopt.
  std::optional<std::string> admit(int fd, std::string bytes = {});

  // Closes every waiting connection and ends the gate's thread; admit() afterwards
  // answers as if every head were complete (the caller serves, then closes).
  void stop();

  // Connections waiting for their head now (for /metrics and tests).
  std::size_t waiting() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::http
