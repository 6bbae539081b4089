// Validated queue operations shared by Stream and the synchronous Device
// calls. Every check a backend would otherwise repeat happens here, once,
// for every backend: handle validity, device ownership, freed buffers, ranges,
// launch shapes and argument kinds.
#ifndef ACCEL_HAL_SRC_OPERATIONS_H_
#define ACCEL_HAL_SRC_OPERATIONS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "accel/hal/buffer.h"
#include "accel/hal/kernel_args.h"
#include "accel/hal/module.h"
#include "objects.h"

namespace accel::hal::internal {

absl::Status EnqueueCopyToDevice(DeviceState& device, AccelStream* stream,
                                 absl::Span<const std::byte> src, const BufferView& dst);
absl::Status EnqueueCopyToHost(DeviceState& device, AccelStream* stream, const BufferView& src,
                               absl::Span<std::byte> dst);
absl::Status EnqueueCopy(DeviceState& device, AccelStream* stream, const BufferView& src,
                         const BufferView& dst);
absl::Status EnqueueFill(DeviceState& device, AccelStream* stream, const BufferView& dst,
                         const void* pattern, size_t pattern_size);
absl::Status EnqueueLaunch(DeviceState& device, AccelStream* stream, const Kernel& kernel,
                           const LaunchConfig& config, absl::Span<const KernelArg> args);

// FAILED_PRECONDITION-free checks of a handle's presence and device.
absl::Status CheckSameDevice(const DeviceState& expected, const DeviceState& actual,
                             const char* what);

}  // namespace accel::hal::internal

#endif  // ACCEL_HAL_SRC_OPERATIONS_H_
