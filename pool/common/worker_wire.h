// The generated types of the node's link to its session workers
// (pool/proto/worker.proto), under accel::pool::worker::v1.
#ifndef ACCEL_POOL_COMMON_WORKER_WIRE_H_
#define ACCEL_POOL_COMMON_WORKER_WIRE_H_

#include "pool/common/wire.h"
#include "pool/proto/worker.pb.h"

namespace accel::pool::worker {
namespace v1 = ::accelpool::worker::v1;
}  // namespace accel::pool::worker

#endif  // ACCEL_POOL_COMMON_WORKER_WIRE_H_
