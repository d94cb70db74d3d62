// A git server over HTTPS on 127.0.0.1 for tests: git's own smart-HTTP backend
// (git http-backend, run as a CGI program per request) behind a cpp-httplib TLS server
// with a self-signed certificate, serving the repositories under `root`. Requests must
// carry HTTP Basic credentials x-access-token:<token> (what GitHub takes for an
// installation token) with the one token it was given, or a token `authorize` accepts
// for the repository ("owner/name" for /owner/name.git) and the access (write: a push);
// without them it answers 401 so that git asks its askpass.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>
#include <openssl/evp.h>

#include <sstream>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "sandbox/process.h"
#include "tests/support/git_repo.h"

namespace hearth::test {

class GitHttpsServer {
 public:
  using Authorize = std::function<bool(const std::string& token, const std::string& repository, bool write)>;

  GitHttpsServer(std::filesystem::path root, std::string token) : GitHttpsServer(std::move(root), std::move(token), {}) {}
  GitHttpsServer(std::filesystem::path root, Authorize authorize) : GitHttpsServer(std::move(root), {}, std::move(authorize)) {}
  GitHttpsServer(std::filesystem::path root, std::string token, Authorize authorize)
      : root_(std::move(root)), token_(std::move(token)), authorize_(std::move(authorize)) {
    cert_ = root_ / "server.crt";
    key_ = root_ / "server.key";
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
       "-keyout '" + key_.string() + "' -out '" + cert_.string() + "' 2>/dev/null");
    server_ = std::make_unique<httplib::SSLServer>(cert_.c_str(), key_.c_str());
    auto handle = [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); };
    server_->Get(R"(/.*)", handle);
    server_->Post(R"(/.*)", handle);
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~GitHttpsServer() {
    server_->stop();
    thread_.join();
  }

  std::string url(const std::string& repo) const { return "https://127.0.0.1:" + std::to_string(port_) + "/" + repo; }
  const std::filesystem::path& certificate() const { return cert_; }
  int authorized() const { return authorized_; }
  int refused() const { return refused_; }
  // Whether any request carried the token anywhere but its Authorization header.
  bool token_elsewhere() const { return token_elsewhere_; }

 private:
  void serve(const httplib::Request& req, httplib::Response& res) {
    if (!token_.empty() && req.target.find(token_) != std::string::npos) token_elsewhere_ = true;
    if (!allowed(req)) {
      ++refused_;
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"git\"");
      return;
    }
    ++authorized_;
    // git http-backend as a CGI program: request in the environment and on stdin, the
    // response's headers, a blank line and its body on stdout.
    std::vector<std::string> env{"GIT_PROJECT_ROOT=" + root_.string(), "GIT_HTTP_EXPORT_ALL=1",
                                 "REQUEST_METHOD=" + req.method, "PATH_INFO=" + req.path,
                                 "QUERY_STRING=" + query(req), "REMOTE_USER=x-access-token",
                                 "CONTENT_TYPE=" + req.get_header_value("Content-Type"),
                                 "CONTENT_LENGTH=" + std::to_string(req.body.size())};
    if (req.has_header("Content-Encoding")) env.push_back("HTTP_CONTENT_ENCODING=" + req.get_header_value("Content-Encoding"));
    if (req.has_header("Git-Protocol")) env.push_back("GIT_PROTOCOL=" + req.get_header_value("Git-Protocol"));
    auto p = sandbox::Process::spawn({{"/usr/lib/git-core/git-http-backend"}, env, {}, false});
    if (!p.ok()) {
      res.status = 500;
      return;
    }
    std::thread feed([&] {
      (void)p->write(req.body);
      p->close_stdin();
    });
    std::string out;
    sandbox::Chunk chunk;
    while (p->read_chunk(std::chrono::seconds(30), chunk) == sandbox::Process::Read::data) out += chunk.data;
    feed.join();
    (void)p->wait(std::chrono::seconds(10));
    auto split = out.find("\r\n\r\n");
    auto sep = 4;
    if (split == std::string::npos) {
      split = out.find("\n\n");
      sep = 2;
    }
    if (split == std::string::npos) {
      res.status = 500;
      return;
    }
    std::string type = "application/octet-stream";
    std::istringstream headers(out.substr(0, split));
    for (std::string line; std::getline(headers, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      auto name = line.substr(0, colon), value = line.substr(colon + 2);
      if (name == "Status") res.status = std::stoi(value);
      else if (name == "Content-Type") type = value;
      else res.set_header(name, value);
    }
    res.set_content(out.substr(split + sep), type);
  }

  bool allowed(const httplib::Request& req) {
    auto auth = req.get_header_value("Authorization");
    if (!authorize_) return auth == "Basic " + base64("x-access-token:" + token_);
    if (!auth.starts_with("Basic ")) return false;
    auto decoded = unbase64(auth.substr(6));
    if (!decoded.starts_with("x-access-token:")) return false;
    auto token = decoded.substr(15);
    if (req.target.find(token) != std::string::npos) token_elsewhere_ = true;
    // /owner/name.git/info/refs, /owner/name.git/git-receive-pack, ...
    auto path = req.path.substr(1);
    auto git = path.find(".git/");
    if (git == std::string::npos) return false;
    bool write = req.path.ends_with("/git-receive-pack") ||
                 (req.has_param("service") && req.get_param_value("service") == "git-receive-pack");
    return authorize_(token, path.substr(0, git), write);
  }

  static std::string unbase64(const std::string& in) {
    std::string out(3 * (in.size() / 4) + 3, '\0');
    auto n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                             static_cast<int>(in.size()));
    if (n < 0) return {};
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '\0') out.pop_back();  // the padding's bytes
    return out;
  }

  static std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                             static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

  static std::string query(const httplib::Request& req) {
    auto q = req.target.find('?');
    return q == std::string::npos ? "" : req.target.substr(q + 1);
  }

  std::filesystem::path root_, cert_, key_;
  std::string token_;
  Authorize authorize_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> authorized_{0}, refused_{0};
  std::atomic<bool> token_elsewhere_{false};
};

}  // namespace hearth::test
