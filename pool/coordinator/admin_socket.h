// poold's admin socket: operator calls for the pool's own host, vouched for
// by the kernel rather than by an address or a token.
//
// A Unix socket that poold's gRPC server listens on beside its TCP port. The
// kernel lets a process connect only if it may write the socket file, which
// is mode 0660, owned by poold's user and the admin group, in a directory
// no one else may write: so its callers are root, poold's user and the admin
// group, and they are operators. TCP callers are never operators for where
// they call from: over TCP an operator needs the operator token or an
// operator certificate.
#ifndef ACCEL_POOL_COORDINATOR_ADMIN_SOCKET_H_
#define ACCEL_POOL_COORDINATOR_ADMIN_SOCKET_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace accel::pool {

class AdminSocket {
 public:
  // Where the server will listen: `path`, or for "" this process's own
  // socket in the default directory, later linked from the name poolctl
  // looks for (admin_socket_path.h) once the pool's port is known.
  static absl::StatusOr<std::unique_ptr<AdminSocket>> Prepare(const std::string& path);
  ~AdminSocket();  // removes the socket file and its link

  // "unix:PATH", for grpc::ServerBuilder::AddListeningPort.
  std::string listen_address() const { return "unix:" + path_; }
  // Once the server listens: restricts the file to poold's user and
  // `group` (-1: none), and links the default name for `port` to it.
  absl::Status Publish(int port, gid_t group);
  const std::string& path() const { return link_.empty() ? path_ : link_; }

  // Whether a call came over an admin socket, by its gRPC peer name: only
  // Unix-socket peers ("unix:") do, and poold listens on no other.
  static bool IsAdminPeer(const std::string& peer) { return peer.rfind("unix:", 0) == 0; }

 private:
  AdminSocket(std::string path, bool linked) : path_(std::move(path)), linked_(linked) {}
  const std::string path_;
  const bool linked_;  // published under the default name too
  std::string link_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ADMIN_SOCKET_H_
