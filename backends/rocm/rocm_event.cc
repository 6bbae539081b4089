#include "rocm_event.h"

#include "hip_error.h"

namespace accel::rocm {

absl::StatusOr<std::unique_ptr<RocmEvent>> RocmEvent::Create(const RocmDevice& device) {
  const HipApi& api = device.api();
  ScopedDevice scoped(device);
  if (!scoped.ok()) return scoped.status();
  hipEvent_t event = nullptr;
  // hipEventDefault keeps timing on: the HAL measures with any event.
  absl::Status status = HipStatus(api, api.hipEventCreateWithFlags(&event, hipEventDefault),
                                  "hipEventCreateWithFlags");
  if (!status.ok()) return status;
  return std::unique_ptr<RocmEvent>(new RocmEvent(device, event));
}

RocmEvent::~RocmEvent() {
  const HipApi& api = device_.api();
  // Errors of the recorded work belong to its stream, which reports them.
  if (recorded()) (void)api.hipEventSynchronize(event_);
  (void)api.hipEventDestroy(event_);  // fails only for an unknown handle
}

absl::Status RocmEvent::Synchronize() {
  if (!recorded()) return absl::OkStatus();
  const HipApi& api = device_.api();
  return HipStatus(api, api.hipEventSynchronize(event_), "hipEventSynchronize");
}

absl::StatusOr<bool> RocmEvent::IsComplete() {
  if (!recorded()) return true;
  const HipApi& api = device_.api();
  hipError_t error = api.hipEventQuery(event_);
  if (error == hipErrorNotReady) return false;
  absl::Status status = HipStatus(api, error, "hipEventQuery");
  if (!status.ok()) return status;
  return true;
}

absl::StatusOr<float> RocmEvent::ElapsedMillisecondsSince(hal::plugin::EventImpl& start) {
  auto& begin = static_cast<RocmEvent&>(start);
  if (!begin.recorded() || !recorded()) {
    return absl::FailedPreconditionError("elapsed time needs both events recorded and complete");
  }
  const HipApi& api = device_.api();
  float ms = 0;
  hipError_t error = api.hipEventElapsedTime(&ms, begin.event_, event_);
  if (error == hipErrorNotReady) {
    return absl::FailedPreconditionError(
        "elapsed time needs both events complete: hipEventElapsedTime returned hipErrorNotReady");
  }
  absl::Status status = HipStatus(api, error, "hipEventElapsedTime");
  if (!status.ok()) return status;
  return ms;
}

}  // namespace accel::rocm
