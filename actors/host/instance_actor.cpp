// The workflow loop of one active actor, as a detached CAF actor: it has a thread of
// its own, so it commits to its database inline and a slow disk stalls only this actor.
// Sends are buffered as they arrive; a `kick` the actor sends itself lands behind every
// send already in its mailbox, so one batch (one commit) takes them all: group commit.
// After each commit it answers senders and waiters, publishes broadcasts, starts long
// I/O on the I/O pool and delivers the outbox. When idle long enough it hibernates.
#include <spdlog/spdlog.h>

#include <unordered_set>

#include "actors/host/host_core.h"

namespace hearth::actors {
namespace {

using namespace std::chrono_literals;

struct Sender {
  EnqueueItem item;
  caf::response_promise ack;  // invalid for internal items (I/O results)
  caf::actor waiter;          // set when the sender waits for the handler's result
};

struct InstanceState {
  Host::Core* core = nullptr;
  std::shared_ptr<Instance> inst;
  std::vector<Sender> buffered;  // not yet in a batch
  // What a failed batch did not commit and no sender is waiting to hear of (I/O results,
  // outbox bookkeeping): kept, and in the next batch once the retry timer fires.
  std::vector<Sender> unsaved;
  std::unordered_map<std::int64_t, std::vector<caf::actor>> waiters;
  std::vector<std::int64_t> outbox_delivered;
  std::vector<std::pair<std::int64_t, std::string>> outbox_failed;
  struct Undelivered {
    StepEffects::Outgoing out;
    bool in_flight = false;
  };
  std::map<std::int64_t, Undelivered> outbox;  // committed, not yet delivered
  bool kick_scheduled = false;
  bool more_pending = true;  // unknown after activation: the first batch finds out
  bool recover = true;
  bool stopping = false;
  int io_in_flight = 0;
  bool retry_wait = false;  // a batch failed: pause steps until the retry timer fires
  std::chrono::milliseconds backoff{0};
  std::vector<caf::response_promise> stop_promises;

  static inline const char* name = "hearth.actor";
};

using Self = caf::stateful_actor<InstanceState>;

std::string ok_json(Json j) {
  j["ok"] = true;
  return j.dump();
}
std::string error_json(const Error& e) { return Json{{"ok", false}, {"error", error_to_json(e)}}.dump(); }

bool idle(const InstanceState& s) {
  return !s.kick_scheduled && s.buffered.empty() && s.unsaved.empty() && !s.more_pending && s.waiters.empty() &&
         s.io_in_flight == 0 && s.outbox.empty() && s.outbox_delivered.empty() && s.outbox_failed.empty() && !s.recover;
}

// Delivers the outbox off the loop, to each recipient in commit order: only the oldest
// undelivered row for a recipient is on its way at a time, the next leaves once it is
// delivered (or has failed for good), so an actor sees one sender's messages in the
// order their steps committed them, across retries and restarts (rows are reloaded in
// id order). Different recipients are served in parallel.
void deliver_outbox(Self* self) {
  auto& s = self->state;
  auto me = caf::actor_cast<caf::actor>(self);
  std::unordered_set<std::string> busy;  // recipients with an older row still undelivered
  for (auto& [id, entry] : s.outbox) {
    auto to = entry.out.to.id();
    if (!busy.insert(to).second || entry.in_flight) continue;
    entry.in_flight = true;
    s.core->io_pool->submit([core = s.core, me, out = entry.out, to](std::stop_token) {
      if (core->config.before_delivery) core->config.before_delivery(to, out.queue, out.body_json);
      Status r;
      if (out.queue == kCreateQueue) {
        // Create, then send each follow-up with a key of its own: a redelivery after a
        // crash finds the actor there and each message already taken.
        auto body = Json::parse(out.body_json);
        if (auto made = core->resolve(out.to, true, body["input"], false); !made) r = made.error();
        for (std::size_t i = 0; r && i < body["then"].size(); ++i) {
          SendOptions opts;
          opts.dedupe_key = fmt::format("{}:{}", out.dedupe_key, i);
          const auto& m = body["then"][i];
          if (auto sent = core->send(out.to, m.at("queue").get<std::string>(), m.at("body"), opts); !sent)
            r = sent.error();
        }
      } else {
        SendOptions opts;
        opts.dedupe_key = out.dedupe_key;
        if (auto sent = core->send(out.to, out.queue, Json::parse(out.body_json), opts); !sent) r = sent.error();
      }
      std::string code = r ? "" : std::string(to_string(r.error().code));
      std::string message = r ? "" : r.error().message;
      caf::anon_send(me, outbox_atom::value, out.id, code, message);
    });
  }
}

void announce(Self* self, StepEffects effects) {
  auto& s = self->state;
  for (auto& b : effects.broadcasts) s.core->pubsub.publish(s.inst->id, std::move(b.name), std::move(b.payload));
  for (auto& signal : effects.after_commit) {
    try {
      signal();
    } catch (const std::exception& e) {
      spdlog::error("actor.after_commit_failed actor={} error={}", s.inst->address.display(), e.what());
    }
  }
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& job : effects.io_jobs) {
    ++s.io_in_flight;
    s.core->io_pool->submit([me, job = std::move(job)](std::stop_token stop) {
      Result<Json> outcome = Error{ErrorCode::internal, "I/O job did not run"};
      try {
        outcome = job.work(stop);
      } catch (const std::exception& e) {
        outcome = Error{ErrorCode::internal, std::string("I/O job threw: ") + e.what()};
      }
      caf::anon_send(me, io_done_atom::value, job.id, job.result_queue,
                     io_result_body(job.id, job.name, job.context, outcome).dump());
    });
  }
  for (auto& out : effects.outbox) {
    auto id = out.id;
    s.outbox[id] = InstanceState::Undelivered{std::move(out), false};
  }
  if (!effects.outbox.empty()) deliver_outbox(self);
}

void finish_stop(Self* self) {
  auto& s = self->state;
  for (auto& [id, waiters] : s.waiters)
    for (auto& w : waiters)
      self->send(w, result_atom::value, id,
                 error_json(Error{ErrorCode::unavailable,
                                  fmt::format("actor {} is shutting down; message {} stays queued and runs "
                                              "after restart",
                                              s.inst->address.display(), id)}));
  s.waiters.clear();
  s.inst->close_writer();
  for (auto& p : s.stop_promises) p.deliver(true);
  s.stop_promises.clear();
  self->quit();
}

// New sends run at once (after a failed batch they fail fast with its reason); what a
// failed batch left waits for the retry timer.
bool has_work(const InstanceState& s) {
  bool steps = s.more_pending && !s.stopping;
  bool kept = !s.unsaved.empty() || !s.outbox_delivered.empty() || !s.outbox_failed.empty() ||
              (s.recover && !s.stopping);
  return !s.buffered.empty() || (!s.retry_wait && (steps || kept));
}

// Asks for a batch once the mailbox holds nothing older than this request.
void schedule_batch(Self* self) {
  auto& s = self->state;
  if (s.kick_scheduled) return;
  if (!has_work(s)) {
    if (s.stopping) finish_stop(self);
    return;
  }
  s.kick_scheduled = true;
  self->send(self, kick_atom::value);
}

void answer(Self* self, std::vector<Sender>& senders, WriterResult& res) {
  auto& s = self->state;
  for (std::size_t i = 0; i < senders.size(); ++i) {
    auto& sender = senders[i];
    const auto& item = res.enqueues[i];
    if (item.dropped) continue;
    if (sender.ack.pending()) {
      Json ack{{"message_id", item.message_id}, {"duplicate", item.duplicate}, {"status", item.status}};
      if (item.duplicate && item.status == MessageStatus::completed) ack["result"] = item.result;
      sender.ack.deliver(ok_json(std::move(ack)));
    }
    if (!sender.waiter) continue;
    if (item.duplicate && item.status == MessageStatus::completed)
      self->send(sender.waiter, result_atom::value, item.message_id, ok_json({{"result", item.result}}));
    else if (item.duplicate && item.status != MessageStatus::pending)
      self->send(sender.waiter, result_atom::value, item.message_id,
                 error_json(item.error.value_or(Error{ErrorCode::conflict, "message was " + std::string(to_string(item.status))})));
    else
      s.waiters[item.message_id].push_back(sender.waiter);
  }
  for (const auto& outcome : res.outcomes) {
    auto it = s.waiters.find(outcome.message_id);
    if (it == s.waiters.end()) continue;
    auto text = outcome.ok ? ok_json({{"result", outcome.result}}) : error_json(outcome.error);
    for (auto& w : it->second) self->send(w, result_atom::value, outcome.message_id, text);
    s.waiters.erase(it);
  }
}

// One batch, inline on this actor's own thread: persist, run steps, commit, announce.
void run_batch(Self* self) {
  auto& s = self->state;
  WriterBatch batch;
  batch.recover = s.recover && !s.stopping && !s.retry_wait;
  batch.run_steps = !s.stopping && !s.retry_wait;
  if (!s.retry_wait) {
    batch.outbox_delivered = std::exchange(s.outbox_delivered, {});
    batch.outbox_failed = std::exchange(s.outbox_failed, {});
  }
  std::vector<Sender> senders = s.retry_wait ? std::vector<Sender>{} : std::exchange(s.unsaved, {});
  for (auto& sender : std::exchange(s.buffered, {})) senders.push_back(std::move(sender));
  for (const auto& sender : senders) batch.enqueues.push_back(sender.item);
  const bool recovering = batch.recover;
  auto delivered = batch.outbox_delivered;
  auto failed = batch.outbox_failed;

  WriterResult res;
  {
    std::lock_guard lock(s.inst->writer_mu);  // callers may be committing a message (see instance.h)
    res = run_writer_batch(*s.inst, std::move(batch));
    if (recovering && !res.failure) s.inst->recovered = true;
  }
  if (res.failure) {
    // Nothing of the batch was committed. Senders learn that their message was not
    // accepted; what no one waits to hear of (an I/O job's result, the outbox's
    // bookkeeping, the recovery) is kept for the next try, which, like the pending
    // steps, comes after a growing pause: a full disk loses nothing and is not hammered.
    for (auto& sender : senders) {
      if (sender.ack.pending()) sender.ack.deliver(error_json(*res.failure));
      else s.unsaved.push_back(std::move(sender));
    }
    s.outbox_delivered.insert(s.outbox_delivered.begin(), delivered.begin(), delivered.end());
    s.outbox_failed.insert(s.outbox_failed.begin(), failed.begin(), failed.end());
    s.recover = s.recover || recovering;
    s.more_pending = true;
    if (!s.retry_wait) {
      s.retry_wait = true;
      s.backoff = std::min<std::chrono::milliseconds>(std::max(s.backoff * 2, 50ms), 5000ms);
      self->delayed_send(self, s.backoff, retry_atom::value);
    }
    return;
  }
  if (recovering) s.recover = false;
  s.backoff = 0ms;
  answer(self, senders, res);
  s.more_pending = res.more_pending;
  s.inst->last_active_ms = storage::now_ms();
  announce(self, std::move(res.effects));
}

caf::behavior instance_actor(Self* self, Host::Core* core, std::shared_ptr<Instance> inst, StepEffects initial) {
  auto& s = self->state;
  s.core = core;
  s.inst = std::move(inst);
  s.inst->last_active_ms = storage::now_ms();
  auto tick_every = std::max<std::chrono::milliseconds>(core->config.hibernate_after / 2, 5ms);
  self->delayed_send(self, tick_every, tick_atom::value);
  announce(self, std::move(initial));
  schedule_batch(self);  // recovery, and whatever the last run left pending

  return {
      [=](enqueue_atom, std::string& queue, std::string& body, bool wait,
          std::string& dedupe) -> caf::result<std::string> {
        auto& s = self->state;
        if (s.stopping)
          return error_json(Error{ErrorCode::unavailable,
                                  fmt::format("actor {} is shutting down", s.inst->address.display())});
        // Read the sender before make_response_promise(), which takes it over.
        auto waiter = wait ? caf::actor_cast<caf::actor>(self->current_sender()) : caf::actor{};
        Sender sender{EnqueueItem{std::move(queue), std::move(body), std::move(dedupe)},
                      self->make_response_promise(), std::move(waiter)};
        auto ack = sender.ack;
        s.buffered.push_back(std::move(sender));
        s.inst->last_active_ms = storage::now_ms();
        schedule_batch(self);
        return ack;
      },
      [=](accepted_atom) {
        // A caller committed a message on its own thread (synchronous=NORMAL): run it.
        auto& s = self->state;
        s.inst->accepted_unseen = false;
        s.more_pending = true;
        s.inst->last_active_ms = storage::now_ms();
        schedule_batch(self);
      },
      [=](kick_atom) {
        auto& s = self->state;
        s.kick_scheduled = false;
        if (has_work(s)) run_batch(self);
        schedule_batch(self);  // more pending, or sends that arrived meanwhile
      },
      [=](io_done_atom, std::int64_t job_id, std::string& queue, std::string& body) {
        auto& s = self->state;
        --s.io_in_flight;
        EnqueueItem item{std::move(queue), std::move(body), ""};
        item.io_job_id = job_id;
        s.buffered.push_back(Sender{std::move(item), {}, {}});
        schedule_batch(self);
      },
      [=](outbox_atom, std::int64_t id, std::string& code, std::string& message) {
        auto& s = self->state;
        auto it = s.outbox.find(id);
        if (it == s.outbox.end()) return;
        it->second.in_flight = false;
        if (code.empty()) {
          s.outbox_delivered.push_back(id);
          s.outbox.erase(it);
          if (!s.stopping) deliver_outbox(self);  // the recipient's next row, if any
        } else if (code == "unavailable" || code == "timeout") {
          // Transient: the target is stopping or busy. Try again in a second.
          spdlog::warn("outbox.retry actor={} row={} error={}", s.inst->address.display(), id, message);
          if (!s.stopping) self->delayed_send(self, 1s, retry_atom::value);
        } else {
          spdlog::error("outbox.failed actor={} row={} code={} error={}", s.inst->address.display(), id, code,
                        message);
          s.outbox_failed.emplace_back(id, code + ": " + message);
          s.outbox.erase(it);
          if (!s.stopping) deliver_outbox(self);
        }
        schedule_batch(self);
      },
      [=](retry_atom) {
        auto& s = self->state;
        s.retry_wait = false;
        if (!s.stopping) deliver_outbox(self);
        schedule_batch(self);
      },
      [=](tick_atom) {
        auto& s = self->state;
        if (s.stopping) return;
        auto idle_for = std::chrono::milliseconds(storage::now_ms() - s.inst->last_active_ms.load());
        if (idle(s) && idle_for >= s.core->config.hibernate_after) {
          // Under writer_mu: no caller is committing a message the loop has not seen,
          // and one that resolved this instance before it retired finds it closed.
          std::unique_lock lock(s.inst->writer_mu);
          if (!s.inst->accepted_unseen && s.core->retire(*s.inst)) {
            s.inst->writer_closed = true;
            lock.unlock();
            spdlog::debug("actor.hibernate actor={}", s.inst->address.display());
            s.inst->close_writer();  // checkpoints the WAL; this thread may block
            self->quit();
            return;
          }
        }
        self->delayed_send(self, tick_every, tick_atom::value);
      },
      [=](stop_atom) -> caf::result<bool> {
        auto& s = self->state;
        s.stopping = true;
        auto rp = self->make_response_promise();
        s.stop_promises.push_back(rp);
        schedule_batch(self);
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_instance(Host::Core& core, std::shared_ptr<Instance> inst, StepEffects initial) {
  return core.system->spawn<caf::detached>(instance_actor, &core, std::move(inst), std::move(initial));
}

}  // namespace hearth::actors
