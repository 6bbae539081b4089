// The bulk channel's encryption when the pool serves TLS: after a TLS 1.3
// handshake (bulk_tls.h) both ends export keys from it (RFC 8446 §7.5) and
// the bytes that follow are sealed chunks, not TLS records:
//
//   [4 bytes: plaintext length L, little-endian, 1..kMaxSealedChunk]
//   [L bytes: AES-256-GCM ciphertext] [16 bytes: tag]
//
// The length is the authenticated data; the nonce is the direction's IV
// XOR its chunk counter, so a chunk that is altered, dropped, repeated or
// moved fails to open. Every kChunksPerKey chunks both ends move to the
// next key and IV, HMAC-SHA256 of the current key (a key seals at most
// 2^38 bytes, under RFC 8446's bound for AES-GCM), with no message needed:
// both count the chunks. Why not TLS records: the worker that reads the
// socket is sandboxed and must not hold the node's private key, and OpenSSL
// cannot hand an established session's state to another process (kernel TLS
// could, but is not everywhere); the exporter gives both ends fresh keys
// bound to the authenticated handshake, and chunks larger than TLS's 16 KiB
// records open in place, straight into the copy's destination.
#ifndef ACCEL_POOL_COMMON_SEALED_CHUNKS_H_
#define ACCEL_POOL_COMMON_SEALED_CHUNKS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace accel::pool {

inline constexpr size_t kSealedHeaderBytes = 4;
inline constexpr size_t kSealTagBytes = 16;
inline constexpr size_t kSealKeyBytes = 32;
inline constexpr size_t kSealIvBytes = 12;
// Large enough that per-chunk costs vanish (64 KiB chunks ran at half the
// speed), small enough to stay in cache.
inline constexpr size_t kMaxSealedChunk = 256 << 10;
inline constexpr uint64_t kChunksPerKey = uint64_t{1} << 20;

// One direction of a channel: its current key and IV and the number of the
// next chunk.
struct SealKey {
  std::string key;  // kSealKeyBytes
  std::string iv;   // kSealIvBytes
  uint64_t sequence = 0;
};
struct ChannelKeys {
  SealKey send;
  SealKey receive;
};

// Seals or opens one direction's chunks, in order. Not thread-safe.
class ChunkCipher {
 public:
  enum class Direction { kSeal, kOpen };
  // `chunks_per_key` is for tests; both ends must use the same.
  static absl::StatusOr<std::unique_ptr<ChunkCipher>> Create(
      const SealKey& key, Direction direction, uint64_t chunks_per_key = kChunksPerKey);
  ~ChunkCipher();
  ChunkCipher(const ChunkCipher&) = delete;
  ChunkCipher& operator=(const ChunkCipher&) = delete;

  // Writes the sealed chunk of `n` (1..kMaxSealedChunk) bytes at `plaintext`
  // to `out`, which has room for n + kSealedHeaderBytes + kSealTagBytes.
  absl::Status Seal(const void* plaintext, size_t n, char* out);
  // The plaintext length a chunk header announces; DATA_LOSS outside
  // 1..kMaxSealedChunk.
  static absl::StatusOr<size_t> ChunkLength(const char header[kSealedHeaderBytes]);
  // Opens the chunk with this header, deciphering its `n` bytes at `data`
  // in place. DATA_LOSS when the tag does not match: `data` then holds
  // garbage, and the channel is beyond use.
  absl::Status Open(const char header[kSealedHeaderBytes], char* data, size_t n,
                    const char tag[kSealTagBytes]);
  uint64_t sequence() const { return sequence_; }
  // The key, IV and sequence the next chunk uses: to hand the direction to
  // another process.
  SealKey current() const { return {key_, iv_, sequence_}; }

 private:
  ChunkCipher(void* context, const SealKey& key, bool seal, uint64_t chunks_per_key)
      : context_(context),
        seal_(seal),
        chunks_per_key_(chunks_per_key),
        key_(key.key),
        iv_(key.iv),
        sequence_(key.sequence) {}
  void Nonce(unsigned char out[kSealIvBytes]) const;
  // After a chunk: moves to the next key when this one has done its share.
  absl::Status Advance();

  void* const context_;  // EVP_CIPHER_CTX
  const bool seal_;
  const uint64_t chunks_per_key_;
  std::string key_;
  std::string iv_;
  uint64_t sequence_;
};

// Loads what OpenSSL needs for chunk ciphers (its configuration and
// providers): for a process about to lose access to files.
void PrepareChunkCiphers();

// Opens one whole sealed chunk (header, ciphertext, tag) with `key`, whose
// sequence then moves on: for a handshake's first message.
absl::StatusOr<std::string> OpenWholeChunk(SealKey& key, std::string_view sealed);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_SEALED_CHUNKS_H_
