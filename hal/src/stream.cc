#include "accel/hal/stream.h"

#include "accel/hal/device.h"
#include "objects.h"
#include "operations.h"

namespace accel::hal {
namespace {
absl::Status EmptyStream() { return absl::InvalidArgumentError("empty stream handle"); }
absl::Status EmptyEvent() { return absl::InvalidArgumentError("empty event handle"); }
}  // namespace

Device Stream::device() const { return state_ != nullptr ? Device(state_->device) : Device(); }

absl::Status Stream::CopyToDevice(absl::Span<const std::byte> src, const BufferView& dst) {
  if (state_ == nullptr) return EmptyStream();
  return internal::EnqueueCopyToDevice(*state_->device, state_->handle, src, dst);
}

absl::Status Stream::CopyToHost(const BufferView& src, absl::Span<std::byte> dst) {
  if (state_ == nullptr) return EmptyStream();
  return internal::EnqueueCopyToHost(*state_->device, state_->handle, src, dst);
}

absl::Status Stream::Copy(const BufferView& src, const BufferView& dst) {
  if (state_ == nullptr) return EmptyStream();
  return internal::EnqueueCopy(*state_->device, state_->handle, src, dst);
}

absl::Status Stream::Fill(const BufferView& dst, const void* pattern, size_t pattern_size) {
  if (state_ == nullptr) return EmptyStream();
  return internal::EnqueueFill(*state_->device, state_->handle, dst, pattern, pattern_size);
}

absl::Status Stream::Launch(const Kernel& kernel, const LaunchConfig& config,
                            absl::Span<const KernelArg> args) {
  if (state_ == nullptr) return EmptyStream();
  return internal::EnqueueLaunch(*state_->device, state_->handle, kernel, config, args);
}

namespace {
// Record and wait: the same checks, then one plugin call.
using EventCall = AccelError* (*)(AccelStream*, AccelEvent*);
absl::Status OnEvent(const std::shared_ptr<internal::StreamState>& stream, const Event& event,
                     EventCall AccelBackendApi::*call) {
  if (stream == nullptr) return EmptyStream();
  if (!event.valid()) return EmptyEvent();
  internal::DeviceState& device = *stream->device;
  if (absl::Status s = internal::CheckSameDevice(device, *event.state()->device, "event");
      !s.ok()) {
    return s;
  }
  return device.TakeError((device.api().*call)(stream->handle, event.state()->handle));
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
  return state_->device->TakeError(state_->device->api().stream_synchronize(state_->handle));
}

}  // namespace accel::hal
