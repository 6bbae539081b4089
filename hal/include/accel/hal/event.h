// Events: markers recorded on a stream, waited on by another stream or the host.
#ifndef ACCEL_HAL_EVENT_H_
#define ACCEL_HAL_EVENT_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace accel::hal {

namespace internal {
struct EventState;
}  // namespace internal

class Device;

class Event {
 public:
  Event() = default;

  bool valid() const { return state_ != nullptr; }
  Device device() const;

  // Blocks until the work before the last Record() has finished. An event
  // never recorded is complete.
  absl::Status Synchronize() const;
  // True when that work has finished; never blocks.
  absl::StatusOr<bool> IsComplete() const;

  // Milliseconds between two completed events of the same device.
  static absl::StatusOr<float> ElapsedMilliseconds(const Event& start, const Event& end);

  const std::shared_ptr<internal::EventState>& state() const { return state_; }
  explicit Event(std::shared_ptr<internal::EventState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::EventState> state_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_EVENT_H_
