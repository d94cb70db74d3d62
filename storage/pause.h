// Waiting that a stop request cuts short: for clients that pause before asking again
// (GitHub's rate limits, Stripe's retries).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

namespace hearth::storage {

// Sleeps `duration` unless `stop` is requested first; false when it was.
inline bool pause(std::chrono::milliseconds duration, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace hearth::storage
