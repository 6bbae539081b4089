#include "pool/common/frame_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

constexpr size_t kHeaderBytes = 4;
constexpr size_t kReadChunk = 256 << 10;
constexpr int kMaxDescriptorsPerRead = 4;

absl::Status SocketError(const char* what) {
  return absl::UnavailableError(absl::StrCat("worker link ", what, ": ", std::strerror(errno)));
}

}  // namespace

FrameSocket::FrameSocket(int fd) : fd_(fd) {}

FrameSocket::~FrameSocket() {
  close(fd_);
  absl::MutexLock lock(&fds_mu_);
  for (int fd : fds_) close(fd);
}

void FrameSocket::Shutdown() { shutdown(fd_, SHUT_RDWR); }

absl::Status FrameSocket::Write(const google::protobuf::MessageLite& message, int pass_fd) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxFrameBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a ", size, "-byte frame exceeds the worker link's limit"));
  }
  std::string frame(kHeaderBytes + size, '\0');
  const uint32_t length = static_cast<uint32_t>(size);
  for (size_t i = 0; i < kHeaderBytes; ++i) frame[i] = static_cast<char>(length >> (8 * i));
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&frame[kHeaderBytes]));

  absl::MutexLock lock(&write_mu_);
  size_t done = 0;
  while (done < frame.size()) {
    iovec iov{&frame[done], frame.size() - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (pass_fd >= 0 && done == 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
    }
    ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SocketError("write");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FrameSocket::Fill(size_t n) {
  if (end_ - begin_ >= n) return absl::OkStatus();
  // Keep what is unparsed at the front, with room for the rest.
  if (begin_ != 0) {
    std::memmove(&buffer_[0], &buffer_[begin_], end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buffer_.size() < std::max(n, kReadChunk)) buffer_.resize(std::max(n, kReadChunk));
  while (end_ < n) {
    iovec iov{&buffer_[end_], buffer_.size() - end_};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxDescriptorsPerRead)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return SocketError("read");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      absl::MutexLock lock(&fds_mu_);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds_.push_back(fd);
      }
    }
    if (got == 0) return absl::UnavailableError("worker link closed");
    end_ += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::Status FrameSocket::Read(google::protobuf::MessageLite& message) {
  if (absl::Status s = Fill(kHeaderBytes); !s.ok()) return s;
  uint32_t length = 0;
  for (size_t i = 0; i < kHeaderBytes; ++i) {
    length |= static_cast<uint32_t>(static_cast<uint8_t>(buffer_[begin_ + i])) << (8 * i);
  }
  if (length > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", length, "-byte frame exceeds the worker link's limit"));
  }
  if (absl::Status s = Fill(kHeaderBytes + length); !s.ok()) return s;
  const bool parsed = message.ParseFromArray(&buffer_[begin_ + kHeaderBytes], length);
  begin_ += kHeaderBytes + length;
  if (begin_ == end_) begin_ = end_ = 0;
  // A large frame's buffer is not kept for the session's life.
  if (buffer_.size() > 4 * kReadChunk && end_ - begin_ <= kReadChunk) {
    std::string(buffer_.substr(begin_, end_ - begin_)).swap(buffer_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (!parsed) return absl::InvalidArgumentError("a frame on the worker link does not parse");
  return absl::OkStatus();
}

int FrameSocket::TakeDescriptor() {
  absl::MutexLock lock(&fds_mu_);
  if (fds_.empty()) return -1;
  int fd = fds_.front();
  fds_.pop_front();
  return fd;
}

}  // namespace accel::pool
