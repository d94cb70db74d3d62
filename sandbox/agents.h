// The agent registry: which coding agents Hearth can run over ACP, how each is
// installed (npm, into the data dir, pinned) and started inside a sandbox, and which
// org secrets it takes its credentials and API base URL from. See docs/agents.md.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/provider.h"

namespace hearth::sandbox {

struct AgentDef {
  std::string name;     // "mock", "claude", "codex", "gemini", "opencode", "sdk-example"
  std::string title;
  std::string package;  // npm package; empty for the built-in mock agent
  std::string version;  // pinned
  // The program under the install dir's node_modules: run with node when it ends in
  // .js, else run directly (a native binary).
  std::string entry;
  std::vector<std::string> args;       // after the program
  std::vector<std::string> node_args;  // before the script, for node
  // Org secrets it takes credentials from: any one of them is enough.
  std::vector<std::string> credentials;
  // Org secrets passed through when set (API base URLs, model choices), not required.
  std::vector<std::string> settings;
  // Fixed environment; "{home}" stands for HOME inside the sandbox.
  std::vector<std::string> env;
  // For agents that take their API base URL as arguments rather than from the
  // environment: the setting that holds it, and the arguments ("{url}" replaced).
  std::string base_url_setting;
  std::vector<std::string> base_url_args;
  bool needs_network = false;  // calls a model API: the sandbox's network must be host
  bool example = false;        // listed for interoperability tests, not for real work
};

// Every agent Hearth knows, in display order.
const std::vector<AgentDef>& agent_registry();
// The agent named `name`; invalid (listing the known names) when there is none.
Result<const AgentDef*> find_agent(const std::string& name);

// Where agents are installed: <data_dir>/agents/<name>.
std::filesystem::path agent_install_dir(const std::filesystem::path& data_dir, const AgentDef& def);
// The installed version (from its package.json), or nullopt when not installed. The
// mock agent is always installed (it is part of the hearth binary).
std::optional<std::string> installed_version(const std::filesystem::path& data_dir, const AgentDef& def);

// Installs `def` with npm into its install dir (never globally), printing npm's output
// through `progress`. Fails with npm's message.
Status install_agent(const std::filesystem::path& data_dir, const AgentDef& def,
                     const std::function<void(std::string_view)>& progress = {});

struct AgentLaunch {
  std::filesystem::path data_dir;       // for installed agents
  std::filesystem::path hearth_binary;  // for the mock agent
  // The org secrets it gets as environment variables, by name: its credentials and
  // settings that the org has, and those its sandbox adds.
  std::map<std::string, std::string> secrets;
  std::string home;  // HOME inside the sandbox (Provider::home_inside)
};

// The exec request that starts `def` in a sandbox: program, read-only binds of its
// files, and its environment (credentials and settings from `secrets`, its own config
// dirs under HOME). Fails when it is not installed or has no credentials.
Result<ExecRequest> agent_exec(const AgentDef& def, const AgentLaunch& launch);

}  // namespace hearth::sandbox
