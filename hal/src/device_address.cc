#include "accel/hal/device_address.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "objects.h"

namespace accel::hal {

absl::StatusOr<uint64_t> DeviceAddressOf(const BufferView& view) {
  const std::shared_ptr<internal::BufferState>& state = view.buffer().state();
  if (state == nullptr) return absl::InvalidArgumentError("address of an empty buffer handle");
  internal::DeviceState& device = *state->device;
  if (!device.core->library->Has(offsetof(AccelBackendApi, buffer_device_address))) {
    return absl::UnimplementedError(
        absl::StrCat("the ", device.api().name, " backend gives no device addresses"));
  }
  absl::ReaderMutexLock lock(&state->mu);
  if (state->handle == nullptr) return absl::FailedPreconditionError("buffer was freed");
  uint64_t base = 0;
  if (absl::Status s = device.TakeError(device.api().buffer_device_address(state->handle, &base));
      !s.ok()) {
    return s;
  }
  return base + view.offset();
}

}  // namespace accel::hal
