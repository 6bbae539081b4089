// The protocol version both sides announce. Major changes are incompatible;
// minor versions only add fields and commands.
#ifndef ACCEL_POOL_COMMON_VERSION_H_
#define ACCEL_POOL_COMMON_VERSION_H_

#include <cstdint>

namespace accel::pool {

inline constexpr uint32_t kProtocolMajor = 3;
inline constexpr uint32_t kProtocolMinor = 5;
// gRPC's 4 MiB default is too small for bulk chunks plus framing.
inline constexpr int kMaxMessageBytes = 64 << 20;
// Bulk copies move in chunks of this size: large enough to amortise framing,
// small enough to pipeline.
inline constexpr uint64_t kCopyChunkBytes = 1 << 20;

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_VERSION_H_
