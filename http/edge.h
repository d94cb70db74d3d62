// The edge: what every request handler can reach besides its own request (the host,
// identity, the configuration) and the bounds that keep the server answering under load
// (wait sends per actor and in all, workers reading bodies per address, event streams
// per user and in all, failed sign-ins per account and address, the audit budget for
// failed sign-ins). One Edge per server, shared by every worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/identity/identity.h"
#include "storage/secret_box.h"

namespace httplib {
struct Request;
}  // namespace httplib

namespace hearth::actors::session {
class AgentRunner;
}

namespace hearth::actors::sandbox {
class Secrets;
}

namespace hearth::actors::billing {
struct BillingConfig;
}

namespace hearth::github {
class App;
}

namespace hearth::http {

using actors::Json;

struct EdgeConfig {
  std::size_t max_body_bytes = 1 << 20;  // also for chunked and compressed bodies (counted as read)
  std::chrono::milliseconds request_timeout{10'000};  // wait sends past it answer 504
  std::chrono::milliseconds body_deadline{30'000};     // the whole body must arrive within it
  std::chrono::milliseconds session_ttl{14LL * 24 * 3600 * 1000};
  std::vector<std::string> allowed_origins;  // besides the server's own origin
  bool secure_cookies = false;               // set the Secure flag (behind TLS)
  // The URL people reach Hearth at (https://hearth.example.com). Requests naming any
  // other Host get 421, so that a DNS name pointed at this server (DNS rebinding) reaches
  // nothing; IP literals and localhost always pass. Empty: only those.
  std::string public_url;
  // Reverse proxies whose X-Forwarded-For is believed (their own addresses); the client
  // address is then the last address in it that is not one of them.
  std::vector<std::string> trusted_proxies;
  std::size_t sse_max_streams = 256;
  std::size_t sse_max_streams_per_user = 32;
  std::chrono::milliseconds sse_heartbeat{15'000};
  std::chrono::milliseconds sse_recheck{5'000};  // how often a stream re-checks its credential
  std::string metrics_token;                     // empty: /metrics answers loopback clients only
  std::size_t max_waiting_per_actor = 16;        // wait sends in flight to one actor
  std::size_t max_waiting_total = 16;            // ... to all actors (the server sets half its workers)
  // Failed sign-ins cost nothing up to these counts in 5 minutes; after that each
  // attempt waits twice as long as the one before (1 s, 2 s, 4 s, ... 5 min). Never a
  // lockout: the right password from elsewhere still works.
  int sign_in_failures_per_user = 5;             // per (username, client address)
  int sign_in_failures_per_address = 50;         // per client address, across usernames
  // Who may create organizations: server admins only, unless opened to every user.
  bool anyone_creates_orgs = false;
  // Directories under which file:// repositories may be connected (by server admins
  // only). Empty: no file:// repositories at all.
  std::vector<std::string> file_repo_roots;
  // Seals org secrets before they are queued; without it the secrets routes answer 503.
  std::shared_ptr<const storage::MasterKey> master_key;
  // Sandboxes and agent sessions; without it their routes answer 503. The edge's
  // secrets service (prompts are redacted with it) works over its runtime.
  actors::session::AgentRunner* agents = nullptr;
  // The GitHub App, or null when not configured (the GitHub routes then say so).
  std::shared_ptr<github::App> github;
  // Whether signing in with GitHub may create a Hearth user (for a login some linked
  // installation shows as a member); off: only GitHub accounts linked already sign in.
  bool github_signup = true;
  // Billing with Stripe, or null when no Stripe key is configured (billing is off: every
  // organization may do everything, and the billing routes say so).
  std::shared_ptr<const actors::billing::BillingConfig> billing;
};

// Failed sign-ins per key (a username from an address, or an address): the first `free`
// failures in the window cost nothing; after them each attempt must wait twice as long
// as the one before, from 1 s up to the window. A success clears the key.
class SignInThrottle {
 public:
  SignInThrottle(int free, std::chrono::milliseconds window) : free_(free), window_(window) {}
  // How long `key` must still wait before its next attempt; zero when it may try now.
  std::chrono::milliseconds wait(const std::string& key);
  void failed(const std::string& key);
  void succeeded(const std::string& key);

 private:
  int free_;
  std::chrono::milliseconds window_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

// Failed sign-ins are audited one by one up to kPerMinute a minute; past it, one entry
// a minute says how many more there were. (Refused ones, 429, are not audited at all:
// nothing was checked, and a flood of them must not grow the log.)
class AuditBudget {
 public:
  static constexpr int kPerMinute = 30;
  // Whether this failure gets its own entry; `summary` is set to the count of earlier
  // failures left out when a new minute starts.
  bool take(int& summary);

 private:
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_{};
  int used_ = 0, suppressed_ = 0;
};

// Values good for one use until they expire (the nonces of GitHub sign-in states): take()
// is true the first time only. Expired ones are forgotten as new ones come; past kMax
// remembered at once (a flood of sign-ins), take() refuses until some expire.
class UsedOnce {
 public:
  static constexpr std::size_t kMax = 100'000;
  bool take(const std::string& value, std::int64_t expires_at_ms);
  bool full();  // kMax remembered, none expired

 private:
  std::mutex mu_;
  std::map<std::string, std::int64_t> used_;
};

// What every handler can reach: the host, identity, configuration and edge-wide state.
struct Edge {
  Edge(actors::Host& h, EdgeConfig c)
      : host(h),
        identity(h, [this](const actors::Address& to, std::string_view queue,
                           const Json& body) { return send(to, queue, body, true); }),
        config(std::move(c)),
        secrets_(secrets_over(config.agents)),
        per_account(config.sign_in_failures_per_user, std::chrono::minutes(5)),
        per_address(config.sign_in_failures_per_address, std::chrono::minutes(5)) {}
  actors::Host& host;
  identity::Identity identity;
  EdgeConfig config;

 private:
  std::shared_ptr<const actors::sandbox::Secrets> secrets_;  // set with config.agents

 public:
  SignInThrottle per_account, per_address;
  SignInThrottle member_misses{20, std::chrono::minutes(10)};  // add-member names without an account, per caller
  AuditBudget sign_in_audit;
  UsedOnce used_once;  // GitHub sign-in states taken
  std::atomic<std::size_t> sse_streams{0};
  std::atomic<std::size_t> signing_in{0};  // sign-ins checking a password now
  std::atomic<bool> stopping{false};

  // Sends to a queue with wait (or not: ?wait=false), bounded by the request timeout
  // and by max_waiting_per_actor and max_waiting_total, so that stuck actors can hold
  // at most half the workers and reads always find one free.
  Result<actors::SendReceipt> send(const actors::Address& to, std::string_view queue, const Json& body, bool wait);
  // Requests waiting in send() now.
  std::size_t waiting_sends() {
    std::lock_guard lock(waiting_mu_);
    return waiting_total_;
  }

  // The agent runner, or unavailable when this server runs no sandboxes.
  Result<actors::session::AgentRunner*> agent_runner() const;
  // The secrets service, or unavailable when this server runs no sandboxes.
  Result<const actors::sandbox::Secrets*> secrets() const;
  // The secrets service over `agents`' runtime; null without agents.
  static std::shared_ptr<const actors::sandbox::Secrets> secrets_over(actors::session::AgentRunner* agents);

  // Records that an API token was used (its last_used_at), at most once a minute per
  // token, without waiting for the write.
  void note_token_use(const identity::Caller& caller);

  // Whether the request comes from a process of a sandbox on this machine (one with
  // network `host` shares the host's addresses): never a trusted proxy, never loopback.
  bool from_sandbox(const httplib::Request& req) const;

  // A worker reading a request body from `address`, released when it goes out of scope;
  // empty past the bound (a quarter of the workers per address), so that bodies sent
  // slowly from one place can never hold every worker.
  class BodySlot {
   public:
    BodySlot() = default;
    BodySlot(Edge* edge, std::string key) : edge_(edge), key_(std::move(key)) {}
    BodySlot(BodySlot&& o) noexcept : edge_(std::exchange(o.edge_, nullptr)), key_(std::move(o.key_)) {}
    ~BodySlot();
    explicit operator bool() const { return edge_ != nullptr; }

   private:
    Edge* edge_ = nullptr;
    std::string key_;
  };
  BodySlot body_slot(const std::string& address);
  std::size_t bodies_reading();  // workers reading a body now

  // Opens an event stream for `user_id` within the server's and the user's bounds;
  // unavailable (naming which) past either. end_stream() gives the slot back.
  Status begin_stream(const std::string& user_id);
  void end_stream(const std::string& user_id);

 private:
  std::mutex bodies_mu_;
  std::map<std::string, std::size_t> bodies_per_address_;
  std::mutex streams_mu_;
  std::map<std::string, std::size_t> streams_per_user_;
  std::mutex used_mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_noted_;
  std::mutex waiting_mu_;
  std::map<std::string, std::size_t> waiting_;
  std::size_t waiting_total_ = 0;
};

// The key sign-in throttling counts an address under: the address, or for IPv6 its /64
// (one client holds a whole /64).
std::string throttle_key(const std::string& address);

}  // namespace hearth::http
