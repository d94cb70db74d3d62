// The exec channel: runs one process in a sandbox to its end, streaming its output as
// it comes, within its limits (wall clock, idle time, output size). Blocking: call it
// from long-work threads (spawn_io), never from an actor's loop.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "sandbox/provider.h"
#include "sandbox/redactor.h"

namespace hearth::sandbox {

// Why a process ended: on its own, past its wall clock or idle limit, or asked to stop.
enum class EndedBy { exit, wall_clock, idle, stopped };

// The cause's name in JSON and in the processes table: "exit", "wall_clock", "idle", "stopped".
std::string_view to_string(EndedBy cause);

struct ExecOutcome {
  int exit_code = -1;                // the process's code, or 128 + signal
  EndedBy ended_by = EndedBy::exit;
  std::size_t output_bytes = 0;  // all it wrote, kept or not
  bool truncated = false;        // output past max_output_bytes was dropped (and marked)
};

// Receives output: stream 1 (stdout) or 2 (stderr), in the order it arrived. After the
// limit, one last chunk on stream 2 says that the rest was dropped.
using OutputSink = std::function<void(int stream, std::string_view data)>;

// Runs `request` in `dir` through `provider`; the whole process group is killed when
// a limit is hit or `stop` is requested. With a redactor, the known secret values never
// reach the sink, even when split across chunks. Fails only when the process cannot start.
Result<ExecOutcome> run(const Provider& provider, const SandboxDir& dir, const ExecRequest& request,
                        std::string_view stdin_data, const OutputSink& sink, std::stop_token stop = {},
                        const Redactor* redactor = nullptr);

// The same for a host process (no sandbox): Hearth's own git that talks to origins.
Result<ExecOutcome> run(const ProcessSpec& spec, const Limits& limits, std::string_view stdin_data,
                        const OutputSink& sink, std::stop_token stop = {}, const Redactor* redactor = nullptr);

}  // namespace hearth::sandbox
