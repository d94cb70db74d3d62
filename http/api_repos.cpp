// Repositories over HTTP: connect one by git URL (the edge asks the remote, with git,
// for its default branch before anything is stored), list them, list a repository's
// branches (live, from the remote), disconnect. Connecting and disconnecting are for
// org admins. See docs/http-api.md and docs/tasks.md.
#include <httplib.h>

#include <fmt/format.h>

#include "actors/organization/organization_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "actors/session/agent_runner.h"
#include "http/actor_calls.h"
#include "http/fields.h"
#include "http/remote.h"
#include "http/routes.h"
#include "sandbox/git.h"

namespace hearth::http {
namespace {

namespace org = actors::organization;

Result<std::string> repo_param(const Context& ctx) {
  const auto& id = ctx.param("repo");
  bool ok = !id.empty() && id.size() <= 64;
  for (unsigned char c : id) ok = ok && (std::islower(c) || std::isdigit(c) || c == '-' || c == '_' || c == '.');
  if (!ok) return Error{ErrorCode::not_found, fmt::format("no repository \"{}\" in this organization", id.substr(0, 64))};
  return id;
}

// "widgets" from ".../acme/widgets.git".
std::string repo_id_from(const std::string& url) {
  auto path = url;
  while (!path.empty() && path.back() == '/') path.pop_back();
  auto name = path.substr(path.find_last_of('/') + 1);
  if (name.ends_with(".git")) name.resize(name.size() - 4);
  std::string id;
  for (unsigned char c : name) {
    if (std::isalnum(c)) id += static_cast<char>(std::tolower(c));
    else if (c == '-' || c == '_' || c == '.') id += static_cast<char>(c);
    else if (!id.empty() && id.back() != '-') id += '-';
  }
  if (id.size() > 64) id.resize(64);
  return id;
}

Result<Reply> list_repos(Context& ctx) { return read(ctx, org::address(ctx.org_id), org::kRepos); }

Result<Reply> get_repo(Context& ctx) {
  auto id = repo_param(ctx);
  if (!id) return id.error();
  return read(ctx, org::address(ctx.org_id), org::kRepo, {{"repo_id", *id}});
}

Result<Reply> add_repo(Context& ctx) {
  auto runner = ctx.edge.agent_runner();
  if (!runner) return runner.error();
  auto url = string_field(ctx.body, "url");
  if (!url) return url.error();
  if (url->size() > 2048) return Error{ErrorCode::invalid, "field \"url\" is at most 2048 characters"};
  auto name = string_field(ctx.body, "name", false);
  if (!name) return name.error();
  auto credential = string_field(ctx.body, "credential", false);
  if (!credential) return credential.error();
  if (auto st = hearth::sandbox::validate_url(*url); !st) return st.error();
  if (url->rfind("file:///", 0) == 0) {
    // The server's own files: for its admins to share, from the directories they allow.
    if (!ctx.caller->is_admin)
      return Error{ErrorCode::forbidden, "connecting a file:// repository is for server admins (it reads the server's "
                                         "own disk); connect an https:// repository instead"};
    auto origin = (*runner)->runtime().origin(ctx.org_id, *url, "", actors::sandbox::GitAccess::read);
    if (!origin) return origin.error();
    if (auto path = hearth::sandbox::check_file_origin(*origin); !path) return path.error();
  }
  if (!credential->empty()) {
    auto names = ctx.edge.host.call(org::address(ctx.org_id), org::kSecrets);
    if (!names) return names.error();
    bool found = false;
    for (const auto& n : *names) found = found || n.value("name", "") == *credential;
    if (!found) return Error{ErrorCode::invalid, fmt::format("the org has no secret {}", *credential)};
  }
  Json cred = credential->empty() ? Json(nullptr) : Json(*credential);
  auto remote = describe_remote((*runner)->runtime(), ctx.org_id, *url, *credential);
  if (!remote) return remote.error();
  auto id = name->empty() ? repo_id_from(*url) : *name;
  if (id.empty()) return Error{ErrorCode::invalid, "cannot name the repository from its URL; give a \"name\""};
  for (unsigned char c : id)
    if (!(std::islower(c) || std::isdigit(c) || c == '-' || c == '_' || c == '.'))
      return Error{ErrorCode::invalid, "a repository name holds only a-z, 0-9, '-', '_' and '.'"};
  if (id.size() > 64) return Error{ErrorCode::invalid, "a repository name is at most 64 characters"};
  if ((*remote)["default_branch"].is_null())
    return Error{ErrorCode::invalid, "the repository has no branches yet; push one first"};
  Json body{{"repo_id", id}, {"name", id}, {"url", *url}, {"default_branch", (*remote)["default_branch"]},
            {"credential", cred}, {"by", ctx.caller->username}};
  return change(ctx, org::address(ctx.org_id), org::kAddRepo, body, 201);
}

Result<Reply> remove_repo(Context& ctx) {
  auto id = repo_param(ctx);
  if (!id) return id.error();
  return change(ctx, org::address(ctx.org_id), org::kRemoveRepo, {{"repo_id", *id}});
}

Result<Reply> branches(Context& ctx) {
  auto runner = ctx.edge.agent_runner();
  if (!runner) return runner.error();
  auto id = repo_param(ctx);
  if (!id) return id.error();
  auto repo = ctx.edge.host.call(org::address(ctx.org_id), org::kRepo, {{"repo_id", *id}});
  if (!repo) return repo.error();
  auto remote = describe_remote((*runner)->runtime(), ctx.org_id, (*repo)["url"],
                                (*repo)["credential"].is_string() ? (*repo)["credential"].get<std::string>() : "");
  if (!remote) return remote.error();
  return Reply{200, *remote};
}

}  // namespace

void add_repo_routes(Router& r) {
  const std::string base = "/v1/orgs/{org}/repos";
  r.add({"GET", base, Policy::org_member, "organization", list_repos});
  r.add({"POST", base, Policy::org_admin, "organization", add_repo});
  r.add({"GET", base + "/{repo}", Policy::org_member, "organization", get_repo});
  r.add({"DELETE", base + "/{repo}", Policy::org_admin, "organization", remove_repo});
  r.add({"GET", base + "/{repo}/branches", Policy::org_member, "organization", branches});
}

}  // namespace hearth::http
