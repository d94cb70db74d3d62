// The `hearth` subcommands, each a function the CLI11 parser in main.cpp calls.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace hearth::cli {

struct ServeOptions {
  std::filesystem::path data_dir = ".hearth";
  std::string host = "127.0.0.1";
  int port = 7741;
  int http_threads = 32;
  int hibernate_after_s = 60;
  std::string sqlite_synchronous = "full";
  int io_threads = 64;
  int shutdown_grace_s = 10;
};

// Runs the server until SIGINT or SIGTERM; returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace hearth::cli
