// Whether a gRPC peer ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000",
// "unix:...") is on this host. Until operators and nodes have credentials of
// their own, calls that change the pool are taken from this host only.
#ifndef ACCEL_POOL_COMMON_LOCAL_PEER_H_
#define ACCEL_POOL_COMMON_LOCAL_PEER_H_

#include <string>

namespace accel::pool {

inline bool IsLocalPeer(const std::string& peer) {
  return peer.rfind("ipv4:127.", 0) == 0 || peer.rfind("ipv6:[::1]", 0) == 0 ||
         peer.rfind("unix:", 0) == 0;
}

// Whether a listen host ("127.0.0.1", "[::1]", "localhost") is loopback.
inline bool IsLoopbackHost(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1" || host == "localhost";
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_LOCAL_PEER_H_
