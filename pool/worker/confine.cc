#include "pool/worker/confine.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

absl::Status Errno(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status Limit(int resource, const char* name, rlim_t value) {
  rlimit limit{value, value};
  if (setrlimit(resource, &limit) != 0) return Errno(name);
  return absl::OkStatus();
}

// Descriptors a worker may hold: its two links, the bulk socket, module
// files while they load, and what vendor drivers open.
constexpr rlim_t kMaxOpenFiles = 1024;
// Address space beyond the lease's memory: code, thread stacks, malloc
// arenas, staging buffers and the module cache.
constexpr uint64_t kAddressSpaceHeadroom = 8ull << 30;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerShadow = true;  // ASan reserves terabytes of shadow
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerShadow = true;
#else
constexpr bool kSanitizerShadow = false;
#endif
#else
constexpr bool kSanitizerShadow = false;
#endif

}  // namespace

absl::Status TieWorkerToNode() {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Errno("PR_SET_PDEATHSIG");
  // The node may have died before the line above.
  if (getppid() == 1) return absl::UnavailableError("the node is gone");
  return absl::OkStatus();
}

absl::Status ConfineWorker(const worker::v1::WorkerInit& init) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("PR_SET_NO_NEW_PRIVS");
  // Not dumpable: no core file, and no same-uid process may ptrace it or
  // read its memory through /proc.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Errno("PR_SET_DUMPABLE");
  if (absl::Status s = Limit(RLIMIT_CORE, "RLIMIT_CORE", 0); !s.ok()) return s;
  if (absl::Status s = Limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", kMaxOpenFiles); !s.ok()) return s;
  // GPU drivers map the device's whole address range (and more) into the
  // process, so only a worker of host devices (the sandboxed kind) can be
  // held to its lease.
  if (init.sandbox() && !kSanitizerShadow) {
    uint64_t quotas = 0;
    for (const worker::v1::WorkerInit::Device& d : init.devices()) quotas += d.quota();
    const uint64_t bytes = quotas + init.module_cache_bytes() + kAddressSpaceHeadroom;
    if (absl::Status s = Limit(RLIMIT_AS, "RLIMIT_AS", bytes); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace accel::pool
