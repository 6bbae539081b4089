#include "pool/common/bulk_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

absl::Status BulkSocket::Seal(const ChannelKeys& keys) {
  absl::StatusOr<std::unique_ptr<ChunkCipher>> sealer =
      ChunkCipher::Create(keys.send, ChunkCipher::Direction::kSeal);
  if (!sealer.ok()) return sealer.status();
  absl::StatusOr<std::unique_ptr<ChunkCipher>> opener =
      ChunkCipher::Create(keys.receive, ChunkCipher::Direction::kOpen);
  if (!opener.ok()) return opener.status();
  absl::MutexLock write(&seal_mu_);
  absl::MutexLock read(&open_mu_);
  sealer_ = *std::move(sealer);
  opener_ = *std::move(opener);
  sealed_out_.resize(kSealedHeaderBytes + kMaxSealedChunk + kSealTagBytes);
  sealed_ = true;
  return absl::OkStatus();
}

std::optional<ChannelKeys> BulkSocket::keys() {
  if (!sealed_) return std::nullopt;
  absl::MutexLock write(&seal_mu_);
  absl::MutexLock read(&open_mu_);
  if (opened_at_ < opened_.size()) return std::nullopt;  // part of a chunk is here, not there
  return ChannelKeys{sealer_->current(), opener_->current()};
}

absl::Status BulkSocket::ReadExact(void* dst, size_t n, int timeout_ms) {
  Deadline deadline;
  if (timeout_ms >= 0) {
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  if (sealed_) return ReadSealed(static_cast<char*>(dst), n, deadline, timeout_ms);
  return ReadRaw(dst, n, deadline, timeout_ms);
}

absl::Status BulkSocket::ReadRaw(void* dst, size_t n, const Deadline& deadline, int timeout_ms) {
  char* out = static_cast<char*>(dst);
  while (n > 0) {
    if (deadline.has_value()) {  // wait for data, at most until the deadline
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
        return absl::DeadlineExceededError(
            absl::StrCat("bulk channel: the peer sent nothing for ", timeout_ms, " ms"));
      }
    }
    ssize_t got = recv(fd_, out, n, deadline.has_value() ? MSG_DONTWAIT : MSG_WAITALL);
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

absl::Status BulkSocket::ReadSealed(char* dst, size_t n, const Deadline& deadline, int timeout_ms) {
  absl::MutexLock lock(&open_mu_);
  const size_t held = std::min(n, opened_.size() - opened_at_);
  if (held > 0) std::memcpy(dst, opened_.data() + opened_at_, held);
  opened_at_ += held;
  dst += held;
  n -= held;
  while (n > 0) {
    char header[kSealedHeaderBytes];
    if (absl::Status s = ReadRaw(header, sizeof(header), deadline, timeout_ms); !s.ok()) return s;
    absl::StatusOr<size_t> length = ChunkCipher::ChunkLength(header);
    if (!length.ok()) return length.status();
    // A chunk that fits opens in place, in the reader's own memory.
    const bool in_place = *length <= n;
    if (!in_place) opened_.resize(*length);
    char* into = in_place ? dst : opened_.data();
    char tag[kSealTagBytes];
    if (absl::Status s = ReadRaw(into, *length, deadline, timeout_ms); !s.ok()) return s;
    if (absl::Status s = ReadRaw(tag, sizeof(tag), deadline, timeout_ms); !s.ok()) return s;
    if (absl::Status s = opener_->Open(header, into, *length, tag); !s.ok()) return s;
    const size_t used = std::min(n, *length);
    if (!in_place) {
      std::memcpy(dst, opened_.data(), used);
      opened_at_ = used;
    }
    dst += used;
    n -= used;
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
  if (sealed_) return WriteSealed(static_cast<const char*>(src), n, more);
  return WriteRaw(src, n, more);
}

absl::Status BulkSocket::WriteRaw(const void* src, size_t n, bool more) {
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

absl::Status BulkSocket::WriteSealed(const char* src, size_t n, bool more) {
  absl::MutexLock lock(&seal_mu_);
  while (n > 0) {
    const size_t piece = std::min(n, kMaxSealedChunk);
    if (absl::Status s = sealer_->Seal(src, piece, sealed_out_.data()); !s.ok()) return s;
    src += piece;
    n -= piece;
    if (absl::Status s =
            WriteRaw(sealed_out_.data(), kSealedHeaderBytes + piece + kSealTagBytes, more || n > 0);
        !s.ok()) {
      return s;
    }
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
