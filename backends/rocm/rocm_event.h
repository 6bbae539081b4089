// Events of a HIP device: a hipEvent_t with timing, plus whether it was ever
// recorded. HIP reports errors for never-recorded events where the HAL
// expects "complete" (and FAILED_PRECONDITION for timing), so we track it.
#ifndef ACCEL_BACKENDS_ROCM_ROCM_EVENT_H_
#define ACCEL_BACKENDS_ROCM_ROCM_EVENT_H_

#include <atomic>
#include <memory>

#include "accel/hal/plugin/backend_interface.h"
#include "rocm_device.h"

namespace accel::rocm {

class RocmEvent : public hal::plugin::EventImpl {
 public:
  static absl::StatusOr<std::unique_ptr<RocmEvent>> Create(const RocmDevice& device);
  // Waits for the last record first: the HAL may destroy an event that a
  // stream still has to reach.
  ~RocmEvent() override;
  RocmEvent(const RocmEvent&) = delete;
  RocmEvent& operator=(const RocmEvent&) = delete;

  absl::Status Synchronize() override;
  absl::StatusOr<bool> IsComplete() override;
  absl::StatusOr<float> ElapsedMillisecondsSince(hal::plugin::EventImpl& start) override;

  hipEvent_t handle() const { return event_; }
  // Called by a stream once hipEventRecord accepted the record.
  void MarkRecorded() { recorded_.store(true, std::memory_order_release); }
  bool recorded() const { return recorded_.load(std::memory_order_acquire); }

 private:
  RocmEvent(const RocmDevice& device, hipEvent_t event) : device_(device), event_(event) {}
  const RocmDevice& device_;
  hipEvent_t event_;
  std::atomic<bool> recorded_{false};
};

}  // namespace accel::rocm

#endif  // ACCEL_BACKENDS_ROCM_ROCM_EVENT_H_
