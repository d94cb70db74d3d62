// The agent registry: see agents.h.
#include "sandbox/agents.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace hearth::sandbox {
namespace {

namespace fs = std::filesystem;

// Where an agent's files appear inside the sandbox.
std::string inside_dir(const AgentDef& def) { return "/opt/hearth/agents/" + def.name; }

std::string npm_arch() {
  utsname u{};
  ::uname(&u);
  return std::string(u.machine) == "aarch64" ? "arm64" : "x64";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::string entry_of(const AgentDef& def) { return replace_all(def.entry, "{arch}", npm_arch()); }

}  // namespace

const std::vector<AgentDef>& agent_registry() {
  static const std::vector<AgentDef> agents = [] {
    std::vector<AgentDef> a;
    a.push_back({"mock", "Hearth mock agent (scripted, no model)", "", "", "", {"mock-agent"}});
    {
      AgentDef d{"claude", "Claude Code", "@zed-industries/claude-code-acp", "0.16.2",
                 "@zed-industries/claude-code-acp/dist/index.js"};
      d.credentials = {"ANTHROPIC_API_KEY"};
      d.settings = {"ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"};
      // As root Claude Code refuses to start unless told it runs in a sandbox, which it does.
      d.env = {"IS_SANDBOX=1", "CLAUDE_CONFIG_DIR={home}/.claude", "DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"};
      d.needs_network = true;
      a.push_back(d);
    }
    {
      // The native binary directly: its npm launcher orphans it when signalled.
      AgentDef d{"codex", "Codex", "@zed-industries/codex-acp", "0.16.0",
                 "@zed-industries/codex-acp-linux-{arch}/bin/codex-acp"};
      d.credentials = {"OPENAI_API_KEY", "CODEX_API_KEY"};
      d.settings = {"OPENAI_BASE_URL"};
      d.env = {"CODEX_HOME={home}/.codex"};
      // codex-acp ignores OPENAI_BASE_URL; a model provider of its own config takes it.
      d.base_url_setting = "OPENAI_BASE_URL";
      d.base_url_args = {"-c", "model_provider=\"hearth\"", "-c", "model_providers.hearth.name=\"hearth\"",
                         "-c", "model_providers.hearth.base_url=\"{url}\"",
                         "-c", "model_providers.hearth.env_key=\"OPENAI_API_KEY\"",
                         "-c", "model_providers.hearth.wire_api=\"responses\""};
      d.needs_network = true;
      a.push_back(d);
    }
    {
      AgentDef d{"gemini", "Gemini CLI", "@google/gemini-cli", "0.61.0", "@google/gemini-cli/bundle/gemini.js",
                 {"--acp"}};
      d.credentials = {"GEMINI_API_KEY", "GOOGLE_API_KEY"};
      d.settings = {"GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL"};
      d.needs_network = true;
      a.push_back(d);
    }
    {
      AgentDef d{"opencode", "OpenCode", "opencode-ai", "1.18.33", "opencode-linux-{arch}/bin/opencode", {"acp"}};
      d.credentials = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"};
      d.settings = {"ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OPENCODE_CONFIG_CONTENT"};
      d.needs_network = true;
      a.push_back(d);
    }
    {
      // The ACP SDK's model-free example agent: proves Hearth speaks ACP with code it did not write.
      AgentDef d{"sdk-example", "ACP SDK example agent (canned turn, no model)", "@agentclientprotocol/sdk", "1.9.0",
                 "@agentclientprotocol/sdk/dist/examples/agent.js"};
      d.node_args = {"--experimental-global-webcrypto"};  // Node 18 has no global crypto without it
      d.example = true;
      a.push_back(d);
    }
    return a;
  }();
  return agents;
}

Result<const AgentDef*> find_agent(const std::string& name) {
  std::string known;
  for (const auto& d : agent_registry()) {
    if (d.name == name) return &d;
    known += (known.empty() ? "" : ", ") + d.name;
  }
  return Error{ErrorCode::invalid, fmt::format("unknown agent \"{}\"; known agents: {}", name, known)};
}

fs::path agent_install_dir(const fs::path& data_dir, const AgentDef& def) { return data_dir / "agents" / def.name; }

std::optional<std::string> installed_version(const fs::path& data_dir, const AgentDef& def) {
  if (def.package.empty()) return std::string("built in");
  auto dir = agent_install_dir(data_dir, def);
  std::ifstream in(dir / "node_modules" / def.package / "package.json");
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("version") || !j["version"].is_string()) return std::nullopt;
  std::error_code ec;
  if (!fs::exists(dir / "node_modules" / entry_of(def), ec)) return std::nullopt;
  return j["version"].get<std::string>();
}

Status install_agent(const fs::path& data_dir, const AgentDef& def,
                     const std::function<void(std::string_view)>& progress) {
  if (def.package.empty()) return {};  // built in
  auto dir = agent_install_dir(data_dir, def);
  // Into a fresh dir beside it, moved into place only when npm succeeded, so that a
  // failed or interrupted install never leaves a half-installed agent.
  auto staging = fs::path(dir.string() + fmt::format(".installing-{}", ::getpid()));
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return Error{ErrorCode::unavailable, fmt::format("cannot create {}: {}", staging.string(), ec.message())};
  ProcessSpec spec{{"npm", "install", "--prefix", staging.string(), "--no-audit", "--no-fund", "--omit=dev",
                    "--loglevel=warn", def.package + "@" + def.version}};
  spec.merge_stderr = true;
  spec.extra_env = {"npm_config_update_notifier=false"};
  auto npm = Process::spawn(spec);
  if (!npm) {
    fs::remove_all(staging, ec);
    return Error{ErrorCode::unavailable, "npm is not installed (apt-get install npm): " + npm.error().message};
  }
  std::string tail;
  for (;;) {
    auto line = npm->read_line(std::chrono::minutes(10));
    if (!line) break;
    if (progress) progress(*line);
    tail = tail.size() > 4000 ? *line : tail + *line + "\n";
  }
  auto code = npm->wait(std::chrono::seconds(30));
  if (!code || *code != 0) {
    fs::remove_all(staging, ec);
    return Error{ErrorCode::unavailable,
                 fmt::format("npm install {}@{} failed (exit {}): {}", def.package, def.version, code ? *code : -1, tail)};
  }
  if (!fs::exists(staging / "node_modules" / entry_of(def), ec)) {
    fs::remove_all(staging, ec);
    return Error{ErrorCode::unavailable, fmt::format("npm installed {}@{}, but {} is missing (no build for this "
                                                     "platform?)", def.package, def.version, entry_of(def))};
  }
  // Readable by every sandbox's user (each agent runs as its sandbox's), whatever umask
  // npm ran with.
  for (auto it = fs::recursive_directory_iterator(staging, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->is_symlink()) continue;
    auto perms = fs::perms::group_read | fs::perms::others_read;
    if (it->is_directory() || (it->status().permissions() & fs::perms::owner_exec) != fs::perms::none)
      perms |= fs::perms::group_exec | fs::perms::others_exec;
    fs::permissions(it->path(), perms, fs::perm_options::add, ec);
  }
  ::chmod(staging.c_str(), 0755);
  fs::remove_all(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec) return Error{ErrorCode::unavailable, fmt::format("cannot move the install into {}: {}", dir.string(), ec.message())};
  return {};
}

Result<ExecRequest> agent_exec(const AgentDef& def, const AgentLaunch& launch) {
  ExecRequest r;
  // No wall clock: a session's agent lives across turns. It is ended by Hearth.
  r.limits.wall_clock = std::chrono::hours(24 * 365);
  r.limits.idle = std::chrono::hours(24 * 365);
  r.env.push_back("HOME=" + launch.home);
  for (const auto& e : def.env) r.env.push_back(replace_all(e, "{home}", launch.home));
  // Every secret it was given: its credentials and settings, and those the sandbox adds.
  for (const auto& [name, value] : launch.secrets) r.env.push_back(name + "=" + value);
  if (def.package.empty()) {
    r.argv = {"/opt/hearth/hearth"};
    r.argv.insert(r.argv.end(), def.args.begin(), def.args.end());
    r.read_only.emplace_back(launch.hearth_binary.string(), "/opt/hearth/hearth");
    return r;
  }
  if (!installed_version(launch.data_dir, def))
    return Error{ErrorCode::conflict, fmt::format("agent {} is not installed on this server: run `hearth agents "
                                                  "install {}`", def.name, def.name)};
  if (!def.credentials.empty()) {
    bool any = false;
    for (const auto& name : def.credentials) any = any || launch.secrets.count(name);
    if (!any) {
      std::string names;
      for (const auto& n : def.credentials) names += (names.empty() ? "" : " or ") + n;
      return Error{ErrorCode::conflict, fmt::format("agent {} needs its credentials: set the org secret {} (`hearth "
                                                    "secret set ORG NAME`)", def.name, names)};
    }
  }
  auto program = inside_dir(def) + "/node_modules/" + entry_of(def);
  if (program.ends_with(".js")) {
    r.argv = {"node"};
    r.argv.insert(r.argv.end(), def.node_args.begin(), def.node_args.end());
    r.argv.push_back(program);
  } else {
    r.argv = {program};
  }
  r.argv.insert(r.argv.end(), def.args.begin(), def.args.end());
  if (auto url = launch.secrets.find(def.base_url_setting); !def.base_url_setting.empty() && url != launch.secrets.end()) {
    if (url->second.find_first_of("\"\\\n") != std::string::npos)
      return Error{ErrorCode::invalid, fmt::format("the org secret {} must be a plain URL", def.base_url_setting)};
    for (const auto& a : def.base_url_args) r.argv.push_back(replace_all(a, "{url}", url->second));
  }
  r.read_only.emplace_back(agent_install_dir(launch.data_dir, def).string(), inside_dir(def));
  return r;
}

}  // namespace hearth::sandbox
