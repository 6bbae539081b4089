// The device's own address of device memory, for libraries that present a
// vendor's API to programs written for it (accelpool's libcuda.so.1): such
// programs' kernels follow pointers stored anywhere in their arguments, so
// the program must see the addresses the device itself uses. Everything
// else names memory by buffer and range (buffer.h), which is what lets the
// HAL check every access: this number is never a pointer on the host, and
// no HAL call takes one.
#ifndef ACCEL_HAL_DEVICE_ADDRESS_H_
#define ACCEL_HAL_DEVICE_ADDRESS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "accel/hal/buffer.h"

namespace accel::hal {

// The address of the view's first byte on its device: the buffer's address
// (stable while it lives) plus the view's offset. UNIMPLEMENTED where the
// backend has no device addresses; FAILED_PRECONDITION once freed.
absl::StatusOr<uint64_t> DeviceAddressOf(const BufferView& view);

}  // namespace accel::hal

#endif  // ACCEL_HAL_DEVICE_ADDRESS_H_
