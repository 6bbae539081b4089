// A session's bulk channel: a plain TCP socket beside its gRPC stream, so
// that large copies move with only the kernel's copies instead of gRPC's
// framing, message parsing and per-message buffers (see accelpool.proto,
// SessionResponse.bulk_port, for the protocol).
#ifndef ACCEL_POOL_COMMON_BULK_SOCKET_H_
#define ACCEL_POOL_COMMON_BULK_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace accel::pool {

// Node to client: a frame of `length` bytes of the copy `reply_id`,
// at `offset` within the range the client asked for.
struct BulkFrameHeader {
  uint64_t reply_id = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};
inline constexpr size_t kBulkFrameHeaderBytes = 24;
// The key that attaches a socket to its session: 32 hex characters.
inline constexpr size_t kBulkKeyBytes = 32;
// Bytes a single bulk upload command may carry; the node buffers at most
// this much per command.
inline constexpr uint64_t kMaxBulkCommandBytes = 8ull << 20;

class BulkSocket {
 public:
  explicit BulkSocket(int fd);  // takes the descriptor
  ~BulkSocket();
  BulkSocket(const BulkSocket&) = delete;
  BulkSocket& operator=(const BulkSocket&) = delete;

  // Connects to `host` (a name, an IPv4 address or a bracketless IPv6
  // address) at `port`, waiting at most `timeout_ms`.
  static absl::StatusOr<std::unique_ptr<BulkSocket>> Connect(const std::string& host, uint16_t port,
                                                             int timeout_ms);

  // Reads exactly `n` bytes; UNAVAILABLE if the peer closes or fails first.
  // With a timeout, all `n` bytes must come within it (DEADLINE_EXCEEDED):
  // for handshakes, where a silent peer must not hold anyone up.
  absl::Status ReadExact(void* dst, size_t n, int timeout_ms = -1);
  absl::Status Discard(size_t n);
  // `more`: more data follows at once, so the kernel may hold this back.
  absl::Status WriteAll(const void* src, size_t n, bool more = false);
  // Header and payload as one unit: frames from several threads never mix.
  absl::Status WriteFrame(const BulkFrameHeader& header, const void* data);
  absl::StatusOr<BulkFrameHeader> ReadFrameHeader();
  // Fails blocked and later reads and writes at once (the descriptor stays
  // open until destruction, so no other thread can see it reused).
  void Shutdown();
  int fd() const { return fd_; }

 private:
  const int fd_;
  absl::Mutex frame_mu_;
};

// "host:port", "[v6]:port" -> host (brackets removed).
std::string HostOfAddress(const std::string& address);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_BULK_SOCKET_H_
