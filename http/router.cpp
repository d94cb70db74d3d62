// Route matching and the request context's helpers: see router.h.
#include "http/router.h"

#include <httplib.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

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

std::string own_url(const Context& ctx) {
  auto base = ctx.edge.config.public_url;
  if (base.empty())
    base = (ctx.req.get_header_value("X-Forwarded-Proto") == "https" ? "https://" : "http://") +
           ctx.req.get_header_value("Host");
  while (base.ends_with('/')) base.pop_back();
  return base;
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

bool Context::wait() const { return query("wait", "true") != "false"; }

}  // namespace hearth::http
