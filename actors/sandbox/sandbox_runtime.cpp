// The sandboxes' shared runtime: see sandbox_runtime.h.
#include "actors/sandbox/sandbox_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/audit/audit_actor.h"
#include "actors/github_data/github_data_actor.h"
#include "actors/organization/organization_actor.h"
#include "sandbox/workdir_fs.h"
#include "storage/database.h"

namespace hearth::actors::sandbox {

namespace fs = std::filesystem;

Runtime::Runtime(Host& host, RuntimeConfig config) : host_(host), config_(std::move(config)) {
  if (config_.hearth_binary.empty()) {
    std::error_code ec;
    config_.hearth_binary = fs::read_symlink("/proc/self/exe", ec);
  }
}

Runtime::~Runtime() {
  if (egress_) egress_->stop();
  std::map<std::string, std::map<std::string, std::function<void()>>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(running_);
  }
  for (auto& [sandbox, work] : all)
    for (auto& [name, stop] : work) stop();
  cgroups_.remove_empty();
}

Status Runtime::start() {
  auto p = provider(config_.provider);
  if (!p) return p.error();
  cgroups_ = hearth::sandbox::Cgroups::detect(config_.data_dir);
  int reaped = 0;
  for (const auto& group : cgroups_.groups()) {
    auto left = cgroups_.pids(group).size();
    if (cgroups_.destroy(group) && left > 0) reaped += static_cast<int>(left);
  }
  if (reaped > 0) spdlog::warn("sandbox.orphans_reaped processes={}", reaped);
  if ((*p)->isolated())
    spdlog::info("sandbox.runtime provider={} limits=\"{}\"", config_.provider, cgroups_.description());
  // A process in a sandbox may trace the others of its sandbox (debuggers need it). With
  // Yama's ptrace_scope at 1 or more, a tool an agent started cannot trace the agent (its
  // parent) and speak for it; without, it can.
  std::ifstream scope("/proc/sys/kernel/yama/ptrace_scope");
  int level = -1;
  if (!(scope >> level) || level < 1)
    spdlog::warn("sandbox.ptrace_open yama_ptrace_scope={}: a process an agent starts can trace the agent and "
                 "write to its ACP stream as it; set kernel.yama.ptrace_scope=1 (docs/sandboxes.md)",
                 level < 0 ? "absent" : std::to_string(level));
  else
    spdlog::warn("sandbox.runtime provider=local: sandboxes are NOT isolated (plain processes in their work dir); "
                 "for development only");
  return {};
}

Result<const hearth::sandbox::Provider*> Runtime::provider(const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto it = providers_.find(name); it != providers_.end()) return it->second.get();
  auto made = hearth::sandbox::make_provider(name);
  if (!made) return made.error();
  auto* raw = made->get();
  providers_[name] = std::move(*made);
  return raw;
}

hearth::sandbox::SandboxDir Runtime::dir(const Address& sandbox) const {
  return {config_.data_dir / "sandboxes" / sandbox.id()};
}

fs::path Runtime::log_path(const Address& sandbox, std::int64_t process_id) const {
  return dir(sandbox).root / "logs" / fmt::format("p{}.jsonl", process_id);
}

Result<hearth::sandbox::SandboxUser> Runtime::user(const Address& sandbox) {
  auto id = sandbox.id();
  auto d = dir(sandbox);
  std::lock_guard lock(mu_);
  if (auto it = users_.find(id); it != users_.end()) {
    std::error_code ec;
    if (fs::is_directory(d.work(), ec) && fs::is_directory(d.home(), ec)) return it->second;
    if (auto made = hearth::sandbox::make_sandbox_dirs(d, it->second); !made) return made.error();
    return it->second;
  }
  auto first = config_.sandbox_uid_base + 1, last = config_.sandbox_uid_base + config_.sandbox_uid_count;
  auto in_range = [&](gid_t g) { return g >= first && g <= last; };
  if (!uids_loaded_) {
    // A sandbox's uid is recorded by its root dir's group: read them all once.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(config_.data_dir / "sandboxes", ec)) {
      struct stat st {};
      if (::stat(entry.path().c_str(), &st) == 0 && in_range(st.st_gid)) used_uids_.insert(st.st_gid);
    }
    uids_loaded_ = true;
  }
  hearth::sandbox::SandboxUser user;
  struct stat st {};
  if (::stat(d.root.c_str(), &st) == 0 && in_range(st.st_gid)) {
    user = {st.st_gid, st.st_gid};
  } else {
    // A new sandbox (or one from before sandboxes had users): a free uid, found from a
    // hash of its id so that the same sandbox tends to get the same one.
    auto count = config_.sandbox_uid_count;
    auto candidate = first + static_cast<uid_t>(std::hash<std::string>{}(id) % count);
    for (uid_t tries = 0; used_uids_.count(candidate); ++tries) {
      if (tries >= count) return Error{ErrorCode::unavailable, "every sandbox uid in the configured range is taken"};
      candidate = candidate == last ? first : candidate + 1;
    }
    user = {candidate, candidate};
    used_uids_.insert(candidate);
  }
  if (auto made = hearth::sandbox::make_sandbox_dirs(d, user); !made) return made.error();
  users_[id] = user;
  return user;
}

Status Runtime::prepare(const Address& sandbox, hearth::sandbox::ExecRequest& request) {
  auto u = user(sandbox);
  if (!u) return u.error();
  auto procs = cgroup_procs(sandbox);
  if (!procs) return procs.error();
  request.user = *u;
  request.cgroup_procs = std::move(*procs);
  if (request.network == hearth::sandbox::Network::proxy) {
    auto socket = egress_socket(sandbox, *u);
    if (!socket) return socket.error();
    request.egress_socket = socket->string();
    request.egress_relay = config_.hearth_binary.string();
  }
  // Made as the sandbox's user, each step beneath its home dir: a symlink planted there
  // by an earlier process of the sandbox is refused, not followed as the server.
  hearth::sandbox::WorkdirFs home(dir(sandbox).home(), "/", *u);
  for (const auto& d : request.home_dirs)
    if (auto st = home.make_dir("/" + d); !st)
      return Error{st.error().code, fmt::format("cannot make ~/{} in the sandbox: {}", d, st.error().message)};
  return {};
}

void Runtime::release_user(const Address& sandbox) {
  std::lock_guard lock(mu_);
  struct stat st {};
  if (::stat(dir(sandbox).root.c_str(), &st) == 0) used_uids_.erase(st.st_gid);
  if (auto it = users_.find(sandbox.id()); it != users_.end()) {
    used_uids_.erase(it->second.uid);
    users_.erase(it);
  }
}

Result<std::vector<std::string>> Runtime::cgroup_procs(const Address& sandbox) {
  if (!cgroups_.available()) return std::vector<std::string>{};
  return cgroups_.prepare(sandbox.id(), config_.group_limits);
}

Runtime::Tracked& Runtime::Tracked::operator=(Tracked&& o) noexcept {
  if (this != &o) {
    if (rt_) rt_->untrack(sandbox_, name_);
    rt_ = std::exchange(o.rt_, nullptr);
    sandbox_ = std::move(o.sandbox_);
    name_ = std::move(o.name_);
  }
  return *this;
}

Runtime::Tracked::~Tracked() {
  if (rt_) rt_->untrack(sandbox_, name_);
}

Runtime::Tracked Runtime::track(const Address& sandbox, const std::string& name, std::function<void()> stop) {
  auto id = sandbox.id();
  std::lock_guard lock(mu_);
  running_[id][name] = std::move(stop);
  return Tracked(this, id, name);
}

void Runtime::untrack(const std::string& sandbox_id, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = running_.find(sandbox_id);
  if (it == running_.end()) return;
  it->second.erase(name);
  if (it->second.empty()) running_.erase(it);
}

bool Runtime::stop(const Address& sandbox, const std::string& name) {
  std::function<void()> stop;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(sandbox.id());
    if (it == running_.end()) return false;
    auto work = it->second.find(name);
    if (work == it->second.end()) return false;
    stop = work->second;
  }
  stop();
  return true;
}

hearth::sandbox::egress::Proxy& Runtime::egress() {
  std::lock_guard lock(mu_);
  if (!egress_) egress_ = std::make_unique<hearth::sandbox::egress::Proxy>(config_.egress);
  return *egress_;
}

Result<fs::path> Runtime::egress_socket(const Address& sandbox, hearth::sandbox::SandboxUser user) {
  auto path = dir(sandbox).root / "egress.sock";
  auto& proxy = egress();
  // One at a time: a second listen would replace the socket a first process is bound to.
  std::lock_guard once(egress_mu_);
  if (proxy.listening(sandbox.id())) return path;
  namespace eg = hearth::sandbox::egress;
  const auto org_id = sandbox.key.at(0);
  eg::Proxy::Hooks hooks;
  hooks.allowlist = [this, org_id]() -> Result<std::vector<std::string>> {
    auto network = host_.call(organization::address(org_id), organization::kNetwork);
    if (!network) return network.error();
    std::vector<std::string> allow;
    for (const auto& p : network->value("allow", Json::array()))
      if (p.is_string()) allow.push_back(p.get<std::string>());
    return allow;
  };
  hooks.upstream = [this, org_id](const eg::Vendor& vendor) -> Result<eg::Upstream> {
    auto names = vendor.keys;
    names.push_back(vendor.base_setting);
    auto secrets = open_secrets(org_id, names);
    if (!secrets) return secrets.error();
    for (const auto& k : vendor.keys)
      if (auto it = secrets->find(k); it != secrets->end()) {
        auto base = secrets->count(vendor.base_setting) ? (*secrets)[vendor.base_setting] : vendor.default_base;
        auto value = vendor.header == "authorization" ? "Bearer " + it->second : it->second;
        return eg::Upstream{base, vendor.header, value};
      }
    std::string keys;
    for (const auto& k : vendor.keys) keys += (keys.empty() ? "" : " or ") + k;
    return Error{ErrorCode::conflict, fmt::format("the organization has no {} key: an admin sets the org secret {}",
                                                  vendor.name, keys)};
  };
  hooks.refused = [this, sandbox](const std::string& host, const std::string& why) { refused(sandbox, host, why); };
  if (auto st = proxy.listen(sandbox.id(), org_id, path, user.gid, std::move(hooks)); !st) return st.error();
  return path;
}

void Runtime::refused(const Address& sandbox, const std::string& host, const std::string& why) {
  std::int64_t at = storage::now_ms();
  std::vector<std::function<void(const Json&)>> seen;
  {
    std::lock_guard lock(mu_);
    // Told once a minute per host (a retrying npm is counted, not repeated), and at most
    // kMaxRefusalsTold hosts a minute per sandbox (a sandbox asking for name after name
    // fills neither the audit log nor this map); the proxy counts every one.
    constexpr std::size_t kMaxRefusalsTold = 20;
    std::erase_if(last_refusal_, [&](const auto& kv) { return at - kv.second >= 60'000; });
    auto key = sandbox.id() + " " + host;
    if (last_refusal_.count(key)) return;
    auto prefix = sandbox.id() + " ";
    std::size_t told = 0;
    for (auto it = last_refusal_.lower_bound(prefix); it != last_refusal_.end() && it->first.starts_with(prefix); ++it)
      ++told;
    if (told >= kMaxRefusalsTold) return;
    last_refusal_[key] = at;
    if (auto it = watchers_.find(sandbox.id()); it != watchers_.end())
      for (const auto& [id, f] : it->second) seen.push_back(f);
  }
  Json event{{"host", host}, {"reason", why}, {"at", at}};
  for (const auto& f : seen) f(event);
  const auto& org_id = sandbox.key.at(0);
  Json entry{{"at", at}, {"user_id", nullptr}, {"username", "hearth"}, {"kind", "sandbox.egress.refused"},
             {"target", sandbox.display()}, {"task_id", sandbox.key.at(1)}, {"outcome", "refused"},
             {"detail", {{"host", host}, {"reason", why}}}};
  auto audit = audit::address(org_id);
  Status st = host_.get_or_create(audit);
  if (st) {
    auto sent = host_.send(audit, audit::kAppend, entry);
    if (!sent) st = sent.error();
  }
  if (!st) spdlog::error("audit.append_failed kind=sandbox.egress.refused error={}", st.error().message);
}

Runtime::Watch Runtime::watch_refusals(const Address& sandbox, std::function<void(const Json&)> seen) {
  std::lock_guard lock(mu_);
  auto id = ++next_watch_;
  watchers_[sandbox.id()][id] = std::move(seen);
  return Watch(this, sandbox.id(), id);
}

Runtime::Watch& Runtime::Watch::operator=(Watch&& o) noexcept {
  if (this != &o) {
    reset();
    rt_ = std::exchange(o.rt_, nullptr);
    sandbox_ = std::move(o.sandbox_);
    id_ = o.id_;
  }
  return *this;
}

Runtime::Watch::~Watch() { reset(); }

void Runtime::Watch::reset() {
  if (!rt_) return;
  std::lock_guard lock(rt_->mu_);
  if (auto it = rt_->watchers_.find(sandbox_); it != rt_->watchers_.end()) {
    it->second.erase(id_);
    if (it->second.empty()) rt_->watchers_.erase(it);
  }
  rt_ = nullptr;
}

hearth::sandbox::egress::Proxy::Counts Runtime::egress_counts(const std::string& org_id) {
  {
    std::lock_guard lock(mu_);
    if (!egress_) return {};
  }
  return egress().counts_of(org_id);
}

void Runtime::stop_all(const Address& sandbox) {
  std::map<std::string, std::function<void()>> work;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(sandbox.id()); it != running_.end()) work = it->second;
  }
  for (auto& [name, stop] : work) stop();
  cgroups_.destroy(sandbox.id());  // whatever escaped its process group
  {
    std::unique_lock lock(mu_);
    if (egress_) {
      lock.unlock();
      egress_->close(sandbox.id());  // a stopped sandbox reaches nothing; its next process listens again
    }
  }
  // The processes and git runs asked to stop have ended (their threads reaped them)
  // before the caller goes on, e.g. to remove the sandbox's files: nothing of the
  // sandbox's is left to race that. (Agents were killed outright, their whole group.)
  auto id = sandbox.id();
  auto waiting = [&] {
    std::lock_guard lock(mu_);
    auto it = running_.find(id);
    if (it == running_.end()) return false;
    for (const auto& [name, stop] : it->second)
      if (name.rfind("process ", 0) == 0 || name.rfind("git ", 0) == 0) return true;
    return false;
  };
  for (int i = 0; i < 1000; ++i) {
    if (!waiting()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  spdlog::warn("sandbox.stop_slow sandbox={} still_running={}", id, running(sandbox).size());
}

std::vector<std::string> Runtime::running(const Address& sandbox) const {
  std::vector<std::string> names;
  std::lock_guard lock(mu_);
  if (auto it = running_.find(sandbox.id()); it != running_.end())
    for (const auto& [name, stop] : it->second) names.push_back(name);
  return names;
}

void Runtime::note_step(const Address& sandbox, std::int64_t attempt, Json step) {
  std::lock_guard lock(mu_);
  auto& [at, steps] = steps_[sandbox.id()];
  if (at != attempt || !steps.is_array()) steps = Json::array();
  at = attempt;
  steps.push_back(std::move(step));
}

Json Runtime::steps(const Address& sandbox, std::int64_t attempt) const {
  std::lock_guard lock(mu_);
  auto it = steps_.find(sandbox.id());
  if (it == steps_.end() || it->second.first != attempt) return Json::array();
  return it->second.second;
}

void Runtime::forget_steps(const Address& sandbox) {
  std::lock_guard lock(mu_);
  steps_.erase(sandbox.id());
}

Result<hearth::sandbox::Origin> Runtime::origin(const std::string& org_id, const std::string& url,
                                                const std::string& credential, GitAccess access,
                                                std::stop_token stop) {
  hearth::sandbox::Origin o;
  o.url = url;
  o.ca_file = config_.git_ca_file;
  o.file_roots = config_.file_repo_roots;
  o.data_dir = config_.data_dir;
  if (credential.empty()) return o;
  if (credential.starts_with("github:")) {
    if (!config_.github)
      return Error{ErrorCode::unavailable, "the repository comes from GitHub, and the GitHub App is not configured on "
                                           "this server (see docs/github.md)"};
    std::int64_t repo_id = 0;
    auto digits = std::string_view(credential).substr(7);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), repo_id).ec != std::errc{})
      return Error{ErrorCode::internal, "a GitHub repository credential names no repository"};
    auto token = github_data::git_token(host_, *config_.github, org_id, repo_id, access == GitAccess::write, stop);
    if (!token)
      return Error{token.error().code, "no GitHub token for this repository: " + token.error().message};
    o.token = std::move(*token);
    return o;
  }
  auto secrets = open_secrets(org_id, {credential});
  if (!secrets) return secrets.error();
  if (!secrets->count(credential))
    return Error{ErrorCode::conflict, fmt::format("the org secret {} (the git credential) no longer exists", credential)};
  o.token = (*secrets)[credential];
  return o;
}

Result<std::map<std::string, std::string>> Runtime::open_secrets(const std::string& org_id,
                                                                 const std::vector<std::string>& names) {
  std::map<std::string, std::string> out;
  if (names.empty()) return out;
  auto sealed = host_.call(organization::address(org_id), organization::kSealedSecrets, Json{{"names", names}});
  if (!sealed) return sealed.error();
  if (sealed->empty()) return out;
  if (!config_.master_key)
    return Error{ErrorCode::unavailable, "this server has no master key, so it cannot open org secrets"};
  for (const auto& [name, s] : sealed->items()) {
    auto value = config_.master_key->open(organization::secret_context(org_id, name),
                                          storage::Sealed{s.value("nonce", ""), s.value("ciphertext", "")});
    if (!value) return Error{ErrorCode::internal, fmt::format("the org secret {} does not open with this server's "
                                                              "master key", name)};
    out[name] = *value;
  }
  return out;
}

}  // namespace hearth::actors::sandbox
