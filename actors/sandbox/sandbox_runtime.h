// What sandboxes need in this process beyond their databases: the provider that runs
// their processes, their control groups, where their files live, and the work running
// in each right now (processes, agents), so that stopping or destroying a sandbox
// reaches all of it. Shared by the sandbox and session actors. start() reaps what
// sandboxes left behind when the server died.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "actors/host/host.h"
#include "sandbox/cgroup.h"
#include "sandbox/egress.h"
#include "sandbox/git.h"
#include "sandbox/provider.h"
#include "storage/secret_box.h"

namespace hearth::github {
class App;
}

namespace hearth::actors::sandbox {

struct RuntimeConfig {
  std::filesystem::path data_dir = ".hearth";
  std::string provider = "bwrap";  // the provider new sandboxes get: bwrap or local
  hearth::sandbox::GroupLimits group_limits{1024, 0};  // per sandbox (cgroups, when usable)
  hearth::sandbox::Limits process_limits;              // defaults per exec'd process
  std::filesystem::path hearth_binary;                 // runs the mock agent; default: this program
  std::shared_ptr<const storage::MasterKey> master_key;  // opens org secrets for agents
  std::chrono::milliseconds permission_timeout{std::chrono::minutes(30)};  // then: rejected
  std::chrono::milliseconds agent_idle_timeout{std::chrono::minutes(30)};  // an idle agent is ended
  std::chrono::milliseconds agent_start_timeout{std::chrono::seconds(60)};
  std::filesystem::path git_ca_file;  // extra certificates git trusts for https clones
  // Each sandbox's processes run as a uid (and gid) of its own from this range, never
  // as root: base + 1 ... base + count. Pick a range no real user of the host has.
  uid_t sandbox_uid_base = 1'900'000'000;
  uid_t sandbox_uid_count = 1'000'000;
  // Directories under which file:// repositories may be connected and cloned from
  // (empty: none). Re-checked, symlinks resolved, every time a sandbox reads one.
  std::vector<std::string> file_repo_roots;
  // The GitHub App (null: none configured): repositories whose credential is
  // "github:<id>" get an installation token minted per git operation.
  std::shared_ptr<github::App> github;
  // The egress proxy of sandboxes with network proxy (sandbox/egress.h, docs/sandboxes.md).
  hearth::sandbox::egress::Proxy::Config egress;
};

// What a git operation does to its remote: read (clone, fetch, ls-remote) or write (push).
enum class GitAccess { read, write };

class Runtime {
 public:
  Runtime(Host& host, RuntimeConfig config);
  ~Runtime();  // ends everything still running
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Checks the provider, finds the control groups, and kills every process left in this
  // server's sandbox groups (after a crash). Returns what it found, for the log.
  Status start();

  Host& host() { return host_; }
  const RuntimeConfig& config() const { return config_; }
  const hearth::sandbox::Cgroups& cgroups() const { return cgroups_; }
  // The provider named `name` (bwrap or local): invalid or unavailable otherwise.
  Result<const hearth::sandbox::Provider*> provider(const std::string& name);

  // Where the sandbox at `address` keeps its files: <data_dir>/sandboxes/<id>, with
  // work/ and home/ (visible inside), run/ (credentials) and logs/ (process output).
  hearth::sandbox::SandboxDir dir(const Address& sandbox) const;
  std::filesystem::path log_path(const Address& sandbox, std::int64_t process_id) const;
  // The sandbox's user on the host (its own uid and gid, never root), its dirs made with
  // the right owners (hearth::sandbox::make_sandbox_dirs) the first time it is asked for.
  Result<hearth::sandbox::SandboxUser> user(const Address& sandbox);
  // Fills in what every process of the sandbox needs: its user and its control groups;
  // makes the request's home_dirs (as that user). Fails when one cannot be made.
  Status prepare(const Address& sandbox, hearth::sandbox::ExecRequest& request);
  // A connection the egress proxy refused for the sandbox, as {host, reason, at}, to
  // whoever watches it (a session's agent, which records it in its transcript) while the
  // returned handle lives.
  class Watch {
   public:
    Watch() = default;
    Watch(Runtime* rt, std::string sandbox_id, std::int64_t id) : rt_(rt), sandbox_(std::move(sandbox_id)), id_(id) {}
    Watch(Watch&& o) noexcept { *this = std::move(o); }
    Watch& operator=(Watch&& o) noexcept;
    ~Watch();

   private:
    void reset();
    Runtime* rt_ = nullptr;
    std::string sandbox_;
    std::int64_t id_ = 0;
  };
  Watch watch_refusals(const Address& sandbox, std::function<void(const Json&)> seen);
  // The egress proxy's counts for an org (since the server started).
  hearth::sandbox::egress::Proxy::Counts egress_counts(const std::string& org_id);
  // Gives the sandbox's uid back (its files are gone).
  void release_user(const Address& sandbox);
  // The cgroup.procs files a process of this sandbox joins (empty without cgroups).
  Result<std::vector<std::string>> cgroup_procs(const Address& sandbox);

  // Work running in a sandbox: `stop` is called (once) when the sandbox stops or is
  // destroyed, or by stop(). Untracked when the returned handle is destroyed.
  class Tracked {
   public:
    Tracked() = default;
    Tracked(Runtime* rt, std::string sandbox_id, std::string name) : rt_(rt), sandbox_(std::move(sandbox_id)), name_(std::move(name)) {}
    Tracked(Tracked&& o) noexcept { *this = std::move(o); }
    Tracked& operator=(Tracked&& o) noexcept;
    ~Tracked();

   private:
    Runtime* rt_ = nullptr;
    std::string sandbox_, name_;
  };
  Tracked track(const Address& sandbox, const std::string& name, std::function<void()> stop);
  // Stops one tracked piece of work; false when nothing by that name runs.
  bool stop(const Address& sandbox, const std::string& name);
  // Stops everything tracked in the sandbox, then kills whatever is left in its group.
  void stop_all(const Address& sandbox);
  std::vector<std::string> running(const Address& sandbox) const;

  // Provisioning steps as they happen (kept in the sandbox's database once provisioning
  // ends): reads show them meanwhile.
  void note_step(const Address& sandbox, std::int64_t attempt, Json step);
  Json steps(const Address& sandbox, std::int64_t attempt) const;
  void forget_steps(const Address& sandbox);

  // Where the repository at `url` of org `org_id` is read from by Hearth's git: the
  // credential, the CA file, and the file:// roots and data dir it is checked against.
  // `credential` is empty (none), an org secret's name, or "github:<repository id>": an
  // installation token minted for this one operation, narrowed to that repository and
  // to `access`. Fails when the secret is gone or GitHub will not mint the token.
  Result<hearth::sandbox::Origin> origin(const std::string& org_id, const std::string& url,
                                         const std::string& credential, GitAccess access,
                                         std::stop_token stop = {});

  // The values of the org secrets named in `names` that exist (missing ones are left
  // out). Fails when the server has no master key or a value does not open.
  Result<std::map<std::string, std::string>> open_secrets(const std::string& org_id,
                                                          const std::vector<std::string>& names);

 private:
  void untrack(const std::string& sandbox_id, const std::string& name);
  // The egress proxy's socket for the sandbox (listening from the first call on).
  Result<std::filesystem::path> egress_socket(const Address& sandbox, hearth::sandbox::SandboxUser user);
  void refused(const Address& sandbox, const std::string& host, const std::string& why);
  hearth::sandbox::egress::Proxy& egress();

  Host& host_;
  RuntimeConfig config_;
  hearth::sandbox::Cgroups cgroups_;
  std::map<std::string, std::unique_ptr<hearth::sandbox::Provider>> providers_;
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::function<void()>>> running_;  // sandbox id -> name -> stop
  std::map<std::string, std::pair<std::int64_t, Json>> steps_;  // sandbox id -> (attempt, steps)
  std::map<std::string, hearth::sandbox::SandboxUser> users_;    // sandbox id -> its user (made dirs)
  std::set<uid_t> used_uids_;                                    // every sandbox's, on disk
  bool uids_loaded_ = false;
  std::unique_ptr<hearth::sandbox::egress::Proxy> egress_;  // made when a sandbox first needs it
  std::mutex egress_mu_;                                      // one sandbox socket made at a time
  std::map<std::string, std::map<std::int64_t, std::function<void(const Json&)>>> watchers_;  // sandbox id -> id -> seen
  std::int64_t next_watch_ = 0;
  std::map<std::string, std::int64_t> last_refusal_;  // sandbox id + host -> when last told (ms)
};

}  // namespace hearth::actors::sandbox
