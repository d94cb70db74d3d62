// The `hearth` subcommands, each a function the CLI11 parser in main.cpp calls.
#pragma once

#include <functional>
#include <memory>
#include <utility>

namespace CLI {
class App;
}

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hearth::cli {

struct ServeOptions {
  std::filesystem::path data_dir = ".hearth";
  std::string host = "127.0.0.1";
  int port = 7741;
  int http_threads = 32;
  int hibernate_after_s = 60;
  std::string sqlite_synchronous = "full";
  int io_threads = 64;
  int shutdown_grace_s = 10;
  // The edge.
  std::size_t max_body_bytes = 1 << 20;
  int request_timeout_s = 10;
  int session_ttl_hours = 24 * 14;
  std::vector<std::string> allowed_origins;
  bool secure_cookies = false;
  int sse_max_streams = 256;
  int sse_max_streams_per_user = 32;
  std::string metrics_token;
  std::string public_url;
  std::vector<std::string> trusted_proxies;
  bool anyone_creates_orgs = false;
  std::vector<std::string> file_repo_roots;
  // Sandboxes and agents.
  std::string sandbox_provider = "bwrap";
  int sandbox_max_processes = 1024;
  int sandbox_max_memory_mb = 0;
  int permission_timeout_s = 30 * 60;
  int agent_idle_timeout_s = 30 * 60;
  int turn_silence_timeout_s = 10 * 60;
  std::string git_ca_file;
  // The egress proxy (docs/sandboxes.md, Network): addresses a server admin lets sandboxes
  // reach although private (a company registry), and certificates it trusts upstream.
  std::vector<std::string> egress_allow_addresses;
  std::string egress_ca_file;
  std::uint32_t sandbox_uid_base = 1'900'000'000;
  std::string web_dir;  // empty: `web` beside the hearth binary
  // The GitHub App (docs/github.md): configured by an id and a key file together.
  std::string github_app_id;
  std::string github_private_key_file;
  std::string github_webhook_secret, github_webhook_secret_file;  // one or the other
  std::string github_app_slug;
  std::string github_client_id;
  std::string github_client_secret, github_client_secret_file;  // one or the other
  std::string github_api_url = "https://api.github.com";
  std::string github_web_url = "https://github.com";
  std::string github_signup = "on";  // on: a first sign-in with GitHub may create the user
  // Billing with Stripe (docs/billing.md): on when a secret key is configured.
  std::string stripe_secret_key, stripe_secret_key_file;  // one or the other
  std::vector<std::string> stripe_webhook_secrets;        // one, or two during a rotation
  std::string stripe_webhook_secret_file;                 // one secret per line
  std::string stripe_team_price;
  std::string billing_plans_file;
  std::string billing_public_url;
  std::string stripe_api_url = "https://api.stripe.com";
  int billing_grace_days = 7;
};

// Runs the server until SIGINT or SIGTERM; returns the process exit code.
int serve(const ServeOptions& options);

// Options every command that talks to a server shares.
struct ClientOptions {
  std::string url;    // HEARTH_URL, else the stored login
  std::string token;  // HEARTH_TOKEN, else the stored login
  bool json = false;  // print the server's JSON instead of tables
};

// Adds the client subcommands (login, org, member, token, actors) and the offline
// `admin` subcommands to `app`; main.cpp runs whichever was parsed.
struct CommandSet {
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands;
  void add(CLI::App* app, std::function<int()> run) { commands.emplace_back(app, std::move(run)); }
};
std::shared_ptr<CommandSet> add_client_commands(CLI::App& app);
std::shared_ptr<CommandSet> add_admin_commands(CLI::App& app);
// sandbox, session and agents.
std::shared_ptr<CommandSet> add_session_commands(CLI::App& app);
// repo, task, feed and audit.
std::shared_ptr<CommandSet> add_task_commands(CLI::App& app);
// github.
std::shared_ptr<CommandSet> add_github_commands(CLI::App& app);
std::shared_ptr<CommandSet> add_billing_commands(CLI::App& app);
// network (the egress allowlist).
std::shared_ptr<CommandSet> add_network_commands(CLI::App& app);
// The exit code of the parsed command, or -1 when none of the set was parsed.
int run_parsed(const CommandSet& set);

}  // namespace hearth::cli
