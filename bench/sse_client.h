// An event-stream client for the benchmarks: follows one SSE path on its own thread and
// hands each event (name, id, JSON data) with the time it arrived to a callback.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "bench/bench_util.h"

namespace hearth::bench {

class SseClient {
 public:
  using OnEvent = std::function<void(const std::string& name, const std::string& id, nlohmann::json data, Clock::time_point at)>;

  SseClient(int port, std::string path, httplib::Headers headers, OnEvent on_event) {
    thread_ = std::thread([=, this] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_read_timeout(120, 0);
      std::string buffer;
      cli.Get(path, headers, [&](const char* data, std::size_t n) {
        auto at = Clock::now();
        buffer.append(data, n);
        std::size_t end;
        while ((end = buffer.find("\n\n")) != std::string::npos) {
          auto frame = buffer.substr(0, end);
          buffer.erase(0, end + 2);
          std::string name, id, body;
          std::size_t pos = 0;
          while (pos <= frame.size()) {
            auto nl = frame.find('\n', pos);
            auto line = frame.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            if (line.rfind("event: ", 0) == 0) name = line.substr(7);
            else if (line.rfind("id: ", 0) == 0) id = line.substr(4);
            else if (line.rfind("data: ", 0) == 0) body += line.substr(6);
            if (nl == std::string::npos) break;
            pos = nl + 1;
          }
          if (!body.empty()) on_event(name, id, nlohmann::json::parse(body, nullptr, false), at);
        }
        return !stop_;
      });
    });
  }
  ~SseClient() {
    stop_ = true;
    thread_.join();  // returns at the next event or heartbeat
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hearth::bench
