// `hearth serve` with the GitHub App's settings (docs/configuration.md, docs/github.md):
// configured wrongly it stops at once saying which setting, configured rightly it says
// so in the log without a secret in it.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>

#include "tests/support/fake_github.h"
#include "tests/support/serve_process.h"
#include "tests/support/temp_dir.h"

namespace hearth::test {
namespace {

using namespace std::chrono_literals;

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  auto path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST_CASE("hearth serve refuses a GitHub private key file that is not a key, naming the setting") {
  TempDir dir;
  auto key = write_file(dir, "app.pem", "not a key\n");
  auto run = run_hearth({"serve", "--port", "0", "--data-dir", (dir.path() / "data").string()},
                        {"HEARTH_GITHUB_APP_ID=4242", "HEARTH_GITHUB_PRIVATE_KEY_FILE=" + key});
  CHECK(run.code == 1);
  CHECK(contains(run.out, "--github-private-key-file"));
}

TEST_CASE("hearth serve refuses a GitHub App id without its private key") {
  TempDir dir;
  auto run = run_hearth({"serve", "--port", "0", "--data-dir", (dir.path() / "data").string(), "--github-app-id", "4242"}, {});
  CHECK(run.code == 1);
  CHECK(contains(run.out, "--github-private-key-file"));
}

TEST_CASE("hearth serve with a GitHub App from files logs github.configured and never the secrets") {
  TempDir dir;
  FakeGitHub fake;
  auto key = write_file(dir, "app.pem", fake.private_key_pkcs1_pem());
  auto secret = write_file(dir, "webhook-secret", "whsec-do-not-print\n");
  auto p = sandbox::Process::spawn({{HEARTH_BINARY, "--log-level", "debug", "serve", "--port", "0", "--data-dir",
                                     (dir.path() / "data").string()},
                                    {"HEARTH_GITHUB_APP_ID=4242", "HEARTH_GITHUB_PRIVATE_KEY_FILE=" + key,
                                     "HEARTH_GITHUB_WEBHOOK_SECRET_FILE=" + secret, "HEARTH_GITHUB_API_URL=" + fake.url()},
                                    {},
                                    true});
  REQUIRE(p.ok());
  std::string out;
  while (auto line = p->read_line(10s)) {
    out += *line + "\n";
    if (contains(*line, "hearth listening on")) break;
  }
  ::kill(p->pid(), SIGTERM);
  while (auto line = p->read_line(10s)) out += *line + "\n";
  REQUIRE(p->wait(15s).ok());
  CHECK(contains(out, "github.configured app_id=4242 api_url=" + fake.url()));
  CHECK_FALSE(contains(out, "whsec-do-not-print"));
  CHECK_FALSE(contains(out, "PRIVATE KEY"));
}

}  // namespace
}  // namespace hearth::test
