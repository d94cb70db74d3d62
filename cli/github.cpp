// `hearth github ...`: an organization's GitHub App installation over the HTTP API
// (docs/github.md): its status and sync progress, linking and unlinking, a full sync,
// and what GitHub shows (repositories, pull requests, deliveries).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/api.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace hearth::cli {

using Json = nlohmann::json;

namespace {

void print_status(const Json& j) {
  std::cout << "configured: " << (j.value("configured", false) ? "yes" : "no (see docs/github.md)") << "\n";
  if (j["installation"].is_null()) {
    std::cout << "installation: none linked";
    if (j.contains("install_url") && !j["install_url"].get<std::string>().empty())
      std::cout << " (install the App: " << j["install_url"].get<std::string>() << ")";
    std::cout << "\n";
    return;
  }
  const auto& i = j["installation"];
  std::cout << "installation: " << i["installation_id"] << " (" << i.value("account_login", std::string()) << ", "
            << j["status"].get<std::string>() << ")\n";
  const auto& s = j["sync"];
  std::cout << "sync: " << (s["phase"].is_null() ? std::string("never") : s["phase"].get<std::string>());
  if (!s["total"].is_null()) std::cout << " " << s["processed"] << "/" << s["total"];
  if (!s["error"].is_null()) std::cout << " — " << s["error"].get<std::string>();
  std::cout << "\n";
  std::cout << "repositories: " << j["repositories"] << ", members: " << j["members"]
            << ", open pull requests: " << j["open_pull_requests"] << "\n";
}

}  // namespace

std::shared_ptr<CommandSet> add_github_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto opts = std::make_shared<ClientOptions>();
  auto common = [opts](CLI::App* cmd) { add_client_options(cmd, *opts); };
  auto s = std::make_shared<std::map<std::string, std::string>>();
  auto github = app.add_subcommand("github", "An organization's GitHub App installation (docs/github.md)");
  github->require_subcommand(1);
  auto org_arg = [s](CLI::App* c) { c->add_option("org", (*s)["org"], "Organization")->required(); };

  auto status = github->add_subcommand("status", "The installation, its status and the sync's progress");
  org_arg(status);
  common(status);
  set->add(status, [=] {
    Api api(*opts);
    return api.run("GET", org_path((*s)["org"]) + "/github", nullptr, print_status);
  });

  auto link = github->add_subcommand("link", "Link a GitHub App installation to the organization by its id (server admins; org admins use `github install`)");
  org_arg(link);
  link->add_option("installation", (*s)["installation"], "The installation id (from the App's install URL)")
      ->required()
      ->check(CLI::PositiveNumber);
  common(link);
  set->add(link, [=] {
    Api api(*opts);
    return api.run("POST", org_path((*s)["org"]) + "/github/installation",
                   Json{{"installation_id", std::stoll((*s)["installation"])}}, print_status);
  });

  auto install = github->add_subcommand("install", "The App's install URL for ORG (org admins): open it in the browser "
                                                   "signed in to Hearth; GitHub brings you back linked (valid an hour)");
  org_arg(install);
  common(install);
  set->add(install, [=] {
    Api api(*opts);
    return api.run("POST", org_path((*s)["org"]) + "/github/install", nullptr,
                   [](const Json& j) { std::cout << j["url"].get<std::string>() << "\n"; });
  });

  auto unlink = github->add_subcommand("unlink", "Unlink the installation, forgetting what GitHub showed (org admins)");
  org_arg(unlink);
  common(unlink);
  set->add(unlink, [=] {
    Api api(*opts);
    return api.run("DELETE", org_path((*s)["org"]) + "/github/installation", nullptr, print_status);
  });

  auto sync = github->add_subcommand("sync", "Start a full sync (org admins); `github status` shows its progress");
  org_arg(sync);
  common(sync);
  set->add(sync, [=] {
    Api api(*opts);
    return api.run("POST", org_path((*s)["org"]) + "/github/sync", nullptr,
                   [](const Json&) { std::cout << "sync started\n"; });
  });

  auto repos = github->add_subcommand("repos", "The installation's repositories");
  org_arg(repos);
  common(repos);
  set->add(repos, [=] {
    Api api(*opts);
    return api.run("GET", org_path((*s)["org"]) + "/github/repositories", nullptr, [](const Json& j) {
      print_table(j["items"], {"full_name", "default_branch", "private", "archived"});
    });
  });

  auto prs = github->add_subcommand("prs", "Pull requests: open and draft, or those of one --state");
  org_arg(prs);
  prs->add_option("--state", (*s)["state"], "open, draft, closed or merged");
  common(prs);
  set->add(prs, [=] {
    Api api(*opts);
    auto path = org_path((*s)["org"]) + "/github/pulls";
    if (!(*s)["state"].empty()) path += "?state=" + encode((*s)["state"]);
    return api.run("GET", path, nullptr, [](const Json& j) {
      print_table(j["items"], {"repo_full_name", "number", "state", "title", "head_ref", "author"});
    });
  });

  auto deliveries = github->add_subcommand("deliveries", "The newest webhook deliveries and what became of them (org admins)");
  org_arg(deliveries);
  common(deliveries);
  set->add(deliveries, [=] {
    Api api(*opts);
    return api.run("GET", org_path((*s)["org"]) + "/github/deliveries", nullptr, [](const Json& j) {
      print_table(j["items"], {"delivery_id", "event", "action", "outcome", "summary"});
    });
  });
  auto stored = github->add_subcommand("stored", "Deliveries kept unrouted (no org links their installation), or those "
                                                 "of --org (server admins)");
  stored->add_option("--org", (*s)["org"], "An organization");
  common(stored);
  set->add(stored, [=] {
    Api api(*opts);
    auto path = std::string("/v1/github/deliveries");
    if (!(*s)["org"].empty()) path += "?org=" + encode((*s)["org"]);
    return api.run("GET", path, nullptr, [](const Json& j) {
      print_table(j["items"], {"delivery_id", "event", "action", "installation_id", "outcome", "summary"});
    });
  });

  auto redeliver = github->add_subcommand("redeliver", "Apply a stored delivery again, routed as its installation is "
                                                       "linked now (server admins)");
  redeliver->add_option("delivery", (*s)["delivery"], "The delivery id (X-GitHub-Delivery)")->required();
  redeliver->add_option("--org", (*s)["org"], "The organization keeping it (default: the unrouted ones)");
  common(redeliver);
  set->add(redeliver, [=] {
    Api api(*opts);
    auto path = "/v1/github/deliveries/" + encode((*s)["delivery"]) + "/redeliver";
    if (!(*s)["org"].empty()) path += "?org=" + encode((*s)["org"]);
    return api.run("POST", path, nullptr, [](const Json& j) {
      std::cout << j["delivery_id"].get<std::string>() << ": " << j.value("outcome", std::string("?"));
      if (j.contains("error") && j["error"].is_string()) std::cout << " (" << j["error"].get<std::string>() << ")";
      std::cout << "\n";
    });
  });
  return set;
}

}  // namespace hearth::cli
