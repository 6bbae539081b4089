// Streams of the Level Zero backend: one immediate command list each.
//
// Why immediate command lists rather than command queues + regular command
// lists: a HAL stream has no "flush" operation. Every operation must start
// on its own (a launch returns before its work is done, yet the work must
// make progress with nobody calling Synchronize), and an event recorded
// after it must eventually complete. With regular lists the backend would
// have to close and execute a list per operation, or guess when to flush a
// batch; an immediate list submits each append to the device at once, in
// the order appended, which is exactly the stream contract, with one call
// per operation.
//
// Ordering: Level Zero does not promise that commands of one list run one
// after another, so each command waits on the completion marker of the
// command before it (an explicit in-order chain). Every command signals a
// fresh marker (ze_event.h); the stream keeps the commands in flight with
// everything they use (memory, kernels, markers, fill patterns) and drops
// those references only when the command's marker has signalled, which is
// how buffer_free, module_destroy and event_destroy during queued work stay
// safe.
//
// Failures: Level Zero reports no per-kernel failure; what can fail is an
// append (rejected command) or the device (lost, reset) while waiting. Both
// are reported as stream failures, which the HAL keeps sticky, except
// INVALID_ARGUMENT / NOT_FOUND appends, which queued nothing and leave the
// stream usable. A failure found while retiring commands is reported by the
// next call.
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_STREAM_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_STREAM_H_

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "ze_event.h"

namespace accel::levelzero {

class ZeDevice;

class ZeStream : public hal::plugin::StreamImpl {
 public:
  static absl::StatusOr<std::unique_ptr<ZeStream>> Create(ZeDevice& device);
  ~ZeStream() override;  // waits for queued work

  absl::Status CopyHostToDevice(const void* src, hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                uint64_t size) override;
  absl::Status CopyDeviceToHost(hal::plugin::BufferImpl& src, uint64_t src_offset, void* dst,
                                uint64_t size) override;
  absl::Status CopyDeviceToDevice(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                  hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                  uint64_t size) override;
  absl::Status Fill(hal::plugin::BufferImpl& dst, uint64_t offset, uint64_t size, uint32_t pattern,
                    uint32_t pattern_size) override;
  absl::Status Launch(hal::plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                      absl::Span<const hal::plugin::LaunchArg> args) override;
  absl::Status RecordEvent(hal::plugin::EventImpl& event) override;
  absl::Status WaitEvent(hal::plugin::EventImpl& event) override;
  absl::Status Synchronize() override;

 private:
  // Appends one command: signal the given event when done, after the listed
  // events. Returns the driver's result.
  using Append =
      std::function<ze_result_t(Marker& done, uint32_t num_waits, ze_event_handle_t* waits)>;
  // What a queued command holds until it completes.
  using KeepAlive = std::vector<std::shared_ptr<const void>>;
  struct InFlight {
    std::shared_ptr<Marker> done;
    KeepAlive keep;
  };

  ZeStream(ZeDevice& device, ze_command_list_handle_t list) : device_(device), list_(list) {}

  // Queues a command after the stream's last one (and after `extra_wait`,
  // if given). On success the command's marker is returned in *done.
  absl::Status Submit(const char* call, const Append& append, KeepAlive keep,
                      std::shared_ptr<Marker> extra_wait = nullptr,
                      std::shared_ptr<Marker>* done = nullptr);
  // Drops the commands whose markers have signalled (they complete in order).
  void RetireLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ZeDevice& device_;
  ze_command_list_handle_t list_;
  absl::Mutex mu_;
  std::shared_ptr<Marker> tail_ ABSL_GUARDED_BY(mu_);  // the last queued command's marker
  std::deque<InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  // A failure found while retiring commands, not yet reported.
  absl::Status unreported_ ABSL_GUARDED_BY(mu_);
  // Reports unreported_ as a stream failure, once.
  absl::Status TakeUnreportedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_STREAM_H_
