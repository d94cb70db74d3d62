// A full sync of an organization's GitHub data, run off the github-data actor's loop
// (spawn_io): repositories, then members, then the open pull requests of each
// repository, every page followed (github/app.h get_all, which waits out rate limits),
// each call with a token narrowed to what it reads. Pages go back to the actor as they
// come (kSyncPage, durable messages, in order), stamped with the sync's generation, so
// that progress shows live and a sync cut short keeps what it fetched; the actor sweeps
// rows of older generations only when the sync ends well (kSyncDone). A failure leaves
// the previous data as it was and says why.
#pragma once

#include <cstdint>
#include <stop_token>
#include <string>

#include "actors/host/host.h"

namespace hearth::github {
class App;
}

namespace hearth::actors::github_data {

// {generation, phase, processed, total?, repositories?: [...], members?: [...], pulls?: [...]}
inline constexpr const char* kSyncPage = "github_data.command.sync_page";
// spawn_io's outcome of run_sync: {context: {generation}, ok, result | error}
inline constexpr const char* kSyncDone = "github_data.command.sync_done";

struct SyncPlan {
  Address actor;  // where pages go
  std::int64_t generation = 0, installation_id = 0;
  std::string account_login, account_type;  // members are an Organization's only
};

// A repository as GitHub's API shows it, as the actor keeps it: {id, full_name,
// clone_url, default_branch, private, archived}.
Json repository_row(const Json& repo);

// Runs the sync; pages are sent to plan.actor as they come. The result: {repositories,
// members, pull_requests} counts. Fails as GitHub or the host does (interrupted when
// `stop` is requested).
Result<Json> run_sync(github::App& app, Host& host, const SyncPlan& plan, std::stop_token stop);

}  // namespace hearth::actors::github_data
