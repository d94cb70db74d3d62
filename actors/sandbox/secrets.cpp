// Org secrets by name, and redaction with them: see secrets.h.
#include "actors/sandbox/secrets.h"

#include "actors/sandbox/sandbox_runtime.h"
#include "sandbox/agents.h"
#include "sandbox/redactor.h"

namespace hearth::actors::sandbox {

std::vector<std::string> agent_secret_names(const std::string& agent, std::vector<std::string> agent_env) {
  auto names = std::move(agent_env);
  if (auto def = hearth::sandbox::find_agent(agent))
    for (const auto* list : {&(*def)->credentials, &(*def)->settings}) names.insert(names.end(), list->begin(), list->end());
  return names;
}

Result<std::map<std::string, std::string>> Secrets::values(const std::string& org_id,
                                                           const std::vector<std::string>& names) const {
  return runtime_.open_secrets(org_id, names);
}

Result<std::string> Secrets::redact(const std::string& org_id, const std::vector<std::string>& names,
                                    const std::string& text) const {
  auto values = runtime_.open_secrets(org_id, names);
  if (!values) return values.error();
  return hearth::sandbox::Redactor({values->begin(), values->end()}).redact(text);
}

}  // namespace hearth::actors::sandbox
