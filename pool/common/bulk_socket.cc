#include "pool/common/bulk_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

void Store64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

uint64_t Load64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

absl::Status Closed(const char* what) {
  return absl::UnavailableError(absl::StrCat("bulk channel ", what));
}

absl::Status Errno(const char* what) {
  return absl::UnavailableError(absl::StrCat("bulk channel ", what, ": ", std::strerror(errno)));
}

}  // namespace

BulkSocket::BulkSocket(int fd) : fd_(fd) {
  // Frames are a small header and then the data: Nagle's algorithm would
  // hold small copies back for the peer's delayed ACK (40 ms).
  const int on = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

BulkSocket::~BulkSocket() { close(fd_); }

absl::StatusOr<std::unique_ptr<BulkSocket>> BulkSocket::Connect(const std::string& host,
                                                                uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("bulk channel: cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat("bulk channel: no address for ", host));
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int error = 0;
      socklen_t length = sizeof(error);
      rc = (poll(&p, 1, timeout_ms) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0)
               ? 0
               : -1;
      if (error != 0) errno = error;
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      freeaddrinfo(found);
      return std::make_unique<BulkSocket>(fd);
    }
    last = Errno(absl::StrCat("connect to ", host, ":", port).c_str());
    close(fd);
  }
  freeaddrinfo(found);
  return last;
}

absl::Status BulkSocket::ReadExact(void* dst, size_t n, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char* out = static_cast<char*>(dst);
  while (n > 0) {
    if (timeout_ms >= 0) {  // wait for data, at most until the deadline
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
        return absl::DeadlineExceededError(
            absl::StrCat("bulk channel: the peer sent nothing for ", timeout_ms, " ms"));
      }
    }
    ssize_t got = recv(fd_, out, n, timeout_ms >= 0 ? MSG_DONTWAIT : MSG_WAITALL);
    if (got == 0) return Closed("closed by the peer");
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return Errno("read");
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::Status BulkSocket::Discard(size_t n) {
  std::vector<char> sink(std::min<size_t>(n, 1 << 20));
  while (n > 0) {
    const size_t piece = std::min(n, sink.size());
    if (absl::Status s = ReadExact(sink.data(), piece); !s.ok()) return s;
    n -= piece;
  }
  return absl::OkStatus();
}

absl::Status BulkSocket::WriteAll(const void* src, size_t n, bool more) {
  const char* in = static_cast<const char*>(src);
  while (n > 0) {
    // MSG_NOSIGNAL: a vanished peer is an error here, never SIGPIPE in the
    // client's process. MSG_MORE: the header waits for its data.
    ssize_t sent = send(fd_, in, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (sent < 0) {
      if (errno == EINTR) continue;
      return Errno("write");
    }
    in += sent;
    n -= static_cast<size_t>(sent);
  }
  return absl::OkStatus();
}

absl::Status BulkSocket::WriteFrame(const BulkFrameHeader& header, const void* data) {
  char encoded[kBulkFrameHeaderBytes];
  Store64(encoded, header.reply_id);
  Store64(encoded + 8, header.offset);
  Store64(encoded + 16, header.length);
  absl::MutexLock lock(&frame_mu_);
  if (absl::Status s = WriteAll(encoded, sizeof(encoded), /*more=*/true); !s.ok()) return s;
  return WriteAll(data, header.length);
}

absl::StatusOr<BulkFrameHeader> BulkSocket::ReadFrameHeader() {
  char encoded[kBulkFrameHeaderBytes];
  if (absl::Status s = ReadExact(encoded, sizeof(encoded)); !s.ok()) return s;
  BulkFrameHeader header;
  header.reply_id = Load64(encoded);
  header.offset = Load64(encoded + 8);
  header.length = Load64(encoded + 16);
  return header;
}

void BulkSocket::Shutdown() { shutdown(fd_, SHUT_RDWR); }

std::string HostOfAddress(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace accel::pool
