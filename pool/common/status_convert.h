// absl::Status <-> the wire's Status and grpc::Status. The canonical codes
// are the same numbers in all three, so nothing is lost crossing the network.
#ifndef ACCEL_POOL_COMMON_STATUS_CONVERT_H_
#define ACCEL_POOL_COMMON_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "pool/common/wire.h"

namespace accel::pool {

void ToProto(const absl::Status& status, v1::Status* out);
absl::Status FromProto(const v1::Status& status);
grpc::Status ToGrpc(const absl::Status& status);
// `what` names the call for the message: "Lease: UNAVAILABLE: ...".
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_STATUS_CONVERT_H_
