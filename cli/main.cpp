// `hearth`: the one executable. Subcommands are parsed here with CLI11; each flag can
// also be set by the HEARTH_* environment variable named in its help text. A command
// line the parser refuses ends with kExitUsage (cli/exit.h), naming the closest command
// when a word is no command at its level.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "cli/commands.h"
#include "cli/exit.h"
#include "sandbox/acp/mock_agent.h"
#include "sandbox/egress.h"

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      auto above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first word of the command line that names no subcommand where one was expected,
// with the command it follows ("hearth task") and the closest subcommand name there.
struct UnknownCommand {
  std::string word, parent, closest;
};

std::optional<UnknownCommand> unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string parent = "hearth";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg.size() > 1 && arg[0] == '-') {  // an option: skip its value too when it takes one
      if (arg.find('=') != std::string::npos) continue;
      const auto* option = at->get_option_no_throw(arg);
      if (option && option->get_expected_min() > 0) ++i;
      continue;
    }
    auto subcommands = at->get_subcommands([](const CLI::App* c) { return !c->get_name().empty(); });
    auto named = std::find_if(subcommands.begin(), subcommands.end(), [&](const CLI::App* c) { return c->check_name(arg); });
    if (named != subcommands.end()) {
      at = *named;
      parent += " " + at->get_name();
      continue;
    }
    bool takes_words = !at->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
    if (subcommands.empty() || takes_words) return std::nullopt;
    UnknownCommand unknown{arg, parent, ""};
    std::size_t best = 3;  // farther than two edits is no suggestion
    for (const auto* c : subcommands) {
      auto d = edit_distance(arg, c->get_name());
      bool prefix = arg.size() >= 2 && c->get_name().rfind(arg, 0) == 0;
      if (prefix) d = std::min<std::size_t>(d, 1);
      if (d < best && d < std::max<std::size_t>(arg.size(), 2)) {
        best = d;
        unknown.closest = c->get_name();
      }
    }
    return unknown;
  }
  return std::nullopt;
}

// Says what is wrong with the command line and returns kExitUsage; help (--help) is no
// error and prints as CLI11 prints it.
int usage_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  using hearth::cli::fail;
  using hearth::cli::kExitUsage;
  if (auto unknown = unknown_command(app, argc, argv)) {
    std::string said = "`" + unknown->word + "` is not a `" + unknown->parent + "` command";
    said += unknown->closest.empty() ? "; see `" + unknown->parent + " --help`"
                                     : "; did you mean `" + unknown->closest + "`?";
    return fail(kExitUsage, said);
  }
  std::string help = "hearth";
  for (const CLI::App* at = &app;;) {
    auto chosen = at->get_subcommands();
    if (chosen.empty()) break;
    at = chosen.front();
    help += " " + at->get_name();
  }
  return fail(kExitUsage, std::string(e.what()) + " (see `" + help + " --help`)");
}

}  // namespace

int main(int argc, char** argv) {
  // Inside a sandbox with network proxy, before anything else: the relay to the egress
  // proxy, then the program (sandbox/egress.h). Not a command for people.
  if (argc > 1 && std::string_view(argv[1]) == "egress-relay") return hearth::sandbox::egress::relay_main(argc, argv);
  CLI::App app{"Hearth: a self-hosted orchestration server for background AI coding agents.\n"
               "Every flag can also be set through the environment variable shown beside it."};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->envname("HEARTH_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  hearth::cli::ServeOptions serve;
  auto* cmd = app.add_subcommand("serve", "Run the actor host and the HTTP server until SIGINT or SIGTERM");
  cmd->add_option("--data-dir", serve.data_dir, "Where every database lives")
      ->envname("HEARTH_DATA_DIR")->capture_default_str();
  cmd->add_option("--host", serve.host, "Address to listen on")->envname("HEARTH_HOST")->capture_default_str();
  cmd->add_option("--port", serve.port, "Port to listen on (0: any free port)")
      ->envname("HEARTH_PORT")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--http-threads", serve.http_threads, "HTTP worker threads (each open connection holds one)")
      ->envname("HEARTH_HTTP_THREADS")->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--hibernate-after", serve.hibernate_after_s,
                  "Seconds an actor stays idle before it closes its database and stops")
      ->envname("HEARTH_HIBERNATE_AFTER")->check(CLI::Range(1, 86400))->capture_default_str();
  cmd->add_option("--sqlite-synchronous", serve.sqlite_synchronous,
                  "full: every commit survives power loss; normal: survives a crash of the process, "
                  "may lose the last commits on power loss")
      ->envname("HEARTH_SQLITE_SYNCHRONOUS")->check(CLI::IsMember({"full", "normal"}))->capture_default_str();
  cmd->add_option("--io-threads", serve.io_threads, "Most long I/O jobs (agent turns, git, HTTP) running at once")
      ->envname("HEARTH_IO_THREADS")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--shutdown-grace", serve.shutdown_grace_s, "Seconds to let work in flight finish on shutdown")
      ->envname("HEARTH_SHUTDOWN_GRACE")->check(CLI::Range(0, 600))->capture_default_str();

  cmd->add_option("--max-body-bytes", serve.max_body_bytes, "Largest request body accepted (413 past it)")
      ->envname("HEARTH_MAX_BODY_BYTES")->check(CLI::Range(1024, 1 << 30))->capture_default_str();
  cmd->add_option("--request-timeout", serve.request_timeout_s, "Seconds a request waits for an actor before 504")
      ->envname("HEARTH_REQUEST_TIMEOUT")->check(CLI::Range(1, 10))->capture_default_str();
  cmd->add_option("--session-ttl-hours", serve.session_ttl_hours, "How long a sign-in session lasts")
      ->envname("HEARTH_SESSION_TTL_HOURS")->check(CLI::Range(1, 24 * 365))->capture_default_str();
  cmd->add_option("--allowed-origin", serve.allowed_origins,
                  "Origins (scheme://host:port) allowed to send cookie-authenticated changes, besides the server's own")
      ->envname("HEARTH_ALLOWED_ORIGINS")->delimiter(',');
  cmd->add_flag("--secure-cookies", serve.secure_cookies, "Mark the session cookie Secure (when served over TLS)")
      ->envname("HEARTH_SECURE_COOKIES");
  cmd->add_option("--sse-max-streams", serve.sse_max_streams,
                  "Most Server-Sent Event streams open at once (each holds a thread of its own)")
      ->envname("HEARTH_SSE_MAX_STREAMS")->check(CLI::Range(1, 16384))->capture_default_str();
  cmd->add_option("--sse-max-streams-per-user", serve.sse_max_streams_per_user,
                  "Most event streams one user may have open at once")
      ->envname("HEARTH_SSE_MAX_STREAMS_PER_USER")->check(CLI::Range(1, 16384))->capture_default_str();
  cmd->add_option("--public-url", serve.public_url,
                  "The URL people reach Hearth at (https://hearth.example.com); requests for other host names "
                  "get 421 (IP addresses and localhost always pass)")
      ->envname("HEARTH_PUBLIC_URL");
  cmd->add_option("--trusted-proxy", serve.trusted_proxies,
                  "Address of a reverse proxy whose X-Forwarded-For is believed (repeat for several)")
      ->envname("HEARTH_TRUSTED_PROXIES")->delimiter(',');
  cmd->add_flag("--anyone-creates-orgs", serve.anyone_creates_orgs,
                "Let every signed-in user create organizations (default: server admins only)")
      ->envname("HEARTH_ANYONE_CREATES_ORGS");
  cmd->add_option("--file-repo-root", serve.file_repo_roots,
                  "A directory under which server admins may connect file:// repositories (repeat for several; "
                  "default: none)")
      ->envname("HEARTH_FILE_REPO_ROOTS")->delimiter(',');
  cmd->add_option("--metrics-token", serve.metrics_token,
                  "Bearer token for GET /metrics; without one, /metrics answers loopback clients only")
      ->envname("HEARTH_METRICS_TOKEN");

  cmd->add_option("--sandbox-provider", serve.sandbox_provider,
                  "Where sandboxes run: bwrap (isolated) or local (plain processes; development only)")
      ->envname("HEARTH_SANDBOX_PROVIDER")->check(CLI::IsMember({"bwrap", "local"}))->capture_default_str();
  cmd->add_option("--sandbox-max-processes", serve.sandbox_max_processes,
                  "Most processes one sandbox may run at once (cgroups; 0: no limit)")
      ->envname("HEARTH_SANDBOX_MAX_PROCESSES")->check(CLI::Range(0, 1 << 22))->capture_default_str();
  cmd->add_option("--sandbox-max-memory-mb", serve.sandbox_max_memory_mb,
                  "Most memory one sandbox may use, in MiB (cgroups; 0: no limit)")
      ->envname("HEARTH_SANDBOX_MAX_MEMORY_MB")->check(CLI::Range(0, 1 << 24))->capture_default_str();
  cmd->add_option("--sandbox-uid-base", serve.sandbox_uid_base,
                  "Sandboxes run as uids (and gids) BASE+1 ... BASE+1000000 on the host, one each; no real user "
                  "may have one")
      ->envname("HEARTH_SANDBOX_UID_BASE")->check(CLI::Range(100'000u, 4'000'000'000u))->capture_default_str();
  cmd->add_option("--permission-timeout", serve.permission_timeout_s,
                  "Seconds an agent's permission request waits for a person before it is rejected")
      ->envname("HEARTH_PERMISSION_TIMEOUT")->check(CLI::Range(1, 7 * 24 * 3600))->capture_default_str();
  cmd->add_option("--agent-idle-timeout", serve.agent_idle_timeout_s,
                  "Seconds an agent process is kept between turns before it is ended (the next turn resumes it)")
      ->envname("HEARTH_AGENT_IDLE_TIMEOUT")->check(CLI::Range(1, 7 * 24 * 3600))->capture_default_str();
  cmd->add_option("--turn-silence-timeout", serve.turn_silence_timeout_s,
                  "Seconds an agent may send nothing during a turn before the turn is cancelled")
      ->envname("HEARTH_TURN_SILENCE_TIMEOUT")->check(CLI::Range(1, 24 * 3600))->capture_default_str();

  cmd->add_option("--web-dir", serve.web_dir,
                  "The built web frontend to serve at / (default: web/ beside the hearth binary)")
      ->envname("HEARTH_WEB_DIR");
  cmd->add_option("--git-ca-file", serve.git_ca_file,
                  "Certificates (PEM) git trusts for https clones besides the system's, e.g. a company CA")
      ->envname("HEARTH_GIT_CA_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--egress-allow-address", serve.egress_allow_addresses,
                  "An address or range (10.1.2.3, 10.0.0.0/8) sandboxes with network proxy may reach although it is "
                  "loopback, private, link-local or this server's: a company registry or model gateway. Repeatable; "
                  "comma-separated in the variable")
      ->envname("HEARTH_EGRESS_ALLOW_ADDRESS")->delimiter(',');
  cmd->add_option("--egress-ca-file", serve.egress_ca_file,
                  "Certificates (PEM) the egress proxy trusts for model APIs besides the system's, e.g. a gateway's CA")
      ->envname("HEARTH_EGRESS_CA_FILE")->check(CLI::ExistingFile);

  // The GitHub App (docs/github.md). Secrets belong in files (the _FILE variables):
  // a value given as a flag is visible to every user in the process list.
  cmd->add_option("--github-app-id", serve.github_app_id, "The GitHub App's id (with --github-private-key-file: connects Hearth to GitHub)")
      ->envname("HEARTH_GITHUB_APP_ID");
  cmd->add_option("--github-private-key-file", serve.github_private_key_file,
                  "The GitHub App's private key (PEM, PKCS#1 or PKCS#8)")
      ->envname("HEARTH_GITHUB_PRIVATE_KEY_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--github-webhook-secret", serve.github_webhook_secret,
                  "The GitHub App's webhook secret (prefer --github-webhook-secret-file)")
      ->envname("HEARTH_GITHUB_WEBHOOK_SECRET");
  cmd->add_option("--github-webhook-secret-file", serve.github_webhook_secret_file,
                  "A file holding the GitHub App's webhook secret")
      ->envname("HEARTH_GITHUB_WEBHOOK_SECRET_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--github-app-slug", serve.github_app_slug, "The GitHub App's URL name, for its install URL")
      ->envname("HEARTH_GITHUB_APP_SLUG");
  cmd->add_option("--github-client-id", serve.github_client_id, "The GitHub App's OAuth client id")
      ->envname("HEARTH_GITHUB_CLIENT_ID");
  cmd->add_option("--github-client-secret", serve.github_client_secret,
                  "The GitHub App's OAuth client secret (prefer --github-client-secret-file)")
      ->envname("HEARTH_GITHUB_CLIENT_SECRET");
  cmd->add_option("--github-client-secret-file", serve.github_client_secret_file,
                  "A file holding the GitHub App's OAuth client secret")
      ->envname("HEARTH_GITHUB_CLIENT_SECRET_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--github-api-url", serve.github_api_url,
                  "GitHub's REST API (GitHub Enterprise Server: https://HOST/api/v3)")
      ->envname("HEARTH_GITHUB_API_URL")->capture_default_str();
  cmd->add_option("--github-web-url", serve.github_web_url, "GitHub's web address (GitHub Enterprise Server: https://HOST)")
      ->envname("HEARTH_GITHUB_WEB_URL")->capture_default_str();
  cmd->add_option("--github-signup", serve.github_signup,
                  "on: signing in with GitHub creates the Hearth user of a login that a linked installation shows as a "
                  "member; off: only GitHub accounts linked to a user already sign in")
      ->envname("HEARTH_GITHUB_SIGNUP")->check(CLI::IsMember({"on", "off"}))->capture_default_str();

  // Billing with Stripe (docs/billing.md): off unless a secret key is configured.
  cmd->add_option("--stripe-secret-key", serve.stripe_secret_key, "Stripe's secret API key: turns billing on (prefer --stripe-secret-key-file)")
      ->envname("HEARTH_STRIPE_SECRET_KEY");
  cmd->add_option("--stripe-secret-key-file", serve.stripe_secret_key_file, "A file holding Stripe's secret API key")
      ->envname("HEARTH_STRIPE_SECRET_KEY_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--stripe-webhook-secret", serve.stripe_webhook_secrets,
                  "The webhook endpoint's signing secret (whsec_...); give it twice during a rotation")
      ->envname("HEARTH_STRIPE_WEBHOOK_SECRET")->delimiter(',');
  cmd->add_option("--stripe-webhook-secret-file", serve.stripe_webhook_secret_file,
                  "A file holding the webhook signing secrets, one per line (two during a rotation)")
      ->envname("HEARTH_STRIPE_WEBHOOK_SECRET_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--stripe-team-price", serve.stripe_team_price, "The Stripe price id (price_...) of the team plan")
      ->envname("HEARTH_STRIPE_TEAM_PRICE");
  cmd->add_option("--billing-plans-file", serve.billing_plans_file, "A JSON file of further plans (docs/billing.md)")
      ->envname("HEARTH_BILLING_PLANS_FILE")->check(CLI::ExistingFile);
  cmd->add_option("--billing-public-url", serve.billing_public_url,
                  "Where Checkout returns people to (default: --public-url, else the address they used)")
      ->envname("HEARTH_BILLING_PUBLIC_URL");
  cmd->add_option("--stripe-api-url", serve.stripe_api_url, "Stripe's API")
      ->envname("HEARTH_STRIPE_API_URL")->capture_default_str();
  cmd->add_option("--billing-grace-days", serve.billing_grace_days,
                  "Days a past-due organization may still start new work")
      ->envname("HEARTH_BILLING_GRACE_DAYS")->check(CLI::Range(0, 90))->capture_default_str();

  auto* mock = app.add_subcommand("mock-agent",
                                  "Run the scripted mock agent: an ACP agent on stdin/stdout (docs/agents.md)");

  auto client = hearth::cli::add_client_commands(app);
  auto admin = hearth::cli::add_admin_commands(app);
  auto sessions = hearth::cli::add_session_commands(app);
  auto tasks = hearth::cli::add_task_commands(app);
  auto github = hearth::cli::add_github_commands(app);
  auto billing = hearth::cli::add_billing_commands(app);
  auto network = hearth::cli::add_network_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e, argc, argv);
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (!cmd->parsed() && !app.get_option("--log-level")->count() && !std::getenv("HEARTH_LOG_LEVEL"))
    spdlog::set_level(spdlog::level::warn);  // client and admin commands: quiet unless asked

  if (cmd->parsed()) return hearth::cli::serve(serve);
  if (mock->parsed()) {
    spdlog::set_level(spdlog::level::off);  // stdout carries ACP messages only
    return hearth::sandbox::acp::run_mock_agent(stdin, stdout);
  }
  for (const auto* set : {client.get(), admin.get(), sessions.get(), tasks.get(), github.get(), billing.get(), network.get()})
    if (auto code = hearth::cli::run_parsed(*set); code >= 0) return code;
  return hearth::cli::kExitUsage;
}
