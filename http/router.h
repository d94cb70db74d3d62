// The route table of the /v1 API: every route declares its method, path pattern,
// who may call it (a Policy, required: a route without one is refused at start and
// fails the authorization test), the actor it targets, and its handler. The server
// matches a request to a route, authenticates the caller, applies the policy (for org
// routes: resolves {org} and the caller's role there), parses the JSON body, and then
// runs the handler, which reads through actions or mutates through queues.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/identity/identity.h"
#include "storage/secret_box.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::actors::session {
class AgentRunner;
}

namespace hearth::http {

using actors::Json;

enum class Policy {
  unset,         // no policy: refused (every route must say who may call it)
  anyone,        // no sign-in needed (sign-in itself)
  signed_in,     // any signed-in user
  org_member,    // member of {org} (anyone else gets 404: existence is not leaked)
  org_admin,     // admin or owner of {org}
  org_owner,     // owner of {org}
  server_admin,  // a user with the server-wide admin flag
};
std::string_view to_string(Policy p);

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
  // Sandboxes and agent sessions; without it their routes answer 503.
  actors::session::AgentRunner* agents = nullptr;
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

// What every handler can reach: the host, identity, configuration and edge-wide state.
struct Edge {
  Edge(actors::Host& h, EdgeConfig c)
      : host(h),
        identity(h, [this](const actors::Address& to, std::string_view queue,
                           const Json& body) { return send(to, queue, body, true); }),
        config(std::move(c)),
        per_account(config.sign_in_failures_per_user, std::chrono::minutes(5)),
        per_address(config.sign_in_failures_per_address, std::chrono::minutes(5)) {}
  actors::Host& host;
  identity::Identity identity;
  EdgeConfig config;
  SignInThrottle per_account, per_address;
  SignInThrottle member_misses{20, std::chrono::minutes(10)};  // add-member names without an account, per caller
  AuditBudget sign_in_audit;
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

struct Context {
  const httplib::Request& req;
  httplib::Response& res;
  Edge& edge;
  std::map<std::string, std::string> params;  // from the path pattern
  Json body;                                  // the parsed JSON body (null when none)
  std::optional<identity::Caller> caller;
  std::string secret;      // the caller's credential as presented (never logged)
  bool via_cookie = false;  // signed in by session cookie (CSRF rules apply)
  std::string org_id, org_slug, role;  // org routes: the resolved org and the caller's role
  bool streaming = false;      // the handler set up a streamed response itself

  const std::string& param(const std::string& name) const { return params.at(name); }
  std::string query(const std::string& name, const std::string& fallback = "") const;
  // The client's address: the peer, or what a trusted proxy says it forwarded for.
  std::string client_address() const;
  // An integer query parameter in [min, max], `fallback` when absent; invalid (naming
  // the parameter) when it is not such an integer.
  Result<std::int64_t> int_query(const std::string& name, std::int64_t fallback, std::int64_t min,
                                 std::int64_t max) const;
  bool wait() const;  // ?wait=false turns a mutation into 202 + message id
};

struct Reply {
  int status = 200;
  Json body;
};

using Handler = std::function<Result<Reply>(Context&)>;

struct Route {
  std::string method;   // GET, POST, PATCH, DELETE
  std::string pattern;  // /v1/orgs/{org}/members/{username}
  Policy policy = Policy::unset;
  std::string target;   // the actor type it reads or sends to, for docs and the inspector
  Handler handler;
  // Whether its calls go to the audit log (mutations only). Off for marks that change
  // nothing anyone else sees (read-marks, drafts): they would drown the log.
  bool audited = true;
};

class Router {
 public:
  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // methods of the path, when the method does not match
  };
  Match match(const std::string& method, const std::string& path) const;

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // each route's pattern, split once
};

// The key sign-in throttling counts an address under: the address, or for IPv6 its /64
// (one client holds a whole /64).
std::string throttle_key(const std::string& address);

// --- Body helpers: each error names the field ------------------------------------
Result<std::string> string_field(const Json& body, const char* name, bool required = true);
Result<std::optional<std::int64_t>> int_field(const Json& body, const char* name, std::int64_t min, std::int64_t max);
Result<std::optional<bool>> bool_field(const Json& body, const char* name);
// The JSON nesting depth of `text` (outside strings); parsing stops being safe past ~100.
std::size_t json_depth(std::string_view text);

// The route groups.
void add_identity_routes(Router& router);
void add_inspector_routes(Router& router);
void add_event_routes(Router& router);
void add_secret_routes(Router& router);
void add_sandbox_routes(Router& router);
void add_session_routes(Router& router);
void add_repo_routes(Router& router);
void add_task_routes(Router& router);
void add_feed_routes(Router& router);
void add_audit_routes(Router& router);

// Writes one Server-Sent Events frame; false once the client is gone.
using StreamWrite = std::function<bool(const std::string& frame)>;
// One round of a stream: waits up to about half a second for something to send,
// writes it, and returns false to end the stream.
using StreamStep = std::function<bool(const StreamWrite& write)>;
// Serves `step` as an event stream under the edge's rules: the bound on open streams
// (503 past it), heartbeats, the re-check of the caller's credential and (org routes)
// membership, the server's stop. `preamble` is sent first.
Result<Reply> serve_stream(Context& ctx, StreamStep step, std::string preamble = {});

// Positions: where a read stands in its topic's stream ("<epoch>.<seq>"), so that a
// stream opened from it misses nothing. position() is taken *before* the read (the
// state then reflects at least every event up to it); positioned() puts it on the
// answer: the Hearth-Position header, and a "position" field in an object body.
std::string position(Context& ctx, const std::string& topic);
Reply positioned(Context& ctx, const std::string& position, Json body, int status = 200);
// A subscription to `topic` (an actor id) that first replays what came after
// `position` (empty: nothing); `reset` when that is no longer retained, or the position
// is malformed or from another server process: the client must read the state again.
std::shared_ptr<actors::Subscription> resume(Context& ctx, const std::string& topic, const std::string& position,
                                             bool& reset);

// Streams the broadcasts on `topic` (an actor id) to the caller as Server-Sent Events,
// resuming after ?position= (or Last-Event-ID, or ?last_event_id=) with a replay, heartbeats and the stream bound. For org routes: the
// stream ends when the caller's credential or membership of {org} ends. Routes for
// later topics (a task's events) answer with this.
Result<Reply> event_stream(Context& ctx, const std::string& topic);

}  // namespace hearth::http
