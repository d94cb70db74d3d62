// `hearth serve` as a child process on a free port, signed in as its admin through
// the CLI, with helpers to call and poll its API.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "sandbox/process.h"
#include "tests/support/serve_process.h"

namespace hearth::test {

using namespace std::chrono_literals;
using nlohmann::json;

// `hearth serve` on a free port over `data`, signed in as its admin through the CLI.
struct Served {
  Served(const std::filesystem::path& dir, std::vector<std::string> extra = {}) : dir(dir) {
    start(std::move(extra));
    auto login = run_hearth({"login", "--url", url, "--username", "admin", "--password-stdin"}, env, "admin-password-1\n");
    REQUIRE_MESSAGE(login.code == 0, login.out);
    json config = json::parse(std::ifstream(dir / "config" / "hearth" / "config.json"));
    token = config["token"];
  }
  void start(std::vector<std::string> extra = {}) {
    // Repositories on this machine may be connected from the temp dir the tests use.
    std::vector<std::string> argv{HEARTH_BINARY, "--log-level", "warn", "serve", "--port", "0", "--data-dir",
                                  (dir / "data").string(), "--file-repo-root",
                                  std::filesystem::temp_directory_path().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = sandbox::Process::spawn({argv, {"HEARTH_ADMIN_PASSWORD=admin-password-1"}, {}});
    REQUIRE(p.ok());
    server = std::make_unique<sandbox::Process>(std::move(*p));
    url = "http://127.0.0.1:" + std::to_string(port_from(*server));
    env = {"XDG_CONFIG_HOME=" + (dir / "config").string(), "HEARTH_URL=" + url, "HEARTH_TOKEN="};
  }
  Run hearth(std::vector<std::string> args, const std::string& input = "") { return run_hearth(std::move(args), env, input); }
  json get(const std::string& path) {
    httplib::Client cli(url);
    auto r = cli.Get(path, {{"Authorization", "Bearer " + token}});
    REQUIRE(r);
    return json::parse(r->body);
  }
  // Polls GET `path` until `pred` holds.
  json poll(const std::string& path, const std::function<bool(const json&)>& pred) {
    json body;
    for (int i = 0; i < 1500; ++i) {
      body = get(path);
      if (pred(body)) return body;
      std::this_thread::sleep_for(20ms);
    }
    FAIL("never held on " << path << ": " << body.dump());
    return body;
  }

  std::filesystem::path dir;
  std::unique_ptr<sandbox::Process> server;
  std::string url, token;
  std::vector<std::string> env;
};

}  // namespace hearth::test
