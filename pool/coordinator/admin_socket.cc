#include "pool/coordinator/admin_socket.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "pool/common/admin_socket_path.h"

namespace accel::pool {

absl::StatusOr<std::unique_ptr<AdminSocket>> AdminSocket::Prepare(const std::string& path) {
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
  if (own.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("admin socket path '", own, "' is over ",
                                                   sizeof(sockaddr_un{}.sun_path) - 1, " bytes"));
  }
  return std::unique_ptr<AdminSocket>(new AdminSocket(own, linked));
}

AdminSocket::~AdminSocket() {
  if (!link_.empty()) unlink(link_.c_str());
  unlink(path_.c_str());
}

absl::Status AdminSocket::Publish(int port, gid_t group) {
  if (chmod(path_.c_str(), 0660) != 0 || chown(path_.c_str(), geteuid(), group) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot restrict the admin socket ", path_, ": ", std::strerror(errno)));
  }
  if (!linked_) return absl::OkStatus();
  const std::string link = DefaultAdminSocketPath(port);
  unlink(link.c_str());  // a stale link of an earlier poold on this port
  if (symlink(path_.c_str(), link.c_str()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot link the admin socket at ", link, ": ", std::strerror(errno)));
  }
  link_ = link;
  return absl::OkStatus();
}

}  // namespace accel::pool
