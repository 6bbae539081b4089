#include "accel/hal/device.h"

#include "absl/strings/str_cat.h"
#include "objects.h"
#include "operations.h"

namespace accel::hal {

namespace internal {
DeviceState::~DeviceState() {
  absl::MutexLock lock(&sync_mu);
  if (sync_stream != nullptr) api().stream_destroy(sync_stream);
}
}  // namespace internal

namespace {

// Runs `enqueue` on the device's synchronous stream and waits for it. The
// lock serialises synchronous calls, so a stream failure reported here is
// the one this call caused; the stream is then replaced by a fresh one.
template <typename F>
absl::Status RunSynchronously(internal::DeviceState& device, F&& enqueue) {
  absl::MutexLock lock(&device.sync_mu);
  if (device.sync_stream == nullptr) {
    absl::Status s =
        device.TakeError(device.api().stream_create(device.handle, &device.sync_stream));
    if (!s.ok()) return s;
  }
  absl::Status status = enqueue(device.sync_stream);
  absl::Status synced = device.TakeError(device.api().stream_synchronize(device.sync_stream));
  if (!synced.ok() || internal::IsStreamFailure(status)) {
    device.api().stream_destroy(device.sync_stream);
    device.sync_stream = nullptr;
  }
  return internal::WithoutStreamFailureMark(status.ok() ? synced : status);
}

}  // namespace

const DeviceProperties& Device::properties() const {
  static const DeviceProperties* const kEmpty = new DeviceProperties();
  return state_ != nullptr ? state_->properties : *kEmpty;
}

absl::StatusOr<MemoryInfo> Device::GetMemoryInfo() const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  MemoryInfo info;
  absl::Status s = state_->TakeError(
      state_->api().device_memory_info(state_->handle, &info.free_bytes, &info.total_bytes));
  if (!s.ok()) return s;
  return info;
}

absl::StatusOr<Buffer> Device::Allocate(uint64_t size) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  // GPU drivers reject empty allocations; every backend does the same.
  if (size == 0) return absl::InvalidArgumentError("cannot allocate a buffer of 0 bytes");
  AccelBuffer* handle = nullptr;
  absl::Status s = state_->TakeError(state_->api().buffer_allocate(state_->handle, size, &handle));
  if (!s.ok()) return s;
  auto buffer = std::make_shared<internal::BufferState>();
  buffer->device = state_;
  buffer->size = size;
  {
    absl::MutexLock lock(&buffer->mu);
    buffer->handle = handle;
  }
  return Buffer(std::move(buffer));
}

absl::StatusOr<Stream> Device::CreateStream() const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  AccelStream* handle = nullptr;
  absl::Status s = state_->TakeError(state_->api().stream_create(state_->handle, &handle));
  if (!s.ok()) return s;
  auto stream = std::make_shared<internal::StreamState>();
  stream->device = state_;
  stream->handle = handle;
  return Stream(std::move(stream));
}

absl::StatusOr<Event> Device::CreateEvent() const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  AccelEvent* handle = nullptr;
  absl::Status s = state_->TakeError(state_->api().event_create(state_->handle, &handle));
  if (!s.ok()) return s;
  auto event = std::make_shared<internal::EventState>();
  event->device = state_;
  event->handle = handle;
  return Event(std::move(event));
}

absl::StatusOr<Module> Device::LoadModule(ImageFormat format, absl::string_view image) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  if (!IsKnownImageFormat(static_cast<int32_t>(format))) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown image format ", static_cast<int32_t>(format)));
  }
  if (ImageScore(format, "") < 0) {
    return absl::InvalidArgumentError(absl::StrCat("device ", id(), " (",
                                                   state_->properties.backend, ") cannot run ",
                                                   ImageFormatName(format), " images"));
  }
  AccelModule* handle = nullptr;
  absl::Status s = state_->TakeError(state_->api().module_load(
      state_->handle, static_cast<int32_t>(format), image.data(), image.size(), &handle));
  if (!s.ok()) return s;
  auto module = std::make_shared<internal::ModuleState>();
  module->device = state_;
  module->handle = handle;
  module->format = format;
  return Module(std::move(module));
}

int32_t Device::ImageScore(ImageFormat format, absl::string_view arch) const {
  // An unknown format never reaches a plugin: it is not a value of its enum.
  if (state_ == nullptr || !IsKnownImageFormat(static_cast<int32_t>(format))) return -1;
  const std::string arch_string(arch);
  return state_->api().device_image_score(state_->handle, static_cast<int32_t>(format),
                                          arch_string.c_str());
}

namespace {
// The bundle image this device runs best, or null.
const ModuleBundle::Image* BestImage(const Device& device, const ModuleBundle& bundle) {
  const ModuleBundle::Image* best = nullptr;
  int32_t best_score = -1;
  for (const ModuleBundle::Image& image : bundle.images()) {
    int32_t score = device.ImageScore(image.format, image.arch);
    if (score > best_score) {
      best = &image;
      best_score = score;
    }
  }
  return best;
}
}  // namespace

bool Device::CanRun(const ModuleBundle& bundle) const {
  return state_ != nullptr && BestImage(*this, bundle) != nullptr;
}

absl::StatusOr<Module> Device::LoadModule(const ModuleBundle& bundle) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  const ModuleBundle::Image* image = BestImage(*this, bundle);
  if (image == nullptr) {
    std::string formats;
    for (const ModuleBundle::Image& i : bundle.images()) {
      absl::StrAppend(&formats, formats.empty() ? "" : ", ", ImageFormatName(i.format), "/",
                      i.arch);
    }
    return absl::NotFoundError(
        absl::StrCat("no image in the bundle runs on ", id(), " (", state_->properties.arch,
                     "); bundle has: ", formats.empty() ? "nothing" : formats));
  }
  absl::StatusOr<Module> module = LoadModule(image->format, image->bytes);
  if (!module.ok()) return module.status();
  module->state()->bundle_signatures = bundle.kernels();
  return module;
}

absl::Status Device::CopyToDevice(absl::Span<const std::byte> src, const BufferView& dst) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  return RunSynchronously(
      *state_, [&](AccelStream* s) { return internal::EnqueueCopyToDevice(*state_, s, src, dst); });
}

absl::Status Device::CopyToHost(const BufferView& src, absl::Span<std::byte> dst) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  return RunSynchronously(
      *state_, [&](AccelStream* s) { return internal::EnqueueCopyToHost(*state_, s, src, dst); });
}

absl::Status Device::Copy(const BufferView& src, const BufferView& dst) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  return RunSynchronously(
      *state_, [&](AccelStream* s) { return internal::EnqueueCopy(*state_, s, src, dst); });
}

absl::Status Device::Fill(const BufferView& dst, const void* pattern, size_t pattern_size) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty device handle");
  return RunSynchronously(*state_, [&](AccelStream* s) {
    return internal::EnqueueFill(*state_, s, dst, pattern, pattern_size);
  });
}

}  // namespace accel::hal
