// The actor host: the one runtime every Hearth entity lives in. Actors are addressed by
// type and key, activated on their first message, hibernated when idle, and mutated
// only through named, durable queues processed one message at a time in a workflow
// loop. Reads are direct actions on a read-only snapshot that never wait for the loop.
// This header is the whole contract; CAF stays behind it. See docs/architecture.md.
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/host/actor_type.h"
#include "actors/host/address.h"
#include "actors/host/message_status.h"
#include "actors/host/pubsub.h"
#include "storage/database.h"

namespace hearth::actors {

struct HostConfig {
  std::filesystem::path data_dir = ".hearth";
  // An actor with no work and no reads for this long closes its database and stops.
  std::chrono::milliseconds hibernate_after{60'000};
  storage::Synchronous synchronous = storage::Synchronous::full;
  std::size_t scheduler_threads = 0;    // CAF workers (for non-blocking actors); 0: one per core
  std::size_t io_threads = 64;          // at most this many long I/O jobs run at once
  std::size_t max_payload_bytes = 1 << 20;
  std::size_t max_steps_per_commit = 64;
  std::chrono::milliseconds max_wait{10'000};  // the longest a `wait` send may block
  // For tests: runs on the delivering thread just before an outbox row goes to its
  // recipient (the recipient's actor id, the queue, the body), so that a test can hold
  // a delivery back or end the process between two.
  std::function<void(const std::string& to_id, const std::string& queue, const std::string& body_json)>
      before_delivery;
};

// Queues every actor type has: the inspector's retry and discard of a failed message
// ({"message_id": N}).
inline constexpr const char* kRetryQueue = "host.command.retry_message";
inline constexpr const char* kDiscardQueue = "host.command.discard_message";
// Adds those two to `type`, so that they are ordinary, durable, audited steps of its
// own queue (register_type does; tests driving the workflow batch directly call it).
void add_host_queues(ActorType& type);

struct SendOptions {
  bool wait = false;  // wait for the handler's result, not only for the message to be on disk
  std::chrono::milliseconds timeout{10'000};  // capped at HostConfig::max_wait
  // Sends with the same key to the same actor are one message: later ones return the
  // first one's id (and, with wait, its outcome). Retained with the last 10,000 settled messages.
  std::string dedupe_key;
};

struct SendReceipt {
  std::int64_t message_id = 0;
  bool duplicate = false;
  MessageStatus status = MessageStatus::pending;
  Json result;  // the handler's result when status is completed
};

struct ActorInfo {
  Address address;
  std::string actor_id;
  bool active = false;
  std::int64_t created_at = 0;
  std::string broken;  // why its last activation failed; empty when it did not
};

struct HostStats {
  std::size_t active_actors = 0;
  std::size_t io_threads = 0;
  std::size_t io_busy = 0;
};

// Whether a column's values are secrets the inspector must not show (password hashes,
// token hashes, encrypted secrets): its name contains password, secret, hash, token,
// ciphertext, private_key or api_key. Name such columns accordingly.
bool is_secret_column(std::string_view name);
// Replaces, at any depth, the values of object keys that is_secret_column names.
void mask_secrets(Json& value);

class Host {
 public:
  explicit Host(HostConfig config);
  ~Host();  // shutdown() if still running
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Declares an actor type. Call before start(); the type's migrations are validated.
  Status register_type(ActorType type);

  // Opens the registry under data_dir and starts the runtime. Fails with the reason.
  Status start();

  // Threads outside the host that sent to actors (and still live) must end first: the
  // runtime underneath (CAF) waits for them before it stops.
  // Stops accepting work, lets every actor finish the batch it is committing and persist
  // messages already handed to it, asks long I/O jobs to stop (they resume as
  // "interrupted" results after restart), waits up to `grace`, and closes every database.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds{10'000});

  bool running() const;

  // Creates the actor at `address` if it was never created (running its type's
  // on_create with `input` in the creating transaction), then activates it. For create
  // paths only; everywhere else the strict forms below answer not_found instead.
  Status get_or_create(const Address& address, const Json& input = Json::object());

  // Whether the actor was ever created (whether active or hibernated).
  Result<bool> exists(const Address& address);

  // Appends `body` to `queue` of the actor at `to` and returns once it is on disk.
  // With `wait`, returns once the handler ran: its result, or its error as this call's
  // error; Error::timeout after the timeout (the message stays queued and still runs).
  // Fails with not_found for an unknown actor, invalid for an unknown queue or a wait
  // on the caller's own queue from inside its handler, too_large over the size limit,
  // unavailable while stopping or when the database cannot commit.
  // Called from inside a handler for the same actor (without wait), the message is
  // committed with that step; use StepContext::send to reach other actors exactly once.
  Result<SendReceipt> send(const Address& to, std::string_view queue, const Json& body,
                           const SendOptions& options = {});

  // Runs the read action `action` of the actor at `to` on a read-only snapshot of its
  // database, without waiting for its workflow. not_found / invalid as for send.
  Result<Json> call(const Address& to, std::string_view action, const Json& args = Json::object());

  // Events the actor at `address` broadcasts from now on (see pubsub.h).
  std::shared_ptr<Subscription> subscribe(const Address& address);
  PubSub& pubsub();

  // --- Inspector (read-only; activates the actor it reads) -------------------------
  // Actors of `type` (all when empty) after `after_id`, and whether each is active.
  Result<std::vector<ActorInfo>> list_actors(const std::string& type, const std::string& after_id,
                                             std::size_t limit, std::optional<bool> active = std::nullopt);
  // The actor whose id is `actor_id` (as listed); not_found when there is none.
  Result<ActorInfo> find_actor(const std::string& actor_id);
  // Counts, sizes and the last step of one actor.
  Result<Json> actor_summary(const Address& address);
  // Queue messages by status ("pending", "failed", "completed", "" = all), newest
  // first, ids below `before_id` (0 = from the newest).
  Result<Json> queue_messages(const Address& address, const std::string& status, std::int64_t before_id,
                              std::size_t limit);
  // Workflow history, newest first, ids below `before_id` (0 = from the newest).
  Result<Json> workflow_history(const Address& address, std::int64_t before_id, std::size_t limit);
  // Rows of one of the actor's tables in rowid order after `after_rowid`. Values of
  // columns that hold secrets (see is_secret_column) are masked.
  Result<Json> table_rows(const Address& address, const std::string& table, std::int64_t after_rowid,
                          std::size_t limit);

  struct TypeCount {
    std::string type;
    std::int64_t created = 0;  // ever created (active or hibernated)
    std::int64_t active = 0;
  };
  // Per registered type: how many actors exist and how many are active now.
  std::vector<TypeCount> actor_counts();

  HostStats stats() const;
  const HostConfig& config() const;

  struct Core;  // internal

 private:
  std::unique_ptr<Core> core_;
};

}  // namespace hearth::actors
