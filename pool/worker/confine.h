// What a session worker gives up before it serves its client: privileges it
// could regain (no_new_privs), core dumps (they would hold a tenant's data),
// and resources beyond what its lease needs (rlimits). The seccomp filter
// for host kernels is pool/worker/sandbox.h.
#ifndef ACCEL_POOL_WORKER_CONFINE_H_
#define ACCEL_POOL_WORKER_CONFINE_H_

#include "absl/status/status.h"
#include "pool/common/worker_wire.h"

namespace accel::pool {

// Dies with the node, so that no worker outlives the process that accounts
// for it. Called first thing in the worker.
absl::Status TieWorkerToNode();

absl::Status ConfineWorker(const worker::v1::WorkerInit& init);

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_CONFINE_H_
