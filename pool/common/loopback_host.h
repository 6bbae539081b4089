// Whether a listen host is loopback: poold warns when it serves plaintext
// beyond it, and poolctl uses the admin socket for a pool on it. No caller
// is trusted for its address (see pool/coordinator/admin_socket.h).
#ifndef ACCEL_POOL_COMMON_LOOPBACK_HOST_H_
#define ACCEL_POOL_COMMON_LOOPBACK_HOST_H_

#include <string>

namespace accel::pool {

// "127.0.0.1", "[::1]", "::1", "localhost".
inline bool IsLoopbackHost(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1" || host == "localhost";
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_LOOPBACK_HOST_H_
