// SHA-256 of module images: the node's module cache is shared by tenants, so
// its key must not be forgeable.
#ifndef ACCEL_POOL_COMMON_SHA256_H_
#define ACCEL_POOL_COMMON_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace accel::pool {

// The 32-byte digest.
std::string Sha256(absl::string_view data);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_SHA256_H_
