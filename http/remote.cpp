// What a repository's remote holds: see remote.h.
#include "http/remote.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "actors/identity/identity.h"
#include "actors/sandbox/sandbox_actor.h"
#include "actors/sandbox/sandbox_runtime.h"
#include "sandbox/git.h"
#include "storage/text.h"

namespace hearth::http {

namespace fs = std::filesystem;
using actors::Json;

Result<Json> describe_remote(actors::sandbox::Runtime& rt, const std::string& org_id, const std::string& url,
                             const std::string& credential) {
  namespace sb = hearth::sandbox;
  auto provider = rt.provider(rt.config().provider);
  if (!provider) return provider.error();
  auto origin = rt.origin(org_id, url, credential, actors::sandbox::GitAccess::read);
  if (!origin) return origin.error();
  // A throwaway sandbox of its own (its own user), removed when done.
  auto probe = actors::sandbox::address("_remote", identity::new_id("p"));
  sb::ExecRequest base;
  if (auto st = rt.prepare(probe, base); !st) return st.error();
  struct Cleanup {
    actors::sandbox::Runtime& rt;
    actors::Address probe;
    ~Cleanup() {
      std::error_code ec;
      rt.release_user(probe);
      fs::remove_all(rt.dir(probe).root, ec);
      rt.cgroups().destroy(probe.id());
    }
  } cleanup{rt, probe};
  sb::SandboxGit git(**provider, rt.dir(probe), base, *origin);
  auto out = git.ls_remote();
  if (!out) return out.error();
  if (out->exit_code != 0) {
    auto why = out->err;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    spdlog::info("repo.unreadable url={} exit={} git=\"{}\"", printable(url), out->exit_code, printable(why, 500));
    return Error{ErrorCode::invalid, fmt::format("git cannot read a repository at {} (the server's log has git's "
                                                 "words)", url)};
  }
  Json items = Json::array();
  Json default_branch = nullptr;
  std::string_view rest = out->out;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    auto tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    auto left = line.substr(0, tab), ref = line.substr(tab + 1);
    if (left.rfind("ref: refs/heads/", 0) == 0 && ref == "HEAD") default_branch = std::string(left.substr(16));
    else if (ref.rfind("refs/heads/", 0) == 0)
      items.push_back({{"name", std::string(ref.substr(11))}, {"commit", std::string(left)}});
  }
  if (default_branch.is_null() && !items.empty()) default_branch = items[0]["name"];
  return Json{{"default_branch", default_branch}, {"items", items}};
}

}  // namespace hearth::http
