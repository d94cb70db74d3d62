// "ledger": an actor type for testing the host. It appends sequence numbers to a table
// and keeps a running count in the same transaction, so that a lost or doubled message
// shows up as a mismatch. Its other queues misbehave on purpose: they fail, throw,
// sleep, wait on themselves, spawn I/O jobs and send to other ledgers.
#pragma once

#include <atomic>

#include "actors/host/host.h"

namespace hearth::test {

actors::ActorType make_ledger_type(actors::Host& host);

// How many after-commit signals "ledger.command.signal" has run, in this process.
std::atomic<int>& ledger_signals();
// While true, ledger.command.flaky fails (unavailable) instead of appending its seq.
std::atomic<bool>& ledger_flaky_broken();

inline actors::Address ledger(std::string name) { return actors::Address{"ledger", {"test", std::move(name)}}; }

}  // namespace hearth::test
