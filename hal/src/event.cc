#include "accel/hal/event.h"

#include "accel/hal/device.h"
#include "objects.h"
#include "operations.h"

namespace accel::hal {

Device Event::device() const { return state_ != nullptr ? Device(state_->device) : Device(); }

absl::Status Event::Synchronize() const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty event handle");
  return state_->device->TakeError(state_->device->api().event_synchronize(state_->handle));
}

absl::StatusOr<bool> Event::IsComplete() const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty event handle");
  int32_t complete = 0;
  absl::Status s =
      state_->device->TakeError(state_->device->api().event_query(state_->handle, &complete));
  if (!s.ok()) return s;
  return complete != 0;
}

absl::StatusOr<float> Event::ElapsedMilliseconds(const Event& start, const Event& end) {
  if (start.state_ == nullptr || end.state_ == nullptr) {
    return absl::InvalidArgumentError("empty event handle");
  }
  internal::DeviceState& device = *start.state_->device;
  if (absl::Status s = internal::CheckSameDevice(device, *end.state_->device, "end event");
      !s.ok()) {
    return s;
  }
  float ms = 0;
  absl::Status s = device.TakeError(
      device.api().event_elapsed_ms(start.state_->handle, end.state_->handle, &ms));
  if (!s.ok()) return s;
  return ms;
}

}  // namespace accel::hal
