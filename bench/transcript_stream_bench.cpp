// Benchmark "transcript_stream": the mock agent streams 100,000 message chunks
// (/stream 100000); they go through the ACP client, the transcript builder, the session
// actor's queue and database, and the event stream to an SSE client. Reports chunks/s
// and stored events/s end to end (from the prompt to the turn's end at the client), how
// many events the chunks were coalesced into, and the resident memory of the process
// (server and client share it) before, at its peak, and after.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "bench/edge_util.h"
#include "bench/sse_client.h"

using namespace hearth;
using namespace hearth::bench;
using nlohmann::json;

namespace {
constexpr int kChunks = 100000;
}

int main() {
  spdlog::set_level(spdlog::level::warn);
  http::EdgeConfig edge;
  edge.sse_heartbeat = std::chrono::milliseconds(200);
  BenchEdge e("transcript_stream", 16, {}, edge, true);
  httplib::Client cli("127.0.0.1", e.port);
  cli.set_read_timeout(60, 0);
  e.ready_sandbox("t");
  auto made = cli.Post("/v1/orgs/bench/tasks/t/sessions", e.auth(), json{{"agent", "mock"}}.dump(), "application/json");
  if (!made || made->status != 201) return 1;
  auto path = "/v1/orgs/bench/tasks/t/sessions/" + json::parse(made->body)["session_id"].get<std::string>();

  std::mutex mu;
  std::condition_variable cv;
  std::int64_t events = 0, text_bytes = 0, chunks_seen = 0;
  std::int64_t ended_turn = 0;
  Clock::time_point ended_at;
  SseClient sse(e.port, path + "/events", e.auth(), [&](const std::string& name, const std::string&, json d, Clock::time_point at) {
    if (name != "transcript") return;
    std::lock_guard lock(mu);
    if (d.value("turn", 0) == 2) {
      ++events;
      if (d["kind"] == "agent_message") {
        auto text = d["data"]["text"].get<std::string>();
        text_bytes += static_cast<std::int64_t>(text.size());
        for (auto c : text) chunks_seen += c == '\n';
      }
    }
    if (d["kind"] == "turn_ended" || d["kind"] == "turn_failed") {
      ended_turn = d["turn"];
      ended_at = at;
      cv.notify_all();
    }
  });
  auto wait_turn = [&](std::int64_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(50), [&] { return ended_turn >= n; });
  };
  cli.Post(path + "/prompt", e.auth(), json{{"text", "/say warm up"}}.dump(), "application/json");
  if (!wait_turn(1)) return 1;

  auto rss_before = rss_mib();
  double rss_peak = rss_before;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      rss_peak = std::max(rss_peak, rss_mib());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto t0 = Clock::now();
  auto r = cli.Post(path + "/prompt", e.auth(), json{{"text", "/stream " + std::to_string(kChunks)}}.dump(), "application/json");
  if (!r || r->status != 202) return 1;
  if (!wait_turn(2)) {
    std::cerr << "the streaming turn did not end in time\n";
    return 1;
  }
  double secs;
  {
    std::lock_guard lock(mu);
    secs = std::chrono::duration<double>(ended_at - t0).count();
  }
  sampling = false;
  sampler.join();
  auto stored = json::parse(cli.Get(path, e.auth())->body)["last_seq"].get<std::int64_t>();
  std::lock_guard lock(mu);
  std::cout << "transcript_stream: " << chunks_seen << " chunks in " << secs << " s (" << chunks_seen / secs
            << "/s), " << events << " events at the client, RSS peak " << rss_peak << " MiB\n";
  print_figures({{"benchmark", "transcript_stream"},
                 {"chunks", kChunks},
                 {"chunks_at_client", chunks_seen},
                 {"seconds", secs},
                 {"chunks_per_s", chunks_seen / secs},
                 {"events_at_client", events},
                 {"events_per_s", events / secs},
                 {"stored_events_total", stored},
                 {"text_mib", text_bytes / 1048576.0},
                 {"rss_mib_before", rss_before},
                 {"rss_mib_peak", rss_peak},
                 {"rss_mib_after", rss_mib()}});
  return 0;
}
