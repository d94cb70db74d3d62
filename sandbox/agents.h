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

// Arguments an org setting becomes, for agents that take it on their command line
// rather than from the environment: `args` with "{value}" replaced by its value.
struct SettingArgs {
  std::string setting;
  std::vector<std::string> args;
};

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
  // Dirs under HOME it needs and does not make itself (codex: its CODEX_HOME).
  std::vector<std::string> home_dirs;
  // Settings it takes as arguments, each added when the org has it. A value used there
  // must be plain text: no quote, backslash or line break.
  std::vector<SettingArgs> setting_args;
  // Environment it derives from the secrets it gets (OpenCode's config), after them;
  // fails with a message naming the secret at fault.
  std::function<Result<std::vector<std::string>>(const std::map<std::string, std::string>& secrets)> derived_env;
  // Whether Hearth serves its file reads and writes (ACP fs/*). Off for an agent that
  // cannot use Hearth's answers: it reads and writes itself, in the same sandbox.
  bool client_fs = true;
  bool needs_network = false;  // calls a model API: the sandbox's network must be host
  bool example = false;        // listed for interoperability tests, not for real work
  // It names a session's file by the UTC minute the session began, and loading that
  // session within the same minute writes a fresh start into that file, losing it (Gemini
  // CLI 0.61): such a load waits for the next minute.
  bool loads_after_first_minute = false;
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

// The exec request that starts `def` in a sandbox: program and arguments (settings it
// takes as arguments among them), read-only binds of its files, the dirs it needs under
// HOME, and its environment (credentials and settings from `secrets`, its own config
// dirs under HOME, what it derives from them). Fails when it is not installed, has no
// credentials, or a setting's value cannot be used.
Result<ExecRequest> agent_exec(const AgentDef& def, const AgentLaunch& launch);

}  // namespace hearth::sandbox
