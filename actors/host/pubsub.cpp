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

PubSub::PubSub(std::size_t buffer_per_subscriber, std::size_t replay_window, std::size_t retained_topics)
    : buffer_(buffer_per_subscriber), replay_window_(replay_window), retained_topics_(retained_topics) {
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

// The topic's ring, retained from now on. Past `retained_topics_` rings, the least
// recently used quarter is forgotten (their subscribers resuming later get a reset).
PubSub::Retained& PubSub::retain(const std::string& topic) {
  auto it = retained_.find(topic);
  if (it == retained_.end()) {
    if (retained_.size() >= retained_topics_) {
      std::vector<std::pair<std::uint64_t, std::string>> by_use;
      by_use.reserve(retained_.size());
      for (const auto& [t, r] : retained_) by_use.emplace_back(r.used, t);
      auto drop = by_use.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, by_use.size() / 4));
      std::nth_element(by_use.begin(), drop - 1, by_use.end());
      for (auto i = by_use.begin(); i != drop; ++i) retained_.erase(i->second);
    }
    it = retained_.emplace(topic, Retained{}).first;
  }
  it->second.used = ++clock_;
  return it->second;
}

// Appends to `into` the retained events of `topic` after `after_seq`; false when some
// of them are no longer retained (or `after_seq` is from the future).
bool PubSub::replay(const std::string& topic, std::optional<std::uint64_t> after_seq, std::deque<Event>& into) {
  auto& ring = retain(topic).events;
  if (!after_seq) return true;
  auto current = seqs_[topic];
  if (*after_seq > current) return false;
  if (*after_seq == current) return true;
  if (ring.empty() || ring.front().seq > *after_seq + 1) return false;
  for (const auto& e : ring)
    if (e.seq > *after_seq) into.push_back(e);
  return true;
}

std::shared_ptr<Subscription> PubSub::subscribe_with_replay(const std::string& topic,
                                                           std::optional<std::uint64_t> after_seq, bool& reset) {
  std::vector<std::string> resets;
  auto sub = subscribe_many({{topic, after_seq}}, resets);
  reset = !resets.empty();
  return sub;
}

std::shared_ptr<Subscription> PubSub::subscribe_many(const std::vector<Resume>& topics,
                                                     std::vector<std::string>& reset) {
  auto inner = std::make_shared<Subscription::Inner>();
  inner->capacity = buffer_;
  reset.clear();
  std::lock_guard lock(mu_);
  for (const auto& [topic, after_seq] : topics) {
    if (!replay(topic, after_seq, inner->events)) reset.push_back(topic);
    auto& subs = topics_[topic];
    std::erase_if(subs, [](const auto& w) { return w.expired(); });
    subs.push_back(inner);
  }
  return std::make_shared<Subscription>(inner);
}

std::uint64_t PubSub::position(const std::string& topic) {
  std::lock_guard lock(mu_);
  retain(topic);
  return seqs_[topic];
}

void PubSub::publish(const std::string& topic, std::string name, nlohmann::json payload) {
  std::vector<std::shared_ptr<Subscription::Inner>> targets;
  Event event;
  {
    std::lock_guard lock(mu_);
    event = Event{topic, ++seqs_[topic], std::move(name), std::move(payload), storage::now_ms()};
    if (auto r = retained_.find(topic); r != retained_.end()) {
      r->second.events.push_back(event);
      if (r->second.events.size() > replay_window_) r->second.events.pop_front();
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
