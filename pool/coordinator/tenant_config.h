// The operator's tenant file (poold --tenants PATH), read when the
// coordinator starts. One tenant a line:
//
//   # name     quotas (each optional; absent = no limit)          token
//   tenant risk priority=10 devices=4 memory=64GiB leases=8 token_sha256=<64 hex>
//
// Only the token's SHA-256 is written down (`printf %s "$TOKEN" | sha256sum`),
// so the file does not hold a usable secret. `poolctl tenant create` is the
// other way to add one: it prints the token once. With a state store, the
// file only adds tenants the pool does not have yet; later changes are
// poolctl's.
#ifndef ACCEL_POOL_COORDINATOR_TENANT_CONFIG_H_
#define ACCEL_POOL_COORDINATOR_TENANT_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pool/coordinator/tenant_registry.h"

namespace accel::pool {

// INVALID_ARGUMENT naming the line on a malformed file.
absl::StatusOr<std::vector<Tenant>> ParseTenantConfig(absl::string_view text);
absl::StatusOr<std::vector<Tenant>> ReadTenantConfig(const std::string& path);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_TENANT_CONFIG_H_
