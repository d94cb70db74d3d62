// The transcript's buffer and flusher thread: see transcript_pump.h.
#include "actors/session/transcript_pump.h"

namespace hearth::actors::session {

TranscriptPump::TranscriptPump(Send send, std::size_t back_pressure_bytes)
    : send_(std::move(send)), back_pressure_bytes_(back_pressure_bytes), flusher_([this] { flush_loop(); }) {}

TranscriptPump::~TranscriptPump() { stop(); }

void TranscriptPump::set_turn(std::int64_t turn) {
  std::lock_guard lock(mu_);
  turn_ = turn;
}

std::int64_t TranscriptPump::turn() const {
  std::lock_guard lock(mu_);
  return turn_;
}

void TranscriptPump::record(const std::function<void(TranscriptBuilder&)>& add) {
  std::unique_lock lock(mu_);
  add(*builder_);
  dirty_ = true;
  wake_.notify_one();
  ++held_back_;
  settled_.wait(lock, [&] { return builder_->pending_bytes() < back_pressure_bytes_ || stopping_; });
  --held_back_;
}

int TranscriptPump::held_back() const {
  std::lock_guard lock(mu_);
  return held_back_;
}

std::size_t TranscriptPump::pending_bytes() const {
  std::lock_guard lock(mu_);
  return builder_->pending_bytes();
}

void TranscriptPump::flush() {
  std::unique_lock lock(mu_);
  auto target = ++flush_asked_;
  wake_.notify_one();
  settled_.wait(lock, [&] { return flush_done_ >= target || stopping_; });
}

void TranscriptPump::finish_and_flush() {
  {
    std::lock_guard lock(mu_);
    builder_->finish();
  }
  flush();
}

std::string TranscriptPump::redact(const std::string& text) const {
  std::lock_guard lock(mu_);
  return redactor_->redact(text);
}

void TranscriptPump::redact(Json& value) const {
  std::lock_guard lock(mu_);
  redact_json(*redactor_, value);
}

std::size_t TranscriptPump::replace_redactor(std::unique_ptr<hearth::sandbox::Redactor> redactor) {
  auto builder = std::make_unique<TranscriptBuilder>(*redactor);
  std::lock_guard lock(mu_);
  builder_->finish();
  auto dropped = builder_->take().size();
  builder_ = std::move(builder);  // before the redactor it refers to goes
  redactor_ = std::move(redactor);
  return dropped;
}

void TranscriptPump::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;  // the flusher sends what it holds first
    wake_.notify_all();
  }
  if (flusher_.joinable()) flusher_.join();
}

void TranscriptPump::flush_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return dirty_ || flush_asked_ > flush_done_ || stopping_; });
    if (stopping_ && !dirty_ && flush_asked_ <= flush_done_) break;
    auto target = flush_asked_;
    auto events = builder_->take();
    dirty_ = false;
    auto for_turn = turn_;
    settled_.notify_all();  // back-pressure eased
    lock.unlock();
    if (!events.empty()) send_(std::move(events), for_turn);
    lock.lock();
    flush_done_ = std::max(flush_done_, target);
    settled_.notify_all();
  }
  flush_done_ = flush_asked_;
  settled_.notify_all();
}

}  // namespace hearth::actors::session
