#include "accel/hal/buffer.h"

#include "absl/strings/str_cat.h"
#include "accel/hal/device.h"
#include "objects.h"

namespace accel::hal {
namespace {

absl::Status CheckRange(uint64_t offset, uint64_t size, uint64_t limit) {
  // Written so that offset + size cannot overflow.
  if (offset > limit || size > limit - offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "range [", offset, ", +", size, ") is outside a buffer range of ", limit, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {
BufferState::~BufferState() {
  absl::MutexLock lock(&mu);
  if (handle != nullptr) device->api().buffer_free(handle);
}
}  // namespace internal

uint64_t Buffer::size() const { return state_ != nullptr ? state_->size : 0; }

Device Buffer::device() const { return state_ != nullptr ? Device(state_->device) : Device(); }

bool Buffer::alive() const {
  if (state_ == nullptr) return false;
  absl::ReaderMutexLock lock(&state_->mu);
  return state_->handle != nullptr;
}

BufferView Buffer::All() const { return BufferView(*this); }

absl::StatusOr<BufferView> Buffer::View(uint64_t offset, uint64_t size) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("view of an empty buffer handle");
  if (absl::Status s = CheckRange(offset, size, state_->size); !s.ok()) return s;
  return BufferView(*this, offset, size);
}

absl::Status Buffer::Free() {
  if (state_ == nullptr) return absl::InvalidArgumentError("free of an empty buffer handle");
  absl::MutexLock lock(&state_->mu);
  if (state_->handle == nullptr) return absl::FailedPreconditionError("buffer was already freed");
  state_->device->api().buffer_free(state_->handle);
  state_->handle = nullptr;
  return absl::OkStatus();
}

absl::StatusOr<BufferView> BufferView::Subview(uint64_t offset, uint64_t size) const {
  if (!buffer_.valid()) return absl::InvalidArgumentError("view of an empty buffer handle");
  if (absl::Status s = CheckRange(offset, size, size_); !s.ok()) return s;
  return BufferView(buffer_, offset_ + offset, size);
}

absl::StatusOr<absl::Span<std::byte>> BufferView::MapToHost() const {
  const std::shared_ptr<internal::BufferState>& state = buffer_.state();
  if (state == nullptr) return absl::InvalidArgumentError("map of an empty buffer handle");
  internal::DeviceState& device = *state->device;
  if (!device.core->library->Has(offsetof(AccelBackendApi, buffer_map_host))) {
    return absl::UnimplementedError(
        absl::StrCat("the ", device.api().name, " backend cannot map device memory to the host"));
  }
  absl::ReaderMutexLock lock(&state->mu);
  if (state->handle == nullptr) return absl::FailedPreconditionError("buffer was freed");
  void* base = nullptr;
  if (absl::Status s = device.TakeError(device.api().buffer_map_host(state->handle, &base));
      !s.ok()) {
    return s;
  }
  return absl::Span<std::byte>(static_cast<std::byte*>(base) + offset_, size_);
}

}  // namespace accel::hal
