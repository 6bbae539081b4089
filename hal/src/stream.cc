#include "accel/hal/stream.h"

#include "accel/hal/device.h"
#include "objects.h"
#include "operations.h"

namespace accel::hal {
namespace internal {

absl::Status StreamState::Keep(absl::Status status, bool synchronize) {
  if (status.ok()) return status;
  const bool old_plugin =
      !device->core->library->Has(offsetof(AccelBackendApi, error_is_stream_failure));
  if (!IsStreamFailure(status) && !(synchronize && old_plugin)) return status;
  absl::MutexLock lock(&mu);
  if (failure_.ok()) {
    failure_ = WithoutStreamFailureMark(std::move(status));
    failed_.store(true, std::memory_order_release);
  }
  return failure_;
}

}  // namespace internal

namespace {
absl::Status EmptyStream() { return absl::InvalidArgumentError("empty stream handle"); }
absl::Status EmptyEvent() { return absl::InvalidArgumentError("empty event handle"); }

// Every queuing call: nothing reaches the plugin once the stream has failed,
// and a failure the plugin reports becomes the stream's.
template <typename F>
absl::Status Enqueue(const std::shared_ptr<internal::StreamState>& stream, F&& call) {
  if (stream == nullptr) return EmptyStream();
  if (absl::Status f = stream->failure(); !f.ok()) return f;
  return stream->Keep(call(*stream->device, stream->handle));
}
}  // namespace

Device Stream::device() const { return state_ != nullptr ? Device(state_->device) : Device(); }

absl::Status Stream::CopyToDevice(absl::Span<const std::byte> src, const BufferView& dst) {
  return Enqueue(state_, [&](internal::DeviceState& device, AccelStream* handle) {
    return internal::EnqueueCopyToDevice(device, handle, src, dst);
  });
}

absl::Status Stream::CopyToHost(const BufferView& src, absl::Span<std::byte> dst) {
  return Enqueue(state_, [&](internal::DeviceState& device, AccelStream* handle) {
    return internal::EnqueueCopyToHost(device, handle, src, dst);
  });
}

absl::Status Stream::Copy(const BufferView& src, const BufferView& dst) {
  return Enqueue(state_, [&](internal::DeviceState& device, AccelStream* handle) {
    return internal::EnqueueCopy(device, handle, src, dst);
  });
}

absl::Status Stream::Fill(const BufferView& dst, const void* pattern, size_t pattern_size) {
  return Enqueue(state_, [&](internal::DeviceState& device, AccelStream* handle) {
    return internal::EnqueueFill(device, handle, dst, pattern, pattern_size);
  });
}

absl::Status Stream::Launch(const Kernel& kernel, const LaunchConfig& config,
                            absl::Span<const KernelArg> args) {
  return Enqueue(state_, [&](internal::DeviceState& device, AccelStream* handle) {
    return internal::EnqueueLaunch(device, handle, kernel, config, args);
  });
}

namespace {
// Record and wait: the same checks, then one plugin call.
using EventCall = AccelError* (*)(AccelStream*, AccelEvent*);
absl::Status OnEvent(const std::shared_ptr<internal::StreamState>& stream, const Event& event,
                     EventCall AccelBackendApi::*call) {
  if (stream == nullptr) return EmptyStream();
  if (!event.valid()) return EmptyEvent();
  if (absl::Status s = internal::CheckSameDevice(*stream->device, *event.state()->device, "event");
      !s.ok()) {
    return s;
  }
  return Enqueue(stream, [&](internal::DeviceState& device, AccelStream* handle) {
    return device.TakeError((device.api().*call)(handle, event.state()->handle));
  });
}
}  // namespace

absl::Status Stream::Record(const Event& event) {
  return OnEvent(state_, event, &AccelBackendApi::stream_record_event);
}

absl::Status Stream::Wait(const Event& event) {
  return OnEvent(state_, event, &AccelBackendApi::stream_wait_event);
}

absl::Status Stream::Synchronize() {
  if (state_ == nullptr) return EmptyStream();
  // Waits for queued work also on a failed stream: its host memory must be
  // free to go when this returns.
  absl::Status status = state_->Keep(
      state_->device->TakeError(state_->device->api().stream_synchronize(state_->handle)),
      /*synchronize=*/true);
  absl::Status failure = state_->failure();
  return failure.ok() ? status : failure;
}

}  // namespace accel::hal
