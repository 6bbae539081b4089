// Streams: in-order asynchronous queues of copies, fills, launches and event
// operations. Failures of queued work are sticky: Synchronize() (and every
// later call on the stream) reports the first one.
#ifndef ACCEL_HAL_STREAM_H_
#define ACCEL_HAL_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "accel/hal/buffer.h"
#include "accel/hal/event.h"
#include "accel/hal/kernel_args.h"
#include "accel/hal/module.h"
#include "accel/hal/types.h"

namespace accel::hal {

namespace internal {
struct StreamState;
}  // namespace internal

class Device;

class Stream {
 public:
  Stream() = default;

  bool valid() const { return state_ != nullptr; }
  Device device() const;

  // Asynchronous: the host memory must stay valid (and, for copies to the
  // device, unchanged) until the stream has run the copy. The host span's
  // size must equal the view's size.
  absl::Status CopyToDevice(absl::Span<const std::byte> src, const BufferView& dst);
  absl::Status CopyToHost(const BufferView& src, absl::Span<std::byte> dst);
  absl::Status Copy(const BufferView& src, const BufferView& dst);
  // Repeats a 1-, 2- or 4-byte pattern over the view.
  absl::Status Fill(const BufferView& dst, const void* pattern, size_t pattern_size);
  absl::Status FillU8(const BufferView& dst, uint8_t value) { return Fill(dst, &value, 1); }
  absl::Status FillU32(const BufferView& dst, uint32_t value) { return Fill(dst, &value, 4); }

  absl::Status Launch(const Kernel& kernel, const LaunchConfig& config,
                      absl::Span<const KernelArg> args);

  absl::Status Record(const Event& event);
  // Later work on this stream waits for the event's recorded work.
  absl::Status Wait(const Event& event);
  absl::Status Synchronize();

  const std::shared_ptr<internal::StreamState>& state() const { return state_; }
  explicit Stream(std::shared_ptr<internal::StreamState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::StreamState> state_;
};

// Byte views of typed host data, for the copy calls.
template <typename T>
absl::Span<const std::byte> AsBytes(absl::Span<const T> data) {
  return {reinterpret_cast<const std::byte*>(data.data()), data.size() * sizeof(T)};
}
template <typename T>
absl::Span<std::byte> AsWritableBytes(absl::Span<T> data) {
  return {reinterpret_cast<std::byte*>(data.data()), data.size() * sizeof(T)};
}

}  // namespace accel::hal

#endif  // ACCEL_HAL_STREAM_H_
