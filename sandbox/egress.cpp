// The egress proxy and the relay inside sandboxes: see egress.h.
#include "sandbox/egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <list>
#include <system_error>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "storage/base_url.h"
#include "storage/text.h"

namespace hearth::sandbox::egress {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxHead = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
}

bool ip_literal(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

// --- Allowlists -------------------------------------------------------------------

namespace {

// Whether `name` is a host name (letters, digits, '-' and '_' between dots, at most 253
// bytes) or an IP literal: what a CONNECT, a URL or a pattern may name.
bool valid_host(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (ip_literal(std::string(name))) return true;
  for (std::size_t start = 0;;) {
    auto dot = name.find('.', start);
    if (!valid_label(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// The pattern's host part and port (0: none given).
std::pair<std::string_view, int> pattern_port(std::string_view pattern) {
  auto colon = pattern.rfind(':');
  if (colon == std::string_view::npos || pattern.find(':') != colon) return {pattern, 0};  // none, or IPv6
  auto digits = pattern.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return {pattern, -1};
  return {pattern.substr(0, colon), std::stoi(std::string(digits))};
}

}  // namespace

Result<std::string> normalize_pattern(std::string_view pattern) {
  auto p = lower(trim(pattern));
  auto bad = [&](std::string_view why) {
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not a host pattern: {}; give a name (registry.npmjs.org) "
                                                 "or *. and a domain (*.githubusercontent.com), with :PORT for a port "
                                                 "other than 80 and 443",
                                                 printable(pattern, 100), why)};
  };
  auto [host_part, port] = pattern_port(p);
  if (port < 0 || port > 65535 || (port == 0 && p.find(':') != std::string::npos && !ip_literal(p)))
    return bad("the port must be a number from 1 to 65535");
  std::string name(host_part);
  while (!name.empty() && name.back() == '.') name.pop_back();
  bool wildcard = name.starts_with("*.");
  std::string_view rest = name;
  if (wildcard) rest.remove_prefix(2);
  if (rest.empty() || rest.size() > 253) return bad("it is empty or too long");
  if (rest.find('*') != std::string_view::npos) return bad("a * may only begin it, as *.");
  if (!valid_host(rest) || (wildcard && ip_literal(std::string(rest))))
    return bad("names are letters, digits, '-' and '_' between dots");
  if (wildcard && rest.find('.') == std::string_view::npos) return bad("*. must be followed by a domain with a dot");
  return port > 0 ? fmt::format("{}:{}", name, port) : name;
}

bool matches(std::string_view pattern, std::string_view host, int port) {
  auto [name, pattern_port_number] = pattern_port(pattern);
  if (pattern_port_number > 0 ? port != pattern_port_number : (port != 80 && port != 443)) return false;
  if (name.starts_with("*.")) {
    auto suffix = name.substr(1);  // ".example.com"
    return host.size() > suffix.size() && iequals(host.substr(host.size() - suffix.size()), suffix);
  }
  return iequals(name, host);
}

bool allowed(const std::vector<std::string>& patterns, std::string_view host, int port) {
  std::string h(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return matches(p, h, port); });
}

// --- Addresses --------------------------------------------------------------------

Result<Cidr> Cidr::parse(std::string_view text) {
  Cidr c;
  std::string t(trim(text));
  auto slash = t.find('/');
  std::string addr = t.substr(0, slash);
  if (::inet_pton(AF_INET, addr.c_str(), c.bytes) == 1) {
    c.family = AF_INET;
    c.bits = 32;
  } else if (::inet_pton(AF_INET6, addr.c_str(), c.bytes) == 1) {
    c.family = AF_INET6;
    c.bits = 128;
  } else {
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not an IP address or range (10.0.0.0/8, ::1)", printable(t, 100))};
  }
  if (slash != std::string::npos) {
    auto len = t.substr(slash + 1);
    int bits = -1;
    if (!len.empty() && len.size() <= 3 && std::all_of(len.begin(), len.end(), ::isdigit)) bits = std::stoi(len);
    if (bits < 0 || bits > c.bits)
      return Error{ErrorCode::invalid, fmt::format("\"{}\": the prefix length must be 0 to {}", printable(t, 100), c.bits)};
    c.bits = bits;
  }
  return c;
}

namespace {

// The address's bytes and family; an IPv4-mapped IPv6 address as IPv4.
std::pair<int, std::vector<unsigned char>> address_bytes(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(a);
    auto* b = reinterpret_cast<const unsigned char*>(&in->sin_addr);
    return {AF_INET, {b, b + 4}};
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
  auto* b = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return {AF_INET, {b + 12, b + 16}};
  return {AF_INET6, {b, b + 16}};
}

bool prefix_match(const unsigned char* a, const unsigned char* b, int bits) {
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

struct Range {
  const char* cidr;
  const char* why;
};
// What no sandbox reaches unless a server admin allows it.
constexpr Range kRefusedRanges[] = {
    {"127.0.0.0/8", "loopback"},
    {"::1/128", "loopback"},
    {"169.254.0.0/16", "link-local (cloud metadata)"},
    {"fe80::/10", "link-local (cloud metadata)"},
    {"10.0.0.0/8", "a private network"},
    {"172.16.0.0/12", "a private network"},
    {"192.168.0.0/16", "a private network"},
    {"100.64.0.0/10", "a private network"},
    {"fc00::/7", "a private network"},
    {"0.0.0.0/8", "reserved"},
    {"192.0.0.0/24", "reserved"},
    {"198.18.0.0/15", "reserved"},
    {"224.0.0.0/3", "reserved"},
    {"::/128", "reserved"},
    {"ff00::/8", "reserved"},
    {"64:ff9b::/96", "reserved"},
    {"64:ff9b:1::/48", "reserved"},
    {"2001:db8::/32", "reserved"},
    {"2002::/16", "reserved"},
    {"::/96", "reserved"},
    {"fec0::/10", "reserved"},
    {"192.0.2.0/24", "reserved"},
    {"198.51.100.0/24", "reserved"},
    {"203.0.113.0/24", "reserved"},
};

const std::vector<std::pair<Cidr, const char*>>& refused_ranges() {
  static const auto ranges = [] {
    std::vector<std::pair<Cidr, const char*>> out;
    for (const auto& r : kRefusedRanges) out.emplace_back(Cidr::parse(r.cidr).value(), r.why);
    return out;
  }();
  return ranges;
}

}  // namespace

bool Cidr::contains(const sockaddr* address) const {
  auto [fam, bytes] = address_bytes(address);
  return fam == family && prefix_match(bytes.data(), this->bytes, bits);
}

std::string refused_reason(const sockaddr* address, const std::vector<Cidr>& allowed, const std::vector<Cidr>& own) {
  for (const auto& c : allowed)
    if (c.contains(address)) return {};
  for (const auto& [c, why] : refused_ranges())
    if (c.contains(address)) return why;
  for (const auto& c : own)
    if (c.contains(address)) return "this server's own address";
  return {};
}

std::vector<Cidr> own_addresses() {
  std::vector<Cidr> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    spdlog::error("egress.interfaces_unreadable error=\"{}\": this server's own addresses are not known to the "
                  "address rules now", std::strerror(errno));
    return out;
  }
  for (auto* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
    auto [fam, bytes] = address_bytes(i->ifa_addr);
    Cidr c;
    c.family = fam;
    std::copy(bytes.begin(), bytes.end(), c.bytes);
    c.bits = fam == AF_INET ? 32 : 128;
    out.push_back(c);
  }
  ::freeifaddrs(list);
  return out;
}

std::string to_string(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  auto [fam, bytes] = address_bytes(address);
  ::inet_ntop(fam, bytes.data(), text, sizeof text);
  return text;
}

// --- Model APIs -------------------------------------------------------------------

const std::vector<Vendor>& vendors() {
  static const std::vector<Vendor> v{
      {"anthropic", {"ANTHROPIC_API_KEY"}, "ANTHROPIC_BASE_URL", "https://api.anthropic.com", "x-api-key"},
      {"openai", {"OPENAI_API_KEY", "CODEX_API_KEY"}, "OPENAI_BASE_URL", "https://api.openai.com/v1", "authorization"},
      {"gemini", {"GEMINI_API_KEY", "GOOGLE_API_KEY"}, "GOOGLE_GEMINI_BASE_URL",
       "https://generativelanguage.googleapis.com", "x-goog-api-key"},
      {"openrouter", {"OPENROUTER_API_KEY"}, "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1", "authorization"},
  };
  return v;
}

const Vendor* find_vendor(std::string_view name) {
  for (const auto& v : vendors())
    if (v.name == name) return &v;
  return nullptr;
}

std::vector<std::string> default_hosts() {
  std::vector<std::string> out;
  for (const auto& v : vendors()) {
    auto url = BaseUrl::parse(v.default_base).value();
    out.push_back(url.origin.substr(url.origin.find("://") + 3));
  }
  return out;
}

std::string refusal_text(const std::string& host, const std::string& why) {
  if (why == kNotOnAllowlist)
    return fmt::format("Hearth's egress proxy refused a connection to {}: {}. An admin of the organization can allow "
                       "it (hearth network allow ORG {}).", host, why, host);
  return fmt::format("Hearth's egress proxy refused a connection to {}: {}. The organization's allowlist cannot allow "
                     "such an address; a server admin can (--egress-allow-address).", host, why);
}

std::string endpoint_inside(const Vendor& vendor) {
  return fmt::format("http://127.0.0.1:{}/v/{}", kRelayPort, vendor.name);
}

std::map<std::string, std::string> proxied_secrets(const std::map<std::string, std::string>& secrets) {
  auto out = secrets;
  for (const auto& v : vendors()) {
    bool has_key = false;
    for (const auto& k : v.keys)
      if (auto it = out.find(k); it != out.end()) {
        it->second = kPlaceholderKey;
        has_key = true;
      }
    if (has_key) out[v.base_setting] = endpoint_inside(v);
    else out.erase(v.base_setting);  // a base URL without a key: nothing to reach it with
  }
  return out;
}

std::vector<std::string> proxy_env() {
  auto url = fmt::format("http://127.0.0.1:{}", kRelayPort);
  std::vector<std::string> out;
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"})
    out.push_back(std::string(name) + "=" + url);
  out.push_back("NO_PROXY=127.0.0.1,localhost");
  out.push_back("no_proxy=127.0.0.1,localhost");
  return out;
}

// --- HTTP request heads -----------------------------------------------------------

std::string RequestHead::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

Result<RequestHead> parse_request_head(std::string_view head) {
  auto bad = [](std::string_view why) { return Error{ErrorCode::invalid, fmt::format("malformed request: {}", why)}; };
  RequestHead h;
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at <= head.size();) {
    auto nl = head.find('\n', at);
    auto line = head.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  if (lines.empty() || lines[0].empty()) return bad("no request line");
  auto first = lines[0];
  auto sp1 = first.find(' '), sp2 = first.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return bad("the request line is not METHOD TARGET VERSION");
  h.method = first.substr(0, sp1);
  h.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  h.version = first.substr(sp2 + 1);
  if (h.method.empty() || !std::all_of(h.method.begin(), h.method.end(), token_char)) return bad("bad method");
  if (h.target.empty() || !std::all_of(h.target.begin(), h.target.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
      }))
    return bad("the target must be printable ASCII");
  if (h.version != "HTTP/1.1" && h.version != "HTTP/1.0") return bad("only HTTP/1.1 and HTTP/1.0 are spoken");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto line = lines[i];
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return bad("a header line without a name");
    auto name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), token_char)) return bad("a header name with a space or control character");
    auto value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) { return c == '\0' || c == '\r'; }))
      return bad("a header value with a control character");
    h.headers.emplace_back(std::string(name), std::string(value));
  }
  return h;
}

Result<std::pair<std::string, int>> split_authority(std::string_view authority, int default_port) {
  auto bad = [&] {
    return Error{ErrorCode::invalid, fmt::format("\"{}\" is not host:port", printable(authority, 200))};
  };
  std::string host;
  std::string_view rest;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad();
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  int port = default_port;
  if (!rest.empty()) {
    if (rest[0] != ':' || rest.size() < 2 || rest.size() > 6) return bad();
    auto digits = rest.substr(1);
    if (!std::all_of(digits.begin(), digits.end(), ::isdigit)) return bad();
    port = std::stoi(std::string(digits));
  }
  if (port <= 0 || port > 65535) return bad();
  host = lower(host);
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (!valid_host(host)) return bad();  // names and IP literals only: no NUL, space, '@', '/', …
  return std::pair{host, port};
}

// --- Streams ----------------------------------------------------------------------

namespace {

// A connection's one end: a non-blocking socket, with TLS over it or not.
struct Stream {
  int fd = -1;
  SSL* ssl = nullptr;
  std::chrono::milliseconds timeout{10'000};  // for a write to make progress

  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { reset(); }
  void reset() {
    if (ssl) SSL_free(ssl);
    ssl = nullptr;
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  bool pending() const { return ssl && SSL_pending(ssl) > 0; }

  // > 0: bytes; 0: the end; -1: nothing now; -2: failed.
  long read(char* buf, std::size_t n) {
    if (ssl) {
      int r = SSL_read(ssl, buf, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
      if (r > 0) return r;
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return -1;
      if (e == SSL_ERROR_ZERO_RETURN) return 0;
      ERR_clear_error();
      return (e == SSL_ERROR_SYSCALL && r == 0) ? 0 : -2;  // closed without close_notify: the end
    }
    auto r = ::recv(fd, buf, n, 0);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
    return -2;
  }

  bool wait(short events, Clock::time_point until) const {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000)));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  }

  bool write_all(std::string_view data) {
    while (!data.empty()) {
      auto until = Clock::now() + timeout;
      if (ssl) {
        int w = SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
        if (w > 0) {
          data.remove_prefix(static_cast<std::size_t>(w));
          continue;
        }
        int e = SSL_get_error(ssl, w);
        if (e == SSL_ERROR_WANT_WRITE ? !wait(POLLOUT, until) : e == SSL_ERROR_WANT_READ ? !wait(POLLIN, until) : true) {
          ERR_clear_error();
          return false;
        }
        continue;
      }
      auto w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (w > 0) {
        data.remove_prefix(static_cast<std::size_t>(w));
        continue;
      }
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait(POLLOUT, until)) return false;
    }
    return true;
  }
};

// Moves what `from` has now to `to`; false at the end of `from` or on an error.
bool copy_some(int from, int to) {
  static thread_local std::vector<char> buf(256 * 1024);
  auto n = ::recv(from, buf.data(), buf.size(), 0);
  if (n < 0 && errno == EINTR) return true;
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    auto w = ::send(to, buf.data() + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

// Copies both ways between two blocking sockets until both ends are done.
void copy_both_ways(int a, int b) {
  bool a_open = true, b_open = true;
  while (a_open || b_open) {
    pollfd p[2] = {{a_open ? a : -1, POLLIN, 0}, {b_open ? b : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && !copy_some(a, b)) {
      a_open = false;
      ::shutdown(b, SHUT_WR);
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR) && !copy_some(b, a)) {
      b_open = false;
      ::shutdown(a, SHUT_WR);
    }
  }
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    ::close(fd);
    return -1;
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether a model API path (after /v/<vendor>) stays under the vendor's base: no "."
// or ".." segment, no empty segment, no backslash, nothing of those percent-encoded.
bool clean_path(std::string_view path) {
  auto query = path.find('?');
  auto p = lower(path.substr(0, query));
  if (p.find('\\') != std::string::npos || p.find("%2e") != std::string::npos || p.find("%2f") != std::string::npos ||
      p.find("%5c") != std::string::npos || p.find("%00") != std::string::npos)
    return false;
  if (p.empty()) return true;
  if (p[0] != '/') return false;
  for (std::size_t at = 1; at <= p.size();) {
    auto slash = p.find('/', at);
    auto segment = std::string_view(p).substr(at, slash == std::string::npos ? std::string::npos : slash - at);
    bool last = slash == std::string::npos;
    if (segment == "." || segment == ".." || (segment.empty() && !last)) return false;
    if (last) break;
    at = slash + 1;
  }
  return true;
}

// Rewrites a response head (with its blank line) so that the connection closes after it.
std::string closing_head(std::string_view head) {
  std::string out;
  std::size_t at = 0;
  bool first = true;
  while (at < head.size()) {
    auto nl = head.find("\r\n", at);
    if (nl == std::string_view::npos) nl = head.size();
    auto line = head.substr(at, nl - at);
    at = nl + 2;
    if (line.empty()) break;
    if (!first) {
      auto colon = line.find(':');
      auto name = trim(line.substr(0, colon));
      if (iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection")) continue;
    }
    first = false;
    out.append(line).append("\r\n");
  }
  out += "Connection: close\r\n\r\n";
  return out;
}

}  // namespace

// --- The proxy --------------------------------------------------------------------

struct Proxy::Impl {
  struct Listener {
    std::string key, group;
    std::filesystem::path path;
    int fd = -1;
    Hooks hooks;
    std::atomic<std::size_t> open{0};  // its connections now
  };
  struct Conn {
    std::mutex mu;
    std::vector<int> fds;  // open sockets, shut down by stop()
    void add(int fd) {
      std::lock_guard lock(mu);
      fds.push_back(fd);
    }
    void remove(int fd) {
      std::lock_guard lock(mu);
      std::erase(fds, fd);
    }
  };
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
    Conn conn;
  };

  Config config;
  SSL_CTX* tls = nullptr;

  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Listener>> listeners;
  std::vector<int> closing;  // listener descriptors the loop closes
  std::list<std::unique_ptr<Worker>> workers;
  std::map<std::string, Counts> counts;
  std::atomic<std::size_t> open{0};
  bool stopping = false;
  int wake = -1;
  std::thread loop;

  explicit Impl(Config c) : config(std::move(c)) {
    wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    tls = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(tls);
    if (!config.ca_file.empty() && SSL_CTX_load_verify_locations(tls, config.ca_file.c_str(), nullptr) != 1)
      spdlog::error("egress.ca_file_unreadable path={}", config.ca_file.string());
    SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Many TLS records per read(2): a streamed answer costs fewer system calls.
    SSL_CTX_set_read_ahead(tls, 1);
    SSL_CTX_set_default_read_buffer_len(tls, 256 * 1024);
    loop = std::thread([this] { accept_loop(); });
  }

  void poke() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(wake, &one, sizeof one);
  }

  void count(const std::string& group, bool ok) {
    std::lock_guard lock(mu);
    auto& c = counts[group];
    (ok ? c.allowed : c.refused)++;
  }

  void accept_loop() {
    for (;;) {
      std::vector<pollfd> fds{{wake, POLLIN, 0}};
      std::vector<std::shared_ptr<Listener>> ls;
      {
        std::lock_guard lock(mu);
        for (int fd : closing) ::close(fd);
        closing.clear();
        if (stopping) return;
        for (auto& [k, l] : listeners) {
          fds.push_back({l->fd, POLLIN, 0});
          ls.push_back(l);
        }
        // Threads of connections that ended.
        for (auto it = workers.begin(); it != workers.end();)
          if ((*it)->done) {
            (*it)->thread.join();
            it = workers.erase(it);
          } else {
            ++it;
          }
      }
      if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) {
        spdlog::error("egress.poll_failed error=\"{}\"", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // not a spin: the next round starts afresh
        continue;
      }
      if (fds[0].revents) {
        std::uint64_t n;
        [[maybe_unused]] auto r = ::read(wake, &n, sizeof n);
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        int c = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) continue;
        std::lock_guard lock(mu);
        auto l = ls[i - 1];
        if (stopping || open >= config.max_connections || l->open >= config.max_per_sandbox) {
          spdlog::info("egress.connection_refused sandbox={} open={} sandbox_open={} reason=limit", l->key, open.load(),
                       l->open.load());
          auto busy = text_reply(503, "Service Unavailable",
                                 fmt::format("Hearth's egress proxy has {} connections of this sandbox open, its limit; "
                                             "retry when some have ended", l->open.load()));
          [[maybe_unused]] auto w = ::send(c, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          ::close(c);
          continue;
        }
        auto w = std::make_unique<Worker>();
        auto* raw = w.get();
        raw->conn.add(c);
        ++open;
        ++l->open;
        try {
          raw->thread = std::thread([this, raw, c, l] {
            try {
              serve(raw->conn, c, *l);
            } catch (const std::exception& e) {  // one connection's failure, never the server's
              spdlog::error("egress.connection_failed sandbox={} error=\"{}\"", l->key, e.what());
            }
            raw->conn.remove(c);
            ::close(c);
            --open;
            --l->open;
            raw->done = true;
            poke();
          });
        } catch (const std::system_error& e) {  // no thread to be had: this connection is refused
          spdlog::error("egress.thread_failed sandbox={} error=\"{}\"", l->key, e.what());
          --open;
          --l->open;
          ::close(c);
          continue;
        }
        workers.push_back(std::move(w));
      }
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
      for (auto& [k, l] : listeners) {
        closing.push_back(l->fd);
        std::error_code ec;
        std::filesystem::remove(l->path, ec);
      }
      listeners.clear();
      for (auto& w : workers) {
        std::lock_guard c(w->conn.mu);
        for (int fd : w->conn.fds) ::shutdown(fd, SHUT_RDWR);
      }
    }
    poke();
    if (loop.joinable()) loop.join();
    std::list<std::unique_ptr<Worker>> left;
    {
      std::lock_guard lock(mu);
      left.swap(workers);
    }
    for (auto& w : left) w->thread.join();
    {
      std::lock_guard lock(mu);
      for (int fd : closing) ::close(fd);
      closing.clear();
    }
  }

  ~Impl() {
    stop();
    if (wake >= 0) ::close(wake);
    SSL_CTX_free(tls);
  }

  // --- One connection ---

  static std::string reply(int status, std::string_view reason, std::string_view content_type, std::string_view body) {
    return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
                       "X-Hearth-Egress: {}\r\n\r\n{}",
                       status, reason, content_type, body.size(), status == 403 ? "refused" : "error", body);
  }
  static std::string text_reply(int status, std::string_view reason, const std::string& message) {
    return reply(status, reason, "text/plain; charset=utf-8", message + "\n");
  }
  static std::string json_reply(int status, std::string_view reason, std::string_view code, const std::string& message) {
    return reply(status, reason, "application/json",
                 json_text(nlohmann::json{{"error", {{"code", code}, {"message", message}}}}));
  }

  // Resolves `host` and connects to one of its addresses the rules allow. Fails forbidden
  // (saying why) when the rules allow none, unavailable when none answers.
  Result<int> connect_to(Conn& conn, const std::string& host, int port) {
    std::string why;
    std::vector<sockaddr_storage> addresses;
    sockaddr_storage literal{};
    auto* in4 = reinterpret_cast<sockaddr_in*>(&literal);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&literal);
    if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
      in4->sin_port = htons(static_cast<std::uint16_t>(port));
      addresses.push_back(literal);
    } else if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<std::uint16_t>(port));
      addresses.push_back(literal);
    } else if (config.resolve) {
      auto r = config.resolve(host, port);
      if (!r) return r.error();
      addresses = std::move(*r);
    } else {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* list = nullptr;
      int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
      if (rc != 0) return Error{ErrorCode::unavailable, fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc))};
      for (auto* a = list; a; a = a->ai_next) {
        sockaddr_storage s{};
        std::memcpy(&s, a->ai_addr, a->ai_addrlen);
        addresses.push_back(s);
      }
      ::freeaddrinfo(list);
    }
    std::string last = "no address";
    for (const auto& s : addresses) {
      auto* a = reinterpret_cast<const sockaddr*>(&s);
      if (auto r = refused_reason(a, config.allowed_addresses, own_addresses()); !r.empty()) {
        if (why.empty()) why = fmt::format("{} resolves to {}, {}", host, to_string(a), r);
        continue;
      }
      int fd = ::socket(a->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      conn.add(fd);
      int rc = ::connect(fd, a, a->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
      if (rc != 0 && errno == EINPROGRESS) {
        Stream probe;
        probe.fd = fd;
        bool ready = probe.wait(POLLOUT, Clock::now() + config.connect_timeout);
        probe.fd = -1;
        int err = 0;
        socklen_t len = sizeof err;
        if (ready) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = ready && err == 0 ? 0 : -1;
        if (!ready) errno = ETIMEDOUT;
        else if (err) errno = err;
      }
      if (rc == 0) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
      }
      last = std::strerror(errno);
      conn.remove(fd);
      ::close(fd);
    }
    if (!why.empty() && last == "no address") return Error{ErrorCode::forbidden, why};
    return Error{ErrorCode::unavailable, fmt::format("cannot connect to {}:{}: {}", host, port, last)};
  }

  Status start_tls(Stream& s, const std::string& host) {
    s.ssl = SSL_new(tls);
    SSL_set_fd(s.ssl, s.fd);
    if (ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.ssl), host.c_str());
    } else {
      SSL_set_tlsext_host_name(s.ssl, host.c_str());
      SSL_set1_host(s.ssl, host.c_str());
    }
    auto until = Clock::now() + config.connect_timeout;
    for (;;) {
      int r = SSL_connect(s.ssl);
      if (r == 1) return {};
      int e = SSL_get_error(s.ssl, r);
      bool waited = e == SSL_ERROR_WANT_READ ? s.wait(POLLIN, until) : e == SSL_ERROR_WANT_WRITE && s.wait(POLLOUT, until);
      if (waited) continue;
      auto verify = SSL_get_verify_result(s.ssl);
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "the TLS handshake failed";
      ERR_clear_error();
      return Error{ErrorCode::unavailable, fmt::format("TLS with {}: {}", host, why)};
    }
  }

  // Copies both ways until the upstream ends (or nothing moves for the idle timeout).
  // A response head is rewritten to close the connection after it when `close_after`;
  // the client's end of input ends a request (`tunnel`: only its direction).
  void pipe(Stream& client, Stream& upstream, bool close_after, bool tunnel) {
    bool client_open = true, head_done = !close_after;
    std::string head;
    char buf[256 * 1024];
    for (;;) {
      pollfd p[2] = {{client_open ? client.fd : -1, POLLIN, 0}, {upstream.fd, POLLIN, 0}};
      int n = upstream.pending() ? 1 : ::poll(p, 2, static_cast<int>(config.idle_timeout.count()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // idle (or poll failed)
      if (upstream.pending()) p[1].revents |= POLLIN;
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        auto r = client.read(buf, sizeof buf);
        if (r > 0) {
          if (!upstream.write_all({buf, static_cast<std::size_t>(r)})) return;
        } else if (r == 0) {
          if (!tunnel) return;  // a request's client went away
          client_open = false;
          if (!upstream.ssl) ::shutdown(upstream.fd, SHUT_WR);
        } else if (r == -2) {
          return;
        }
      }
      if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        // All that is readable now (TLS records decrypted one after another), passed on
        // in one write: fewer wake-ups down the line than a write per record.
        std::size_t got = 0;
        bool ended = false;
        while (got < sizeof buf) {
          auto r = upstream.read(buf + got, sizeof buf - got);
          if (r == 0 || r == -2) {
            ended = true;
            break;
          }
          if (r < 0) break;
          got += static_cast<std::size_t>(r);
        }
        if (got > 0 && !deliver(client, {buf, got}, head, head_done)) return;
        if (ended) {
          if (!head_done && !head.empty()) client.write_all(head);
          return;
        }
      }
    }
  }

  // Passes `data` from upstream to the client; until the response's head has passed
  // (`head_done`), gathers it in `head` and sends it rewritten to close the connection
  // after the response (informational 1xx heads as they are).
  static bool deliver(Stream& client, std::string_view data, std::string& head, bool& head_done) {
    if (head_done) return client.write_all(data);
    head.append(data);
    for (;;) {
      auto end = head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head.size() <= kMaxHead) return true;
        head_done = true;  // not HTTP as expected: passed on as it is
        return client.write_all(head);
      }
      bool informational = head.size() > 9 && head.compare(0, 5, "HTTP/") == 0 && head[9] == '1';
      auto rest = head.substr(end + 4);
      if (!client.write_all(informational ? head.substr(0, end + 4) : closing_head(head.substr(0, end + 4)))) return false;
      head = std::move(rest);
      if (informational) continue;
      head_done = true;
      bool ok = head.empty() || client.write_all(head);
      head.clear();
      return ok;
    }
  }

  Result<std::vector<std::string>> patterns(const Listener& l) {
    std::vector<std::string> out;
    if (l.hooks.allowlist) {
      auto org = l.hooks.allowlist();
      if (!org) return org.error();
      out = std::move(*org);
    }
    return out;
  }

  // A refusal of a connection to `host`: counted, logged, told to the hooks.
  void refused(const Listener& l, const std::string& host, const std::string& why) {
    count(l.group, false);
    spdlog::info("egress.refused sandbox={} host={} why=\"{}\"", l.key, host, why);
    if (l.hooks.refused) l.hooks.refused(host, why);
  }

  // Refuses a connection to `host` and answers 403 with what a person can do about it.
  void refuse(Stream& client, const Listener& l, const std::string& host, const std::string& why) {
    refused(l, host, why);
    client.write_all(text_reply(403, "Forbidden", refusal_text(host, why)));
  }

  // Opens the way to host:port for a sandbox's request, or answers why not.
  bool open_to(Conn& conn, Stream& client, Stream& upstream, const Listener& l, const std::string& host, int port) {
    auto list = patterns(l);
    if (!list) {
      client.write_all(text_reply(503, "Service Unavailable", "Hearth's egress proxy cannot read the organization's "
                                                              "allowlist: " + list.error().message));
      return false;
    }
    auto shown = port == 80 || port == 443 ? host : fmt::format("{}:{}", host, port);
    if (!allowed(*list, host, port)) {
      refuse(client, l, shown, kNotOnAllowlist);
      return false;
    }
    auto fd = connect_to(conn, host, port);
    if (!fd) {
      if (fd.error().code == ErrorCode::forbidden) refuse(client, l, shown, fd.error().message);
      else client.write_all(text_reply(502, "Bad Gateway", fd.error().message));
      return false;
    }
    count(l.group, true);
    upstream.fd = *fd;
    upstream.timeout = config.idle_timeout;
    return true;
  }

  void serve(Conn& conn, int fd, const Listener& l) {
    Stream client;
    client.fd = ::dup(fd);  // the caller closes fd
    client.timeout = config.idle_timeout;
    conn.add(client.fd);
    struct Unregister {
      Conn& c;
      Stream& s;
      ~Unregister() { c.remove(s.fd); }
    } unregister{conn, client};
    // The head, within the head timeout.
    std::string buf;
    char chunk[8192];
    auto until = Clock::now() + config.head_timeout;
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHead) {
        client.write_all(text_reply(431, "Request Header Fields Too Large", "the request's head is over 64 KiB"));
        return;
      }
      if (!client.wait(POLLIN, until)) {
        if (!buf.empty()) client.write_all(text_reply(408, "Request Timeout", "the request's head did not arrive in time"));
        return;
      }
      auto r = client.read(chunk, sizeof chunk);
      if (r == 0 || r == -2) return;
      if (r > 0) buf.append(chunk, static_cast<std::size_t>(r));
    }
    if (end > kMaxHead) {  // all of it arrived at once
      client.write_all(text_reply(431, "Request Header Fields Too Large", "the request's head is over 64 KiB"));
      return;
    }
    auto head = parse_request_head(std::string_view(buf).substr(0, end));
    if (!head) {
      client.write_all(text_reply(400, "Bad Request", head.error().message));
      return;
    }
    auto rest = buf.substr(end + 4);
    Stream upstream;
    struct UnregisterUp {
      Conn& c;
      Stream& s;
      ~UnregisterUp() {
        if (s.fd >= 0) c.remove(s.fd);
      }
    } unregister_up{conn, upstream};

    if (head->method == "CONNECT") {
      auto to = split_authority(head->target, 443);
      if (!to) {
        client.write_all(text_reply(400, "Bad Request", to.error().message));
        return;
      }
      if (!open_to(conn, client, upstream, l, to->first, to->second)) return;
      if (!client.write_all("HTTP/1.1 200 Connection established\r\n\r\n")) return;
      if (!rest.empty() && !upstream.write_all(rest)) return;
      pipe(client, upstream, false, true);
      return;
    }
    std::string path = head->target;
    if (head->target.starts_with("http://")) {
      auto slash = head->target.find('/', 7);
      auto authority = head->target.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
      path = slash == std::string::npos ? "/" : head->target.substr(slash);
      auto to = split_authority(authority, 80);
      if (!to) {
        client.write_all(text_reply(400, "Bad Request", to.error().message));
        return;
      }
      bool local = (to->first == "127.0.0.1" || to->first == "localhost") && to->second == kRelayPort;
      if (!local) {
        forward(conn, client, upstream, l, *head, to->first, to->second, path, rest);
        return;
      }
    } else if (!head->target.starts_with("/")) {
      client.write_all(text_reply(400, "Bad Request", "Hearth's egress proxy takes CONNECT host:port, http:// URLs, and "
                                                      "its model API endpoints under /v/"));
      return;
    }
    inject(conn, client, upstream, l, *head, path, rest);
  }

  // A plain HTTP request for another host, forwarded.
  void forward(Conn& conn, Stream& client, Stream& upstream, const Listener& l, const RequestHead& head,
               const std::string& host, int port, const std::string& path, const std::string& rest) {
    if (!open_to(conn, client, upstream, l, host, port)) return;
    std::string out = head.method + " " + path + " HTTP/1.1\r\n";
    out += fmt::format("Host: {}\r\n", port == 80 ? host : fmt::format("{}:{}", host, port));  // the URL's host (lowercased)
    for (const auto& [k, v] : head.headers)
      if (!iequals(k, "host") && !iequals(k, "connection") && !iequals(k, "keep-alive") &&
          !iequals(k, "proxy-connection") && !iequals(k, "proxy-authorization"))
        out += k + ": " + v + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (!upstream.write_all(out) || (!rest.empty() && !upstream.write_all(rest))) return;
    pipe(client, upstream, true, false);
  }

  // A model API request: to the vendor's API, with the org's key put in.
  void inject(Conn& conn, Stream& client, Stream& upstream, const Listener& l, const RequestHead& head,
              const std::string& path, const std::string& rest) {
    // /v/<vendor>/<rest>
    const Vendor* vendor = nullptr;
    std::string tail;
    if (path.starts_with("/v/")) {
      auto slash = path.find_first_of("/?", 3);
      vendor = find_vendor(path.substr(3, slash == std::string::npos ? std::string::npos : slash - 3));
      tail = slash == std::string::npos ? "" : path.substr(slash);
    }
    static const std::set<std::string> kMethods{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    if (vendor && !kMethods.count(head.method)) {
      client.write_all(json_reply(405, "Method Not Allowed", "invalid", "the model API endpoints take GET, POST, PUT, "
                                                                        "PATCH, DELETE, HEAD and OPTIONS only"));
      return;
    }
    if (vendor && !clean_path(tail)) {
      client.write_all(json_reply(400, "Bad Request", "invalid", "a model API path must not hold '..', '.', '//', '\\' "
                                                                 "or an encoded '.', '/' or '\\'"));
      return;
    }
    if (!vendor || !l.hooks.upstream) {
      std::string known;
      for (const auto& v : vendors()) known += (known.empty() ? "/v/" : ", /v/") + v.name;
      client.write_all(json_reply(404, "Not Found", "not_found",
                                  fmt::format("Hearth's egress proxy has no endpoint {}; model APIs are under {}",
                                              printable(path, 200), known)));
      return;
    }
    auto up = l.hooks.upstream(*vendor);
    if (!up) {
      client.write_all(json_reply(up.error().code == ErrorCode::unavailable ? 503 : 409,
                                  up.error().code == ErrorCode::unavailable ? "Service Unavailable" : "Conflict",
                                  std::string(hearth::to_string(up.error().code)), up.error().message));
      return;
    }
    auto base = BaseUrl::parse(up->base);
    bool tls = base && base->origin.starts_with("https://");
    auto authority = base ? base->origin.substr(tls ? 8 : 7) : std::string();
    auto to = split_authority(authority, tls ? 443 : 80);
    if (!base || !to) {  // its text is not repeated: it may hold credentials
      client.write_all(json_reply(409, "Conflict", "invalid",
                                  fmt::format("the org's {} is not a URL the egress proxy can use (http(s)://host[:port]"
                                              "[/path])", vendor->base_setting)));
      return;
    }
    auto fd = connect_to(conn, to->first, to->second);
    if (!fd) {
      bool forbidden = fd.error().code == ErrorCode::forbidden;
      if (forbidden) refused(l, to->first, fd.error().message);
      client.write_all(forbidden ? json_reply(403, "Forbidden", "forbidden", refusal_text(to->first, fd.error().message))
                                 : json_reply(502, "Bad Gateway", "unavailable", fd.error().message));
      return;
    }
    count(l.group, true);
    upstream.fd = *fd;
    upstream.timeout = config.idle_timeout;
    if (tls)
      if (auto st = start_tls(upstream, to->first); !st) {
        client.write_all(json_reply(502, "Bad Gateway", "unavailable", st.error().message));
        return;
      }
    std::string out = head.method + " " + base->prefix + (tail.empty() ? "/" : tail) + " HTTP/1.1\r\n";
    out += "Host: " + authority + "\r\n";
    for (const auto& [k, v] : head.headers) {
      if (iequals(k, "host") || iequals(k, "connection") || iequals(k, "keep-alive") || iequals(k, "proxy-connection") ||
          iequals(k, "proxy-authorization") || iequals(k, "te") || iequals(k, "upgrade") || iequals(k, "authorization") ||
          iequals(k, "x-api-key") || iequals(k, "x-goog-api-key") || iequals(k, "api-key") || iequals(k, "forwarded") ||
          iequals(k, "x-forwarded-for") || iequals(k, "x-forwarded-host") || iequals(k, "x-forwarded-proto") ||
          iequals(k, "x-original-url") || iequals(k, "x-rewrite-url"))
        continue;
      out += k + ": " + v + "\r\n";
    }
    out += up->header + ": " + up->value + "\r\nConnection: close\r\n\r\n";
    if (!upstream.write_all(out) || (!rest.empty() && !upstream.write_all(rest))) return;
    pipe(client, upstream, true, false);
  }
};

Proxy::Proxy(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Proxy::~Proxy() = default;

Status Proxy::listen(const std::string& key, const std::string& group, const std::filesystem::path& socket, gid_t gid,
                     Hooks hooks) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{ErrorCode::unavailable, fmt::format("egress proxy: socket: {}", std::strerror(errno))};
  std::error_code ec;
  std::filesystem::remove(socket, ec);
  // A long path is bound through its dir's descriptor (sun_path holds 108 bytes).
  int dir = ::open(socket.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  auto bound = dir >= 0 ? fmt::format("/proc/self/fd/{}/{}", dir, socket.filename().string()) : socket.string();
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  bool fits = bound.size() < sizeof a.sun_path;
  if (fits) std::memcpy(a.sun_path, bound.c_str(), bound.size() + 1);
  auto fail = [&](const char* what) {
    auto e = errno;
    ::close(fd);
    if (dir >= 0) ::close(dir);
    return Error{ErrorCode::unavailable, fmt::format("egress proxy: {} {}: {}", what, socket.string(), std::strerror(e))};
  };
  if (!fits) {
    errno = ENAMETOOLONG;
    return fail("bind");
  }
  // Connectable by root and `gid` only (set right after bind; the socket's dir is the
  // sandbox's, which no one else may pass through meanwhile).
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("bind");
  if (::chown(socket.c_str(), 0, gid) != 0 || ::chmod(socket.c_str(), 0660) != 0) return fail("chown");
  if (::listen(fd, 256) != 0) return fail("listen");
  if (dir >= 0) ::close(dir);
  auto l = std::make_shared<Impl::Listener>();
  l->key = key;
  l->group = group;
  l->path = socket;
  l->fd = fd;
  l->hooks = std::move(hooks);
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) {
      ::close(fd);
      return Error{ErrorCode::unavailable, "the egress proxy is stopping"};
    }
    if (auto it = impl_->listeners.find(key); it != impl_->listeners.end()) impl_->closing.push_back(it->second->fd);
    impl_->listeners[key] = std::move(l);
  }
  impl_->poke();
  return {};
}

bool Proxy::listening(const std::string& key) const {
  std::lock_guard lock(impl_->mu);
  return impl_->listeners.count(key) > 0;
}

void Proxy::close(const std::string& key) {
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->listeners.find(key);
    if (it == impl_->listeners.end()) return;
    impl_->closing.push_back(it->second->fd);
    std::error_code ec;
    std::filesystem::remove(it->second->path, ec);
    impl_->listeners.erase(it);
  }
  impl_->poke();
}

void Proxy::stop() { impl_->stop(); }

Proxy::Counts Proxy::counts_of(const std::string& group) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->counts.find(group);
  return it == impl_->counts.end() ? Counts{} : it->second;
}

std::size_t Proxy::open_connections() const { return impl_->open; }

std::size_t Proxy::threads() const {
  std::lock_guard lock(impl_->mu);
  return impl_->workers.size();
}

// --- The relay ----------------------------------------------------------------------

Result<std::pair<int, int>> listen_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{ErrorCode::unavailable, fmt::format("socket: {}", std::strerror(errno))};
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 256) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    auto e = errno;
    ::close(fd);
    return Error{ErrorCode::unavailable, fmt::format("cannot listen on 127.0.0.1:{}: {}", port, std::strerror(e))};
  }
  return std::pair{fd, static_cast<int>(ntohs(a.sin_port))};
}

void relay(int listen_fd, const std::string& socket) {
  for (;;) {
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    try {
    std::thread([c, socket] {
      int u = connect_unix(socket);
      if (u >= 0) {
        copy_both_ways(c, u);
        ::close(u);
      } else {
        constexpr std::string_view kBody = "Hearth's egress proxy is not reachable (yet).\n";
        auto down = fmt::format("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                                "Connection: close\r\n\r\n{}", kBody.size(), kBody);
        [[maybe_unused]] auto w = ::send(c, down.data(), down.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }).detach();
    } catch (const std::system_error&) {  // no thread to be had: this connection is dropped
      ::close(c);
    }
  }
}

int relay_main(int argc, char** argv) {
  // hearth egress-relay SOCKET PORT -- PROGRAM ARGS…
  if (argc < 6 || std::string_view(argv[4]) != "--") {
    std::fprintf(stderr, "usage: hearth egress-relay SOCKET PORT -- PROGRAM [ARGS...]\n");
    return 2;
  }
  std::string socket = argv[2];
  int port = std::atoi(argv[3]);
  auto l = listen_loopback(port);
  if (!l) {
    std::fprintf(stderr, "hearth egress-relay: %s\n", l.error().message.c_str());
    return 126;
  }
  pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("hearth egress-relay: fork");
    return 126;
  }
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    relay(l->first, socket);
    ::_exit(0);
  }
  ::close(l->first);
  ::execvp(argv[5], argv + 5);
  int e = errno;
  std::fprintf(stderr, "%s: %s\n", argv[5],
               e == ENOENT ? "No such file or directory (no such program in the sandbox)" : std::strerror(e));
  return e == ENOENT ? 127 : 126;
}

}  // namespace hearth::sandbox::egress
