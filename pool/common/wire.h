// The generated protocol types, under accel::pool::v1.
#ifndef ACCEL_POOL_COMMON_WIRE_H_
#define ACCEL_POOL_COMMON_WIRE_H_

#include "pool/proto/accelpool.grpc.pb.h"
#include "pool/proto/accelpool.pb.h"

namespace accel::pool {
namespace v1 = ::accelpool::v1;
}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_WIRE_H_
