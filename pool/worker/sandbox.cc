#include "pool/worker/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "absl/strings/str_cat.h"

#ifdef ACCEL_HAVE_SECCOMP
#include <seccomp.h>
#endif

namespace accel::pool {

#ifdef ACCEL_HAVE_SECCOMP
namespace {

// Whether this architecture has the system call (aarch64 has no open(2),
// fork(2), ...): names it lacks are skipped.
int Syscall(const char* name) { return seccomp_syscall_resolve_name(name); }

absl::Status Rule(scmp_filter_ctx ctx, uint32_t action, const char* name,
                  std::initializer_list<scmp_arg_cmp> conditions = {}) {
  const int nr = Syscall(name);
  if (nr == __NR_SCMP_ERROR) return absl::OkStatus();
  const int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(conditions.size()),
                                        conditions.size() ? conditions.begin() : nullptr);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("seccomp rule for ", name, ": ", std::strerror(-rc)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnterSandbox() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  struct Release {
    scmp_filter_ctx ctx;
    ~Release() { seccomp_release(ctx); }
  } release{ctx};
  const uint32_t no_file = SCMP_ACT_ERRNO(EACCES);
  const uint32_t kill = SCMP_ACT_KILL_PROCESS;
  absl::Status s;
  auto add = [&](uint32_t action, const char* name,
                 std::initializer_list<scmp_arg_cmp> conditions = {}) {
    if (s.ok()) s = Rule(ctx, action, name, conditions);
  };
  // Files: failing politely, since library code may probe for one.
  for (const char* name : {"open",
                           "openat",
                           "openat2",
                           "creat",
                           "open_by_handle_at",
                           "name_to_handle_at",
                           "unlink",
                           "unlinkat",
                           "rename",
                           "renameat",
                           "renameat2",
                           "mkdir",
                           "mkdirat",
                           "rmdir",
                           "link",
                           "linkat",
                           "symlink",
                           "symlinkat",
                           "chmod",
                           "fchmodat",
                           "chown",
                           "fchownat",
                           "lchown",
                           "truncate",
                           "mknod",
                           "mknodat",
                           "stat",
                           "lstat",
                           "access",
                           "faccessat",
                           "faccessat2",
                           "readlink",
                           "readlinkat",
                           "statfs",
                           "utimes",
                           "utimensat",
                           "futimesat",
                           "setxattr",
                           "lsetxattr",
                           "getxattr",
                           "lgetxattr",
                           "listxattr",
                           "llistxattr",
                           "removexattr",
                           "lremovexattr",
                           "inotify_add_watch",
                           "fanotify_init",
                           "uselib",
                           "swapon",
                           "swapoff",
                           "acct",
                           "chroot",
                           "pivot_root",
                           "mount",
                           "umount2",
                           "quotactl"}) {
    add(no_file, name);
  }
  // fstat() is fstatat(fd, "", AT_EMPTY_PATH): only that form is allowed.
  add(no_file, "newfstatat", {SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)});
  add(no_file, "statx", {SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)});
  // The network, other processes, and ways around this filter.
  for (const char* name : {"socket",
                           "socketpair",
                           "connect",
                           "bind",
                           "listen",
                           "accept",
                           "accept4",
                           "execve",
                           "execveat",
                           "fork",
                           "vfork",
                           "ptrace",
                           "process_vm_readv",
                           "process_vm_writev",
                           "process_madvise",
                           "pidfd_open",
                           "pidfd_getfd",
                           "pidfd_send_signal",
                           "kill",
                           "tkill",
                           "rt_sigqueueinfo",
                           "kcmp",
                           "move_pages",
                           "migrate_pages",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",
                           "bpf",
                           "perf_event_open",
                           "userfaultfd",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "unshare",
                           "setns",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "kexec_load",
                           "kexec_file_load",
                           "reboot",
                           "personality",
                           "seccomp"}) {
    add(kill, name);
  }
  // Threads only: a clone without CLONE_THREAD makes a process. clone3's
  // flags sit in memory a filter cannot read, so it reports itself missing
  // and the C library falls back to clone.
  add(kill, "clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)});
  add(SCMP_ACT_ERRNO(ENOSYS), "clone3");
  // Signals to its own threads only (raise, abort).
  // (Two-operand comparisons: libseccomp's one-operand macros leave datum_b
  // to the compiler, which clang rightly warns about.)
  add(kill, "tgkill", {SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(getpid()), 0)});
  add(kill, "rt_tgsigqueueinfo", {SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(getpid()), 0)});
  // Not dumpable stays so: no other worker may read this one's memory.
  add(kill, "prctl", {SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE, 0)});
  if (!s.ok()) return s;
  // Every thread of the worker, those the backend started already included
  // (its kernel threads above all).
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    return absl::InternalError(absl::StrCat("seccomp TSYNC: ", std::strerror(-rc)));
  }
  if (int rc = seccomp_load(ctx); rc != 0) {
    return absl::InternalError(absl::StrCat("seccomp_load: ", std::strerror(-rc)));
  }
  return absl::OkStatus();
}

#else

absl::Status EnterSandbox() {
  return absl::FailedPreconditionError(
      "this session worker was built without libseccomp: it cannot sandbox host kernels "
      "(scripts/install-deps.sh installs libseccomp-dev)");
}

#endif

}  // namespace accel::pool
