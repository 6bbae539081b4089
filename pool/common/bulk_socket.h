// A session's bulk channel: a TCP socket beside its gRPC stream, so that
// large copies move with only the kernel's copies instead of gRPC's
// framing, message parsing and per-message buffers (see accelpool.proto,
// SessionResponse.bulk_port, for the protocol). When the pool serves TLS
// the socket is sealed (sealed_chunks.h) after a TLS handshake.
#ifndef ACCEL_POOL_COMMON_BULK_SOCKET_H_
#define ACCEL_POOL_COMMON_BULK_SOCKET_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/sealed_chunks.h"

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

  // From now on every byte read or written is sealed with `keys`; called
  // once, before any other use. Fails only for keys of the wrong size.
  absl::Status Seal(const ChannelKeys& keys);
  // A sealed socket's keys and next chunk numbers, to hand the socket to
  // another process; nullopt for a plaintext one.
  std::optional<ChannelKeys> keys();

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
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;
  absl::Status ReadRaw(void* dst, size_t n, const Deadline& deadline, int timeout_ms);
  absl::Status WriteRaw(const void* src, size_t n, bool more);
  absl::Status ReadSealed(char* dst, size_t n, const Deadline& deadline, int timeout_ms);
  absl::Status WriteSealed(const char* src, size_t n, bool more);

  const int fd_;
  absl::Mutex frame_mu_;
  // Set by Seal(), before the socket is shared: read without a lock after.
  bool sealed_ = false;
  absl::Mutex seal_mu_;  // one writer at a time
  std::unique_ptr<ChunkCipher> sealer_ ABSL_GUARDED_BY(seal_mu_);
  std::vector<char> sealed_out_ ABSL_GUARDED_BY(seal_mu_);
  absl::Mutex open_mu_;  // one reader at a time
  std::unique_ptr<ChunkCipher> opener_ ABSL_GUARDED_BY(open_mu_);
  // A chunk larger than a read asked for: its rest, for the next read.
  std::vector<char> opened_ ABSL_GUARDED_BY(open_mu_);
  size_t opened_at_ ABSL_GUARDED_BY(open_mu_) = 0;
};

// "host:port", "[v6]:port" -> host (brackets removed).
std::string HostOfAddress(const std::string& address);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_BULK_SOCKET_H_
