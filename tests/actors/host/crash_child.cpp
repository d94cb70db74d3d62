// A child process for the crash test: a Host with the ledger type on DATA_DIR that
// reads commands from stdin and answers on stdout.
//   send N   -> sends {"seq":N} to ledger ["test","crash"] (from one of four sender
//               threads) and prints "ack N" once send() returned, i.e. once the
//               message is on disk
//   verify   -> waits until the queue is empty and prints "entries [..]" and "count N"
//   failed   -> prints "failed {..}": the target's failed messages (the inspector's page)
// It prints "ready" when it can take commands. A second argument, "normal", runs the
// host with synchronous=NORMAL (sends commit on the sender's thread).
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <sstream>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "tests/support/ledger_actor.h"

using namespace hearth;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: crash_child DATA_DIR [full|normal]\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::err);
  actors::HostConfig config;
  config.data_dir = argv[1];
  if (argc == 3) config.synchronous = *storage::synchronous_from_string(argv[2]);
  // "crash-before-delivery N": the process dies (SIGKILL) as the outbox row forwarding
  // seq N is about to be delivered.
  std::atomic<long> crash_at{-1};
  config.before_delivery = [&crash_at](const std::string&, const std::string&, const std::string& body) {
    if (nlohmann::json::parse(body).value("seq", -2L) == crash_at.load()) ::raise(SIGKILL);
  };
  actors::Host host(config);
  if (!host.register_type(test::make_ledger_type(host)).ok() || !host.start().ok()) return 1;
  auto target = test::ledger("crash");
  for (const auto& a : {target, test::ledger("from"), test::ledger("forwarded")})
    if (auto st = host.get_or_create(a); !st) {
      std::cerr << st.error().message << "\n";
      return 1;
    }
  std::mutex out_mu;
  auto say = [&](const std::string& line) {
    std::lock_guard lock(out_mu);
    std::cout << line << std::endl;
  };
  say("ready");

  std::mutex mu;
  std::condition_variable cv;
  std::deque<long> work;
  bool done = false;
  std::vector<std::thread> senders;
  for (int i = 0; i < 4; ++i)
    senders.emplace_back([&] {
      for (;;) {
        long seq;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return done || !work.empty(); });
          if (work.empty()) return;
          seq = work.front();
          work.pop_front();
        }
        auto r = host.send(target, "ledger.command.append", {{"seq", seq}});
        say(r ? "ack " + std::to_string(seq) : "err " + std::to_string(seq) + " " + r.error().message);
      }
    });

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.rfind("send ", 0) == 0) {
      std::lock_guard lock(mu);
      work.push_back(std::stol(line.substr(5)));
      cv.notify_one();
    } else if (line.rfind("crash-before-delivery ", 0) == 0) {
      crash_at = std::stol(line.substr(22));
      say("armed");
    } else if (line.rfind("forward ", 0) == 0) {  // "forward 0 1 2": one step forwards them all
      auto seqs = nlohmann::json::array();
      std::istringstream in(line.substr(8));
      for (long seq; in >> seq;) seqs.push_back(seq);
      actors::SendOptions wait;
      wait.wait = true;
      auto r = host.send(test::ledger("from"), "ledger.command.forward", {{"to", "forwarded"}, {"seqs", seqs}}, wait);
      say(r ? "forwarded" : "err " + r.error().message);
    } else if (line == "verify-forwarded") {
      for (int i = 0; i < 2000; ++i) {
        auto s = host.actor_summary(test::ledger("from"));
        auto t = host.actor_summary(test::ledger("forwarded"));
        if (s && t && (*s)["outbox_undelivered"] == 0 && (*t)["queue"]["pending"] == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      auto e = host.call(test::ledger("forwarded"), "ledger.entries");
      if (!e) return 1;
      say("entries " + (*e)["seqs"].dump());
    } else if (line == "failed") {
      auto f = host.queue_messages(target, "failed", 0, 10);
      if (!f) return 1;
      say("failed " + f->dump());
    } else if (line == "verify") {
      for (int i = 0; i < 2000; ++i) {
        auto s = host.actor_summary(target);
        if (s && (*s)["queue"]["pending"] == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      auto e = host.call(target, "ledger.entries");
      if (!e) return 1;
      say("entries " + (*e)["seqs"].dump());
      say("count " + (*e)["count"].dump());
    }
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : senders) t.join();
  host.shutdown();
  return 0;
}
