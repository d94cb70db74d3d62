// Permission requests waiting for a person: see permission_desk.h.
#include "actors/session/permission_desk.h"

#include "actors/identity/identity.h"

namespace hearth::actors::session {

Json refusal(const Json& options) {
  for (const char* kind : {"reject_once", "reject_always"})
    for (const auto& o : options)
      if (o.is_object() && o.value("kind", "") == kind)
        return {{"outcome", "selected"}, {"optionId", o.value("optionId", "")}};
  return {{"outcome", "cancelled"}};
}

Json PermissionDesk::ask(const Json& options, const Calls& calls, std::chrono::milliseconds timeout) {
  auto id = identity::new_id("perm_");
  {
    std::lock_guard lock(mu_);
    answers_[id] = std::nullopt;  // before it is announced: an answer may come at once
  }
  auto forget = [&] {
    std::lock_guard lock(mu_);
    answers_.erase(id);
  };
  auto recorded = calls.request(id);
  if (!recorded) {
    forget();
    return refusal(options);
  }
  if (*recorded) {  // answered at once by the session's policy
    forget();
    return **recorded;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  auto answered = [&] { return answers_[id].has_value(); };
  changed_.wait_until(lock, deadline, [&] { return answered() || closed_ || stopped_; });
  if (!answered() && !closed_ && !stopped_) {
    // Nobody answered in time: the policy refuses, durably, and tells everyone.
    lock.unlock();
    auto outcome = calls.time_out(id);
    lock.lock();
    if (outcome) answers_[id] = *outcome;
    changed_.wait_for(lock, kAnswerGrace, [&] { return answered() || closed_; });
  }
  Json outcome = answered() ? *answers_[id] : Json{{"outcome", "cancelled"}};
  answers_.erase(id);
  return outcome;
}

bool PermissionDesk::answer(const std::string& id, const Json& outcome) {
  std::lock_guard lock(mu_);
  auto it = answers_.find(id);
  if (it == answers_.end() || it->second) return false;
  it->second = outcome;
  changed_.notify_all();
  return true;
}

void PermissionDesk::cancel_all() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  changed_.notify_all();
}

void PermissionDesk::reopen() {
  std::lock_guard lock(mu_);
  stopped_ = false;
}

void PermissionDesk::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

}  // namespace hearth::actors::session
