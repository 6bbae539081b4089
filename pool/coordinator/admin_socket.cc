#include "pool/coordinator/admin_socket.h"

#include <grpcpp/server_posix.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pool/common/admin_socket_path.h"

namespace accel::pool {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminSocket>> AdminSocket::Listen(const std::string& path,
                                                                 gid_t group) {
  const bool linked = path.empty();
  std::string own = path;
  if (linked) {
    const std::string dir = DefaultAdminSocketDirectory();
    if (dir.empty()) {
      return absl::FailedPreconditionError(
          "no directory this user owns for an admin socket (/run/accelpool, "
          "$XDG_RUNTIME_DIR/accelpool, /tmp/accelpool-UID)");
    }
    own = absl::StrCat(dir, "/poold-", getpid(), ".sock");
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (own.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("admin socket path '", own, "' is over ",
                                                   sizeof(address.sun_path) - 1, " bytes"));
  }
  std::memcpy(address.sun_path, own.data(), own.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("admin socket");
  unlink(own.c_str());  // a stale socket of an earlier poold
  // Restricted between bind and listen: no one connects before it is.
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    absl::Status failed = Errno(absl::StrCat("cannot create the admin socket ", own));
    close(fd);
    return failed;
  }
  if (chmod(own.c_str(), 0660) != 0 || chown(own.c_str(), geteuid(), group) != 0 ||
      listen(fd, 64) != 0) {
    absl::Status failed = Errno(absl::StrCat("cannot restrict the admin socket ", own));
    close(fd);
    unlink(own.c_str());
    return failed;
  }
  return std::unique_ptr<AdminSocket>(new AdminSocket(fd, own, linked));
}

AdminSocket::~AdminSocket() {
  shutdown(fd_, SHUT_RDWR);  // wakes the acceptor
  if (acceptor_.joinable()) acceptor_.join();
  close(fd_);
  if (!link_.empty()) unlink(link_.c_str());
  unlink(path_.c_str());
}

void AdminSocket::Serve(grpc::Server* server) {
  acceptor_ = std::thread([this, server] { AcceptLoop(server); });
}

void AdminSocket::AcceptLoop(grpc::Server* server) {
  for (;;) {
    // Non-blocking, as gRPC's poller needs its descriptors.
    const int connection = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {  // for want of descriptors: wait, go on
        poll(nullptr, 0, 100);
        continue;
      }
      return;  // shut down
    }
    // gRPC owns it from here and names its calls' peer "fd:N".
    grpc::AddInsecureChannelFromFd(server, connection);
  }
}

absl::Status AdminSocket::Publish(int port) {
  if (!linked_) return absl::OkStatus();
  const std::string link = DefaultAdminSocketPath(port);
  unlink(link.c_str());  // a stale link of an earlier poold on this port
  if (symlink(path_.c_str(), link.c_str()) != 0) {
    return Errno(absl::StrCat("cannot link the admin socket at ", link));
  }
  link_ = link;
  return absl::OkStatus();
}

std::optional<std::string> AdminSocket::Caller(const std::string& peer) {
  int fd = -1;
  if (peer.rfind("fd:", 0) != 0 || !absl::SimpleAtoi(peer.substr(3), &fd)) return std::nullopt;
  // The call's own connection, which stays open while the call runs; only
  // the acceptor above hands connections over by descriptor, and only Unix
  // sockets, which carry their peer's credentials.
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  ucred credentials{};
  socklen_t credentials_length = sizeof(credentials);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
      local.ss_family != AF_UNIX ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &credentials_length) != 0) {
    return std::nullopt;
  }
  passwd entry{};
  passwd* found = nullptr;
  char names[1024];
  std::string who = absl::StrCat("admin socket uid ", credentials.uid);
  if (getpwuid_r(credentials.uid, &entry, names, sizeof(names), &found) == 0 && found != nullptr) {
    absl::StrAppend(&who, " (", found->pw_name, ")");
  }
  return who;
}

}  // namespace accel::pool
