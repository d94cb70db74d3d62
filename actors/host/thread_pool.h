// A pool of threads for blocking work (SQLite commits, child processes, HTTP calls),
// kept off CAF's cooperative scheduler so that one slow disk or one stuck agent never
// stalls unrelated actors. It starts threads on demand, up to `max_threads`.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

namespace hearth::actors {

class ThreadPool {
 public:
  using Job = std::function<void(std::stop_token)>;

  ThreadPool(std::string name, std::size_t max_threads);
  // Equivalent to shutdown(infinite grace): queued and running jobs finish first.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `job`; it runs as soon as a thread is free. Jobs submitted after shutdown
  // began are dropped (they receive a stopped token and are not run).
  void submit(Job job);

  // Asks running jobs to stop (through their stop_token), drops queued ones, and waits up
  // to `grace` for threads to finish. Threads still busy after that are detached; they
  // keep the pool's internals alive until they return. Returns true when all finished.
  bool shutdown(std::chrono::milliseconds grace);

  std::size_t thread_count() const;
  std::size_t busy_count() const;
  std::size_t queued_count() const;

 struct State;  // shared with the worker threads

 private:
  std::shared_ptr<State> state_;
};

}  // namespace hearth::actors
