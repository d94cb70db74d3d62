// Broadcasts: an actor publishes events on its topic (its actor id); subscribers (the
// HTTP edge's SSE streams, tests) read them at their own pace. Publishing never blocks
// on a subscriber: each has a bounded buffer, and one that falls behind loses its oldest
// events and is told so (`take_lagged`), so that it can refetch the full state.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <deque>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::actors {

struct Event {
  std::string topic;    // the publishing actor's id, e.g. "3f2a..."
  std::uint64_t seq;    // per topic, increasing, restarts with the process
  std::string name;     // "task.status.changed"
  nlohmann::json payload;
  std::int64_t at_ms;
};

class Subscription {
 public:
  struct Inner;
  explicit Subscription(std::shared_ptr<Inner> inner);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next event, waiting up to `timeout`; nullopt on timeout or once closed.
  std::optional<Event> next(std::chrono::milliseconds timeout);
  // True once after events were dropped because this subscriber fell behind.
  bool take_lagged();
  bool closed() const;

 private:
  std::shared_ptr<Inner> inner_;
};

class PubSub {
 public:
  // The wildcard topic receives every event.
  static constexpr const char* kAllTopics = "*";

  // One topic and where to resume it: replay its retained events after `after_seq`.
  struct Resume {
    std::string topic;
    std::optional<std::uint64_t> after_seq;
  };

  explicit PubSub(std::size_t buffer_per_subscriber = 1024, std::size_t replay_window = 512,
                  std::size_t retained_topics = 4096);
  ~PubSub();

  std::shared_ptr<Subscription> subscribe(const std::string& topic);
  // Subscribes and, when `after_seq` is given, first delivers the retained events of
  // `topic` after it (the last `replay_window` events of topics that were ever
  // subscribed this way). Sets `reset` when events after `after_seq` are no longer
  // retained, or `after_seq` is from the future: the subscriber must refetch.
  std::shared_ptr<Subscription> subscribe_with_replay(const std::string& topic, std::optional<std::uint64_t> after_seq,
                                                      bool& reset);
  // One subscription for several topics (its events name theirs), each resumed as
  // above; `reset` gets the topics whose missed events are no longer retained. Replays
  // come first, topic by topic, then live events in publish order.
  std::shared_ptr<Subscription> subscribe_many(const std::vector<Resume>& topics, std::vector<std::string>& reset);
  // The topic's current seq: a read taken after this call reflects at least every event
  // up to it, and a subscription resumed from it replays what came after (the topic is
  // retained from now on).
  std::uint64_t position(const std::string& topic);
  // Random per process: event sequence numbers restart with it.
  const std::string& epoch() const { return epoch_; }
  void publish(const std::string& topic, std::string name, nlohmann::json payload);
  // Wakes and closes every subscription (at shutdown).
  void close_all();
  std::size_t subscriber_count() const;

 private:
  std::size_t buffer_;
  std::size_t replay_window_;
  std::string epoch_;
  std::size_t retained_topics_;
  struct Retained {
    std::deque<Event> events;
    std::uint64_t used = 0;  // a logical clock: the least recently used ring goes first
  };
  std::unordered_map<std::string, Retained> retained_;
  std::uint64_t clock_ = 0;
  Retained& retain(const std::string& topic);
  bool replay(const std::string& topic, std::optional<std::uint64_t> after_seq, std::deque<Event>& into);
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<Subscription::Inner>>> topics_;
  std::unordered_map<std::string, std::uint64_t> seqs_;
};

}  // namespace hearth::actors
