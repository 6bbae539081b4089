// The seccomp filter of a session worker whose devices are all host
// devices, where a tenant's host-elf kernels run as native code in the
// worker. Installed once the worker has opened its devices, before any
// command of the client runs; it cannot be lifted.
//
// What it takes away (the rest of the system-call surface stays, as the
// kernels and the worker's own threads need it):
//  - files: no open or create (EACCES), no change to any path, no look-up
//    of a path's metadata. Host-elf images are mapped from memory, so the
//    worker never needs a file once it has started.
//  - the network and other processes: creating a socket, creating a
//    process, exec, signalling or tracing another process, io_uring, BPF,
//    namespaces and the like kill the worker (SIGSYS), which ends only its
//    session, with that cause.
//  - undoing its confinement: PR_SET_DUMPABLE.
#ifndef ACCEL_POOL_WORKER_SANDBOX_H_
#define ACCEL_POOL_WORKER_SANDBOX_H_

#include "absl/status/status.h"

namespace accel::pool {

absl::Status EnterSandbox();

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_SANDBOX_H_
