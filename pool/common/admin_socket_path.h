// Where a pool's admin socket lives: poold creates it, poolctl on the same
// host finds it there by the pool's port.
#ifndef ACCEL_POOL_COMMON_ADMIN_SOCKET_PATH_H_
#define ACCEL_POOL_COMMON_ADMIN_SOCKET_PATH_H_

#include <string>

namespace accel::pool {

// /run/accelpool/admin-PORT.sock when /run/accelpool is (or can be made)
// ours; otherwise $XDG_RUNTIME_DIR/accelpool/admin-PORT.sock, or
// /tmp/accelpool-UID/admin-PORT.sock: directories this user owns and no one
// else may write, made when missing. "" when none of them is (someone else
// made /tmp/accelpool-UID, say): then there is no admin socket.
std::string DefaultAdminSocketPath(int port);
// The directory DefaultAdminSocketPath chose (made when missing); "" for none.
std::string DefaultAdminSocketDirectory();

// For poolctl: the admin socket of the pool on this host's `port`, where a
// live poold serves one (a stale link of a killed poold is passed over);
// "" when there is none.
std::string FindAdminSocket(int port);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_ADMIN_SOCKET_PATH_H_
