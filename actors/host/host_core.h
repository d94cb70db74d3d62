// Internal to actors/host: the state behind Host, shared with the CAF actor that runs
// each active instance's workflow loop (instance_actor.cpp). The only header with CAF.
#pragma once

#include <caf/all.hpp>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <unordered_map>

#include "actors/host/host.h"
#include "actors/host/instance.h"
#include "actors/host/registry.h"
#include "actors/host/thread_pool.h"
#include "actors/host/workflow.h"

namespace hearth::actors {

// Messages of the instance actor (CAF 0.17 atoms: at most 10 characters).
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;   // (queue, body, wait, dedupe) -> ack JSON
using accepted_atom = caf::atom_constant<caf::atom("accepted")>; // a caller committed a message itself
using result_atom = caf::atom_constant<caf::atom("result")>;     // to a waiter: (message_id, outcome JSON)
using written_atom = caf::atom_constant<caf::atom("written")>;   // the writer batch finished
using io_done_atom = caf::atom_constant<caf::atom("io_done")>;   // (job id, result body JSON)
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;     // (row id, code, error text)
using tick_atom = caf::atom_constant<caf::atom("tick")>;         // hibernation check
using kick_atom = caf::atom_constant<caf::atom("kick")>;         // try to start a batch
using retry_atom = caf::atom_constant<caf::atom("retry")>;       // retry after a failure
using stop_atom = caf::atom_constant<caf::atom("stop")>;         // drain and stop -> bool

struct Active {
  std::shared_ptr<Instance> inst;
  caf::actor actor;
};

// In the data dir while a host runs (see Host::start).
inline constexpr const char* kRunningMarker = "host.running";

struct Host::Core {
  explicit Core(HostConfig c);
  ~Core();

  HostConfig config;
  std::map<std::string, std::unique_ptr<ActorType>, std::less<>> types;
  Registry registry;
  PubSub pubsub;
  std::unique_ptr<ThreadPool> io_pool;
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;

  std::mutex mu;
  std::unordered_map<std::string, Active> active;
  std::unordered_map<std::string, std::shared_future<Result<Active>>> activating;
  // Actors whose last activation failed (a corrupt or unreadable database, a migration
  // that does not apply), by id, with why: the inspector lists them as broken until an
  // activation succeeds. The rest of the server serves on.
  std::unordered_map<std::string, std::string> broken;
  // The last process on this data dir stopped uncleanly (its marker file was still
  // there): actors count the runs of messages pending when they wake (workflow.h).
  bool after_crash = false;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};

  // The registered type of `address`: Error::invalid for a malformed address,
  // Error::not_found for a type no one registered.
  Result<const ActorType*> type_of(const Address& address) const;
  // The active instance at `address`, activating (and with `create`, creating) it.
  // With `for_read`, counts a read in flight on it (the caller must end_read).
  Result<Active> resolve(const Address& address, bool create, const Json& input, bool for_read);
  void end_read(Instance& inst);
  // What the inspector says of a registered actor: active or not, broken or not.
  ActorInfo info(Address address, const std::string& actor_id, std::int64_t created_at);
  // Called by an idle instance actor: removes it from `active` unless it is busy with
  // reads or was replaced. True when the actor may stop.
  bool retire(const Instance& inst);

  Result<SendReceipt> send(const Address& to, std::string_view queue, const Json& body,
                           const SendOptions& options);
  // The direct path of send: commits the message on this thread and tells the loop.
  // Nothing when the actor has not recovered yet or closed its writer (it hibernated or
  // stops): then the loop answers.
  std::optional<Result<SendReceipt>> commit_on_caller(const Active& target, std::string_view queue,
                                                      const std::string& body_json, const std::string& dedupe_key);
  // Runs `fn` on a read-only snapshot of the actor's database.
  Result<Json> read(const Address& address, const std::function<Result<Json>(ReadContext&)>& fn);

 private:
  Result<Active> activate(const Address& address, bool create, const Json& input);
};

// Spawns the CAF actor that runs `inst`'s workflow loop, announcing `initial` (effects
// of on_create) first.
caf::actor spawn_instance(Host::Core& core, std::shared_ptr<Instance> inst, StepEffects initial);

}  // namespace hearth::actors
