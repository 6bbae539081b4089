#include "pool/node/bulk_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {
constexpr int kHandshakeMillis = 1000;
constexpr size_t kMaxHandshakes = 64;
}  // namespace

absl::StatusOr<std::unique_ptr<BulkListener>> BulkListener::Start(
    const std::string& host, uint16_t port, std::unique_ptr<BulkTlsServer> tls, Attach attach) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const char* node = host.empty() || host == "0.0.0.0" || host == "::" ? nullptr : host.c_str();
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(node, service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk listener: cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;  // a fixed port comes back at once after a restart
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (fd >= 0 && (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0)) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("bulk listener: cannot listen on ", host, " port ",
                                               port, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<BulkListener>(
      new BulkListener(fd, bound_port, std::move(tls), std::move(attach)));
}

BulkListener::BulkListener(int fd, uint16_t port, std::unique_ptr<BulkTlsServer> tls, Attach attach)
    : fd_(fd), port_(port), tls_(std::move(tls)), attach_(std::move(attach)), thread_([this] {
        AcceptLoop();
      }) {}

BulkListener::~BulkListener() {
  shutdown(fd_, SHUT_RDWR);  // wakes accept()
  thread_.join();
  close(fd_);
}

void BulkListener::AcceptLoop() {
  // Handshakes proceed side by side in this one thread: each connection
  // has a second to finish TLS and send its whole key, so a silent or
  // dribbling one holds nobody else up, and at most kMaxHandshakes wait at
  // once.
  struct Handshake {
    int fd;
    std::unique_ptr<BulkTlsServer::Handshake> tls;  // under TLS
    std::string received;                           // the key, sealed under TLS
    std::chrono::steady_clock::time_point deadline;
  };
  const size_t key_bytes =
      kBulkKeyBytes + (tls_ != nullptr ? kSealedHeaderBytes + kSealTagBytes : 0);
  std::vector<Handshake> pending;
  auto drop = [&](size_t i) {
    pending[i].tls.reset();
    close(pending[i].fd);
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
  };
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = pending.size(); i-- > 0;) {
      if (pending[i].deadline <= now) drop(i);
    }
    std::vector<pollfd> fds = {{fd_, POLLIN, 0}};
    auto next = now + std::chrono::milliseconds(kHandshakeMillis);
    for (const Handshake& h : pending) {
      fds.push_back(
          {h.fd, h.tls != nullptr && !h.tls->done() ? h.tls->events() : short{POLLIN}, 0});
      next = std::min(next, h.deadline);
    }
    const int wait =
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()) +
        1;
    if (poll(fds.data(), fds.size(), wait) < 0 && errno != EINTR) break;

    // Handshakes first (the indexes of `pending` match fds[1..] until it
    // changes).
    for (size_t i = fds.size() - 1; i >= 1; --i) {
      if (fds[i].revents == 0) continue;
      Handshake& h = pending[i - 1];
      if (h.tls != nullptr && !h.tls->done()) {
        if (!h.tls->Step().ok()) drop(i - 1);  // the client learns it from TLS
        continue;
      }
      char buffer[kBulkKeyBytes + kSealedHeaderBytes + kSealTagBytes];
      ssize_t got = recv(h.fd, buffer, key_bytes - h.received.size(), MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) {
        drop(i - 1);
        continue;
      }
      h.received.append(buffer, static_cast<size_t>(got));
      if (h.received.size() < key_bytes) continue;
      std::optional<ChannelKeys> keys;
      absl::StatusOr<std::string> key = h.received;
      if (h.tls != nullptr) {
        keys = h.tls->keys();
        key = OpenWholeChunk(keys->receive, h.received);
      }
      if (!key.ok()) {
        drop(i - 1);
        continue;
      }
      const int fd = h.fd;
      h.tls.reset();
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i - 1));
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // sessions read it blocking
      auto socket = std::make_unique<BulkSocket>(fd);
      if (keys.has_value() && !socket->Seal(*keys).ok()) continue;  // closes it
      // On success the session owns the socket and has answered on it.
      if (!attach_(*key, socket)) {
        const char refused = 0;
        socket->WriteAll(&refused, 1).IgnoreError();  // closing says the same
      }
    }
    if (fds[0].revents != 0) {
      int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
        break;  // shut down
      }
      if (pending.size() >= kMaxHandshakes) drop(0);  // the oldest has waited longest
      std::unique_ptr<BulkTlsServer::Handshake> tls;
      if (tls_ != nullptr) {
        absl::StatusOr<std::unique_ptr<BulkTlsServer::Handshake>> begun = tls_->Begin(fd);
        if (!begun.ok()) {
          std::fprintf(stderr, "poold: %s\n", begun.status().ToString().c_str());
          close(fd);
          continue;
        }
        tls = *std::move(begun);
      }
      pending.push_back(
          {fd, std::move(tls), "",
           std::chrono::steady_clock::now() + std::chrono::milliseconds(kHandshakeMillis)});
    }
  }
  for (Handshake& h : pending) {
    h.tls.reset();
    close(h.fd);
  }
}

}  // namespace accel::pool
