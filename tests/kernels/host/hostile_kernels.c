/* Kernels a hostile or broken tenant might send, for the isolation tests
 * (tests/pool/isolation_test.cc): each tries something a session worker
 * must contain. Never part of the kernel bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accel/hal/host_kernel_abi.h"

/* wild_write(address): stores to an address the session does not own. */
static int32_t wild_write(const AccelHostKernelContext* ctx) {
  *(volatile uint32_t*)(uintptr_t)ctx->args[0].value.u64 = 0xdeadbeef;
  return 0;
}

/* spin_forever(): never returns; only the watchdog ends it. */
static int32_t spin_forever(const AccelHostKernelContext* ctx) {
  (void)ctx;
  for (volatile uint64_t i = 0;; ++i) {
  }
  return 0;
}

/* The escape attempts write, into out[0], the call's result (or -errno). */
static int32_t try_open(const AccelHostKernelContext* ctx) {
  int fd = open("/etc/hostname", O_RDONLY);
  *(int64_t*)ctx->args[0].value.ptr = fd >= 0 ? fd : -errno;
  return 0;
}

static int32_t try_socket(const AccelHostKernelContext* ctx) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  *(int64_t*)ctx->args[0].value.ptr = fd >= 0 ? fd : -errno;
  return 0;
}

static int32_t try_fork(const AccelHostKernelContext* ctx) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  *(int64_t*)ctx->args[0].value.ptr = pid >= 0 ? pid : -errno;
  return 0;
}

/* forge_log(): writes lines of poold's log, and a terminal's escape
 * sequence, to stderr: 200 of them, past the node's limit. */
static int32_t forge_log(const AccelHostKernelContext* ctx) {
  (void)ctx;
  static const char kForged[] = "poold: lease l-forged: granted\033[2J\n";
  for (int i = 0; i < 200; ++i) {
    if (write(2, kForged, sizeof(kForged) - 1) < 0) return 1;
  }
  return 0;
}

static const AccelHostKernelDesc kKernels[] = {
    {"wild_write", wild_write, "u64"}, {"spin_forever", spin_forever, ""},
    {"try_open", try_open, "buffer"},  {"try_socket", try_socket, "buffer"},
    {"try_fork", try_fork, "buffer"},  {"forge_log", forge_log, ""},
};

__attribute__((visibility("default"))) uint32_t accel_host_module_abi_version(void) {
  return ACCEL_HOST_KERNEL_ABI_VERSION;
}

__attribute__((visibility("default"))) const AccelHostKernelDesc* accel_host_module_kernels(
    size_t* count) {
  *count = sizeof(kKernels) / sizeof(kKernels[0]);
  return kKernels;
}
