// `hearth mock-agent`: a real Agent Client Protocol agent (v1, NDJSON JSON-RPC over
// stdio) whose behaviour is scripted by the prompt, one command per line, so that tests
// and demos are deterministic without a model. Nothing about it is faked inside the
// server: the server drives it exactly as it drives Claude Code or Codex. Sessions are
// kept under $HOME/.hearth-mock, so a later process resumes one with session/load.
//
//   /say TEXT        agent message, streamed as several chunks
//   /think TEXT      agent thought
//   /write PATH TEXT fs/write_text_file (PATH relative to the session's cwd, or absolute)
//   /read PATH       fs/read_text_file, then says what it read
//   /run CMD ARGS…   terminal/create, wait_for_exit, output, release
//   /ask TITLE       session/request_permission; allowed: go on; rejected: the turn ends
//   /plan A;B;C      a plan with those steps
//   /sleep MS        waits (a cancel interrupts it)
//   /stream N        N message chunks, for load
//   /fail MESSAGE    ends the turn with a JSON-RPC error carrying MESSAGE
//   /history         says how many prompts this session has seen (also across session/load)
//   /crash           exits at once (status 3)
//   anything else    echoed back as an agent message
#pragma once

#include <cstdio>

namespace hearth::sandbox::acp {

// Serves one client on `in` / `out` until `in` closes; returns the exit status.
int run_mock_agent(std::FILE* in, std::FILE* out);

}  // namespace hearth::sandbox::acp
