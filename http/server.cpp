// The HTTP server behind http/server.h: httplib setup, the dispatcher that applies the
// route table's policies, the access log and request metrics, and /metrics.
#include "http/server.h"

#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "actors/audit/audit_actor.h"
#include "actors/host/metrics.h"
#include "actors/organization/organization_actor.h"
#include "http/connection_gate.h"
#include "http/errors.h"
#include "http/fields.h"
#include "http/peer.h"
#include "http/routes.h"
#include "storage/database.h"
#include "storage/text.h"

namespace hearth::http {
namespace {

using Clock = std::chrono::steady_clock;

// 16 hex digits: a random per-thread prefix and a counter. Unique, not secret, and
// without a system call per request.
std::string new_request_id() {
  thread_local std::uint64_t next = [] {
    std::uint64_t seed;
    randombytes_buf(&seed, sizeof seed);
    return seed;
  }();
  std::uint64_t id = next++;
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, reinterpret_cast<const unsigned char*>(&id), sizeof id);
  return hex;
}

// The value of header `name` in a raw request head (empty when absent).
std::string header_in(const std::string& head, std::string_view name) {
  std::size_t at = 0;
  while ((at = head.find('\n', at)) != std::string::npos) {
    ++at;
    if (head.size() - at < name.size() + 1) break;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(head[at + i])) == name[i];
    if (!same || head[at + name.size()] != ':') continue;
    auto start = head.find_first_not_of(' ', at + name.size() + 1);
    auto end = head.find_first_of("\r\n", start);
    return start == std::string::npos ? std::string() : head.substr(start, end - start);
  }
  return {};
}

// A request id the client sent, if it is short and plain enough to echo and log.
bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const Error& e) { send_json(res, http_status(e.code), error_body(e)); }

bool equal_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// What the access log and metrics need to know about the request on this thread.
struct RequestInfo {
  Clock::time_point started;
  std::string route;
  std::string user_id;
  bool close = false;  // the connection cannot be reused (a body left unread, say)
};
thread_local RequestInfo t_request;


// Every mutation an authenticated caller asks for, whatever its outcome, goes to the
// audit log of the org it touched (or the server's): a queue message nobody waits
// for, so the request never blocks on or fails by it.
void audit_mutation(const Context& ctx, const Route& route, int status, const std::string& outcome,
                    const Json& result = nullptr) {
  const auto& method = ctx.req.method;
  if (method == "GET" || method == "HEAD" || method == "OPTIONS" || !route.audited) return;
  // Sign-in has no caller yet: the name it was tried with (never the password) stands in.
  std::string username;
  Json user_id = nullptr;
  if (ctx.caller) {
    username = ctx.caller->username;
    user_id = ctx.caller->user_id;
  } else if (route.policy == Policy::anyone && ctx.body.is_object() && ctx.body.contains("username") &&
             ctx.body["username"].is_string()) {
    if (status == 429) return;
    username = sanitize_utf8(ctx.body["username"].get<std::string>().substr(0, 64));  // never half a character
    int left_out = 0;
    bool own_entry = status < 400 || ctx.edge.sign_in_audit.take(left_out);
    if (left_out > 0) {
      Json summary{{"at", static_cast<std::int64_t>(storage::now_ms())}, {"user_id", nullptr}, {"username", ""},
                   {"kind", "POST /auth/sign-in"}, {"target", route.target}, {"request_id", ""},
                   {"outcome", "unauthorized"},
                   {"detail", {{"status", 401}, {"summary", fmt::format("{} more failed sign-ins in the minute "
                                                                        "before, not listed one by one", left_out)}}}};
      auto address = actors::audit::address(actors::audit::kServerLog);
      if (ctx.edge.host.get_or_create(address)) (void)ctx.edge.host.send(address, actors::audit::kAppend, summary);
    }
    if (!own_entry) return;
  } else {
    return;
  }
  auto kind = route.pattern;
  if (kind.rfind("/v1", 0) == 0) kind = kind.substr(3);
  if (kind.rfind("/orgs/{org}", 0) == 0 && kind.size() > 11) kind = kind.substr(11);
  Json params = Json::object();
  for (const auto& [k, v] : ctx.params)
    if (k != "org") params[k] = sanitize_utf8(v.substr(0, 200));
  Json entry{{"at", static_cast<std::int64_t>(storage::now_ms())},
             {"user_id", user_id},
             {"username", username},
             {"kind", method + " " + kind},
             {"target", route.target + (params.empty() ? "" : " " + json_text(params))},
             {"request_id", ctx.res.get_header_value("x-request-id")},
             {"outcome", outcome},
             {"detail", {{"status", status}, {"params", params}}}};
  if (params.contains("task")) entry["task_id"] = params["task"];
  if (params.contains("repo")) entry["repo_id"] = params["repo"];
  // What the change made (a new task, a repository) is named by its answer.
  if (result.is_object()) {
    if (!entry.contains("task_id") && result.contains("task_id") && result["task_id"].is_string()) entry["task_id"] = result["task_id"];
    if (!entry.contains("repo_id") && result.contains("repo_id") && result["repo_id"].is_string()) entry["repo_id"] = result["repo_id"];
  }
  auto address = actors::audit::address(ctx.org_id.empty() ? actors::audit::kServerLog : ctx.org_id);
  Status st = ctx.edge.host.get_or_create(address);
  if (st) {
    auto sent = ctx.edge.host.send(address, actors::audit::kAppend, entry);
    if (!sent) st = sent.error();
  }
  if (!st) spdlog::error("audit.append_failed kind={} error={}", entry["kind"].get<std::string>(), st.error().message);
}


bool is_loopback(const std::string& addr) { return addr == "127.0.0.1" || addr == "::1" || addr == "::ffff:127.0.0.1"; }

int required_rank(Policy p) {
  switch (p) {
    case Policy::org_member: return 1;
    case Policy::org_admin: return 2;
    case Policy::org_owner: return 3;
    default: return 0;
  }
}

// A connection as httplib reads and writes it: reads buffered (httplib reads a request
// head a byte at a time), starting with the bytes the gate read already; each request
// may read at most `budget` bytes before `deadline` (a head that grows without end, a
// body trickled forever, a chunk-size line without end: each ends the connection).
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, int read_timeout_ms, int write_timeout_ms, std::string bytes)
      : fd_(fd), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms), buf_(std::move(bytes)) {}

  // The bounds of the next request's reads.
  void begin_request(std::size_t budget, Clock::time_point deadline) {
    budget_ = budget;
    deadline_ = deadline;
  }

  bool is_readable() const override { return off_ < buf_.size() || wait(POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return wait(POLLOUT, write_timeout_ms_); }
  ssize_t read(char* ptr, size_t size) override {
    if (budget_ == 0 || Clock::now() > deadline_) return -1;
    size = std::min(size, budget_);
    if (off_ < buf_.size()) {
      auto n = std::min(size, buf_.size() - off_);
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      budget_ -= n;
      return static_cast<ssize_t>(n);
    }
    if (!wait(POLLIN, read_timeout_ms_)) return -1;
    buf_.resize(8192);
    off_ = 0;
    for (;;) {
      auto n = ::recv(fd_, buf_.data(), buf_.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      buf_.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      if (n <= 0) return n;
      return read(ptr, size);
    }
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    for (;;) {
      auto n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  socket_t socket() const override { return fd_; }

  // Bytes read from the socket that no request has used yet (a pipelined request).
  std::string take_buffered() {
    auto rest = buf_.substr(off_);
    buf_.clear();
    off_ = 0;
    return rest;
  }

 private:
  // Waits for `events`, at most `timeout_ms` and never past the request's deadline.
  bool wait(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      int r = ::poll(&p, 1, static_cast<int>(std::clamp<std::int64_t>(left, 0, timeout_ms)));
      if (r < 0 && errno == EINTR) continue;
      return r > 0 && !(p.revents & (POLLERR | POLLNVAL));
    }
  }
  void address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    int r = remote ? ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len)
                   : ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    char text[INET6_ADDRSTRLEN] = "";
    port = 0;
    if (r == 0 && a.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      port = ntohs(in->sin_port);
    } else if (r == 0 && a.ss_family == AF_INET6) {
      auto* in = reinterpret_cast<sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &in->sin6_addr, text, sizeof text);
      port = ntohs(in->sin6_port);
    }
    ip = text;
  }

  int fd_;
  int read_timeout_ms_, write_timeout_ms_;
  std::string buf_;
  std::size_t off_ = 0;
  std::size_t budget_ = 0;
  Clock::time_point deadline_ = Clock::now();
};

// httplib's server with the connection gate in front of its workers. A worker serves a
// connection only once its request head has arrived, one request at a time; between
// requests a kept-alive connection waits in the gate, not on a worker.
class GatedServer final : public httplib::Server {
 public:
  std::unique_ptr<ConnectionGate> gate;
  httplib::TaskQueue* pool = nullptr;  // the workers (created by listen, owned by httplib)
  std::atomic<bool> closing{false};
  int read_timeout_ms = 30'000, write_timeout_ms = 10'000;
  std::size_t request_budget = 2u << 20;                      // head + body + framing, per request
  std::chrono::milliseconds request_deadline{40'000};         // for its reads
  static constexpr int kLinger = 2;                           // ms a worker waits for a kept-alive connection's next request

  // Serves requests on `fd`, starting with `bytes` (a whole head, perhaps more), while
  // they have arrived whole; gives the connection back to the gate when the client keeps
  // it open, else closes it.
  void serve(int fd, std::string bytes) {
    for (int served = 0;; ++served) {
      Connection conn(fd, read_timeout_ms, write_timeout_ms, std::move(bytes));
      conn.begin_request(request_budget, Clock::now() + request_deadline);
      bool closed = false;
      // Closed after the answer unless the pre-routing handler (which runs only for a
      // request httplib parsed whole) says otherwise: an answer httplib gives by itself
      // (a 400 for a header line too long, a 414, a 416) leaves unread bytes behind.
      t_request.close = true;
      bool last = closing || served >= 100;
      bool ok = process_request(conn, last, closed, nullptr);
      if (!ok || closed || t_request.close || last) break;
      // A client that keeps its connection busy sends its next request at once: wait a
      // moment for it here (a worker's few milliseconds, no more) rather than send every
      // request of a busy connection through the gate.
      auto rest = conn.take_buffered();
      if (rest.empty()) {
        pollfd p{fd, POLLIN, 0};
        (void)::poll(&p, 1, kLinger);
      }
      auto next = gate->admit(fd, std::move(rest));
      if (!next) return;  // the gate keeps it until the next head
      bytes = std::move(*next);
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    // httplib accepts without close-on-exec: no process the server starts may inherit a
    // client's connection (Process::spawn closes what it does not pass on, too).
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    if (auto bytes = gate->admit(sock)) serve(sock, std::move(*bytes));
    return true;
  }
};

}  // namespace

std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    auto part = header.substr(pos, end - pos);
    auto start = part.find_first_not_of(' ');
    if (start != std::string::npos) part = part.substr(start);
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return {};
}

struct Server::Impl {
  Impl(ServerConfig c, actors::Host& h) : config(bound_waiting(std::move(c))), edge(h, config.edge) {}

  // Requests waiting for actors may hold at most half the ordinary workers, so that a
  // stuck actor (or several) never leaves reads and other actors without a thread.
  static ServerConfig bound_waiting(ServerConfig c) {
    c.edge.max_waiting_total = std::max<std::size_t>(1, c.threads / 2);
    c.edge.max_waiting_per_actor = std::min(c.edge.max_waiting_per_actor, c.edge.max_waiting_total);
    return c;
  }
  ServerConfig config;
  Edge edge;
  Router router;
  GatedServer server;
  std::thread thread;
  std::atomic<bool> ready{false};
  int listen_fd = -1;  // the listening socket, as httplib created it

  // Serves an API or web request; `body` reads a request body (POST, PUT, PATCH,
  // DELETE), after the route and the caller are known.
  void dispatch(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* body = nullptr);
  Result<std::string> read_body(const httplib::Request& req, const httplib::ContentReader& reader, std::size_t limit);
  bool host_allowed(const httplib::Request& req) const;
  Status authorize(Context& ctx, const Route& route);
  void metrics(const httplib::Request& req, httplib::Response& res);
  // /healthz and /readyz: status and body (answered by the gate, never by a worker).
  std::optional<GateAnswer> health(const std::string& method, const std::string& path, const std::string& request_id);
};

std::optional<GateAnswer> Server::Impl::health(const std::string& method, const std::string& path,
                                               const std::string& request_id) {
  if ((method != "GET" && method != "HEAD") || (path != "/healthz" && path != "/readyz")) return std::nullopt;
  auto started = Clock::now();
  GateAnswer a;
  if (path == "/healthz") {
    a.body = R"({"status":"ok"})";
  } else if (!ready || !edge.host.running()) {
    a.status = 503;
    a.body = error_body(Error{ErrorCode::unavailable, "hearth is starting or stopping"});
  } else {
    a.body = nlohmann::json{{"status", "ready"}, {"active_actors", edge.host.stats().active_actors}}.dump();
  }
  auto id = acceptable_request_id(request_id) ? request_id : new_request_id();
  a.headers = {{"x-request-id", id}, {"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}};
  auto seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (spdlog::should_log(spdlog::level::debug))
    spdlog::debug("http.access method={} route={} status={} request_id={}", method, path, a.status, id);
  auto& m = actors::Metrics::global();
  m.add("hearth_http_requests_total", {{"route", path}, {"method", method}, {"status", std::to_string(a.status)}});
  m.observe("hearth_http_request_duration_seconds", {{"route", path}}, seconds);
  return a;
}

// Resolves the caller and applies the route's policy and the CSRF rule.
Status Server::Impl::authorize(Context& ctx, const Route& route) {
  const auto& req = ctx.req;
  auto auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) == 0) {
    ctx.secret = auth.substr(7);
  } else if (auto cookie = cookie_value(req.get_header_value("Cookie"), "hearth_session"); !cookie.empty()) {
    ctx.secret = cookie;
    ctx.via_cookie = true;
  }
  if (route.policy == Policy::unset)
    return Error{ErrorCode::forbidden, "this route declares no access policy, so nobody may call it"};
  if (route.policy == Policy::anyone) return {};
  if (ctx.secret.empty()) return Error{ErrorCode::unauthorized, "sign in, or send Authorization: Bearer <token>"};
  bool org_route = route.policy == Policy::org_member || route.policy == Policy::org_admin ||
                   route.policy == Policy::org_owner;
  auto caller = edge.identity.authenticate(ctx.secret, org_route ? ctx.param("org") : std::string());
  if (!caller) {
    if (caller.error().code == ErrorCode::not_found)  // no directory yet: nobody exists
      return Error{ErrorCode::unauthorized, "the credential is not known"};
    return caller.error();
  }
  ctx.caller = std::move(*caller);
  t_request.user_id = ctx.caller->user_id;
  edge.note_token_use(*ctx.caller);

  bool mutation = req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS";
  if (ctx.via_cookie && mutation) {
    auto origin = req.get_header_value("Origin");
    bool origin_ok = !origin.empty() &&
                     (origin == "http://" + req.get_header_value("Host") ||
                      origin == "https://" + req.get_header_value("Host") ||
                      std::find(edge.config.allowed_origins.begin(), edge.config.allowed_origins.end(), origin) !=
                          edge.config.allowed_origins.end());
    auto header = req.get_header_value("X-CSRF-Token");
    bool header_ok = !header.empty() && equal_secret(header, identity::keyed_hash("csrf", ctx.secret));
    if (!origin_ok && !header_ok)
      return Error{ErrorCode::forbidden,
                   "cross-site request refused: a cookie-authenticated change needs an allowed Origin or the "
                   "X-CSRF-Token header (from sign-in or GET /v1/auth/session)"};
  }

  if (route.policy == Policy::signed_in) return {};
  if (route.policy == Policy::server_admin) {
    if (!ctx.caller->is_admin) return Error{ErrorCode::forbidden, "this needs a server administrator"};
    return {};
  }
  // Org routes: anyone who is not a member learns nothing, not even that it exists.
  const auto& slug = ctx.param("org");
  Error hidden{ErrorCode::not_found, "no organization \"" + slug + "\""};
  const auto& role = ctx.caller->org_role;  // resolved with the caller, in the same read
  if (role.empty()) return hidden;
  ctx.org_id = ctx.caller->org["org_id"].get<std::string>();
  ctx.org_slug = slug;
  ctx.role = role;
  if (actors::organization::role_rank(role) < required_rank(route.policy))
    return Error{ErrorCode::forbidden, "this needs the " + std::string(to_string(route.policy)).substr(4) +
                                           " role in " + slug + "; you are " + role};
  return {};
}

// Headers every answer carries: no sniffing, no referrer leaving the origin, no framing.
static void harden(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "same-origin");
  res.set_header("X-Frame-Options", "DENY");
}

// The web frontend: its files under /assets/, and index.html for every other page path
// (the app routes in the browser). Scripts and styles only from this origin, no inline
// code, nothing from elsewhere, never framed.
static void serve_web(const std::filesystem::path& dir, const httplib::Request& req, httplib::Response& res) {
  t_request.route = req.path.rfind("/assets/", 0) == 0 ? "/assets/*" : "/ (web)";
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                 "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  std::string rel = "index.html";
  std::string type = "text/html; charset=utf-8";
  if (req.path.rfind("/assets/", 0) == 0) {
    rel = req.path.substr(1);
    if (rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos) rel = "";
    type = rel.ends_with(".js") ? "text/javascript; charset=utf-8"
           : rel.ends_with(".css") ? "text/css; charset=utf-8"
           : rel.ends_with(".svg") ? "image/svg+xml"
                                   : "application/octet-stream";
  }
  std::ifstream in(dir / rel, std::ios::binary);
  if (dir.empty() || rel.empty() || !in) {
    if (rel == "index.html")
      return send_json(res, 503, error_body(Error{ErrorCode::unavailable,
                                                  "the web frontend is not built here (bash scripts/setup builds it); the "
                                                  "API is at /v1 and the CLI is `hearth`"}));
    return send_error(res, Error{ErrorCode::not_found, "no such file"});
  }
  std::string body((std::istreambuf_iterator<char>(in)), {});
  // Assets change only with a new build (index.html names the same paths): revalidate.
  res.set_header("Cache-Control", "no-cache");
  res.status = 200;
  res.set_content(std::move(body), type);
}

// Names this server may be reached by: the public URL's host, IP literals and
// localhost. A DNS name pointed at it (rebinding) gets 421 before anything else runs.
bool Server::Impl::host_allowed(const httplib::Request& req) const {
  auto host = req.get_header_value("Host");
  if (host.empty()) return true;  // HTTP/1.0
  std::string name = host;
  if (!name.empty() && name.front() == '[') {
    name = name.substr(1, name.find(']') - 1);  // [::1]:7741
  } else if (auto colon = name.rfind(':'); colon != std::string::npos) {
    name = name.substr(0, colon);
  }
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name == "localhost") return true;
  unsigned char ip[16];
  if (::inet_pton(AF_INET, name.c_str(), ip) == 1 || ::inet_pton(AF_INET6, name.c_str(), ip) == 1) return true;
  const auto& url = config.edge.public_url;
  if (url.empty()) return false;
  auto start = url.find("://");
  auto authority = url.substr(start == std::string::npos ? 0 : start + 3);
  authority = authority.substr(0, authority.find('/'));
  std::transform(authority.begin(), authority.end(), authority.begin(), [](unsigned char c) { return std::tolower(c); });
  auto want = authority.substr(0, authority.rfind(':') == std::string::npos || authority.back() == ']'
                                      ? std::string::npos
                                      : authority.rfind(':'));
  return name == want;
}

// The request body, read as it arrives and counted as read: chunked and compressed
// bodies meet the same limit as any other, and the whole body must arrive in time.
Result<std::string> Server::Impl::read_body(const httplib::Request& req, const httplib::ContentReader& reader,
                                            std::size_t limit) {
  // A declared length past the limit is refused before a byte of it is read (httplib
  // would read and drop all of it, however slowly it came).
  auto declared = req.get_header_value("Content-Length");
  if (!declared.empty() && std::strtoull(declared.c_str(), nullptr, 10) > limit) {
    t_request.close = true;
    return Error{ErrorCode::too_large, fmt::format("the request body is over the server's limit of {} bytes",
                                                   limit)};
  }
  std::string body;
  bool over = false, late = false;
  auto deadline = Clock::now() + config.edge.body_deadline;
  bool ok = reader([&](const char* data, std::size_t n) {
    if (Clock::now() > deadline) {
      late = true;
      return false;
    }
    if (body.size() + n > limit) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (ok && !over && !late) return body;
  t_request.close = true;
  if (over)
    return Error{ErrorCode::too_large, fmt::format("the request body is over the server's limit of {} bytes",
                                                   limit)};
  if (late) return Error{ErrorCode::timeout, "the request body did not arrive in time"};
  return Error{ErrorCode::invalid, "the request body could not be read (malformed chunks or encoding)"};
}

void Server::Impl::dispatch(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader) {
  harden(res);
  // A body this request will not read (refused before it) must not be taken for the
  // next request on the connection: close after answering, unless it is read below.
  // (The pre-routing handler closes for bodies no route reads, and chunked ones.)
  bool pre_close = t_request.close;
  t_request.close = pre_close || (reader && req.has_header("Content-Length") &&
                                  req.get_header_value("Content-Length") != "0");
  // Pages of the web frontend: its assets, `/`, and any other path a browser navigates to
  // (it asks for text/html); everything else outside /v1 is an unknown route.
  if (req.method == "GET" && !config.web_dir.empty() && req.path.rfind("/v1/", 0) != 0 &&
      (req.path == "/" || req.path.rfind("/assets/", 0) == 0 ||
       req.get_header_value("Accept").find("text/html") != std::string::npos)) {
    return serve_web(config.web_dir, req, res);
  }
  auto match = router.match(req.method, req.path);
  if (!match.route) {
    if (!match.allowed.empty()) {
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      res.set_header("Allow", allow);
      t_request.route = "unmatched";
      return send_error(res, Error{ErrorCode::method_not_allowed,
                                   req.method + " is not allowed on " + printable(req.path) + "; allowed: " + allow});
    }
    t_request.route = "unmatched";
    return send_error(res, Error{ErrorCode::not_found, "no route for " + req.method + " " + printable(req.path)});
  }
  const auto& route = *match.route;
  t_request.route = route.pattern;
  if (!ready || !edge.host.running())
    return send_error(res, Error{ErrorCode::unavailable, "hearth is starting or stopping; retry shortly"});

  Context ctx{req, res, edge, std::move(match.params)};
  if (auto st = authorize(ctx, route); !st) {
    send_error(res, st.error());
    return audit_mutation(ctx, route, res.status, std::string(to_string(st.error().code)));
  }

  std::string text;
  if (reader) {
    auto slot = edge.body_slot(ctx.client_address());
    bool has_body = (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0") ||
                    req.has_header("Transfer-Encoding");
    if (!slot && has_body) {
      t_request.close = true;
      res.set_header("Retry-After", "5");
      return send_error(res, Error{ErrorCode::unavailable, "too many requests from your address are sending bodies "
                                                           "right now; retry in a few seconds"});
    }
    auto body = read_body(req, *reader, route.max_body_bytes ? route.max_body_bytes : config.edge.max_body_bytes);
    if (!body) return send_error(res, body.error());
    text = std::move(*body);
    t_request.close = pre_close;
  }
  if (route.raw_body) {
    ctx.raw = std::move(text);
    ctx.body = Json::object();
  } else if (!text.empty()) {
    auto type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) != 0)
      return send_error(res, Error{ErrorCode::unsupported_media_type,
                                   "send the body as application/json (got \"" + printable(type, 100) + "\")"});
    if (json_depth(text) > 64)
      return send_error(res, Error{ErrorCode::invalid, "the JSON body nests deeper than 64 levels"});
    ctx.body = Json::parse(text, nullptr, false);
    if (ctx.body.is_discarded()) return send_error(res, Error{ErrorCode::invalid, "the body is not valid JSON"});
    if (!ctx.body.is_object()) return send_error(res, Error{ErrorCode::invalid, "the body must be a JSON object"});
  } else {
    ctx.body = Json::object();
  }

  auto reply = route.handler(ctx);
  if (!reply) {
    send_error(res, reply.error());
    return audit_mutation(ctx, route, res.status, std::string(to_string(reply.error().code)));
  }
  if (ctx.streaming) return;
  send_json(res, reply->status, json_text(reply->body));
  audit_mutation(ctx, route, reply->status, reply->status == 202 ? "accepted" : "ok", reply->body);
}

void Server::Impl::metrics(const httplib::Request& req, httplib::Response& res) {
  if (!config.edge.metrics_token.empty()) {
    auto auth = req.get_header_value("Authorization");
    if (!equal_secret(auth, "Bearer " + config.edge.metrics_token))
      return send_error(res, Error{ErrorCode::unauthorized, "/metrics needs Authorization: Bearer <metrics token>"});
  } else if (!is_loopback(req.remote_addr) || req.has_header("X-Forwarded-For") || edge.from_sandbox(req)) {
    // Loopback means this machine's own tools: not a client a local proxy forwards, not
    // a sandbox with the host's network.
    return send_error(res, Error{ErrorCode::forbidden, "/metrics answers loopback clients only (or set a metrics token)"});
  }
  auto& m = actors::Metrics::global();
  for (const auto& c : edge.host.actor_counts()) {
    m.set("hearth_actors", {{"type", c.type}, {"state", "active"}}, static_cast<double>(c.active));
    m.set("hearth_actors", {{"type", c.type}, {"state", "hibernated"}}, static_cast<double>(std::max<std::int64_t>(0, c.created - c.active)));
  }
  m.set("hearth_sse_clients", {}, static_cast<double>(edge.sse_streams.load()));
  if (server.gate) m.set("hearth_http_connections_waiting", {}, static_cast<double>(server.gate->waiting()));
  auto stats = edge.host.stats();
  m.set("hearth_io_jobs_running", {}, static_cast<double>(stats.io_busy));
  res.set_content(m.render(), "text/plain; version=0.0.4");
}

Server::Server(ServerConfig config, actors::Host& host) : impl_(std::make_unique<Impl>(std::move(config), host)) {
  auto& impl = *impl_;
  auto& svr = impl.server;
  add_identity_routes(impl.router);
  add_inspector_routes(impl.router);
  add_event_routes(impl.router);
  add_secret_routes(impl.router);
  add_network_routes(impl.router);
  add_sandbox_routes(impl.router);
  add_session_routes(impl.router);
  add_repo_routes(impl.router);
  add_task_routes(impl.router);
  add_feed_routes(impl.router);
  add_audit_routes(impl.router);
  add_github_routes(impl.router);
  add_billing_routes(impl.router);
  add_github_auth_routes(impl.router);
  for (const auto& r : impl.router.routes())
    if (r.policy == Policy::unset) spdlog::error("http.route_without_policy method={} path={}", r.method, r.pattern);

  auto& m = actors::Metrics::global();
  m.describe("hearth_http_requests_total", "counter", "HTTP requests by route, method and status.");
  m.describe("hearth_http_request_duration_seconds", "histogram", "HTTP request latency by route.",
             {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10});
  m.describe("hearth_actors", "gauge", "Actors by type and state (active, hibernated).");
  m.describe("hearth_sse_clients", "gauge", "Open Server-Sent Event streams.");
  m.describe("hearth_http_connections_waiting", "gauge", "Connections waiting for their request head (in the gate).");
  m.describe("hearth_io_jobs_running", "gauge", "Long I/O jobs running now.");

  // Ordinary requests keep `threads` workers however many event streams are open.
  auto threads = impl.config.threads + impl.config.edge.sse_max_streams;
  svr.new_task_queue = [threads, &svr] {
    auto* pool = new httplib::ThreadPool(threads);
    svr.pool = pool;
    return pool;
  };
  svr.set_tcp_nodelay(true);  // headers and body go out in separate writes: no Nagle delay between them
  svr.read_timeout_ms = 30'000;  // per read, once the head is in (the gate bounds the head itself)
  svr.write_timeout_ms = 10'000;
  // The largest body any route takes (a webhook's may be larger than the edge's default).
  auto max_body = impl.config.edge.max_body_bytes;
  for (const auto& route : impl.router.routes()) max_body = std::max(max_body, route.max_body_bytes);
  svr.request_budget = impl.config.gate.max_head_bytes + max_body + (64u << 10);
  svr.request_deadline = impl.config.edge.body_deadline + std::chrono::seconds(1);
  svr.set_keep_alive_timeout(static_cast<time_t>(impl.config.gate.head_deadline.count() / 1000));
  svr.set_keep_alive_max_count(100);
  svr.set_payload_max_length(max_body);
  // httplib's default adds SO_REUSEPORT, which would let a second server share our port
  // silently. SO_REUSEADDR alone allows a quick restart and refuses a taken port.
  svr.set_socket_options([&impl](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl.listen_fd = sock;
  });

  svr.set_pre_routing_handler([&impl](const httplib::Request& req, httplib::Response& res) {
    // A body on a request no route reads (GET, HEAD, OPTIONS), or any chunked one (a
    // DELETE's is never read), would be taken for the next request: close after it.
    bool body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" || req.method == "DELETE";
    bool declared = req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0";
    t_request = RequestInfo{Clock::now(), {}, {}, req.has_header("Transfer-Encoding") || (declared && !body_method)};
    auto id = req.get_header_value("x-request-id");
    res.set_header("x-request-id", acceptable_request_id(id) ? id : new_request_id());
    // Paths and query parameters are names and JSON strings from here on: refuse bytes
    // that are not UTF-8 before anything quotes them.
    bool text = valid_utf8(req.path);
    for (auto it = req.params.begin(); text && it != req.params.end(); ++it)
      text = valid_utf8(it->first) && valid_utf8(it->second);
    if (!text) {
      t_request.route = "invalid";
      t_request.close = true;
      send_error(res, Error{ErrorCode::invalid, "the request path or query string is not valid UTF-8"});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!impl.host_allowed(req)) {
      t_request.route = "misdirected";
      t_request.close = true;
      harden(res);
      send_json(res, 421, error_body(Error{ErrorCode::invalid,
                                           "this server does not answer for host " +
                                               printable(req.get_header_value("Host"), 100) +
                                               "; reach it by its public URL (--public-url), an IP address or "
                                               "localhost"}));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    auto seconds = std::chrono::duration<double>(Clock::now() - t_request.started).count();
    // Route patterns only: raw paths would leak ids into logs and metric labels.
    auto route = t_request.route.empty() ? std::string("unmatched") : t_request.route;
    if (spdlog::should_log(spdlog::level::info))
      spdlog::info("http.access method={} route={} status={} ms={:.2f} request_id={} user_id={}", req.method, route,
                   res.status, seconds * 1000, res.get_header_value("x-request-id"),
                   t_request.user_id.empty() ? "-" : t_request.user_id);
    auto& m = actors::Metrics::global();
    m.add("hearth_http_requests_total", {{"route", route}, {"method", req.method}, {"status", std::to_string(res.status)}});
    m.observe("hearth_http_request_duration_seconds", {{"route", route}}, seconds);
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.content_provider_) return;  // a handler already answered
    auto code = res.status == 404   ? ErrorCode::not_found
                : res.status == 413 ? ErrorCode::too_large
                : res.status == 400 ? ErrorCode::invalid
                : res.status == 405 ? ErrorCode::method_not_allowed
                                    : ErrorCode::internal;
    auto message = res.status == 404   ? "no route for " + req.method + " " + printable(req.path)
                   : res.status == 413 ? std::string("the request body is over the server's limit")
                                       : "request failed with HTTP status " + std::to_string(res.status);
    res.set_content(error_body(Error{code, message}), "application/json");
  });
  // Must not throw: an exception escaping it ends the process. Nothing from the
  // request goes into the answer but the route pattern.
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) noexcept {
    try {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      auto route = t_request.route.empty() ? std::string("unmatched") : t_request.route;
      spdlog::error("http.exception method={} route={} error={}", printable(req.method, 16), route, printable(what));
      send_json(res, 500, error_body(Error{ErrorCode::internal, "the server failed while handling " +
                                                                    printable(req.method, 16) + " " + route + ": " +
                                                                    printable(what)}));
    } catch (...) {
      res.status = 500;
      res.body = R"({"error":{"code":"internal","message":"the server failed while handling the request"}})";
      res.set_header("Content-Type", "application/json");
    }
  });

  // Health checks normally never reach a worker (the gate answers them); these serve
  // the rest (a pipelined check, say) the same way.
  auto health = [this](const httplib::Request& req, httplib::Response& res) {
    auto a = impl_->health("GET", req.path, req.get_header_value("x-request-id"));
    t_request.route = req.path;
    for (const auto& [k, v] : a->headers)
      if (k != "x-request-id") res.set_header(k, v);
    send_json(res, a->status, a->body);
  };
  svr.Get("/healthz", health);
  svr.Get("/readyz", health);
  svr.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    t_request.route = "/metrics";
    impl_->metrics(req, res);
  });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) { impl_->dispatch(req, res); };
  auto dispatch_body = [this](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& body) { impl_->dispatch(req, res, &body); };
  svr.Get(".*", dispatch);
  svr.Post(".*", dispatch_body);
  svr.Patch(".*", dispatch_body);
  svr.Put(".*", dispatch_body);
  svr.Delete(".*", dispatch_body);
  svr.Options(".*", dispatch);
}

Server::~Server() { stop(); }

Result<int> Server::start() {
  auto& impl = *impl_;
  int port = impl.config.port == 0 ? impl.server.bind_to_any_port(impl.config.host)
                                   : (impl.server.bind_to_port(impl.config.host, impl.config.port) ? impl.config.port : -1);
  if (port < 0)
    return Error{ErrorCode::unavailable,
                 fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", impl.config.host,
                             impl.config.port)};
  // httplib listens with a backlog of 5: a burst of new connections (a thousand
  // event-stream clients reconnecting) overflows it, and the kernel drops the rest,
  // whose clients then retry after 1, 3, 7... seconds. Listening again on the bound
  // socket raises the backlog (Linux updates it in place).
  if (impl.listen_fd >= 0) ::listen(impl.listen_fd, SOMAXCONN);
  impl.server.gate = std::make_unique<ConnectionGate>(
      impl.config.gate,
      [&impl](int fd, std::string bytes) {
        impl.server.pool->enqueue([&impl, fd, b = std::move(bytes)]() mutable { impl.server.serve(fd, std::move(b)); });
      },
      [&impl](const std::string& method, const std::string& path, const std::string& head) {
        return impl.health(method, path, header_in(head, "x-request-id"));
      });
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs, so a stop() that came
  // too early would leave the thread listening forever: wait for the loop first.
  for (int i = 0; i < 5000 && !impl.server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void Server::stop() {
  if (!impl_) return;
  impl_->ready = false;
  impl_->edge.stopping = true;  // event streams end; requests in flight finish
  impl_->server.closing = true;
  if (impl_->server.gate) impl_->server.gate->stop();  // connections waiting for a head are closed
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Server::set_ready(bool ready) { impl_->ready = ready; }

const Router& Server::router() const { return impl_->router; }

std::size_t Server::reading_bodies() const { return impl_->edge.bodies_reading(); }

std::size_t Server::waiting_sends() const { return impl_->edge.waiting_sends(); }

std::size_t Server::waiting_connections() const {
  return impl_->server.gate ? impl_->server.gate->waiting() : 0;
}

}  // namespace hearth::http
