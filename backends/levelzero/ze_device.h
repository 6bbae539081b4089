// One Level Zero root device (sub-devices are not exposed separately: the
// root device already schedules across its tiles). It owns what every
// object of the device shares: the driver's context (owned by the backend),
// the marker pool, a command list for zero-filling new allocations, and the
// memory accounting behind device_memory_info.
#ifndef ACCEL_BACKENDS_LEVELZERO_ZE_DEVICE_H_
#define ACCEL_BACKENDS_LEVELZERO_ZE_DEVICE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "ze_api_table.h"
#include "ze_event.h"
#include "ze_memory.h"

namespace accel::levelzero {

class ZeDevice : public hal::plugin::DeviceImpl {
 public:
  static absl::StatusOr<std::unique_ptr<ZeDevice>> Create(const ZeApi* api,
                                                          ze_context_handle_t context,
                                                          ze_device_handle_t device,
                                                          uint32_t index);
  ~ZeDevice() override;

  AccelDeviceProperties Properties() override { return properties_; }
  absl::StatusOr<std::pair<uint64_t, uint64_t>> MemoryInfo() override;
  int32_t ImageScore(AccelImageFormat format, absl::string_view arch) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> Allocate(uint64_t size) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> CreateStream() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> CreateEvent() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> LoadModule(
      AccelImageFormat format, absl::string_view image) override;

  // Device memory, zero-filled when asked (every HAL allocation is).
  absl::StatusOr<std::shared_ptr<ZeAllocation>> AllocateMemory(uint64_t size, bool zero_fill);

  const ZeApi* api() const { return api_; }
  ze_context_handle_t context() const { return context_; }
  ze_device_handle_t handle() const { return device_; }
  // The command queue group that runs kernels (copies and fills run there
  // too, so one in-order list carries a whole stream).
  uint32_t compute_ordinal() const { return compute_ordinal_; }
  MarkerPool& markers() { return *markers_; }

 private:
  ZeDevice(const ZeApi* api, ze_context_handle_t context, ze_device_handle_t device, uint32_t index)
      : api_(api), context_(context), device_(device), index_(index), properties_{} {}
  absl::Status Init();
  absl::Status ZeroFill(ZeAllocation& memory);

  const ZeApi* api_;
  ze_context_handle_t context_;
  ze_device_handle_t device_;
  uint32_t index_;
  AccelDeviceProperties properties_;
  uint64_t max_alloc_size_ = 0;
  uint32_t compute_ordinal_ = 0;
  TimerInfo timer_;
  std::shared_ptr<MarkerPool> markers_;
  std::shared_ptr<std::atomic<uint64_t>> in_use_ = std::make_shared<std::atomic<uint64_t>>(0);
  absl::Mutex fill_mu_;  // serialises use of fill_list_
  ze_command_list_handle_t fill_list_ = nullptr;
};

}  // namespace accel::levelzero

#endif  // ACCEL_BACKENDS_LEVELZERO_ZE_DEVICE_H_
