// Benchmark "read_during_step": read-action latency on an actor while that same actor
// runs a 30-second step, against the same reads on the idle actor in the same run.
// The step is the worst case: a handler that blocks inside its own transaction for 30 s
// (real handlers hand long work to spawn_io). Also measures a wait-send to another
// actor during the step, to show one stuck actor does not stall the others.
#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "actors/host/host.h"
#include "actors/host/step_context.h"
#include "bench/bench_util.h"

using namespace hearth;
using namespace hearth::bench;

namespace {

constexpr auto kStep = std::chrono::seconds(30);

actors::ActorType worker_type() {
  actors::ActorType t{"worker"};
  t.migrations = {{"worker", {{"0001_init.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"}}}};
  t.on_queue("worker.command.note", [](actors::StepContext& ctx, const actors::Json& body) -> Result<actors::Json> {
    SQLite::Statement ins(ctx.db(), "INSERT INTO notes(text) VALUES(?)");
    ins.bind(1, body.value("text", ""));
    ins.exec();
    return actors::Json::object();
  });
  t.on_queue("worker.command.long_step", [](actors::StepContext& ctx, const actors::Json&) -> Result<actors::Json> {
    ctx.db().exec("INSERT INTO notes(text) VALUES('long step started')");
    std::this_thread::sleep_for(kStep);
    return actors::Json::object();
  });
  t.on_action("worker.notes", [](actors::ReadContext& ctx, const actors::Json&) -> Result<actors::Json> {
    actors::Json out = actors::Json::array();
    SQLite::Statement q(ctx.db, "SELECT text FROM notes ORDER BY id DESC LIMIT 20");
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  });
  return t;
}

// Reads for `span`; `saw_step_end` is set if a read saw the long step's commit.
std::vector<double> read_for(actors::Host& host, const actors::Address& a, std::chrono::milliseconds span, int& errors,
                             bool& saw_step_end) {
  std::vector<double> lat;
  auto until = Clock::now() + span;
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    auto r = host.call(a, "worker.notes");
    lat.push_back(millis_since(t0));
    if (!r) ++errors;
    else if (!r->empty() && (*r)[0] == "long step started") saw_step_end = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return lat;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::err);
  ScratchDir scratch("read_during_step");
  actors::HostConfig config;
  config.data_dir = scratch.path();
  actors::Host host(config);
  if (!host.register_type(worker_type()).ok() || !host.start().ok()) return 1;
  actors::Address busy{"worker", {"busy"}}, other{"worker", {"other"}};
  if (!host.get_or_create(busy).ok() || !host.get_or_create(other).ok()) return 1;
  for (int i = 0; i < 100; ++i) (void)host.send(busy, "worker.command.note", {{"text", "n" + std::to_string(i)}});

  int errors = 0;
  bool saw_step_end = false;
  auto idle = read_for(host, busy, std::chrono::seconds(2), errors, saw_step_end);
  std::cout << "read_during_step: " << kStep.count() << " s step running on the actor being read\n";

  std::thread step([&] {
    actors::SendOptions o;
    // Times out after 10 s: the message commits with its step, 30 s from now.
    (void)host.send(busy, "worker.command.long_step", actors::Json::object(), o);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<double> other_sends;
  std::vector<double> during;
  std::thread reader([&] {
    auto span = std::chrono::duration_cast<std::chrono::milliseconds>(kStep) - std::chrono::milliseconds(1500);
    during = read_for(host, busy, span, errors, saw_step_end);
  });
  while (other_sends.size() < 200) {
    actors::SendOptions wait;
    wait.wait = true;
    auto t0 = Clock::now();
    if (!host.send(other, "worker.command.note", {{"text", "x"}}, wait)) ++errors;
    other_sends.push_back(millis_since(t0));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  reader.join();
  step.join();
  bool finished_during_reads = saw_step_end;

  std::printf("  idle actor:    %zu reads, p50 %.3f ms, p99 %.3f ms\n", idle.size(), percentile(idle, 50),
              percentile(idle, 99));
  std::printf("  during step:   %zu reads, p50 %.3f ms, p99 %.3f ms, max %.3f ms (step still running: %s)\n",
              during.size(), percentile(during, 50), percentile(during, 99), percentile(during, 100),
              finished_during_reads ? "no" : "yes");
  std::printf("  other actor:   %zu wait-sends during the step, p50 %.3f ms, p99 %.3f ms\n", other_sends.size(),
              percentile(other_sends, 50), percentile(other_sends, 99));
  host.shutdown();
  print_figures({{"bench", "read_during_step"},
                 {"step_s", kStep.count()},
                 {"reads", during.size()},
                 {"errors", errors},
                 {"p50_ms", std::round(percentile(during, 50) * 1000) / 1000},
                 {"p99_ms", std::round(percentile(during, 99) * 1000) / 1000},
                 {"max_ms", std::round(percentile(during, 100) * 1000) / 1000},
                 {"idle_p50_ms", std::round(percentile(idle, 50) * 1000) / 1000},
                 {"idle_p99_ms", std::round(percentile(idle, 99) * 1000) / 1000},
                 {"other_actor_send_p50_ms", std::round(percentile(other_sends, 50) * 1000) / 1000},
                 {"other_actor_send_p99_ms", std::round(percentile(other_sends, 99) * 1000) / 1000}});
  return errors == 0 ? 0 : 1;
}
