#include "pool/common/admin_socket_path.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

// A directory this user may keep an admin socket in: exists (or was made)
// as a directory we own, writable by no one else. Anyone may pass through
// it (mode 0711, not list it): the socket's own mode decides who connects,
// so that --admin_group's members can reach it.
bool UsableDirectory(const std::string& dir) {
  mkdir(dir.c_str(), 0711);  // fails harmlessly when it exists or cannot be made
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || access(dir.c_str(), W_OK) != 0) {
    return false;
  }
  if ((st.st_mode & 07777) != 0711) chmod(dir.c_str(), 0711);  // made by an older poold, or umask
  return true;
}

}  // namespace

std::string DefaultAdminSocketDirectory() {
  if (UsableDirectory("/run/accelpool")) return "/run/accelpool";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
    const std::string dir = absl::StrCat(runtime, "/accelpool");
    if (UsableDirectory(dir)) return dir;
  }
  const std::string own = absl::StrCat("/tmp/accelpool-", geteuid());
  return UsableDirectory(own) ? own : "";
}

std::string DefaultAdminSocketPath(int port) {
  const std::string dir = DefaultAdminSocketDirectory();
  return dir.empty() ? "" : absl::StrCat(dir, "/admin-", port, ".sock");
}

std::string FindAdminSocket(int port) {
  const std::string name = absl::StrCat("/admin-", port, ".sock");
  std::vector<std::string> candidates = {"/run/accelpool" + name};
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
    candidates.push_back(absl::StrCat(runtime, "/accelpool", name));
  }
  candidates.push_back(absl::StrCat("/tmp/accelpool-", geteuid()) + name);
  for (const std::string& path : candidates) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    // A poold that was killed leaves its link behind: only a socket that
    // answers is one (the port may since belong to anything else).
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) continue;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live =
        fd >= 0 && connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
    if (fd >= 0) close(fd);
    if (live) return path;
  }
  return "";
}

}  // namespace accel::pool
