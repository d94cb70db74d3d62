// `hearth serve`: the actor host plus the HTTP edge, stopped cleanly by SIGINT/SIGTERM.
#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>

#include "actors/host/host.h"
#include "cli/commands.h"
#include "http/server.h"

namespace hearth::cli {

int serve(const ServeOptions& options) {
  // Block the stop signals in every thread (threads inherit the mask) and wait for
  // them on this one, so that shutdown runs in ordinary code, not a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  actors::HostConfig config;
  config.data_dir = options.data_dir;
  config.hibernate_after = std::chrono::seconds(options.hibernate_after_s);
  config.synchronous = *storage::synchronous_from_string(options.sqlite_synchronous);
  config.io_threads = static_cast<std::size_t>(options.io_threads);

  actors::Host host(config);
  if (auto st = host.start(); !st) {
    spdlog::error("serve.start_failed error={}", st.error().message);
    std::cerr << "hearth: " << st.error().message << "\n";
    return 1;
  }
  http::Server server({options.host, options.port, static_cast<std::size_t>(options.http_threads)}, host);
  auto port = server.start();
  if (!port) {
    std::cerr << "hearth: " << port.error().message << "\n";
    host.shutdown();
    return 1;
  }
  server.set_ready(true);
  std::cout << "hearth listening on http://" << options.host << ":" << *port << " (data dir "
            << std::filesystem::absolute(options.data_dir).string() << ")" << std::endl;

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("serve.stopping signal={}", signal == SIGINT ? "SIGINT" : "SIGTERM");
  server.set_ready(false);
  server.stop();
  host.shutdown(std::chrono::seconds(options.shutdown_grace_s));
  std::cout << "hearth stopped" << std::endl;
  return 0;
}

}  // namespace hearth::cli
