// The agent registry: how each agent is started in a sandbox, with which environment,
// and the errors a person can act on.
#include <doctest/doctest.h>

#include <fstream>

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
  CHECK(bad.error().message == "the org secret OPENAI_BASE_URL must be a plain URL");
}
