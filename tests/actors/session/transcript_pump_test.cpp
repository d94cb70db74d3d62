// The transcript pump with a fake send: events reach it in order and all of them, a turn's
// end flushes the open message, and an agent faster than the send waits in record()
// once the back-pressure bound is unsent. No sleeps: a blocked send is a gate the test
// opens, and the test waits on what it can observe.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "actors/session/transcript_pump.h"

using namespace hearth;
using namespace hearth::actors::session;
using nlohmann::json;

namespace {

// What the fake send received, and a gate that holds it until opened.
struct Received {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TranscriptEvent> events;
  std::vector<std::int64_t> turns;
  int calls = 0;
  bool open = true;

  TranscriptPump::Send send() {
    return [this](std::vector<TranscriptEvent> batch, std::int64_t turn) {
      std::unique_lock lock(mu);
      ++calls;
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
      for (auto& e : batch) {
        events.push_back(std::move(e));
        turns.push_back(turn);
      }
    };
  }
  void set_open(bool o) {
    std::lock_guard lock(mu);
    open = o;
    cv.notify_all();
  }
};

void note(TranscriptPump& pump, int i, std::size_t padding = 0) {
  pump.record([&](TranscriptBuilder& b) { b.note("n", {{"i", i}, {"pad", std::string(padding, 'x')}}, i); });
}

}  // namespace

TEST_CASE("the pump sends every recorded event once, in order, with its turn") {
  Received got;
  TranscriptPump pump(got.send());
  pump.set_turn(1);
  for (int i = 0; i < 500; ++i) {
    if (i == 250) {
      pump.flush();  // as a turn's end does: what turn 1 recorded goes with turn 1
      pump.set_turn(2);
    }
    note(pump, i);
  }
  pump.flush();
  std::lock_guard lock(got.mu);
  REQUIRE(got.events.size() == 500);
  for (int i = 0; i < 500; ++i) {
    CHECK(got.events[i].data["i"] == i);
    CHECK(got.turns[i] == (i < 250 ? 1 : 2));
  }
}

TEST_CASE("finishing a turn flushes the open message whole before it returns") {
  Received got;
  TranscriptPump pump(got.send());
  for (const char* text : {"Hello ", "wor", "ld"})
    pump.record([&](TranscriptBuilder& b) {
      b.update({{"sessionUpdate", "agent_message_chunk"}, {"content", {{"type", "text"}, {"text", text}}}}, 1);
    });
  pump.finish_and_flush();
  std::lock_guard lock(got.mu);
  std::string text;
  for (const auto& e : got.events) {
    CHECK(e.kind == "agent_message");
    text += e.data["text"].get<std::string>();
  }
  CHECK(text == "Hello world");
}

TEST_CASE("stopping the pump sends what it still holds first") {
  Received got;
  got.set_open(false);
  TranscriptPump pump(got.send());
  for (int i = 0; i < 100; ++i) note(pump, i);
  std::thread opener([&] {
    std::unique_lock lock(got.mu);
    got.cv.wait(lock, [&] { return got.calls > 0; });
    got.open = true;
    got.cv.notify_all();
  });
  pump.stop();
  opener.join();
  std::lock_guard lock(got.mu);
  REQUIRE(got.events.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(got.events[i].data["i"] == i);
}

TEST_CASE("an agent faster than the send waits once the back-pressure bound is unsent") {
  constexpr std::size_t kBound = 64 * 1024, kPad = 4 * 1024;
  constexpr int kCount = 200;  // about 800 KiB: far past the bound
  Received got;
  got.set_open(false);  // the disk is stuck
  TranscriptPump pump(got.send(), kBound);
  std::atomic<int> recorded{0};
  std::thread agent([&] {
    for (int i = 0; i < kCount; ++i) {
      note(pump, i, kPad);
      recorded = i + 1;
    }
  });
  // The first events are taken into the stuck send; from then on nothing is taken, and
  // the buffer fills to the bound, where the agent waits. Without back-pressure it would
  // record all kCount events.
  auto send_stuck = [&] {
    std::lock_guard lock(got.mu);
    return got.calls > 0;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(send_stuck() && pump.pending_bytes() >= kBound) && recorded < kCount &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(pump.held_back() == 1);
  CHECK(pump.pending_bytes() < kBound + 2 * kPad);  // past the bound by one event at most
  CHECK(recorded < kCount);
  got.set_open(true);
  agent.join();
  pump.flush();
  std::lock_guard lock(got.mu);
  REQUIRE(got.events.size() == kCount);
  for (int i = 0; i < kCount; ++i) CHECK(got.events[i].data["i"] == i);
}
