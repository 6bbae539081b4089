// Unguessable identifiers: lease tokens are bearer secrets.
#ifndef ACCEL_POOL_COMMON_RANDOM_TOKEN_H_
#define ACCEL_POOL_COMMON_RANDOM_TOKEN_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace accel::pool {

// `bytes` random bytes from the system CSPRNG, hex encoded.
std::string RandomHex(size_t bytes);
// Constant-time comparison, for secrets.
bool SecretsEqual(absl::string_view a, absl::string_view b);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_RANDOM_TOKEN_H_
