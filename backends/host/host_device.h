// A virtual device of the host backend: a slice of host memory with exact
// capacity accounting, served by the backend's shared threads.
#ifndef ACCEL_BACKENDS_HOST_HOST_DEVICE_H_
#define ACCEL_BACKENDS_HOST_HOST_DEVICE_H_

#include <memory>

#include "accel/hal/plugin/backend_interface.h"
#include "common/serial_executor.h"
#include "host_memory.h"
#include "thread_pool.h"

namespace accel::host {

class HostDevice : public hal::plugin::DeviceImpl {
 public:
  HostDevice(uint32_t index, uint64_t capacity, ThreadPool& pool, ExecutorThreads& stream_threads,
             uint32_t compute_units);

  AccelDeviceProperties Properties() override { return properties_; }
  absl::StatusOr<std::pair<uint64_t, uint64_t>> MemoryInfo() override;
  int32_t ImageScore(AccelImageFormat format, absl::string_view arch) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::BufferImpl>> Allocate(uint64_t size) override;
  absl::StatusOr<std::unique_ptr<hal::plugin::StreamImpl>> CreateStream() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::EventImpl>> CreateEvent() override;
  absl::StatusOr<std::unique_ptr<hal::plugin::ModuleImpl>> LoadModule(
      AccelImageFormat format, absl::string_view image) override;

 private:
  uint32_t index_;
  std::shared_ptr<MemoryPool> memory_;
  ThreadPool& pool_;
  ExecutorThreads& stream_threads_;
  AccelDeviceProperties properties_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_HOST_DEVICE_H_
