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

// A value that goes into an agent's command line or config as a quoted string.
bool plain(const std::string& value) { return value.find_first_of("\"\\\n\r") == std::string::npos; }

// OpenCode answers with its own hosted model (opencode/big-pickle) unless its config
// says otherwise, and reads no base URL from the environment. Unless the org gave its
// own OPENCODE_CONFIG_CONTENT, Hearth writes one: OpenCode's hosted provider off (it
// then picks its default model of the provider whose key it has), the org's base URLs
// as its providers' baseURL, OPENCODE_MODEL as its model, and edits, shell commands and
// fetches asked of a person (OpenCode's default is to allow them all). The keys stay in
// the environment, where OpenCode reads them.
Result<std::vector<std::string>> opencode_env(const std::map<std::string, std::string>& secrets) {
  if (secrets.count("OPENCODE_CONFIG_CONTENT")) return std::vector<std::string>{};  // the org's own
  nlohmann::json config{{"$schema", "https://opencode.ai/config.json"},
                        {"disabled_providers", {"opencode"}},
                        {"autoupdate", false},
                        {"share", "disabled"},
                        {"permission", {{"edit", "ask"}, {"bash", "ask"}, {"webfetch", "ask"}}}};
  // OpenCode's Anthropic SDK posts to {baseURL}/messages; ANTHROPIC_BASE_URL is the base
  // without /v1, as Anthropic's SDKs and Claude Code take it (they post to
  // {base}/v1/messages), so /v1 is added. OPENAI_BASE_URL has /v1 already, for every
  // agent.
  struct Base {
    const char* setting;
    const char* provider;
    bool add_v1;
  };
  for (const Base& b : {Base{"ANTHROPIC_BASE_URL", "anthropic", true}, Base{"OPENAI_BASE_URL", "openai", false}}) {
    auto it = secrets.find(b.setting);
    if (it == secrets.end()) continue;
    auto url = it->second;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.empty() || !plain(url)) return Error{ErrorCode::invalid, fmt::format("the org secret {} must be a plain URL", b.setting)};
    if (b.add_v1 && !url.ends_with("/v1")) url += "/v1";
    config["provider"][b.provider]["options"]["baseURL"] = url;
  }
  if (auto model = secrets.find("OPENCODE_MODEL"); model != secrets.end()) {
    if (model->second.find('/') == std::string::npos || !plain(model->second))
      return Error{ErrorCode::invalid, "the org secret OPENCODE_MODEL must name a provider and a model, as OpenCode "
                                       "spells them: anthropic/claude-sonnet-4-5, openai/gpt-5, …"};
    config["model"] = model->second;
    // Declared as one of its provider's models: OpenCode ignores a model its catalog
    // does not list (a proxy's own name, a model newer than the catalog) and silently
    // takes its default instead.
    auto slash = model->second.find('/');
    config["provider"][model->second.substr(0, slash)]["models"][model->second.substr(slash + 1)] = nlohmann::json::object();
  }
  return std::vector<std::string>{"OPENCODE_CONFIG_CONTENT=" + config.dump()};
}

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
      // Hearth's sandbox is the isolation boundary: codex's own (a bwrap nested in
      // Hearth's) cannot start there, and it would not count that as a refusal: its
      // commands would fail unseen. Its sandbox is off; "untrusted" makes it ask before
      // any edit and any command not known to be read-only, over ACP, so that a person
      // decides (with its sandbox off, its default "on-request" would never ask).
      d.args = {"-c", "sandbox_mode=\"danger-full-access\"", "-c", "approval_policy=\"untrusted\""};
      d.credentials = {"OPENAI_API_KEY", "CODEX_API_KEY"};
      d.settings = {"OPENAI_BASE_URL", "CODEX_MODEL"};
      d.env = {"CODEX_HOME={home}/.codex"};
      d.home_dirs = {".codex"};  // codex refuses to start when CODEX_HOME does not exist
      // codex-acp ignores OPENAI_BASE_URL; a model provider of its own config takes it.
      d.setting_args = {{"OPENAI_BASE_URL",
                         {"-c", "model_provider=\"hearth\"", "-c", "model_providers.hearth.name=\"hearth\"",
                          "-c", "model_providers.hearth.base_url=\"{value}\"",
                          "-c", "model_providers.hearth.env_key=\"OPENAI_API_KEY\"",
                          "-c", "model_providers.hearth.wire_api=\"responses\""}},
                        {"CODEX_MODEL", {"-c", "model=\"{value}\""}}};
      d.needs_network = true;
      a.push_back(d);
    }
    {
      AgentDef d{"gemini", "Gemini CLI", "@google/gemini-cli", "0.61.0", "@google/gemini-cli/bundle/gemini.js",
                 {"--acp"}};
      d.credentials = {"GEMINI_API_KEY", "GOOGLE_API_KEY"};
      d.settings = {"GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL"};
      // Gemini CLI 0.61 takes a refused fs/read_text_file (a file that does not exist
      // yet) for an error of the read and gives up writing the new file: it does its
      // file I/O itself.
      d.client_fs = false;
      d.needs_network = true;
      d.loads_after_first_minute = true;
      a.push_back(d);
    }
    {
      AgentDef d{"opencode", "OpenCode", "opencode-ai", "1.18.33", "opencode-linux-{arch}/bin/opencode", {"acp"}};
      d.credentials = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"};
      d.settings = {"ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OPENCODE_MODEL", "OPENCODE_CONFIG_CONTENT"};
      // No update checks, and none of its default plugins (logins to hosted accounts,
      // installed from npm at every start in a fresh HOME).
      d.env = {"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1", "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_LSP_DOWNLOAD=1"};
      d.derived_env = opencode_env;
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
  for (const auto& [setting, args] : def.setting_args) {
    auto value = launch.secrets.find(setting);
    if (value == launch.secrets.end()) continue;
    if (!plain(value->second))
      return Error{ErrorCode::invalid, fmt::format("the org secret {} must be plain text: no quote, backslash or line "
                                                   "break", setting)};
    for (const auto& a : args) r.argv.push_back(replace_all(a, "{value}", value->second));
  }
  if (def.derived_env) {
    auto derived = def.derived_env(launch.secrets);
    if (!derived) return derived.error();
    r.env.insert(r.env.end(), derived->begin(), derived->end());
  }
  r.home_dirs = def.home_dirs;
  r.read_only.emplace_back(agent_install_dir(launch.data_dir, def).string(), inside_dir(def));
  return r;
}

}  // namespace hearth::sandbox
