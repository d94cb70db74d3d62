// Sandbox egress under the `proxy` network policy (docs/sandboxes.md, Network).
//
// A sandbox with network `proxy` has its own network namespace with only loopback. Its
// one way out is Hearth's egress proxy, which runs in the server, outside every sandbox:
// each sandbox gets a Unix socket of its own, bound into it at kSocketInside, and every
// process there starts under a small relay (`hearth egress-relay`, relay_main) that
// listens on the sandbox's 127.0.0.1:kRelayPort and carries each connection to that
// socket. HTTP_PROXY, HTTPS_PROXY and ALL_PROXY name the relay.
//
// The proxy
// - tunnels HTTP CONNECT and forwards plain HTTP requests only to hosts on the org's
//   allowlist (exact names and "*.suffix" patterns), resolving names itself and refusing
//   addresses on loopback, link-local (cloud metadata), private or reserved ranges or of
//   this server, unless a server admin allowed them (the model APIs are reached through
//   the endpoints below, not by CONNECT: an allowed model host would be a way out too);
// - serves the model APIs' credential-injecting endpoints at http://127.0.0.1:3128/v/
//   <vendor>/…: an agent is given that base URL and a placeholder key, and the proxy
//   forwards each request to the vendor's real API (or the org's own base URL) with the
//   org's real key in the vendor's header. The key never enters the sandbox. Responses
//   are relayed as they arrive, byte for byte (server-sent events unbuffered).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/error.h"

namespace hearth::sandbox::egress {

inline constexpr int kRelayPort = 3128;  // on each sandbox's own loopback
inline constexpr const char* kSocketInside = "/run/hearth/egress.sock";
inline constexpr const char* kRelayInside = "/opt/hearth/hearth";  // the hearth binary, inside
// What an agent gets in place of its API key: the proxy puts the real one in.
inline constexpr const char* kPlaceholderKey = "hearth-egress-placeholder";

// --- Allowlists -------------------------------------------------------------------

// A host pattern as stored: lowercased, "name.example" or "*.example" (any name under
// example, not example itself), optionally with ":PORT" (1 to 65535). Without a port it
// allows ports 80 and 443 only. Fails invalid with a message naming what is wrong.
Result<std::string> normalize_pattern(std::string_view pattern);
// Whether a normalized pattern allows `host` (lowercase or not, no trailing dot) on `port`.
bool matches(std::string_view pattern, std::string_view host, int port);
// Whether any of `patterns` does (a trailing dot on `host` is ignored).
bool allowed(const std::vector<std::string>& patterns, std::string_view host, int port);
// Why a host not on the allowlist is refused, as the proxy says it.
inline constexpr const char* kNotOnAllowlist = "it is not on the organization's allowlist";
// What a person is told of a refused connection to `host` for `why`, with what can be
// done: an org admin allows a host (kNotOnAllowlist); an address rule is a server admin's.
std::string refusal_text(const std::string& host, const std::string& why);

// --- Addresses --------------------------------------------------------------------

// An IPv4 or IPv6 address range, "10.0.0.0/8", "::1" (one address without a length).
struct Cidr {
  int family = AF_INET;
  unsigned char bytes[16] = {};
  int bits = 0;
  static Result<Cidr> parse(std::string_view text);
  bool contains(const sockaddr* address) const;
};

// Why the proxy refuses to connect to `address` ("loopback", "link-local (cloud
// metadata)", "a private network", "reserved", "this server's own address"), or empty
// when it may. `allowed` (a server admin's exceptions) wins over every reason; `own` are
// this server's addresses.
std::string refused_reason(const sockaddr* address, const std::vector<Cidr>& allowed,
                           const std::vector<Cidr>& own);
// The addresses of this machine's interfaces.
std::vector<Cidr> own_addresses();
std::string to_string(const sockaddr* address);

// --- Model APIs -------------------------------------------------------------------

// A model API whose key the proxy puts in: the org secrets that hold its key (the first
// that exists is used), the org setting with its base URL (else `default_base`), and
// the header the key goes in.
struct Vendor {
  std::string name;  // the path segment: /v/<name>/
  std::vector<std::string> keys;
  std::string base_setting;
  std::string default_base;
  std::string header;  // "x-api-key", "authorization" (as "Bearer <key>"), "x-goog-api-key"
};
const std::vector<Vendor>& vendors();
const Vendor* find_vendor(std::string_view name);
// The model API hosts every org's sandboxes reach through the endpoints (the vendors'
// default hosts).
std::vector<std::string> default_hosts();
// The credential-injecting endpoint of `vendor` as a sandbox's processes reach it.
std::string endpoint_inside(const Vendor& vendor);
// What an agent is given under `proxy`: `secrets` with each vendor key replaced by the
// placeholder and, for each vendor it has a key of, the base URL setting pointing at
// that vendor's endpoint inside.
std::map<std::string, std::string> proxied_secrets(const std::map<std::string, std::string>& secrets);
// The environment of every process under `proxy` (the proxy variables, upper and lower
// case, and NO_PROXY for the sandbox's own loopback).
std::vector<std::string> proxy_env();

// --- HTTP request heads -----------------------------------------------------------

struct RequestHead {
  std::string method, target, version;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string header(std::string_view name) const;             // first, case-insensitive; empty if none
};
// The head (up to, not including, the blank line). Fails invalid on anything malformed
// (a target that is not printable ASCII among it).
Result<RequestHead> parse_request_head(std::string_view head);
// "host:port" or "[v6]:port" (of CONNECT, a URL or a base URL), with `default_port` when
// none is given; the host lowercased without a trailing dot. Fails invalid unless the
// host is a name (letters, digits, '-', '_' between dots) or an IP literal.
Result<std::pair<std::string, int>> split_authority(std::string_view authority, int default_port);

// --- The proxy --------------------------------------------------------------------

// Where a vendor's requests go, with the key in its header.
struct Upstream {
  std::string base;  // http(s)://host[:port][/path]
  std::string header, value;
};

class Proxy {
 public:
  // Answers for one sandbox, called on the connection's thread.
  struct Hooks {
    // The org's allowlist now.
    std::function<Result<std::vector<std::string>>()> allowlist;
    // Where `vendor` is reached for this sandbox and with which key; fails (e.g. the org
    // has no key of that vendor) with a message the agent is shown.
    std::function<Result<Upstream>(const Vendor& vendor)> upstream;
    // A connection refused: the host asked for and why.
    std::function<void(const std::string& host, const std::string& why)> refused;
  };
  using Resolve = std::function<Result<std::vector<sockaddr_storage>>(const std::string& host, int port)>;
  struct Config {
    std::vector<Cidr> allowed_addresses;  // a server admin's exceptions to the address rules
    std::filesystem::path ca_file;        // more certificates trusted for upstream TLS
    std::chrono::milliseconds head_timeout{std::chrono::seconds(10)};  // for a request's head
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};  // nothing either way: closed
    std::size_t max_connections = 1024;                                 // at once, all sandboxes
    std::size_t max_per_sandbox = 256;                                  // at once, one sandbox
    Resolve resolve;  // default: getaddrinfo
  };
  struct Counts {
    std::uint64_t allowed = 0, refused = 0;
  };

  explicit Proxy(Config config);
  ~Proxy();  // stop()
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Listens at `socket` for the sandbox `key` of `group` (its org), connectable by `gid`
  // and root only; replaces the sandbox's earlier listener. Fails unavailable when the
  // socket cannot be made or the proxy is stopping.
  Status listen(const std::string& key, const std::string& group, const std::filesystem::path& socket, gid_t gid,
                Hooks hooks);
  bool listening(const std::string& key) const;
  // Stops listening for the sandbox (its connections end when they end).
  void close(const std::string& key);
  // Ends every connection and listener and joins their threads.
  void stop();

  Counts counts_of(const std::string& group) const;  // since the server started
  std::size_t open_connections() const;
  std::size_t threads() const;  // connection threads not yet joined

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// --- The relay inside the sandbox ---------------------------------------------------

// A listening TCP socket on 127.0.0.1:`port` (0: any), and the port it got.
Result<std::pair<int, int>> listen_loopback(int port);
// Carries each connection accepted on `listen_fd` to a new connection to the Unix socket
// `socket`, both ways, until listen_fd is closed or fails.
void relay(int listen_fd, const std::string& socket);
// `hearth egress-relay SOCKET PORT -- PROGRAM ARGS…`: listens on 127.0.0.1:PORT, starts
// the relay in a child that dies with this process, and becomes PROGRAM.
int relay_main(int argc, char** argv);

}  // namespace hearth::sandbox::egress
