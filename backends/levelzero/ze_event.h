// Completion markers and HAL events of the Level Zero backend.
//
// A Marker is one Level Zero event (host-visible, from a pooled
// ze_event_pool) plus an 8-byte slot of host USM memory. Every command a
// stream submits signals a fresh marker, so the stream knows exactly which
// commands have completed, and a HAL event is simply "the marker of the
// command that recorded it". Markers are recycled (zeEventHostReset) when
// their last user lets go, which the shared_ptr deleter does, so a marker
// still waited on by another stream's queued command is never reset early.
//
// Timing: recording a HAL event appends zeCommandListAppendWriteGlobalTimestamp
// into the marker's slot. That is a device-side timestamp taken at that
// point of the stream, which is what a HAL event means. Kernel-timestamp
// events (ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP) were not used: they time the
// one command that signals them, not a point between commands, and a record
// has no command of its own to time. Host-side timing was not needed.
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_EVENT_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_EVENT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "ze_api_table.h"

namespace accel::levelzero {

struct Marker {
  ze_event_handle_t event = nullptr;
  uint64_t* timestamp = nullptr;  // host USM, written by the device
};

// Hands out markers of one device; grows by chunks of events.
class MarkerPool : public std::enable_shared_from_this<MarkerPool> {
 public:
  MarkerPool(const ZeApi* api, ze_context_handle_t context, ze_device_handle_t device)
      : api_(api), context_(context), device_(device) {}
  ~MarkerPool();
  MarkerPool(const MarkerPool&) = delete;
  MarkerPool& operator=(const MarkerPool&) = delete;

  // A reset (unsignalled) marker. The returned pointer keeps the pool alive.
  absl::StatusOr<std::shared_ptr<Marker>> Acquire();

 private:
  struct Chunk {
    ze_event_pool_handle_t pool = nullptr;
    uint64_t* timestamps = nullptr;
    std::vector<ze_event_handle_t> events;
  };
  absl::Status GrowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(Marker* marker);

  const ZeApi* api_;
  ze_context_handle_t context_;
  ze_device_handle_t device_;
  absl::Mutex mu_;
  std::vector<Chunk> chunks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Marker>> markers_ ABSL_GUARDED_BY(mu_);
  std::vector<Marker*> free_ ABSL_GUARDED_BY(mu_);
};

// Device timer facts for converting global timestamps.
struct TimerInfo {
  uint64_t ticks_per_second = 0;  // ze_device_properties_t.timerResolution (1.2+ units)
  uint32_t valid_bits = 64;       // timestampValidBits
};

class ZeEvent : public hal::plugin::EventImpl {
 public:
  ZeEvent(const ZeApi* api, TimerInfo timer) : api_(api), timer_(timer) {}

  absl::Status Synchronize() override;
  absl::StatusOr<bool> IsComplete() override;
  absl::StatusOr<float> ElapsedMillisecondsSince(hal::plugin::EventImpl& start) override;

  // The marker of the latest record (null: never recorded, or the record
  // could not be queued, which counts as complete).
  std::shared_ptr<Marker> latest();
  void set_latest(std::shared_ptr<Marker> marker);

 private:
  const ZeApi* api_;
  TimerInfo timer_;
  absl::Mutex mu_;
  std::shared_ptr<Marker> latest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_EVENT_H_
