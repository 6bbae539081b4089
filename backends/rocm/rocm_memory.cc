#include "rocm_memory.h"

#include "absl/strings/str_cat.h"
#include "hip_error.h"

namespace accel::rocm {

absl::StatusOr<std::unique_ptr<RocmBuffer>> RocmBuffer::Allocate(const RocmDevice& device,
                                                                 uint64_t size) {
  const HipApi& api = device.api();
  ScopedDevice scoped(device);
  if (!scoped.ok()) return scoped.status();
  void* pointer = nullptr;
  // hipMalloc(0) succeeds with a null pointer, which is a fine empty buffer.
  absl::Status status =
      HipStatus(api, api.hipMalloc(&pointer, size), absl::StrCat("hipMalloc(", size, ")"));
  if (!status.ok()) return status;
  std::unique_ptr<RocmBuffer> buffer(new RocmBuffer(device, pointer, /*owned=*/true));
  if (size == 0) return buffer;
  // No tenant may see another's bytes. The memset runs on the null stream;
  // waiting for it keeps it ordered before work on our non-blocking streams.
  status = HipStatus(api, api.hipMemset(pointer, 0, size), "hipMemset");
  if (status.ok()) {
    status = HipStatus(api, api.hipStreamSynchronize(nullptr), "hipStreamSynchronize(null)");
  }
  if (!status.ok()) return status;  // the destructor frees the allocation
  return buffer;
}

std::unique_ptr<RocmBuffer> RocmBuffer::ModuleGlobal(const RocmDevice& device, void* pointer) {
  return std::unique_ptr<RocmBuffer>(new RocmBuffer(device, pointer, /*owned=*/false));
}

RocmBuffer::~RocmBuffer() {
  if (pointer_ == nullptr || !owned_) return;
  const HipApi& api = device_.api();
  ScopedDevice scoped(device_);
  // A failure here belongs to the work that failed: its stream reports it at
  // its own Synchronize. Freeing still goes ahead, since nothing is running.
  (void)device_.SynchronizeAll();
  // hipFree can only fail for a pointer it does not know, which would be a
  // bug here; there is no caller to tell (buffer_free returns nothing).
  (void)api.hipFree(pointer_);
}

}  // namespace accel::rocm
