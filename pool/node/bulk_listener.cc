#include "pool/node/bulk_listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {
constexpr int kHandshakeMillis = 1000;
}  // namespace

absl::StatusOr<std::unique_ptr<BulkListener>> BulkListener::Start(const std::string& host,
                                                                  Attach attach) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const char* node = host.empty() || host == "0.0.0.0" || host == "::" ? nullptr : host.c_str();
  if (int rc = getaddrinfo(node, "0", &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk listener: cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0)) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("bulk listener: cannot listen on ", host, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<BulkListener>(new BulkListener(fd, port, std::move(attach)));
}

BulkListener::BulkListener(int fd, uint16_t port, Attach attach)
    : fd_(fd), port_(port), attach_(std::move(attach)), thread_([this] { AcceptLoop(); }) {}

BulkListener::~BulkListener() {
  shutdown(fd_, SHUT_RDWR);  // wakes accept()
  thread_.join();
  close(fd_);
}

void BulkListener::AcceptLoop() {
  for (;;) {
    int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    // The key must come at once, all of it: handshakes are taken one at a
    // time, so a silent or dribbling connection may hold others up for this
    // long and no longer.
    char key[kBulkKeyBytes];
    auto socket = std::make_unique<BulkSocket>(fd);
    if (!socket->ReadExactWithin(key, sizeof(key), kHandshakeMillis).ok()) continue;
    // On success the session owns the socket and has answered on it.
    if (!attach_(std::string(key, sizeof(key)), socket)) {
      const char refused = 0;
      socket->WriteAll(&refused, 1).IgnoreError();  // closing says the same
    }
  }
}

}  // namespace accel::pool
