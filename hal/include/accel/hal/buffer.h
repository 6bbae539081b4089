// Device memory: Buffer owns an allocation; BufferView names a byte range of it.
#ifndef ACCEL_HAL_BUFFER_H_
#define ACCEL_HAL_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace accel::hal {

namespace internal {
struct BufferState;
}  // namespace internal

class BufferView;
class Device;

// A handle to device memory. Copies of a Buffer share the allocation, which is
// released when the last handle goes away or at Free(). There is no raw
// device pointer: memory is named by (buffer, offset, size), which is what
// lets the HAL validate every access and remote it.
class Buffer {
 public:
  Buffer() = default;  // an empty handle: every use is INVALID_ARGUMENT

  uint64_t size() const;
  Device device() const;
  bool valid() const { return state_ != nullptr; }
  // False once Free() was called on any copy of this handle.
  bool alive() const;

  // The whole buffer, or a range of it (INVALID_ARGUMENT when out of range).
  BufferView All() const;
  absl::StatusOr<BufferView> View(uint64_t offset, uint64_t size) const;

  // Releases the memory now. Work already queued that uses the buffer still
  // completes; any later use is FAILED_PRECONDITION.
  absl::Status Free();

  // Identity: true when both handles name the same allocation.
  friend bool operator==(const Buffer& a, const Buffer& b) { return a.state_ == b.state_; }
  friend bool operator!=(const Buffer& a, const Buffer& b) { return !(a == b); }

  // For backends layered on the HAL (the remote backend, the pool).
  const std::shared_ptr<internal::BufferState>& state() const { return state_; }
  explicit Buffer(std::shared_ptr<internal::BufferState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::BufferState> state_;
};

// A byte range [offset, offset + size) of a buffer, always within its bounds
// when made by Buffer::All() or Buffer::View().
class BufferView {
 public:
  BufferView() = default;
  // The whole buffer, so a Buffer can be passed where a view is expected.
  BufferView(const Buffer& buffer)  // NOLINT(google-explicit-constructor)
      : buffer_(buffer), offset_(0), size_(buffer.valid() ? buffer.size() : 0) {}

  const Buffer& buffer() const { return buffer_; }
  uint64_t offset() const { return offset_; }
  uint64_t size() const { return size_; }

  // A sub-range of this view (INVALID_ARGUMENT when out of range).
  absl::StatusOr<BufferView> Subview(uint64_t offset, uint64_t size) const;

  // The view's bytes as the host addresses them, on devices whose memory is
  // host memory (the host backend): the pool's session workers receive
  // uploads into them and send downloads from them with no staging copy.
  // This is host memory, never a device address. Access through it is
  // ordered with no stream: synchronize the streams that use the buffer
  // first, and do not free it meanwhile. UNIMPLEMENTED where the host cannot
  // address the device's memory; FAILED_PRECONDITION once freed.
  absl::StatusOr<absl::Span<std::byte>> MapToHost() const;

 private:
  friend class Buffer;
  BufferView(Buffer buffer, uint64_t offset, uint64_t size)
      : buffer_(std::move(buffer)), offset_(offset), size_(size) {}

  Buffer buffer_;
  uint64_t offset_ = 0;
  uint64_t size_ = 0;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_BUFFER_H_
