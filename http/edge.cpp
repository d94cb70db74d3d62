// The edge's bounds and services: wait sends, body slots, event stream slots, the
// sign-in throttle and audit budget, token use: see edge.h.
#include "http/edge.h"

#include <httplib.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "actors/sandbox/sandbox_runtime.h"
#include "actors/sandbox/secrets.h"
#include "actors/session/agent_runner.h"
#include "actors/user/user_actor.h"
#include "http/peer.h"
#include "storage/database.h"

namespace hearth::http {

std::string throttle_key(const std::string& address) {
  // IPv6: one client owns a whole /64; keying by the address would let it rotate.
  if (address.find(':') == std::string::npos) return address;
  unsigned char bytes[16];
  if (::inet_pton(AF_INET6, address.c_str(), bytes) != 1) return address;
  char text[INET6_ADDRSTRLEN];
  std::memset(bytes + 8, 0, 8);
  ::inet_ntop(AF_INET6, bytes, text, sizeof text);
  return std::string(text) + "/64";
}

Result<actors::SendReceipt> Edge::send(const actors::Address& to, std::string_view queue, const Json& body, bool wait) {
  actors::SendOptions options;
  options.wait = wait;
  options.timeout = config.request_timeout;
  if (!wait) return host.send(to, queue, body, options);
  auto id = to.id();
  {
    std::lock_guard lock(waiting_mu_);
    auto& here = waiting_[id];
    if (here >= config.max_waiting_per_actor || waiting_total_ >= config.max_waiting_total) {
      auto why = here >= config.max_waiting_per_actor
                     ? fmt::format("{} is busy: {} requests already wait for it", to.display(), here)
                     : fmt::format("the server is busy: {} requests already wait for actors", waiting_total_);
      if (here == 0) waiting_.erase(id);
      return Error{ErrorCode::unavailable, why + "; retry later, or send with ?wait=false"};
    }
    ++here;
    ++waiting_total_;
  }
  auto r = host.send(to, queue, body, options);
  {
    std::lock_guard lock(waiting_mu_);
    --waiting_total_;
    if (--waiting_[id] == 0) waiting_.erase(id);
  }
  return r;
}

void Edge::note_token_use(const identity::Caller& caller) {
  if (caller.kind != "token") return;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(used_mu_);
    auto& last = last_noted_[caller.credential_id];
    if (last.time_since_epoch().count() != 0 && now - last < std::chrono::minutes(1)) return;
    last = now;
    if (last_noted_.size() > 100'000) last_noted_.clear();  // bounded under many tokens
  }
  auto r = send(actors::user::address(caller.user_id), actors::user::kTouchToken,
                Json{{"credential_id", caller.credential_id}, {"at", storage::now_ms()}}, false);
  if (!r) spdlog::debug("auth.touch_failed token_id={} error={}", caller.credential_id, r.error().message);
}

std::chrono::milliseconds SignInThrottle::wait(const std::string& key) {
  using namespace std::chrono;
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return milliseconds(0);
  auto now = steady_clock::now();
  std::erase_if(it->second, [&](auto t) { return t < now - window_; });
  if (it->second.empty()) {
    failures_.erase(it);
    return milliseconds(0);
  }
  auto over = static_cast<int>(it->second.size()) - free_;
  if (over < 0) return milliseconds(0);
  auto backoff = milliseconds(1000) * (1LL << std::min(over, 20));
  auto until = it->second.back() + std::min<milliseconds>(backoff, window_);
  return until > now ? duration_cast<milliseconds>(until - now) + milliseconds(1) : milliseconds(0);
}

void SignInThrottle::failed(const std::string& key) {
  std::lock_guard lock(mu_);
  if (failures_.size() > 100'000) {
    // Bounded memory under a flood of distinct keys: the keys whose last failure is out of
    // the window go first, then the oldest half (never wholesale, which would free the
    // very key an attacker is working on).
    auto cutoff = std::chrono::steady_clock::now() - window_;
    std::erase_if(failures_, [&](const auto& kv) { return kv.second.back() < cutoff; });
    if (failures_.size() > 100'000) {
      std::vector<std::chrono::steady_clock::time_point> lasts;
      for (const auto& [k, v] : failures_) lasts.push_back(v.back());
      std::nth_element(lasts.begin(), lasts.begin() + lasts.size() / 2, lasts.end());
      auto median = lasts[lasts.size() / 2];
      std::erase_if(failures_, [&](const auto& kv) { return kv.second.back() < median; });
    }
  }
  auto& list = failures_[key];
  list.push_back(std::chrono::steady_clock::now());
  if (list.size() > 64) list.erase(list.begin());
}

void SignInThrottle::succeeded(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

bool UsedOnce::full() {
  auto now = storage::now_ms();
  std::lock_guard lock(mu_);
  std::erase_if(used_, [now](const auto& entry) { return entry.second < now; });
  return used_.size() >= kMax;
}

bool UsedOnce::take(const std::string& value, std::int64_t expires_at_ms) {
  auto now = storage::now_ms();
  std::lock_guard lock(mu_);
  std::erase_if(used_, [now](const auto& entry) { return entry.second < now; });
  if (used_.size() >= kMax) return false;
  return used_.emplace(value, expires_at_ms).second;
}

bool AuditBudget::take(int& summary) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  summary = 0;
  if (now - window_ >= std::chrono::minutes(1)) {
    summary = suppressed_;
    suppressed_ = 0;
    used_ = 0;
    window_ = now;
  }
  if (used_ < kPerMinute) {
    ++used_;
    return true;
  }
  ++suppressed_;
  return false;
}

Edge::BodySlot Edge::body_slot(const std::string& address) {
  auto key = throttle_key(address);
  std::lock_guard lock(bodies_mu_);
  auto& n = bodies_per_address_[key];
  if (n >= std::max<std::size_t>(2, config.max_waiting_total / 2)) {
    if (n == 0) bodies_per_address_.erase(key);
    return {};
  }
  ++n;
  return BodySlot(this, key);
}

std::size_t Edge::bodies_reading() {
  std::lock_guard lock(bodies_mu_);
  std::size_t n = 0;
  for (const auto& [k, v] : bodies_per_address_) n += v;
  return n;
}

Edge::BodySlot::~BodySlot() {
  if (!edge_) return;
  std::lock_guard lock(edge_->bodies_mu_);
  auto it = edge_->bodies_per_address_.find(key_);
  if (it != edge_->bodies_per_address_.end() && --it->second == 0) edge_->bodies_per_address_.erase(it);
}

bool Edge::from_sandbox(const httplib::Request& req) const {
  if (!config.agents) return false;
  auto uid = local_peer_uid(req.remote_addr, req.remote_port, req.local_addr, req.local_port);
  if (!uid) return false;
  const auto& rc = config.agents->runtime().config();
  return *uid > rc.sandbox_uid_base && *uid <= rc.sandbox_uid_base + rc.sandbox_uid_count;
}

Status Edge::begin_stream(const std::string& user_id) {
  std::lock_guard lock(streams_mu_);
  if (sse_streams >= config.sse_max_streams)
    return Error{ErrorCode::unavailable,
                 fmt::format("the server has {} event streams open, its limit; retry later", config.sse_max_streams)};
  auto& mine = streams_per_user_[user_id];
  if (mine >= config.sse_max_streams_per_user)
    return Error{ErrorCode::unavailable, fmt::format("you have {} event streams open, the limit per user; close a tab "
                                                     "or another client and retry",
                                                     config.sse_max_streams_per_user)};
  ++mine;
  ++sse_streams;
  return {};
}

void Edge::end_stream(const std::string& user_id) {
  std::lock_guard lock(streams_mu_);
  --sse_streams;
  if (auto it = streams_per_user_.find(user_id); it != streams_per_user_.end() && --it->second == 0)
    streams_per_user_.erase(it);
}

Result<actors::session::AgentRunner*> Edge::agent_runner() const {
  if (!config.agents) return Error{ErrorCode::unavailable, "this server runs no sandboxes"};
  return config.agents;
}

Result<const actors::sandbox::Secrets*> Edge::secrets() const {
  if (!secrets_) return Error{ErrorCode::unavailable, "this server runs no sandboxes"};
  return secrets_.get();
}

std::shared_ptr<const actors::sandbox::Secrets> Edge::secrets_over(actors::session::AgentRunner* agents) {
  if (!agents) return nullptr;
  return std::make_shared<const actors::sandbox::Secrets>(agents->runtime());
}

}  // namespace hearth::http
