// An elastic thread pool: see thread_pool.h.
#include "actors/host/thread_pool.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::actors {

struct ThreadPool::State {
  std::string name;
  std::size_t max_threads;
  mutable std::mutex mu;
  std::condition_variable work_cv;
  std::condition_variable done_cv;
  std::deque<Job> queue;
  std::vector<std::thread> threads;
  std::size_t idle = 0;
  std::size_t busy = 0;
  std::size_t running_threads = 0;
  bool stopping = false;
  std::stop_source stop;
};

namespace {

void worker(std::shared_ptr<ThreadPool::State> s) {
  std::unique_lock lock(s->mu);
  for (;;) {
    ++s->idle;
    s->work_cv.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
    --s->idle;
    if (s->queue.empty()) break;  // stopping and nothing left
    auto job = std::move(s->queue.front());
    s->queue.pop_front();
    ++s->busy;
    lock.unlock();
    try {
      job(s->stop.get_token());
    } catch (const std::exception& e) {
      spdlog::error("pool.job_threw pool={} what={}", s->name, e.what());
    } catch (...) {
      spdlog::error("pool.job_threw pool={} what=unknown", s->name);
    }
    lock.lock();
    --s->busy;
  }
  --s->running_threads;
  s->done_cv.notify_all();
}

}  // namespace

ThreadPool::ThreadPool(std::string name, std::size_t max_threads)
    : state_(std::make_shared<State>()) {
  state_->name = std::move(name);
  state_->max_threads = max_threads == 0 ? 1 : max_threads;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->work_cv.notify_all();
  for (auto& t : state_->threads)
    if (t.joinable()) t.join();
}

void ThreadPool::submit(Job job) {
  std::lock_guard lock(state_->mu);
  if (state_->stopping) return;
  state_->queue.push_back(std::move(job));
  if (state_->idle < state_->queue.size() && state_->threads.size() < state_->max_threads) {
    ++state_->running_threads;
    state_->threads.emplace_back(worker, state_);
  }
  state_->work_cv.notify_one();
}

bool ThreadPool::shutdown(std::chrono::milliseconds grace) {
  std::unique_lock lock(state_->mu);
  state_->stopping = true;
  state_->queue.clear();
  state_->stop.request_stop();
  state_->work_cv.notify_all();
  bool all = state_->done_cv.wait_for(lock, grace, [&] { return state_->running_threads == 0; });
  auto threads = std::move(state_->threads);
  state_->threads.clear();
  lock.unlock();
  for (auto& t : threads) {
    if (all) t.join();
    else t.detach();
  }
  if (!all) spdlog::warn("pool.shutdown_incomplete pool={} busy_threads_detached", state_->name);
  return all;
}

std::size_t ThreadPool::thread_count() const {
  std::lock_guard lock(state_->mu);
  return state_->threads.size();
}
std::size_t ThreadPool::busy_count() const {
  std::lock_guard lock(state_->mu);
  return state_->busy;
}
std::size_t ThreadPool::queued_count() const {
  std::lock_guard lock(state_->mu);
  return state_->queue.size();
}

}  // namespace hearth::actors
