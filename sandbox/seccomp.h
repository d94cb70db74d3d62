// The seccomp filter every bwrap sandbox process runs under: system calls a coding
// agent never needs, and that are the usual first step out of a sandbox, fail with
// EPERM (or ENOSYS, where a program is expected to fall back): kernel modules, mounts,
// new namespaces (a user namespace would give the process capabilities again), bpf,
// perf events, keyrings, kexec and reboot, the clock, swap, open_by_handle_at (the
// classic container escape), userfaultfd and io_uring. ptrace stays allowed: a sandbox
// has its own pid namespace, so only its own processes can be traced (debuggers work).
#pragma once

#include <string>

#include "storage/error.h"

namespace hearth::sandbox {

// The filter as a BPF program (struct sock_filter[]), as bubblewrap's --seccomp reads
// it; built once with libseccomp for this machine's architecture. Other architectures'
// system calls (32-bit ones on x86-64) kill the process.
Result<std::string> seccomp_program();

}  // namespace hearth::sandbox
