// `hearth serve`: the actor host plus the HTTP edge, stopped cleanly by SIGINT/SIGTERM.
// On first run (no user exists) it creates the server admin `admin`.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/billing/billing_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/host/host.h"
#include "actors/identity/identity.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "actors/session/session_actor.h"
#include "cli/commands.h"
#include "github/app.h"
#include "stripe/stripe.h"
#include "http/server.h"
#include "sandbox/egress.h"
#include "storage/file_lock.h"
#include "storage/secret_box.h"

namespace hearth::cli {
namespace {

// Creates `admin` when nobody exists yet. Its password is HEARTH_ADMIN_PASSWORD, or a
// random one written to <data-dir>/initial-admin-password (mode 0600), never printed.
Status first_run(actors::Host& host, const std::filesystem::path& data_dir) {
  identity::Identity id(host);
  auto count = id.user_count();
  if (!count) return count.error();
  if (*count > 0) return {};
  const char* env = std::getenv("HEARTH_ADMIN_PASSWORD");
  std::string password = env && *env ? env : identity::new_secret("").substr(0, 24);
  auto user = id.create_user("admin", password, true);
  if (!user) return user.error();
  if (env && *env) {
    std::cout << "created the server admin \"admin\" with the password from HEARTH_ADMIN_PASSWORD" << std::endl;
    return {};
  }
  auto path = data_dir / "initial-admin-password";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{ErrorCode::unavailable, "cannot write " + path.string()};
  ::fchmod(fd, 0600);
  auto text = password + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return Error{ErrorCode::unavailable, "cannot write " + path.string()};
  std::cout << "created the server admin \"admin\"; its password is in "
            << std::filesystem::absolute(path).string() << " (readable by this user only)" << std::endl;
  return {};
}

// The contents of the file at `path`, which the setting `flag` names.
Result<std::string> read_setting_file(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf()))
    return Error{ErrorCode::invalid, std::string(flag) + ": cannot read " + path};
  return text.str();
}

// A secret given as a value or as a file holding it (without its final newline), not
// both; empty when neither.
Result<std::string> secret_setting(const std::string& value, const std::string& file, std::string_view flag) {
  if (file.empty()) return value;
  if (!value.empty())
    return Error{ErrorCode::invalid, std::string(flag) + " and " + std::string(flag) + "-file are both set: keep one"};
  auto text = read_setting_file(file, std::string(flag) + "-file");
  if (!text) return text.error();
  while (text->ends_with('\n') || text->ends_with('\r')) text->pop_back();
  return std::move(*text);
}

// Billing with Stripe as the settings describe it, or null when no secret key is
// configured. Fails invalid for an unreadable file, a bad plans file or URL.
Result<std::shared_ptr<const actors::billing::BillingConfig>> billing_config(const ServeOptions& options) {
  auto key = secret_setting(options.stripe_secret_key, options.stripe_secret_key_file, "--stripe-secret-key");
  if (!key) return key.error();
  if (key->empty()) return std::shared_ptr<const actors::billing::BillingConfig>{};
  std::string plans_text;
  if (!options.billing_plans_file.empty()) {
    auto text = read_setting_file(options.billing_plans_file, "--billing-plans-file");
    if (!text) return text.error();
    plans_text = std::move(*text);
  }
  auto plans = actors::billing::load_plans(options.stripe_team_price, plans_text);
  if (!plans) return plans.error();
  actors::billing::BillingConfig config;
  config.plans = std::move(*plans);
  for (const auto& s : options.stripe_webhook_secrets)
    if (!s.empty()) config.webhook_secrets.push_back(s);
  if (!options.stripe_webhook_secret_file.empty()) {
    auto text = read_setting_file(options.stripe_webhook_secret_file, "--stripe-webhook-secret-file");
    if (!text) return text.error();
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
      while (line.ends_with('\r') || line.ends_with(' ')) line.pop_back();
      if (!line.empty()) config.webhook_secrets.push_back(line);
    }
  }
  if (config.webhook_secrets.size() > 2)
    return Error{ErrorCode::invalid, "at most two Stripe webhook secrets (the old and the new one during a rotation)"};
  config.public_url = options.billing_public_url;
  config.past_due_grace = std::chrono::hours(24 * options.billing_grace_days);
  stripe::ClientConfig client;
  client.api_url = options.stripe_api_url;
  client.secret_key = std::move(*key);
  auto made = stripe::Client::create(std::move(client));
  if (!made) return made.error();
  config.client = std::shared_ptr<stripe::Client>(std::move(*made));
  return std::shared_ptr<const actors::billing::BillingConfig>(
      std::make_shared<actors::billing::BillingConfig>(std::move(config)));
}

// The GitHub App the settings describe, or null when none is configured (neither an id
// nor a key file). Fails invalid when it is configured wrongly: an id without a key or a
// key without an id, an unreadable file, a key that is not an RSA key, a bad URL.
Result<std::shared_ptr<github::App>> github_app(const ServeOptions& options) {
  if (options.github_app_id.empty() && options.github_private_key_file.empty()) return std::shared_ptr<github::App>{};
  if (options.github_app_id.empty() || options.github_private_key_file.empty())
    return Error{ErrorCode::invalid, "the GitHub App needs both --github-app-id and --github-private-key-file"};
  github::AppConfig config;
  config.app_id = options.github_app_id;
  auto key = read_setting_file(options.github_private_key_file, "--github-private-key-file");
  if (!key) return key.error();
  config.private_key_pem = std::move(*key);
  auto webhook_secret = secret_setting(options.github_webhook_secret, options.github_webhook_secret_file, "--github-webhook-secret");
  if (!webhook_secret) return webhook_secret.error();
  config.webhook_secret = std::move(*webhook_secret);
  auto client_secret = secret_setting(options.github_client_secret, options.github_client_secret_file, "--github-client-secret");
  if (!client_secret) return client_secret.error();
  config.client_secret = std::move(*client_secret);
  config.slug = options.github_app_slug;
  config.client_id = options.github_client_id;
  config.api_url = options.github_api_url;
  config.web_url = options.github_web_url;
  auto app = github::App::create(std::move(config));
  if (!app) return app.error();
  return std::shared_ptr<github::App>(std::move(*app));
}

}  // namespace

int serve(const ServeOptions& options) {
  // Block the stop signals in every thread (threads inherit the mask) and wait for
  // them on this one, so that shutdown runs in ordinary code, not a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Every connection waiting for its request head is a descriptor: allow as many as
  // the system lets this process have.
  if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  // Everything Hearth writes is its own: the data dir 0700, files 0600 (the password and
  // token hashes, the master key and every database are in it).
  ::umask(077);
  {
    std::error_code ec;
    if (!std::filesystem::exists(options.data_dir, ec)) {
      std::filesystem::create_directories(options.data_dir, ec);
      ::chmod(options.data_dir.c_str(), 0700);
    } else if (struct stat st {}; ::stat(options.data_dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      std::cerr << fmt::format("WARNING: the data dir {} is readable by other users (mode {:04o}); it holds password "
                               "and token hashes and the master key: chmod 700 {}\n",
                               options.data_dir.string(), st.st_mode & 07777, options.data_dir.string());
      spdlog::warn("serve.data_dir_readable path={} mode={:04o}", options.data_dir.string(), st.st_mode & 07777);
    }
  }

  auto lock = storage::FileLock::acquire(options.data_dir / "hearth.lock");
  if (!lock) {
    std::cerr << "hearth: " << lock.error().message << "\n";
    return 1;
  }

  auto master_key = storage::MasterKey::load(options.data_dir);
  if (!master_key) {
    std::cerr << "hearth: " << master_key.error().message << "\n";
    return 1;
  }

  auto app = github_app(options);
  if (!app) {
    std::cerr << "hearth: " << app.error().message << "\n";
    return 1;
  }
  if (*app) {
    const auto& github_config = (*app)->config();
    spdlog::info("github.configured app_id={} api_url={} webhook_secret={}", github_config.app_id, github_config.api_url,
                 github_config.webhook_secret.empty() ? "unset" : "set");
    if (github_config.webhook_secret.empty())
      spdlog::warn("github.webhook_secret_missing: deliveries cannot be verified and will be refused; set "
                   "HEARTH_GITHUB_WEBHOOK_SECRET_FILE");
  } else {
    spdlog::debug("github.not_configured");
  }

  auto billing = billing_config(options);
  if (!billing) {
    std::cerr << "hearth: " << billing.error().message << "\n";
    return 1;
  }
  if (*billing) {
    spdlog::info("billing.configured api_url={} plans={} webhook_secrets={}", options.stripe_api_url, (*billing)->plans.size(),
                 (*billing)->webhook_secrets.size());
    if ((*billing)->webhook_secrets.empty())
      spdlog::warn("billing.webhook_secret_missing: Stripe events cannot be verified and will be refused; set "
                   "HEARTH_STRIPE_WEBHOOK_SECRET_FILE");
  }

  actors::HostConfig config;
  config.data_dir = options.data_dir;
  config.hibernate_after = std::chrono::seconds(options.hibernate_after_s);
  config.synchronous = *storage::synchronous_from_string(options.sqlite_synchronous);
  config.io_threads = static_cast<std::size_t>(options.io_threads);

  actors::Host host(config);
  auto key = std::make_shared<const storage::MasterKey>(*master_key);
  actors::sandbox::RuntimeConfig sandboxes;
  sandboxes.data_dir = options.data_dir;
  sandboxes.provider = options.sandbox_provider;
  sandboxes.group_limits = {options.sandbox_max_processes, std::int64_t{options.sandbox_max_memory_mb} << 20};
  sandboxes.master_key = key;
  sandboxes.permission_timeout = std::chrono::seconds(options.permission_timeout_s);
  sandboxes.agent_idle_timeout = std::chrono::seconds(options.agent_idle_timeout_s);
  sandboxes.git_ca_file = options.git_ca_file;
  for (const auto& a : options.egress_allow_addresses) {
    auto cidr = hearth::sandbox::egress::Cidr::parse(a);
    if (!cidr) {
      std::cerr << "hearth: --egress-allow-address: " << cidr.error().message << "\n";
      return 2;
    }
    sandboxes.egress.allowed_addresses.push_back(*cidr);
  }
  sandboxes.egress.ca_file = options.egress_ca_file;
  sandboxes.file_repo_roots = options.file_repo_roots;
  sandboxes.sandbox_uid_base = options.sandbox_uid_base;
  sandboxes.github = *app;
  actors::sandbox::Runtime runtime(host, sandboxes);
  actors::session::AgentRunner agents(runtime, {std::chrono::seconds(options.turn_silence_timeout_s)});
  if (auto st = identity::register_types(host); !st) {
    std::cerr << "hearth: " << st.error().message << "\n";
    return 1;
  }
  if (auto st = actors::billing::register_type(host, *billing); !st) {
    std::cerr << "hearth: " << st.error().message << "\n";
    return 1;
  }
  if (auto st = actors::github_data::register_type(host, *app); !st) {
    std::cerr << "hearth: " << st.error().message << "\n";
    return 1;
  }
  if (auto st = actors::session::register_types(host, agents); !st) {
    std::cerr << "hearth: " << st.error().message << "\n";
    return 1;
  }
  if (auto st = runtime.start(); !st) {
    std::cerr << "hearth: sandboxes: " << st.error().message << "\n";
    return 1;
  }
  if (options.sandbox_provider == "local")
    std::cout << "WARNING: --sandbox-provider local: agents and processes run as plain processes on this machine, "
                 "NOT isolated from it or from each other. Use it for development only." << std::endl;
  if (auto st = host.start(); !st) {
    spdlog::error("serve.start_failed error={}", st.error().message);
    std::cerr << "hearth: " << st.error().message << "\n";
    return 1;
  }
  if (auto st = first_run(host, options.data_dir); !st) {
    std::cerr << "hearth: cannot create the first admin: " << st.error().message << "\n";
    host.shutdown();
    return 1;
  }

  http::ServerConfig server_config;
  server_config.host = options.host;
  server_config.port = options.port;
  server_config.threads = static_cast<std::size_t>(options.http_threads);
  if (!options.web_dir.empty()) {
    server_config.web_dir = options.web_dir;
  } else {
    std::error_code ec;
    server_config.web_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "web";
  }
  auto& edge = server_config.edge;
  edge.max_body_bytes = options.max_body_bytes;
  edge.request_timeout = std::chrono::seconds(options.request_timeout_s);
  edge.session_ttl = std::chrono::hours(options.session_ttl_hours);
  edge.allowed_origins = options.allowed_origins;
  edge.secure_cookies = options.secure_cookies;
  edge.sse_max_streams = static_cast<std::size_t>(options.sse_max_streams);
  edge.sse_max_streams_per_user = static_cast<std::size_t>(options.sse_max_streams_per_user);
  edge.public_url = options.public_url;
  edge.trusted_proxies = options.trusted_proxies;
  edge.anyone_creates_orgs = options.anyone_creates_orgs;
  edge.metrics_token = options.metrics_token;
  edge.master_key = key;
  edge.agents = &agents;
  edge.github = *app;
  edge.billing = *billing;
  edge.github_signup = options.github_signup == "on";

  http::Server server(server_config, host);
  auto port = server.start();
  if (!port) {
    std::cerr << "hearth: " << port.error().message << "\n";
    host.shutdown();
    return 1;
  }
  server.set_ready(true);
  std::cout << "hearth listening on http://" << options.host << ":" << *port << " (data dir "
            << std::filesystem::absolute(options.data_dir).string() << ")" << std::endl;

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("serve.stopping signal={}", signal == SIGINT ? "SIGINT" : "SIGTERM");
  server.set_ready(false);
  server.stop();
  agents.shutdown(std::chrono::seconds(options.shutdown_grace_s));  // turns end as interrupted
  host.shutdown(std::chrono::seconds(options.shutdown_grace_s));
  std::cout << "hearth stopped" << std::endl;
  return 0;
}

}  // namespace hearth::cli
