// One end of a Unix stream socket between the node and a session worker,
// carrying length-prefixed protobuf frames and, beside them, descriptors
// (SCM_RIGHTS). See pool/proto/worker.proto for what travels on it.
#ifndef ACCEL_POOL_COMMON_FRAME_SOCKET_H_
#define ACCEL_POOL_COMMON_FRAME_SOCKET_H_

#include <cstdint>
#include <deque>
#include <string>

#include <google/protobuf/message_lite.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace accel::pool {

// The largest frame either side accepts: a gRPC message (64 MiB) and its
// envelope. A larger one means the peer is broken or hostile.
inline constexpr uint32_t kMaxFrameBytes = (64u << 20) + (1u << 20);

class FrameSocket {
 public:
  explicit FrameSocket(int fd);  // takes the descriptor
  ~FrameSocket();
  FrameSocket(const FrameSocket&) = delete;
  FrameSocket& operator=(const FrameSocket&) = delete;

  // Writes one frame; frames from several threads never mix. `pass_fd`,
  // when not -1, travels with it (the caller keeps its own copy).
  absl::Status Write(const google::protobuf::MessageLite& message, int pass_fd = -1);
  // Reads the next frame into `message`; UNAVAILABLE once the peer has gone.
  // One reader at a time.
  absl::Status Read(google::protobuf::MessageLite& message);
  // The oldest descriptor received and not yet taken (the caller owns it),
  // or -1. A descriptor arrives with, or before, the frame it was sent with.
  int TakeDescriptor();
  // Fails blocked and later reads and writes at once; the descriptor stays
  // open until destruction, so no other thread can see it reused.
  void Shutdown();

 private:
  // Reads at least `n` buffered bytes.
  absl::Status Fill(size_t n);

  const int fd_;
  absl::Mutex write_mu_;
  std::string buffer_;  // reader's: bytes [begin_, end_) not yet parsed
  size_t begin_ = 0, end_ = 0;
  absl::Mutex fds_mu_;
  std::deque<int> fds_ ABSL_GUARDED_BY(fds_mu_);
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_FRAME_SOCKET_H_
