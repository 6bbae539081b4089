// poold's admin socket: operator calls for the pool's own host, vouched for
// by the kernel rather than by an address or a token.
//
// A Unix socket beside poold's TCP port, served by the same gRPC server. The
// kernel lets a process connect only if it may write the socket file, which
// is mode 0660, owned by poold's user and the admin group, in a directory
// no one else may write: so its callers are root, poold's user and the admin
// group, and they are operators. poold accepts each connection itself and
// hands it to gRPC, so that every call can name the user who made it (the
// kernel's SO_PEERCRED) in the audit log. TCP callers are never operators
// for where they call from: over TCP an operator needs the operator token or
// an operator certificate.
#ifndef ACCEL_POOL_COORDINATOR_ADMIN_SOCKET_H_
#define ACCEL_POOL_COORDINATOR_ADMIN_SOCKET_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace accel::pool {

class AdminSocket {
 public:
  // Listens at `path`, or for "" at this process's own socket in the
  // default directory, later linked from the name poolctl looks for
  // (admin_socket_path.h) once the pool's port is known. The file is
  // restricted to poold's user and `group` (-1: none) before anyone can
  // connect.
  static absl::StatusOr<std::unique_ptr<AdminSocket>> Listen(const std::string& path, gid_t group);
  ~AdminSocket();  // stops accepting; removes the socket file and its link
  AdminSocket(const AdminSocket&) = delete;
  AdminSocket& operator=(const AdminSocket&) = delete;

  // Hands every connection to `server` (started, and outliving this).
  void Serve(grpc::Server* server);
  // Links the default name for `port` to the socket (for a default path).
  absl::Status Publish(int port);
  const std::string& path() const { return link_.empty() ? path_ : link_; }

  // Who made a call that came over an admin socket, by its gRPC peer name
  // ("fd:N", the connection poold handed over): "admin socket uid 1000
  // (alice)". nullopt for any other peer, or when the kernel cannot say.
  static std::optional<std::string> Caller(const std::string& peer);

 private:
  AdminSocket(int fd, std::string path, bool linked)
      : fd_(fd), path_(std::move(path)), linked_(linked) {}
  void AcceptLoop(grpc::Server* server);

  const int fd_;
  const std::string path_;
  const bool linked_;  // published under the default name too
  std::string link_;
  std::thread acceptor_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_ADMIN_SOCKET_H_
