// Route matching, request context helpers, body validation and the sign-in rate
// limiter: see router.h.
#include "http/router.h"

#include <httplib.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>


#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "actors/user/user_actor.h"
#include "http/peer.h"
#include "storage/database.h"

namespace hearth::http {

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::unset: return "unset";
    case Policy::anyone: return "anyone";
    case Policy::signed_in: return "signed_in";
    case Policy::org_member: return "org_member";
    case Policy::org_admin: return "org_admin";
    case Policy::org_owner: return "org_owner";
    case Policy::server_admin: return "server_admin";
  }
  return "unset";
}

namespace {

// The non-empty '/'-separated segments of `path` (views into it).
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(Route route) {
  std::vector<std::string> segments;
  for (auto part : split_path(route.pattern)) segments.emplace_back(part);
  segments_.push_back(std::move(segments));
  routes_.push_back(std::move(route));
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
  Match m;
  auto got = split_path(path);
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    const auto& want = segments_[r];
    if (want.size() != got.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < want.size() && same; ++i) same = is_param(want[i]) || want[i] == got[i];
    if (!same) continue;
    const auto& route = routes_[r];
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      m.route = &route;
      m.allowed.clear();
      for (std::size_t i = 0; i < want.size(); ++i)
        if (is_param(want[i])) m.params[want[i].substr(1, want[i].size() - 2)] = std::string(got[i]);
      return m;
    }
    m.allowed.push_back(route.method);
  }
  return m;
}

std::string Context::query(const std::string& name, const std::string& fallback) const {
  return req.has_param(name.c_str()) ? req.get_param_value(name.c_str()) : fallback;
}

Result<std::int64_t> Context::int_query(const std::string& name, std::int64_t fallback, std::int64_t min,
                                        std::int64_t max) const {
  if (!req.has_param(name.c_str())) return fallback;
  auto text = req.get_param_value(name.c_str());
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    return Error{ErrorCode::invalid,
                 fmt::format("query parameter \"{}\" must be an integer from {} to {}", name, min, max)};
  return value;
}

namespace {

// "::ffff:192.0.2.1" is 192.0.2.1.
std::string plain_address(std::string a) {
  if (a.rfind("::ffff:", 0) == 0 && a.find('.') != std::string::npos) a = a.substr(7);
  return a;
}

}  // namespace

std::string Context::client_address() const {
  const auto& proxies = edge.config.trusted_proxies;
  auto trusted = [&](const std::string& a) {
    return std::find_if(proxies.begin(), proxies.end(),
                        [&](const std::string& p) { return plain_address(p) == plain_address(a); }) != proxies.end();
  };
  auto peer = plain_address(req.remote_addr);
  if (!trusted(peer) || edge.from_sandbox(req)) return peer;
  // X-Forwarded-For: client, proxy1, proxy2 ... (every such header line, in order): the
  // last hop that is not ours.
  std::string header;
  for (std::size_t i = 0, n = req.get_header_value_count("X-Forwarded-For"); i < n; ++i)
    header += (header.empty() ? "" : ",") + req.get_header_value("X-Forwarded-For", i);
  std::string found = peer;
  std::size_t end = header.size();
  while (end > 0) {
    auto comma = header.rfind(',', end - 1);
    auto start = comma == std::string::npos ? 0 : comma + 1;
    auto hop = header.substr(start, end - start);
    hop.erase(0, hop.find_first_not_of(' '));
    hop.erase(hop.find_last_not_of(' ') + 1);
    if (hop.empty()) break;
    found = plain_address(hop);
    if (!trusted(found)) break;
    if (comma == std::string::npos) break;
    end = comma;
  }
  return found.substr(0, 64);
}

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

bool Context::wait() const { return query("wait", "true") != "false"; }

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

Result<std::string> string_field(const Json& body, const char* name, bool required) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) {
    if (!required) return std::string();
    return Error{ErrorCode::invalid, fmt::format("field \"{}\" is required", name)};
  }
  if (!body[name].is_string()) return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be a string", name)};
  return body[name].get<std::string>();
}

Result<std::optional<std::int64_t>> int_field(const Json& body, const char* name, std::int64_t min, std::int64_t max) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) return std::optional<std::int64_t>{};
  const auto& v = body[name];
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) ||
      v.get<std::int64_t>() < min || v.get<std::int64_t>() > max)
    return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be an integer from {} to {}", name, min, max)};
  return std::optional<std::int64_t>{v.get<std::int64_t>()};
}

Result<std::optional<bool>> bool_field(const Json& body, const char* name) {
  if (!body.is_object() || !body.contains(name) || body[name].is_null()) return std::optional<bool>{};
  if (!body[name].is_boolean()) return Error{ErrorCode::invalid, fmt::format("field \"{}\" must be true or false", name)};
  return std::optional<bool>{body[name].get<bool>()};
}

std::size_t json_depth(std::string_view text) {
  std::size_t depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') max = std::max(max, ++depth);
    else if ((c == '}' || c == ']') && depth > 0) --depth;
  }
  return max;
}

}  // namespace hearth::http
