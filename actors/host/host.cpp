// The actor host: activation, routing of sends and reads, shutdown. See host.h.
#include "actors/host/host.h"

#include <fstream>

#include <algorithm>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/host/host_core.h"
#include "actors/host/metrics.h"
#include "storage/sql.h"

#include <malloc.h>

#include <map>

namespace hearth::actors {

using namespace std::chrono_literals;

Host::Core::Core(HostConfig c) : config(std::move(c)) {}
Host::Core::~Core() = default;

Result<const ActorType*> Host::Core::type_of(const Address& address) const {
  if (auto st = validate(address); !st) return st.error();
  auto it = types.find(address.type);
  if (it == types.end()) return Error{ErrorCode::not_found, fmt::format("no actor type \"{}\"", address.type)};
  return it->second.get();
}

Result<Active> Host::Core::activate(const Address& address, bool create, const Json& input) {
  auto found = type_of(address);
  if (!found) return found.error();
  const auto* type = *found;
  auto id = address.id();
  auto path = database_path(config.data_dir, address);
  if (!create) {
    if (!registry.exists(id))
      return Error{ErrorCode::not_found, fmt::format("actor {} does not exist", address.display())};
    if (!std::filesystem::exists(path))
      return Error{ErrorCode::unavailable, fmt::format("actor {} is registered but its database {} is missing",
                                                       address.display(), path.string())};
  }
  auto inst = std::make_shared<Instance>();
  inst->address = address;
  inst->id = id;
  inst->type = type;
  inst->db_path = path;
  inst->db_options.synchronous = config.synchronous;
  inst->max_payload_bytes = config.max_payload_bytes;
  inst->max_steps_per_batch = config.max_steps_per_commit;

  auto db = storage::open_database(path, inst->db_options);
  if (!db) return Error{db.error().code, fmt::format("actor {}: {}", address.display(), db.error().message)};
  inst->writer = std::move(*db);
  std::vector<storage::MigrationSet> sets{storage::embedded_migrations("host")};
  sets.insert(sets.end(), type->migrations.begin(), type->migrations.end());
  if (auto st = storage::apply_migrations(*inst->writer, sets, "actor " + address.display()); !st) {
    spdlog::error("actor.activation_failed actor={} error={}", address.display(), st.error().message);
    return st.error();
  }
  if (after_crash) {
    // Whatever was pending may be what killed the last process: counted as it runs.
    try {
      inst->suspect_until =
          inst->writer->execAndGet("SELECT COALESCE(MAX(id), 0) FROM queue_messages WHERE status = 'pending'")
              .getInt64();
    } catch (const std::exception& e) {
      return Error{ErrorCode::unavailable, fmt::format("actor {}: {}", address.display(), e.what())};
    }
  }
  StepEffects effects;
  if (create) {
    if (auto st = create_actor_record(*inst, input, effects); !st) return st.error();
    if (auto st = registry.add(address, id); !st) return st.error();
  }
  spdlog::debug("actor.activate actor={} id={}", address.display(), id);
  // Creation broadcasts go out before get_or_create returns; later ones follow in order.
  for (auto& b : effects.broadcasts) pubsub.publish(id, std::move(b.name), std::move(b.payload));
  effects.broadcasts.clear();
  return Active{inst, spawn_instance(*this, inst, std::move(effects))};
}

Result<Active> Host::Core::resolve(const Address& address, bool create, const Json& input, bool for_read) {
  auto id = address.id();
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_future<Result<Active>> pending;
    std::promise<Result<Active>> mine;
    {
      std::lock_guard lock(mu);
      if (stopping) return Error{ErrorCode::unavailable, "the actor host is shutting down"};
      if (auto it = active.find(id); it != active.end()) {
        if (for_read) ++it->second.inst->reads_in_flight;
        return it->second;
      }
      if (auto it = activating.find(id); it != activating.end()) {
        pending = it->second;
      } else {
        pending = mine.get_future().share();
        activating.emplace(id, pending);
        pending = {};
      }
    }
    if (pending.valid()) {
      auto r = pending.get();
      // Someone else's strict activation found nothing; ours may create: try again.
      if (!r && r.error().code == ErrorCode::not_found && create) continue;
      if (!r) return r;
      continue;  // now active (or retired already): look it up again under the lock
    }
    auto r = activate(address, create, input);
    {
      std::lock_guard lock(mu);
      if (r) {
        broken.erase(id);
      } else if (r.error().code != ErrorCode::not_found && !stopping) {
        if (!broken.contains(id)) spdlog::error("actor.broken actor={} error={}", address.display(), r.error().message);
        broken[id] = r.error().message;
      }
      if (r && stopping) {
        // Activated while the host stops (an outbox delivery, say): shutdown's list of
        // actors to stop was taken already, so this one is told to exit here, or the
        // actor system would wait for it forever.
        caf::anon_send_exit(r->actor, caf::exit_reason::user_shutdown);
        r = Error{ErrorCode::unavailable, "the actor host is shutting down"};
      }
      if (r) {
        if (for_read) ++r->inst->reads_in_flight;
        active[id] = *r;
        Metrics::global().add("hearth_actors_active", {{"type", address.type}}, 1);
      }
      activating.erase(id);
    }
    mine.set_value(r);
    return r;
  }
  return Error{ErrorCode::unavailable, fmt::format("actor {} could not be activated", address.display())};
}

ActorInfo Host::Core::info(Address address, const std::string& actor_id, std::int64_t created_at) {
  std::lock_guard lock(mu);
  auto why = broken.find(actor_id);
  return ActorInfo{std::move(address), actor_id, active.contains(actor_id), created_at,
                   why == broken.end() ? std::string() : why->second};
}

void Host::Core::end_read(Instance& inst) {
  inst.last_active_ms = storage::now_ms();
  --inst.reads_in_flight;
}

bool Host::Core::retire(const Instance& inst) {
  std::lock_guard lock(mu);
  if (inst.reads_in_flight > 0) return false;
  auto it = active.find(inst.id);
  if (it != active.end() && it->second.inst.get() == &inst) {
    active.erase(it);
    Metrics::global().add("hearth_actors_active", {{"type", inst.address.type}}, -1);
  }
  return true;
}

Result<SendReceipt> Host::Core::send(const Address& to, std::string_view queue, const Json& body,
                                     const SendOptions& options) {
  if (!started || stopping) return Error{ErrorCode::unavailable, "the actor host is not running"};
  auto found = type_of(to);
  if (!found) return found.error();
  const auto* type = *found;
  if (type->queues.find(queue) == type->queues.end())
    return Error{ErrorCode::invalid, fmt::format("actor type \"{}\" has no queue \"{}\"", to.type, queue)};
  std::string text;
  try {
    text = body.dump();
  } catch (const Json::exception& e) {
    return Error{ErrorCode::invalid, fmt::format("message body is not valid JSON: {}", e.what())};
  }
  if (text.size() > config.max_payload_bytes)
    return Error{ErrorCode::too_large,
                 fmt::format("message body has {} bytes; the limit is {}", text.size(), config.max_payload_bytes)};

  if (auto* step = StepContext::current(); step && step->address() == to) {
    if (options.wait)
      return Error{ErrorCode::invalid,
                   fmt::format("refused: a handler of actor {} cannot wait for a message to its own queue \"{}\" "
                               "(the loop runs one message at a time, so it would deadlock); send without wait",
                               to.display(), queue)};
    auto id = step->send_self(queue, body);
    if (!id) return id.error();
    return SendReceipt{*id, false, MessageStatus::pending, nullptr};
  }

  auto timeout = std::min(options.timeout, config.max_wait);
  if (timeout <= 0ms) timeout = config.max_wait;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // With synchronous=NORMAL a fire-and-forget send commits its message on this thread
  // and the loop runs it later, many steps per commit: a message then costs one small
  // commit and no thread hand-off (see docs/architecture.md, "What a message costs").
  // With FULL every commit waits for the disk, so the loop taking several senders'
  // messages into one commit (group commit) matters more. Handlers take the loop's
  // path: they run inside their own actor's batch.
  bool direct = !options.wait && config.synchronous == storage::Synchronous::normal && !StepContext::current();

  for (int attempt = 0; attempt < 3; ++attempt) {
    auto target = resolve(to, false, nullptr, false);
    if (!target) return target.error();
    // Otherwise (the actor has not recovered yet, or closed its writer just now: it
    // hibernated or stops) the loop answers: receiver_down sends us round again.
    if (direct)
      if (auto done = commit_on_caller(*target, queue, text, options.dedupe_key)) return std::move(*done);
    caf::scoped_actor self{*system};
    std::optional<Result<SendReceipt>> ack;
    bool receiver_down = false;
    self->request(target->actor, timeout, enqueue_atom::value, std::string(queue), text, options.wait,
                  options.dedupe_key)
        .receive(
            [&](std::string& reply) {
              auto j = Json::parse(reply);
              if (!j.value("ok", false)) {
                ack = Result<SendReceipt>(error_from_json(j["error"]));
                return;
              }
              SendReceipt r{j["message_id"].get<std::int64_t>(), j.value("duplicate", false),
                            j.value("status", MessageStatus::pending), j.value("result", Json())};
              ack = Result<SendReceipt>(std::move(r));
            },
            [&](caf::error& err) {
              if (err == caf::sec::request_receiver_down) {
                receiver_down = true;  // it hibernated just now; the message never arrived
              } else if (err == caf::sec::request_timeout) {
                ack = Result<SendReceipt>(Error{
                    ErrorCode::timeout,
                    fmt::format("actor {} did not confirm a message on \"{}\" within {} ms (it is busy); the "
                                "message may still be accepted and run",
                                to.display(), queue, timeout.count())});
              } else {
                ack = Result<SendReceipt>(Error{ErrorCode::unavailable,
                                                fmt::format("actor {}: {}", to.display(), system->render(err))});
              }
            });
    if (receiver_down) continue;
    if (!ack || !*ack || !options.wait) return ack ? std::move(*ack) : Error{ErrorCode::internal, "no reply"};
    auto receipt = std::move(**ack);
    if (receipt.status == MessageStatus::completed) return receipt;
    // Second phase: the actor sends the outcome once the handler has run.
    std::optional<Result<SendReceipt>> outcome;
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    self->receive(
        [&](result_atom, std::int64_t id, std::string& text) {
          auto j = Json::parse(text);
          if (!j.value("ok", false)) {
            outcome = Result<SendReceipt>(error_from_json(j["error"]));
            return;
          }
          outcome = Result<SendReceipt>(SendReceipt{id, receipt.duplicate, MessageStatus::completed, j["result"]});
        },
        caf::after(std::max(remaining, 1ms)) >> [&] {
          outcome = Result<SendReceipt>(Error{
              ErrorCode::timeout,
              fmt::format("actor {}: message {} on \"{}\" has no result after {} ms; it stays queued and will "
                          "still run",
                          to.display(), receipt.message_id, queue, timeout.count())});
        });
    return std::move(*outcome);
  }
  return Error{ErrorCode::unavailable, fmt::format("actor {} kept stopping while a message was sent", to.display())};
}

std::optional<Result<SendReceipt>> Host::Core::commit_on_caller(const Active& target, std::string_view queue,
                                                                 const std::string& body_json,
                                                                 const std::string& dedupe_key) {
  auto& inst = *target.inst;
  EnqueueItem item{std::string(queue), body_json, dedupe_key};
  bool notify = false;
  {
    std::lock_guard lock(inst.writer_mu);
    if (inst.writer_closed || !inst.recovered) return std::nullopt;
    if (auto st = accept_message(inst, item); !st) return Result<SendReceipt>(st.error());
    notify = !inst.accepted_unseen.exchange(true);
    inst.last_active_ms = storage::now_ms();
  }
  if (notify) caf::anon_send(target.actor, accepted_atom::value);
  SendReceipt receipt{item.message_id, item.duplicate, item.status, nullptr};
  if (item.duplicate && item.status == MessageStatus::completed) receipt.result = std::move(item.result);
  return receipt;
}

Result<Json> Host::Core::read(const Address& address, const std::function<Result<Json>(ReadContext&)>& fn) {
  if (!started || stopping) return Error{ErrorCode::unavailable, "the actor host is not running"};
  auto target = resolve(address, false, nullptr, true);
  if (!target) return target.error();
  auto& inst = *target->inst;
  auto reader = inst.acquire_reader();
  if (!reader) {
    end_read(inst);
    return reader.error();
  }
  Result<Json> result = Error{ErrorCode::internal, ""};
  auto& cache = *(*reader)->statements;
  bool open = false;
  try {
    // One read transaction: the action sees one consistent snapshot.
    cache.get("BEGIN")->exec();
    open = true;
    ReadContext ctx{inst.address, *(*reader)->db, &cache};
    result = fn(ctx);
    cache.get("COMMIT")->exec();
    open = false;
  } catch (const std::exception& e) {
    result = Error{ErrorCode::internal, fmt::format("actor {}: read failed: {}", address.display(), e.what())};
  }
  if (open) {
    try {
      cache.get("ROLLBACK")->exec();
    } catch (const std::exception&) {
      (*reader).reset();  // a connection in an unknown state is not pooled
    }
  }
  if (*reader) inst.release_reader(std::move(*reader));
  end_read(inst);
  return result;
}

// --- Host ------------------------------------------------------------------------

Host::Host(HostConfig config) : core_(std::make_unique<Core>(std::move(config))) {}

Host::~Host() { shutdown(); }

namespace {

// Moves failed message body["message_id"] to `status`: pending runs it again next (it
// keeps its place, ahead of newer messages), discarded settles it for good.
Result<Json> settle_failed(StepContext& ctx, const Json& body, MessageStatus status) {
  bool retry = status == MessageStatus::pending;
  if (!body.contains("message_id") || !body["message_id"].is_number_integer())
    return Error{ErrorCode::invalid, "message_id must be an integer"};
  auto id = body["message_id"].get<std::int64_t>();
  SQLite::Statement q(ctx.db(), "SELECT status, queue FROM queue_messages WHERE id = ?");
  sql::bind_all(q, id);
  if (!q.executeStep())
    return Error{ErrorCode::not_found, fmt::format("actor {} has no message {}", ctx.address().display(), id)};
  std::string current = q.getColumn(0).getString();
  std::string queue = q.getColumn(1).getString();
  if (current != to_string(MessageStatus::failed))
    return Error{ErrorCode::conflict, fmt::format("message {} is {}, not failed; only failed messages can be {}",
                                                  id, current, retry ? "retried" : "discarded")};
  // A retried message starts its count of crashed runs over (a parked poison message
  // retried once its cause is fixed).
  auto upd = ctx.statement(
      "UPDATE queue_messages SET status = ?1, completed_at = ?2, attempts = CASE WHEN ?2 IS NULL THEN 0 ELSE attempts "
      "END WHERE id = ?3");
  sql::bind_all(*upd, to_string(status), retry ? std::nullopt : std::optional(storage::now_ms()), id);
  upd->exec();
  if (retry) {
    // The loop reads pending messages from its cursor on: it must not move past this one
    // (migrations/host/0004_queue_cursor.sql). And it looks again after this step, as
    // after a message of our own.
    auto& effects = ctx.effects();
    effects.rewind_to = std::min(effects.rewind_to.value_or(id), id);
    effects.self_sent = true;
  }
  ctx.broadcast(retry ? "host.message.retried" : "host.message.discarded", {{"message_id", id}, {"queue", queue}});
  return Json{{"message_id", id}, {"queue", queue}, {"status", status}};
}

}  // namespace

void add_host_queues(ActorType& type) {
  type.on_queue(kRetryQueue, [](StepContext& ctx, const Json& body) -> Result<Json> {
    return settle_failed(ctx, body, MessageStatus::pending);
  });
  type.on_queue(kDiscardQueue, [](StepContext& ctx, const Json& body) -> Result<Json> {
    return settle_failed(ctx, body, MessageStatus::discarded);
  });
}

Status Host::register_type(ActorType type) {
  if (core_->started) return Error{ErrorCode::conflict, "actor types must be registered before start()"};
  if (auto st = validate(Address{type.name, {}}); !st) return st;
  for (const auto& set : type.migrations)
    if (auto st = storage::validate(set); !st) return st;
  add_host_queues(type);
  auto name = type.name;
  core_->types.insert_or_assign(name, std::make_unique<ActorType>(std::move(type)));
  return {};
}

Status Host::start() {
  auto& c = *core_;
  if (c.started) return {};
  std::error_code ec;
  std::filesystem::create_directories(c.config.data_dir, ec);
  if (ec)
    return Error{ErrorCode::unavailable,
                 fmt::format("cannot create data dir {}: {}", c.config.data_dir.string(), ec.message())};
  storage::DbOptions options;
  options.synchronous = c.config.synchronous;
  if (auto st = c.registry.open(c.config.data_dir / "registry.db", options); !st) return st;
  // Made at start, removed at the end of a clean shutdown: found here, the last process
  // died (a crash, kill -9, an abort in a handler).
  auto marker = c.config.data_dir / kRunningMarker;
  c.after_crash = std::filesystem::exists(marker, ec);
  if (c.after_crash) spdlog::warn("host.unclean_stop data_dir={} (messages pending at the stop run one at a time, counted)",
                                  c.config.data_dir.string());
  std::ofstream(marker).put('\n');
  c.io_pool = std::make_unique<ThreadPool>("io", c.config.io_threads);
  // Each active actor has a thread, and glibc gives threads their own malloc arenas;
  // memory freed in many arenas is slow to go back to the OS after actors hibernate.
  // A few arenas keep RSS close to what is really in use.
  mallopt(M_ARENA_MAX, 4);
  auto& metrics = Metrics::global();
  metrics.describe("hearth_actors_active", "gauge", "Actors active now (database open), by type.");
  metrics.describe("hearth_queue_pending_messages", "gauge", "Queue messages waiting in active actors, by type.");
  metrics.describe("hearth_queue_messages_processed_total", "counter",
                   "Queue messages handled, by actor type and outcome.");
  metrics.describe("hearth_queue_commit_failures_total", "counter",
                   "Batches or messages an actor could not commit to its database (a full disk, an I/O error), by "
                   "actor type.");
  metrics.describe("hearth_queue_step_duration_seconds", "histogram", "Time a queue handler ran, by actor type.",
                   {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5});
  c.caf_config = std::make_unique<caf::actor_system_config>();
  // Instance actors never block, and what they do is latency-bound hand-offs: the
  // sharing policy wakes a worker in about half the time work stealing takes here.
  c.caf_config->set("scheduler.policy", caf::atom("sharing"));
  if (c.config.scheduler_threads > 0)
    c.caf_config->set("scheduler.max-threads", static_cast<int>(c.config.scheduler_threads));
  c.system = std::make_unique<caf::actor_system>(*c.caf_config);
  c.started = true;
  spdlog::info("host.started data_dir={} synchronous={} types={}", c.config.data_dir.string(),
               storage::to_string(c.config.synchronous), c.types.size());
  return {};
}

bool Host::running() const { return core_->started && !core_->stopping; }

void Host::shutdown(std::chrono::milliseconds grace) {
  auto& c = *core_;
  if (!c.started || c.stopping.exchange(true)) return;
  auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<caf::actor> actors;
  {
    std::lock_guard lock(c.mu);
    for (auto& [id, a] : c.active) actors.push_back(a.actor);
  }
  spdlog::info("host.stopping active_actors={}", actors.size());
  {
    caf::scoped_actor self{*c.system};
    for (auto& a : actors) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      self->request(a, std::max(left, 1ms), stop_atom::value)
          .receive([](bool) {},
                   [&](caf::error& err) {
                     if (err != caf::sec::request_receiver_down)
                       spdlog::warn("host.stop_incomplete error={}", c.system->render(err));
                   });
    }
  }
  c.io_pool->shutdown(std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()),
                               100ms));
  c.pubsub.close_all();
  {
    // Any actor that became active after the list above was taken ends too.
    std::lock_guard lock(c.mu);
    for (auto& [id, a] : c.active)
      if (std::find(actors.begin(), actors.end(), a.actor) == actors.end()) actors.push_back(a.actor);
    c.active.clear();
  }
  for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  actors.clear();
  c.system.reset();  // waits for every actor to finish
  std::error_code ec;
  std::filesystem::remove(c.config.data_dir / kRunningMarker, ec);
  spdlog::info("host.stopped");
}

Status Host::get_or_create(const Address& address, const Json& input) {
  if (!core_->started || core_->stopping) return Error{ErrorCode::unavailable, "the actor host is not running"};
  auto r = core_->resolve(address, true, input, false);
  if (!r) return r.error();
  return {};
}

Result<bool> Host::exists(const Address& address) {
  if (auto found = core_->type_of(address); !found) return found.error();
  return core_->registry.exists(address.id());
}

Result<SendReceipt> Host::send(const Address& to, std::string_view queue, const Json& body,
                               const SendOptions& options) {
  return core_->send(to, queue, body, options);
}

Result<Json> Host::call(const Address& to, std::string_view action, const Json& args) {
  auto found = core_->type_of(to);
  if (!found) return found.error();
  const auto* type = *found;
  auto it = type->actions.find(action);
  if (it == type->actions.end())
    return Error{ErrorCode::invalid, fmt::format("actor type \"{}\" has no action \"{}\"", to.type, action)};
  const auto& handler = it->second;
  return core_->read(to, [&](ReadContext& ctx) { return handler(ctx, args); });
}

std::shared_ptr<Subscription> Host::subscribe(const Address& address) {
  return core_->pubsub.subscribe(address.id());
}

PubSub& Host::pubsub() { return core_->pubsub; }

std::vector<Host::TypeCount> Host::actor_counts() {
  std::vector<TypeCount> out;
  std::map<std::string, std::int64_t> active;
  {
    std::lock_guard lock(core_->mu);
    for (const auto& [id, a] : core_->active) ++active[a.inst->address.type];
  }
  for (const auto& [name, type] : core_->types) {
    auto created = core_->registry.count(name);
    out.push_back({name, created ? *created : 0, active[name]});
  }
  return out;
}

HostStats Host::stats() const {
  HostStats s;
  {
    std::lock_guard lock(core_->mu);
    s.active_actors = core_->active.size();
  }
  if (core_->io_pool) {
    s.io_threads = core_->io_pool->thread_count();
    s.io_busy = core_->io_pool->busy_count();
  }
  return s;
}

const HostConfig& Host::config() const { return core_->config; }

}  // namespace hearth::actors
