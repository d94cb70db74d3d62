// Bounded, non-blocking publish/subscribe for actor broadcasts: see pubsub.h.
#include "actors/host/pubsub.h"

#include <algorithm>
#include <condition_variable>
#include <deque>

#include <sodium.h>

#include "storage/database.h"

namespace hearth::actors {

struct Subscription::Inner {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  std::size_t capacity = 1024;
  bool lagged = false;
  bool closed = false;

  void push(const Event& e) {
    {
      std::lock_guard lock(mu);
      if (closed) return;
      if (events.size() >= capacity) {
        events.pop_front();
        lagged = true;
      }
      events.push_back(e);
    }
    cv.notify_one();
  }
  void close() {
    {
      std::lock_guard lock(mu);
      closed = true;
    }
    cv.notify_all();
  }
};

Subscription::Subscription(std::shared_ptr<Inner> inner) : inner_(std::move(inner)) {}
Subscription::~Subscription() { inner_->close(); }

std::optional<Event> Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(inner_->mu);
  inner_->cv.wait_for(lock, timeout, [&] { return inner_->closed || !inner_->events.empty(); });
  if (inner_->events.empty()) return std::nullopt;
  auto e = std::move(inner_->events.front());
  inner_->events.pop_front();
  return e;
}

bool Subscription::take_lagged() {
  std::lock_guard lock(inner_->mu);
  return std::exchange(inner_->lagged, false);
}

bool Subscription::closed() const {
  std::lock_guard lock(inner_->mu);
  return inner_->closed;
}

PubSub::PubSub(std::size_t buffer_per_subscriber, std::size_t replay_window)
    : buffer_(buffer_per_subscriber), replay_window_(replay_window) {
  unsigned char bytes[4];
  randombytes_buf(bytes, sizeof bytes);
  char hex[9];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  epoch_ = hex;
}
PubSub::~PubSub() { close_all(); }

std::shared_ptr<Subscription> PubSub::subscribe(const std::string& topic) {
  auto inner = std::make_shared<Subscription::Inner>();
  inner->capacity = buffer_;
  std::lock_guard lock(mu_);
  auto& subs = topics_[topic];
  std::erase_if(subs, [](const auto& w) { return w.expired(); });
  subs.push_back(inner);
  return std::make_shared<Subscription>(inner);
}

std::shared_ptr<Subscription> PubSub::subscribe_with_replay(const std::string& topic,
                                                           std::optional<std::uint64_t> after_seq, bool& reset) {
  auto inner = std::make_shared<Subscription::Inner>();
  inner->capacity = buffer_;
  reset = false;
  std::lock_guard lock(mu_);
  auto& ring = retained_[topic];  // from now on this topic's events are retained
  if (after_seq) {
    auto current = seqs_[topic];
    if (*after_seq > current) {
      reset = true;
    } else if (*after_seq < current) {
      if (ring.empty() || ring.front().seq > *after_seq + 1) reset = true;
      else
        for (const auto& e : ring)
          if (e.seq > *after_seq) inner->events.push_back(e);
    }
  }
  auto& subs = topics_[topic];
  std::erase_if(subs, [](const auto& w) { return w.expired(); });
  subs.push_back(inner);
  return std::make_shared<Subscription>(inner);
}

void PubSub::publish(const std::string& topic, std::string name, nlohmann::json payload) {
  std::vector<std::shared_ptr<Subscription::Inner>> targets;
  Event event;
  {
    std::lock_guard lock(mu_);
    event = Event{topic, ++seqs_[topic], std::move(name), std::move(payload), storage::now_ms()};
    if (auto r = retained_.find(topic); r != retained_.end()) {
      r->second.push_back(event);
      if (r->second.size() > replay_window_) r->second.pop_front();
    }
    for (const auto* t : {&topic, static_cast<const std::string*>(nullptr)}) {
      auto it = topics_.find(t ? *t : std::string(kAllTopics));
      if (it == topics_.end()) continue;
      std::erase_if(it->second, [](const auto& w) { return w.expired(); });
      for (const auto& w : it->second)
        if (auto s = w.lock()) targets.push_back(std::move(s));
    }
  }
  for (const auto& s : targets) s->push(event);
}

void PubSub::close_all() {
  std::vector<std::shared_ptr<Subscription::Inner>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [topic, subs] : topics_)
      for (auto& w : subs)
        if (auto s = w.lock()) all.push_back(std::move(s));
    topics_.clear();
  }
  for (auto& s : all) s->close();
}

std::size_t PubSub::subscriber_count() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [topic, subs] : topics_)
    n += std::count_if(subs.begin(), subs.end(), [](const auto& w) { return !w.expired(); });
  return n;
}

}  // namespace hearth::actors
