// A Server-Sent Events client for tests: opens a stream on a background thread, keeps
// every frame, and lets the test wait for the frame it needs (bounded). The stream is
// closed when the object goes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace hearth::test {

struct SseFrame {
  std::string name;  // the `event:` line ("" for none)
  std::string id;    // the `id:` line
  nlohmann::json data;
};

class EventStream {
 public:
  EventStream(int port, std::string path, const std::string& token, httplib::Headers headers = {})
      : cli_("127.0.0.1", port) {
    cli_.set_read_timeout(60, 0);
    headers.emplace("Authorization", "Bearer " + token);
    thread_ = std::thread([this, path = std::move(path), headers = std::move(headers)] {
      auto r = cli_.Get(
          path, headers,
          [this](const httplib::Response& res) {
            std::lock_guard lock(mu_);
            status_ = res.status;
            cv_.notify_all();
            return true;
          },
          [this](const char* data, std::size_t n) {
            std::lock_guard lock(mu_);
            buffer_.append(data, n);
            for (std::size_t end; (end = buffer_.find("\n\n")) != std::string::npos;) {
              auto text = buffer_.substr(0, end);
              buffer_.erase(0, end + 2);
              SseFrame f;
              std::string payload;
              std::size_t from = 0;
              while (from <= text.size()) {
                auto nl = text.find('\n', from);
                auto line = text.substr(from, nl == std::string::npos ? std::string::npos : nl - from);
                from = nl == std::string::npos ? text.size() + 1 : nl + 1;
                if (line.rfind("event: ", 0) == 0) f.name = line.substr(7);
                else if (line.rfind("id: ", 0) == 0) f.id = line.substr(4);
                else if (line.rfind("data: ", 0) == 0) payload += line.substr(6);
              }
              if (f.name.empty() && f.id.empty() && payload.empty()) continue;  // a comment (heartbeat)
              f.data = nlohmann::json::parse(payload, nullptr, false);
              frames_.push_back(std::move(f));
            }
            cv_.notify_all();
            return !stopping_;
          });
      std::lock_guard lock(mu_);
      if (!r && status_ == 0) status_ = -1;
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~EventStream() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cli_.stop();
    thread_.join();
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // The answer's status once it came (waits up to `limit`; 0 if it did not come).
  int status(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return status_ != 0 || ended_; });
    return status_;
  }

  // The first frame (from the start of the stream) that `match` accepts, waiting up to `limit`.
  std::optional<SseFrame> wait_for(const std::function<bool(const SseFrame&)>& match,
                                   std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    std::optional<SseFrame> found;
    cv_.wait_for(lock, limit, [&] {
      for (const auto& f : frames_)
        if (match(f)) {
          found = f;
          return true;
        }
      return ended_;
    });
    return found;
  }
  std::optional<SseFrame> wait_for(const std::string& name, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    return wait_for([&](const SseFrame& f) { return f.name == name; }, limit);
  }

  std::vector<SseFrame> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }

 private:
  httplib::Client cli_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;
  std::vector<SseFrame> frames_;
  int status_ = 0;
  bool ended_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hearth::test
