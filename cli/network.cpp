// `hearth network ...`: an organization's egress allowlist over the HTTP API (org admins;
// docs/sandboxes.md, Network): list it, allow hosts, take them off.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/api.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/times.h"

namespace hearth::cli {

using Json = nlohmann::json;

namespace {

void print_network(const Json& j) {
  Json rows = Json::array();
  for (const auto& i : j.value("items", Json::array()))
    rows.push_back({{"pattern", i["pattern"]}, {"added_by", i["added_by"]},
                    {"added", utc_text(i["added_at"].get<std::int64_t>())}});
  if (rows.empty()) std::cout << "no hosts allowed beyond the model APIs\n";
  else print_table(rows, {"pattern", "added_by", "added"});
  std::string defaults;
  for (const auto& d : j.value("defaults", Json::array())) defaults += (defaults.empty() ? "" : ", ") + d.get<std::string>();
  std::cout << "model APIs (through the proxy, keys put in): " << defaults << "\n";
  if (j.contains("counts"))
    std::cout << "connections since the server started: " << j["counts"]["allowed"] << " allowed, "
              << j["counts"]["refused"] << " refused\n";
}

}  // namespace

std::shared_ptr<CommandSet> add_network_commands(CLI::App& app) {
  auto set = std::make_shared<CommandSet>();
  auto opts = std::make_shared<ClientOptions>();
  auto org = std::make_shared<std::string>();
  auto hosts = std::make_shared<std::vector<std::string>>();
  auto network = app.add_subcommand("network", "The hosts an organization's sandboxes may reach through Hearth's "
                                               "egress proxy (docs/sandboxes.md)");
  network->require_subcommand(1);

  auto list = network->add_subcommand("list", "The allowlist, the model APIs reached through the proxy, and counts");
  list->add_option("org", *org, "Organization")->required();
  add_client_options(list, *opts);
  set->add(list, [=] {
    Api api(*opts);
    return api.run("GET", org_path(*org) + "/network", nullptr, print_network);
  });

  for (const auto& [name, help] :
       {std::pair{"allow", "Allow hosts: names (registry.npmjs.org) or *.domain patterns (*.githubusercontent.com), ports 80 "
                   "and 443 unless one is named (registry.internal:4873)"},
        std::pair{"deny", "Take hosts off the allowlist"}}) {
    auto cmd = network->add_subcommand(name, help);
    cmd->add_option("org", *org, "Organization")->required();
    cmd->add_option("hosts", *hosts, "Host patterns")->required();
    add_client_options(cmd, *opts);
    std::string path = std::string("/network/") + name;
    set->add(cmd, [=] {
      Api api(*opts);
      return api.run("POST", org_path(*org) + path, Json{{"hosts", *hosts}}, print_network);
    });
  }
  return set;
}

}  // namespace hearth::cli
