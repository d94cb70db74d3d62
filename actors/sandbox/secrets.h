// Org secrets by name, for whoever must keep their values out of what it stores: one
// job, "the values of these org secrets", over the sandbox runtime (Runtime::open_secrets:
// the org's sealed values, opened with the master key), and redaction with them. The
// edge redacts every prompt through it before the prompt's first durable write, so that
// a secret pasted into a prompt never reaches a transcript or a queue.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "actors/host/host.h"

namespace hearth::actors::sandbox {

class Runtime;

// The names of the org secrets an agent called `agent` is given in a sandbox whose
// extra secrets are `agent_env`: those, then the agent's credentials and settings
// (sandbox/agents.h). An unknown agent adds none. The session and task actors compute
// them when created, so that a prompt costs the edge one read.
std::vector<std::string> agent_secret_names(const std::string& agent, std::vector<std::string> agent_env = {});

class Secrets {
 public:
  explicit Secrets(Runtime& runtime) : runtime_(runtime) {}

  // The values of the org secrets of `org_id` named in `names` that exist (missing ones
  // are left out). Fails unavailable when the server has no master key, internal when a
  // value does not open, or as the organization's read fails.
  Result<std::map<std::string, std::string>> values(const std::string& org_id,
                                                    const std::vector<std::string>& names) const;

  // `text` with the values of those secrets replaced (sandbox/redactor.h); fails as
  // values() does.
  Result<std::string> redact(const std::string& org_id, const std::vector<std::string>& names,
                             const std::string& text) const;

 private:
  Runtime& runtime_;
};

}  // namespace hearth::actors::sandbox
