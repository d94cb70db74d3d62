// The agent registry: how each agent is started in a sandbox, with which environment,
// and the errors a person can act on.
#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "sandbox/agents.h"
#include "tests/support/temp_dir.h"

using namespace hearth;
using namespace hearth::sandbox;

namespace {

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Pretends `def` is installed under `data` (its package.json and entry file).
void fake_install(const std::filesystem::path& data, const AgentDef& def, const std::string& entry) {
  auto modules = agent_install_dir(data, def) / "node_modules";
  std::filesystem::create_directories(modules / def.package);
  std::ofstream(modules / def.package / "package.json") << R"({"version":")" << def.version << R"("})";
  std::filesystem::create_directories((modules / entry).parent_path());
  std::ofstream(modules / entry) << "";
}

}  // namespace

TEST_CASE("the registry knows the agents, and names them all when asked for an unknown one") {
  std::vector<std::string> names;
  for (const auto& d : agent_registry()) names.push_back(d.name);
  CHECK(names == std::vector<std::string>{"mock", "claude", "codex", "gemini", "opencode", "sdk-example"});
  auto unknown = find_agent("hal");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "unknown agent \"hal\"; known agents: mock, claude, codex, gemini, opencode, sdk-example");
}

TEST_CASE("the mock agent runs from the hearth binary, bound read-only, with the secrets it is given") {
  test::TempDir data;
  auto mock = *find_agent("mock");
  CHECK(installed_version(data.path(), *mock) == "built in");
  auto r = agent_exec(*mock, {data.path(), "/usr/bin/hearth", {{"DEPLOY_TOKEN", "abc"}}, "/home/hearth"});
  REQUIRE(r.ok());
  CHECK(r->argv == std::vector<std::string>{"/opt/hearth/hearth", "mock-agent"});
  CHECK(r->read_only == std::vector<std::pair<std::string, std::string>>{{"/usr/bin/hearth", "/opt/hearth/hearth"}});
  CHECK(has(r->env, "HOME=/home/hearth"));
  CHECK(has(r->env, "DEPLOY_TOKEN=abc"));
}

TEST_CASE("an npm agent must be installed and have one of its credentials, it gets its config dirs and settings") {
  test::TempDir data;
  auto claude = *find_agent("claude");
  CHECK_FALSE(installed_version(data.path(), *claude));
  auto missing = agent_exec(*claude, {data.path(), "", {}, "/home/hearth"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "agent claude is not installed on this server: run `hearth agents install claude`");
  fake_install(data.path(), *claude, "@zed-industries/claude-code-acp/dist/index.js");
  CHECK(installed_version(data.path(), *claude) == "0.16.2");
  auto no_key = agent_exec(*claude, {data.path(), "", {}, "/home/hearth"});
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.error().code == ErrorCode::conflict);
  CHECK(no_key.error().message.find("set the org secret ANTHROPIC_API_KEY") != std::string::npos);
  auto r = agent_exec(*claude, {data.path(), "", {{"ANTHROPIC_API_KEY", "k"}, {"ANTHROPIC_BASE_URL", "http://proxy"}}, "/home/hearth"});
  REQUIRE(r.ok());
  CHECK(r->argv == std::vector<std::string>{"node", "/opt/hearth/agents/claude/node_modules/@zed-industries/claude-code-acp/dist/index.js"});
  CHECK(r->read_only[0].second == "/opt/hearth/agents/claude");
  for (const char* e : {"ANTHROPIC_API_KEY=k", "ANTHROPIC_BASE_URL=http://proxy", "IS_SANDBOX=1",
                        "CLAUDE_CONFIG_DIR=/home/hearth/.claude"})
    CHECK_MESSAGE(has(r->env, e), e);
}

TEST_CASE("codex runs its native binary and takes its base URL as a model provider of its own config") {
  test::TempDir data;
  auto codex = *find_agent("codex");
  fake_install(data.path(), *codex, "@zed-industries/codex-acp-linux-x64/bin/codex-acp");
  fake_install(data.path(), *codex, "@zed-industries/codex-acp-linux-arm64/bin/codex-acp");
  auto r = agent_exec(*codex, {data.path(), "", {{"OPENAI_API_KEY", "k"}, {"OPENAI_BASE_URL", "http://llm:8080/v1"}}, "/h"});
  REQUIRE(r.ok());
  CHECK(r->argv[0].starts_with("/opt/hearth/agents/codex/node_modules/@zed-industries/codex-acp-linux-"));
  CHECK(has(r->argv, "model_providers.hearth.base_url=\"http://llm:8080/v1\""));
  CHECK(has(r->env, "CODEX_HOME=/h/.codex"));
  auto bad = agent_exec(*codex, {data.path(), "", {{"OPENAI_API_KEY", "k"}, {"OPENAI_BASE_URL", "http://x\"y"}}, "/h"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "the org secret OPENAI_BASE_URL must be plain text: no quote, backslash or line break");
}

TEST_CASE("codex runs with its own sandbox off but asks before acting, in a CODEX_HOME made for it, with the org's model") {
  test::TempDir data;
  auto codex = *find_agent("codex");
  fake_install(data.path(), *codex, "@zed-industries/codex-acp-linux-x64/bin/codex-acp");
  fake_install(data.path(), *codex, "@zed-industries/codex-acp-linux-arm64/bin/codex-acp");
  auto r = agent_exec(*codex, {data.path(), "", {{"OPENAI_API_KEY", "k"}}, "/h"});
  REQUIRE(r.ok());
  CHECK(std::vector<std::string>(r->argv.begin() + 1, r->argv.end()) ==
        std::vector<std::string>{"-c", "sandbox_mode=\"danger-full-access\"", "-c", "approval_policy=\"untrusted\""});
  CHECK(r->home_dirs == std::vector<std::string>{".codex"});
  auto model = agent_exec(*codex, {data.path(), "", {{"OPENAI_API_KEY", "k"}, {"CODEX_MODEL", "gpt-5.4-mini"}}, "/h"});
  REQUIRE(model.ok());
  CHECK(has(model->argv, "model=\"gpt-5.4-mini\""));
  CHECK(has(model->env, "CODEX_MODEL=gpt-5.4-mini"));
  CHECK_FALSE(has(model->argv, "model_provider=\"hearth\""));  // no base URL: OpenAI's own
}

TEST_CASE("gemini does its own file I/O, and the others have Hearth serve it") {
  for (const auto& d : agent_registry()) CHECK_MESSAGE(d.client_fs == (d.name != "gemini"), d.name);
}

namespace {

nlohmann::json opencode_config(const ExecRequest& r) {
  for (const auto& e : r.env)
    if (e.rfind("OPENCODE_CONFIG_CONTENT=", 0) == 0) return nlohmann::json::parse(e.substr(e.find('=') + 1));
  return nullptr;
}

}  // namespace

TEST_CASE("opencode gets a config for the org's credential: no hosted model, its base URL with /v1, people asked") {
  test::TempDir data;
  auto opencode = *find_agent("opencode");
  fake_install(data.path(), *opencode, "opencode-linux-x64/bin/opencode");
  fake_install(data.path(), *opencode, "opencode-linux-arm64/bin/opencode");
  auto r = agent_exec(*opencode, {data.path(), "", {{"ANTHROPIC_API_KEY", "k"}, {"ANTHROPIC_BASE_URL", "http://proxy:8080/"}}, "/h"});
  REQUIRE(r.ok());
  auto config = opencode_config(*r);
  REQUIRE(config.is_object());
  CHECK(config["disabled_providers"] == nlohmann::json{"opencode"});
  CHECK(config["provider"]["anthropic"]["options"]["baseURL"] == "http://proxy:8080/v1");
  CHECK(config["permission"] == nlohmann::json{{"edit", "ask"}, {"bash", "ask"}, {"webfetch", "ask"}});
  CHECK_FALSE(config.contains("model"));  // OpenCode's default for the provider it has a key for
  CHECK(config.dump().find("\"k\"") == std::string::npos);  // the key stays in the environment
  CHECK(has(r->env, "ANTHROPIC_API_KEY=k"));
  CHECK(has(r->env, "OPENCODE_DISABLE_AUTOUPDATE=1"));

  // A base URL given with /v1 is not given it twice; OpenAI's keeps its path as given.
  auto v1 = agent_exec(*opencode, {data.path(), "", {{"ANTHROPIC_API_KEY", "k"}, {"ANTHROPIC_BASE_URL", "http://proxy/v1"},
                                                     {"OPENAI_BASE_URL", "http://llm/v1"}, {"OPENCODE_MODEL", "openai/gpt-5"}},
                                   "/h"});
  REQUIRE(v1.ok());
  CHECK(opencode_config(*v1)["provider"]["anthropic"]["options"]["baseURL"] == "http://proxy/v1");
  CHECK(opencode_config(*v1)["provider"]["openai"]["options"]["baseURL"] == "http://llm/v1");
  CHECK(opencode_config(*v1)["model"] == "openai/gpt-5");
  // Declared, so that OpenCode takes it even when its catalog does not list it.
  CHECK(opencode_config(*v1)["provider"]["openai"]["models"] == nlohmann::json{{"gpt-5", nlohmann::json::object()}});

  auto bad_model = agent_exec(*opencode, {data.path(), "", {{"ANTHROPIC_API_KEY", "k"}, {"OPENCODE_MODEL", "sonnet"}}, "/h"});
  REQUIRE_FALSE(bad_model.ok());
  CHECK(bad_model.error().message.find("OPENCODE_MODEL must name a provider and a model") != std::string::npos);

  // The org's own config is the org's: passed as it is, nothing generated.
  auto own = agent_exec(*opencode, {data.path(), "", {{"ANTHROPIC_API_KEY", "k"}, {"OPENCODE_CONFIG_CONTENT", "{}"}}, "/h"});
  REQUIRE(own.ok());
  CHECK(opencode_config(*own) == nlohmann::json::object());
  CHECK(std::count_if(own->env.begin(), own->env.end(),
                      [](const std::string& e) { return e.rfind("OPENCODE_CONFIG_CONTENT=", 0) == 0; }) == 1);
}
