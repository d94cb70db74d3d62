// The CLI's HTTP client: see api.h.
#include "cli/api.h"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "storage/text.h"

namespace hearth::cli {

std::filesystem::path config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path base = xdg && *xdg ? xdg : std::filesystem::path(home ? home : ".") / ".config";
  return base / "hearth" / "config.json";
}

Json load_config() {
  std::ifstream in(config_path());
  if (!in) return Json::object();
  auto j = Json::parse(in, nullptr, false);
  return j.is_object() ? j : Json::object();
}

// The token is in it: the file is created 0600 (never readable by others, not even for
// an instant), exclusively (no file or link someone planted at its name is followed),
// in a dir of its own that is 0700, then renamed into place.
bool save_config(const Json& config) {
  auto path = config_path();
  auto dir = path.parent_path();
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  ::chmod(dir.c_str(), 0700);
  auto tmp = path.string() + fmt::format(".{}.tmp", ::getpid());
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  auto text = config.dump(2) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

void add_client_options(CLI::App* cmd, ClientOptions& options) {
  cmd->add_option("--url", options.url, "Server URL, e.g. http://127.0.0.1:7741")->envname("HEARTH_URL");
  cmd->add_option("--token", options.token, "API token (default: the one `hearth login` stored)")->envname("HEARTH_TOKEN");
  cmd->add_flag("--json", options.json, "Print the server's JSON");
}

std::string encode(const std::string& s) { return percent_encoded(s); }

std::string org_path(const std::string& org) { return "/v1/orgs/" + encode(org); }

std::optional<ServerUrl> parse_server_url(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  ServerUrl u;
  for (char c : text.substr(0, sep)) u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  auto rest = text.substr(sep + 3);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  std::optional<std::string_view> port;  // what follows the host's colon, if it has one
  if (rest.front() == '[') {              // [IPv6]:port
    auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    auto colon = rest.find(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  u.port = u.scheme == "https" ? 443 : 80;
  if (port) {
    if (port->empty() || port->size() > 5 || port->find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    u.port = std::stoi(std::string(*port));
    if (u.port < 1 || u.port > 65535) return std::nullopt;
  }
  return u;
}

namespace {

constexpr int kConnectTimeoutS = 5;
constexpr int kReadTimeoutS = 30;
constexpr int kStreamReadTimeoutS = 60;

// httplib says only "Connection" when connecting fails: ask the system why, with a
// connection of our own.
std::string why_not_connected(const ServerUrl& u, const std::string& url) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &found);
  if (rc == EAI_NONAME || rc == EAI_NODATA) return fmt::format("unknown host {}: is the URL {} right?", u.host, url);
  if (rc != 0) return fmt::format("cannot look up the host {}: {}", u.host, ::gai_strerror(rc));
  int err = 0;
  for (auto* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    timeval limit{kConnectTimeoutS, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    ::close(fd);
    if (err == 0) break;
  }
  ::freeaddrinfo(found);
  switch (err) {
    case ECONNREFUSED: return fmt::format("connection refused: is `hearth serve` running at {}?", url);
    case EINPROGRESS:
    case ETIMEDOUT: return fmt::format("timed out connecting to {}: is the host right and reachable?", url);
    case ENETUNREACH:
    case EHOSTUNREACH: return fmt::format("no route to {}: the network cannot reach it", u.host);
    case 0: return fmt::format("could not connect to {} (it accepts connections now: try again)", url);
    default: return fmt::format("cannot connect to {}: {}", url, std::strerror(err));
  }
}

// Why a request to `url` got no answer, in words (never httplib's names for it).
std::string no_answer(httplib::Error e, const ServerUrl& u, const std::string& url,
                      std::chrono::steady_clock::duration took, int read_timeout_s) {
  using httplib::Error;
  switch (e) {
    case Error::Connection: return why_not_connected(u, url);
    case Error::ConnectionTimeout:
      return fmt::format("timed out connecting to {} (no answer in {} s): is the host right and reachable?", url,
                         kConnectTimeoutS);
    case Error::Read:
      if (took >= std::chrono::seconds(read_timeout_s) - std::chrono::milliseconds(500))
        return fmt::format("timed out: {} did not answer within {} s", url, read_timeout_s);
      return u.scheme == "http"
                 ? fmt::format("{} closed the connection without an answer (if it speaks TLS, use https://)", url)
                 : fmt::format("{} closed the connection without an answer", url);
    case Error::Write: return fmt::format("the connection to {} broke while sending the request", url);
    case Error::SSLConnection:
      return fmt::format("the server at {} does not speak TLS (for a plain HTTP server, use http://{}:{})", url, u.host,
                         u.port);
    case Error::SSLServerVerification:
      return fmt::format("the TLS certificate of {} is not trusted here, or is not for {}", url, u.host);
    case Error::SSLLoadingCerts: return "cannot load this system's CA certificates to check the server's";
    case Error::Canceled: return fmt::format("the request to {} was cancelled", url);
    default: return fmt::format("no answer from {}", url);
  }
}

}  // namespace

Api::Api(const ClientOptions& o) : options_(o) {
  auto stored = load_config();
  url_ = !o.url.empty() ? o.url : stored.value("url", std::string());
  token_ = !o.token.empty() ? o.token : stored.value("token", std::string());
  server_ = parse_server_url(url_);
  if (server_)
    while (url_.back() == '/') url_.pop_back();
}

int Api::ready(bool need_token) const {
  if (url_.empty()) return fail(kExitNotSignedIn, "no server URL: run `hearth login --url URL`, or set HEARTH_URL");
  if (!server_)
    return fail(kExitUsage, fmt::format("not a URL: \"{}\" (give one like http://127.0.0.1:7741 or "
                                        "https://hearth.example.com, with no path)", url_));
  if (need_token && token_.empty()) return fail(kExitNotSignedIn, "not signed in: run `hearth login`, or set HEARTH_TOKEN");
  return kExitOk;
}

httplib::Client Api::client() const {
  httplib::Client c(fmt::format("{}://{}:{}", server_->scheme,
                                server_->host.find(':') != std::string::npos ? "[" + server_->host + "]" : server_->host,
                                server_->port));
  c.set_connection_timeout(kConnectTimeoutS, 0);
  c.set_read_timeout(kReadTimeoutS, 0);
  return c;
}

std::optional<Response> Api::call(const std::string& method, const std::string& path, const Json& body,
                                  httplib::Headers headers) {
  if (!server_ && ready(false) != kExitOk) return std::nullopt;
  auto client = this->client();
  if (!token_.empty() && !headers.count("Cookie")) headers.emplace("Authorization", "Bearer " + token_);
  std::string text = body.is_null() ? "" : body.dump();
  httplib::Result r{nullptr, httplib::Error::Unknown};
  auto began = std::chrono::steady_clock::now();
  if (method == "GET") r = client.Get(path, headers);
  else if (method == "POST") r = client.Post(path, headers, text, "application/json");
  else if (method == "PATCH") r = client.Patch(path, headers, text, "application/json");
  else if (method == "PUT") r = client.Put(path, headers, text, "application/json");
  else if (method == "DELETE") r = client.Delete(path, headers);
  if (!r) {
    fail(kExitFailed, no_answer(r.error(), *server_, url_, std::chrono::steady_clock::now() - began, kReadTimeoutS));
    return std::nullopt;
  }
  Response out{r->status, Json::parse(r->body, nullptr, false), r->get_header_value("Set-Cookie"), r->body};
  if (out.body.is_discarded()) out.body = r->body;
  return out;
}

std::optional<Json> Api::fetch(const std::string& method, const std::string& path, const Json& body, int& code) {
  code = ready();
  if (code != kExitOk) return std::nullopt;
  code = kExitFailed;
  auto r = call(method, path, body);
  if (!r) return std::nullopt;
  if (r->status >= 400) {
    std::string message = r->body.is_object() && r->body.contains("error")
                              ? r->body["error"].value("message", std::string())
                              : r->body.dump();
    std::cerr << "hearth: " << message << " (HTTP " << r->status << ")\n";
    code = exit_code_for(r->status);
    return std::nullopt;
  }
  code = kExitOk;
  return r->body;
}

int Api::run(const std::string& method, const std::string& path, const Json& body,
             const std::function<void(const Json&)>& show) {
  int code = kExitFailed;
  auto r = fetch(method, path, body, code);
  if (!r) return code;
  if (options_.json) std::cout << r->dump(2) << "\n";
  else show(*r);
  return kExitOk;
}

int Api::stream(const std::string& path, std::string last_event_id,
                const std::function<bool(const std::string&, const std::string&, const Json&)>& on_event) {
  if (int code = ready(); code != kExitOk) return code;
  bool stop = false, connected_once = false;
  for (int attempt = 0; !stop; ++attempt) {
    auto client = this->client();
    client.set_read_timeout(kStreamReadTimeoutS, 0);  // heartbeats come every 15 s
    httplib::Headers headers{{"Authorization", "Bearer " + token_}, {"Accept", "text/event-stream"}};
    if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
    std::string buffer, error_body;
    int status = 0;
    auto began = std::chrono::steady_clock::now();
    auto r = client.Get(
        path, headers,
        [&](const httplib::Response& res) {
          status = res.status;
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (status != 200) {
            error_body.append(data, n);
            return true;
          }
          connected_once = true;
          attempt = 0;
          buffer.append(data, n);
          std::size_t end;
          while ((end = buffer.find("\n\n")) != std::string::npos) {
            auto frame = buffer.substr(0, end);
            buffer.erase(0, end + 2);
            std::string name = "message", id, data_text;
            std::size_t at = 0;
            while (at <= frame.size()) {
              auto nl = frame.find('\n', at);
              auto line = frame.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
              if (line.rfind("event: ", 0) == 0) name = line.substr(7);
              else if (line.rfind("id: ", 0) == 0) id = line.substr(4);
              else if (line.rfind("data: ", 0) == 0) data_text += line.substr(6);
              if (nl == std::string::npos) break;
              at = nl + 1;
            }
            if (data_text.empty()) continue;  // comments, retry hints
            if (!id.empty()) last_event_id = id;
            if (!on_event(name, id, Json::parse(data_text, nullptr, false))) {
              stop = true;
              return false;
            }
          }
          return true;
        });
    if (stop) break;
    if (status >= 400) {
      auto body = Json::parse(error_body, nullptr, false);
      std::cerr << "hearth: "
                << (body.is_object() && body.contains("error") ? body["error"].value("message", error_body) : error_body)
                << " (HTTP " << status << ")\n";
      return exit_code_for(status);
    }
    if (!r && !connected_once && attempt >= 2)
      return fail(kExitFailed,
                  no_answer(r.error(), *server_, url_, std::chrono::steady_clock::now() - began, kStreamReadTimeoutS));
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));  // then resume after the last id
  }
  return kExitOk;
}

std::optional<std::vector<std::string>> split_ref(const std::string& text, int parts, const std::string& form) {
  std::vector<std::string> p;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, '/');) p.push_back(part);
  if (static_cast<int>(p.size()) != parts || std::any_of(p.begin(), p.end(), [](const auto& s) { return s.empty(); })) {
    std::cerr << "hearth: \"" << text << "\" should be " << form << "\n";
    return std::nullopt;
  }
  return p;
}

}  // namespace hearth::cli
