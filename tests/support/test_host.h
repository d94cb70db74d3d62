// A started Host on a fresh data dir with the "ledger" test type registered.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string_view>
#include <thread>

#include "tests/support/ledger_actor.h"
#include "tests/support/temp_dir.h"

namespace hearth::test {

// HEARTH_TEST_SYNCHRONOUS=normal runs a test's hosts with synchronous=NORMAL, where a
// fire-and-forget send commits on the caller's thread instead of in the loop's batch
// (ctest runs the host tests both ways).
inline storage::Synchronous test_synchronous() {
  const char* mode = std::getenv("HEARTH_TEST_SYNCHRONOUS");
  return mode && std::string_view(mode) == "normal" ? storage::Synchronous::normal : storage::Synchronous::full;
}

inline actors::HostConfig quick_config(const std::filesystem::path& dir) {
  actors::HostConfig c;
  c.data_dir = dir;
  c.hibernate_after = std::chrono::seconds(60);
  c.synchronous = test_synchronous();
  return c;
}

struct TestHost {
  explicit TestHost(const std::filesystem::path& dir, actors::HostConfig config)
      : host(std::make_unique<actors::Host>(std::move(config))) {
    (void)dir;
    REQUIRE(host->register_type(make_ledger_type(*host)).ok());
    auto st = host->start();
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  }
  explicit TestHost(const TempDir& dir) : TestHost(dir.path(), quick_config(dir.path())) {}

  actors::Host& operator*() { return *host; }
  actors::Host* operator->() { return host.get(); }

  std::unique_ptr<actors::Host> host;
};

inline actors::SendOptions waiting(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  actors::SendOptions o;
  o.wait = true;
  o.timeout = timeout;
  return o;
}

// Polls `pred` every 5 ms for up to `limit`; true once it holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace hearth::test
