// The CLI's HTTP client: see api.h.
#include "cli/api.h"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

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

int exit_code_for(int status) {
  if (status == 401 || status == 403) return 3;
  if (status == 404) return 4;
  return 1;
}

void add_client_options(CLI::App* cmd, ClientOptions& options) {
  cmd->add_option("--url", options.url, "Server URL, e.g. http://127.0.0.1:7741")->envname("HEARTH_URL");
  cmd->add_option("--token", options.token, "API token (default: the one `hearth login` stored)")->envname("HEARTH_TOKEN");
  cmd->add_flag("--json", options.json, "Print the server's JSON");
}

std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

Api::Api(const ClientOptions& o) : options_(o) {
  auto stored = load_config();
  url_ = !o.url.empty() ? o.url : stored.value("url", std::string());
  token_ = !o.token.empty() ? o.token : stored.value("token", std::string());
}

bool Api::configured(bool need_token) const {
  if (url_.empty()) {
    std::cerr << "hearth: no server URL: run `hearth login --url URL`, or set HEARTH_URL\n";
    return false;
  }
  if (need_token && token_.empty()) {
    std::cerr << "hearth: not signed in: run `hearth login`, or set HEARTH_TOKEN\n";
    return false;
  }
  return true;
}

std::optional<Response> Api::call(const std::string& method, const std::string& path, const Json& body,
                                  httplib::Headers headers) {
  httplib::Client client(url_);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  if (!token_.empty() && !headers.count("Cookie")) headers.emplace("Authorization", "Bearer " + token_);
  std::string text = body.is_null() ? "" : body.dump();
  httplib::Result r{nullptr, httplib::Error::Unknown};
  if (method == "GET") r = client.Get(path, headers);
  else if (method == "POST") r = client.Post(path, headers, text, "application/json");
  else if (method == "PATCH") r = client.Patch(path, headers, text, "application/json");
  else if (method == "PUT") r = client.Put(path, headers, text, "application/json");
  else if (method == "DELETE") r = client.Delete(path, headers);
  if (!r) {
    std::cerr << "hearth: cannot reach " << url_ << ": " << httplib::to_string(r.error()) << "\n";
    return std::nullopt;
  }
  Response out{r->status, Json::parse(r->body, nullptr, false), r->get_header_value("Set-Cookie"), r->body};
  if (out.body.is_discarded()) out.body = r->body;
  return out;
}

std::optional<Json> Api::fetch(const std::string& method, const std::string& path, const Json& body, int& code) {
  code = 1;
  if (!configured()) return std::nullopt;
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
  code = 0;
  return r->body;
}

int Api::run(const std::string& method, const std::string& path, const Json& body,
             const std::function<void(const Json&)>& show) {
  int code = 1;
  auto r = fetch(method, path, body, code);
  if (!r) return code;
  if (options_.json) std::cout << r->dump(2) << "\n";
  else show(*r);
  return 0;
}

bool Api::stream(const std::string& path, std::string last_event_id,
                 const std::function<bool(const std::string&, const std::string&, const Json&)>& on_event) {
  bool stop = false, connected_once = false;
  for (int attempt = 0; !stop; ++attempt) {
    httplib::Client client(url_);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(60, 0);  // heartbeats come every 15 s
    httplib::Headers headers{{"Authorization", "Bearer " + token_}, {"Accept", "text/event-stream"}};
    if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
    std::string buffer, error_body;
    int status = 0;
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
      return false;
    }
    if (!r && !connected_once && attempt >= 2) {
      std::cerr << "hearth: cannot reach " << url_ << ": " << httplib::to_string(r.error()) << "\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));  // then resume after the last id
  }
  return true;
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
