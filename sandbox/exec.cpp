// The exec channel: see exec.h.
#include "sandbox/exec.h"

#include <fmt/format.h>

#include <optional>

namespace hearth::sandbox {

std::string_view to_string(EndedBy cause) {
  switch (cause) {
    case EndedBy::exit: return "exit";
    case EndedBy::wall_clock: return "wall_clock";
    case EndedBy::idle: return "idle";
    case EndedBy::stopped: return "stopped";
  }
  return "exit";
}

Result<ExecOutcome> run(const Provider& provider, const SandboxDir& dir, const ExecRequest& request,
                        std::string_view stdin_data, const OutputSink& sink, std::stop_token stop,
                        const Redactor* redactor) {
  auto spec = provider.command(dir, request);
  if (!spec) return spec.error();
  return run(*spec, request.limits, stdin_data, sink, stop, redactor);
}

Result<ExecOutcome> run(const ProcessSpec& spec, const Limits& limits, std::string_view stdin_data,
                        const OutputSink& raw_sink, std::stop_token stop, const Redactor* redactor) {
  static const Redactor none;
  const Redactor& r = redactor ? *redactor : none;
  Redactor::Stream streams[2] = {Redactor::Stream(r), Redactor::Stream(r)};
  auto sink = [&](int stream, std::string_view data) {
    auto text = streams[stream - 1].push(data);
    if (!text.empty()) raw_sink(stream, text);
  };
  auto process = Process::spawn(spec);
  if (!process) return process.error();
  if (!stdin_data.empty()) (void)process->write(stdin_data);  // a process that ignores stdin may close it
  process->close_stdin();

  using Clock = std::chrono::steady_clock;
  auto started = Clock::now();
  auto last_output = started;
  ExecOutcome outcome;
  std::optional<EndedBy> ended_by;  // set when a limit or a stop request ends the process
  auto end = [&](EndedBy why) {
    ended_by = why;
    process->kill(SIGKILL);
  };
  Chunk chunk;
  for (;;) {
    auto now = Clock::now();
    if (stop.stop_requested()) {
      end(EndedBy::stopped);
      break;
    }
    if (now - started >= limits.wall_clock) {
      end(EndedBy::wall_clock);
      break;
    }
    if (now - last_output >= limits.idle) {
      end(EndedBy::idle);
      break;
    }
    auto r = process->read_chunk(std::chrono::milliseconds(50), chunk);
    if (r == Process::Read::eof) break;
    if (r == Process::Read::timeout) continue;
    last_output = Clock::now();
    outcome.output_bytes += chunk.data.size();
    if (outcome.truncated) continue;
    auto kept = outcome.output_bytes - chunk.data.size();
    if (outcome.output_bytes <= limits.max_output_bytes) {
      sink(chunk.stream, chunk.data);
      continue;
    }
    auto room = limits.max_output_bytes > kept ? limits.max_output_bytes - kept : 0;
    if (room > 0) sink(chunk.stream, std::string_view(chunk.data).substr(0, room));
    outcome.truncated = true;
    sink(2, fmt::format("\n[hearth: output past {} bytes was dropped]\n", limits.max_output_bytes));
  }
  for (int stream : {1, 2})
    if (auto rest = streams[stream - 1].flush(); !rest.empty()) raw_sink(stream, rest);
  // Output ended (or a limit was hit): the process is exiting; reap it.
  auto code = process->wait(std::chrono::seconds(5));
  if (!code) {
    process->kill(SIGKILL);
    code = process->wait(std::chrono::seconds(5));
  }
  outcome.exit_code = code ? *code : -1;
  // Asked to stop, and killed by whoever stopped it first (the sandbox's group): stopped.
  outcome.ended_by = ended_by.value_or(stop.stop_requested() ? EndedBy::stopped : EndedBy::exit);
  return outcome;
}

}  // namespace hearth::sandbox
