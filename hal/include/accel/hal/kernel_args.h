// Typed kernel arguments. Types tell the HAL (and the remote backend) which
// arguments are device memory, so each can be validated and translated.
#ifndef ACCEL_HAL_KERNEL_ARGS_H_
#define ACCEL_HAL_KERNEL_ARGS_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "accel/hal/buffer.h"
#include "accel/hal/types.h"

namespace accel::hal {

class KernelArg {
 public:
  // Implicit conversions let a launch read naturally:
  //   stream.Launch(saxpy, config, {x, y, 2.0f, uint32_t{n}});
  KernelArg(const Buffer& buffer) : kind_(ArgKind::kBuffer), view_(buffer) {}      // NOLINT
  KernelArg(BufferView view) : kind_(ArgKind::kBuffer), view_(std::move(view)) {}  // NOLINT
  KernelArg(int32_t v) : kind_(ArgKind::kI32) { SetScalar(v); }                    // NOLINT
  KernelArg(uint32_t v) : kind_(ArgKind::kU32) { SetScalar(v); }                   // NOLINT
  KernelArg(int64_t v) : kind_(ArgKind::kI64) { SetScalar(v); }                    // NOLINT
  KernelArg(uint64_t v) : kind_(ArgKind::kU64) { SetScalar(v); }                   // NOLINT
  KernelArg(float v) : kind_(ArgKind::kF32) { SetScalar(v); }                      // NOLINT
  KernelArg(double v) : kind_(ArgKind::kF64) { SetScalar(v); }                     // NOLINT

  // Raw bytes passed by value, e.g. a small struct. The bytes are copied.
  static KernelArg Bytes(const void* data, size_t size) {
    KernelArg arg;
    arg.kind_ = ArgKind::kBytes;
    arg.bytes_.assign(static_cast<const char*>(data), size);
    return arg;
  }
  template <typename T>
  static KernelArg BytesOf(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "raw-byte arguments must be trivially copyable");
    return Bytes(&value, sizeof(T));
  }

  ArgKind kind() const { return kind_; }
  const BufferView& view() const { return view_; }      // kBuffer
  const void* scalar_data() const { return &scalar_; }  // scalars
  uint64_t scalar_bits() const { return scalar_; }      // scalars, little-endian
  const std::string& bytes() const { return bytes_; }   // kBytes

 private:
  KernelArg() = default;
  template <typename T>
  void SetScalar(T v) {
    static_assert(sizeof(T) <= sizeof(scalar_));
    std::memcpy(&scalar_, &v, sizeof(T));
  }

  ArgKind kind_ = ArgKind::kI32;
  BufferView view_;
  uint64_t scalar_ = 0;
  std::string bytes_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_KERNEL_ARGS_H_
