// The sandbox's seccomp filter: see seccomp.h.
#include "sandbox/seccomp.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace hearth::sandbox {
namespace {

// Refused with EPERM: a program sees "operation not permitted", as it would without
// the privilege.
constexpr const char* kRefused[] = {
    // Kernel modules, kexec, reboot, swap, accounting, the kernel log.
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "acct", "syslog",
    // Mounts and namespaces.
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "unshare", "setns",
    // Kernel programs and introspection.
    "bpf", "perf_event_open", "lookup_dcookie",
    // Keyrings (shared by every process of a uid).
    "add_key", "request_key", "keyctl",
    // The clock.
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    // Files by handle (walks out of any mount), page-fault handling, quotas, old calls.
    "open_by_handle_at", "name_to_handle_at", "userfaultfd", "quotactl", "quotactl_fd", "nfsservctl", "uselib",
    "_sysctl", "ustat", "sysfs", "vhangup", "iopl", "ioperm",
};

// Refused with ENOSYS, as if the kernel lacked them: programs fall back (libc's clone3
// to clone, which the filter can inspect; libuv's io_uring to threads).
constexpr const char* kMissing[] = {"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"};

// clone() flags that make a new namespace.
constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,    CLONE_NEWNET,
                                             CLONE_NEWUTS,  CLONE_NEWIPC, CLONE_NEWCGROUP, 0x00000080 /* NEWTIME */};

Result<std::string> build() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return Error{ErrorCode::unavailable, "seccomp_init failed"};
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  auto fail = [](const char* what, int rc) {
    return Error{ErrorCode::unavailable, fmt::format("seccomp: {}: {}", what, std::strerror(-rc))};
  };
  for (const char* name : kRefused) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); rc < 0) return fail(name, rc);
  }
  for (const char* name : kMissing) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0); rc < 0) return fail(name, rc);
  }
  for (unsigned long flag : kNamespaceFlags)
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc < 0)
      return fail("clone", rc);
  // The BPF program, through a memfd (libseccomp writes it to a descriptor).
  int fd = ::memfd_create("hearth-seccomp", MFD_CLOEXEC);
  if (fd < 0) return Error{ErrorCode::unavailable, fmt::format("memfd_create: {}", std::strerror(errno))};
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close{fd};
  if (int rc = seccomp_export_bpf(ctx, fd); rc < 0) return fail("export", rc);
  auto size = ::lseek(fd, 0, SEEK_END);
  std::string program(static_cast<std::size_t>(size), '\0');
  if (::pread(fd, program.data(), program.size(), 0) != size)
    return Error{ErrorCode::unavailable, "seccomp: cannot read the exported program"};
  return program;
}

}  // namespace

Result<std::string> seccomp_program() {
  static std::once_flag once;
  static Result<std::string> program = Error{ErrorCode::unavailable, "seccomp: not built"};
  std::call_once(once, [] { program = build(); });
  return program;
}

}  // namespace hearth::sandbox
