// Every lease of a listing, following ListLeases' pages: what poolctl and
// the tests read, however many leases the pool holds.
#ifndef ACCEL_POOL_COMMON_LEASE_PAGES_H_
#define ACCEL_POOL_COMMON_LEASE_PAGES_H_

#include <functional>

#include "absl/status/statusor.h"
#include "pool/common/wire.h"

namespace accel::pool {

// `list` makes one ListLeases call. Pages are as large as the coordinator
// allows, so that 100k leases take 20 calls.
using ListLeasesCall = std::function<absl::Status(const accelpool::v1::ListLeasesRequest&,
                                                  accelpool::v1::ListLeasesResponse*)>;
absl::StatusOr<accelpool::v1::ListLeasesResponse> ListAllLeases(const ListLeasesCall& list);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_LEASE_PAGES_H_
