// The CPU reference backend: several virtual devices with real memory, real
// asynchronous streams and host-elf kernels, so every feature of the HAL and
// the pool can be tested on a machine without an accelerator.
//
// Options (backend_open) override the environment:
//   devices / ACCEL_HOST_DEVICES           number of virtual devices (default 2)
//   device_memory / ACCEL_HOST_DEVICE_MEMORY  capacity of each ("2GiB"; default 1GiB)
//   threads / ACCEL_HOST_THREADS           kernel worker threads (default: all cores)
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "accel/hal/plugin/backend_interface.h"
#include "accel/hal/types.h"
#include "host_device.h"
#include "thread_pool.h"

namespace accel::host {
namespace {

constexpr uint32_t kMaxDevices = 64;

// The option if given, else the environment variable, else "".
std::string Setting(const hal::plugin::BackendOptions& options, const char* key, const char* env) {
  if (auto it = options.find(key); it != options.end()) return it->second;
  const char* value = std::getenv(env);
  return value != nullptr ? value : "";
}

absl::StatusOr<uint32_t> ParseCount(const std::string& text, const char* what, uint32_t fallback,
                                    uint32_t max) {
  if (text.empty()) return fallback;
  uint32_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host backend: ", what, " must be a number from 0 to ", max, ", not '", text, "'"));
  }
  return value;
}

class HostBackend : public hal::plugin::BackendImpl {
 public:
  HostBackend(uint32_t devices, uint64_t memory, uint32_t threads)
      : pool_(threads), stream_threads_(std::max<uint32_t>(threads, kMinStreamThreads)) {
    uint32_t units = std::max(1u, std::thread::hardware_concurrency());
    for (uint32_t i = 0; i < devices; ++i) {
      devices_.push_back(std::make_unique<HostDevice>(i, memory, pool_, stream_threads_, units));
    }
    if (devices == 0) reason_ = "configured with 0 devices (ACCEL_HOST_DEVICES=0)";
  }
  const std::string& unavailable_reason() const override { return reason_; }
  uint32_t device_count() const override { return static_cast<uint32_t>(devices_.size()); }
  hal::plugin::DeviceImpl& device(uint32_t index) override { return *devices_[index]; }

 private:
  // Streams run on as many threads as launches do, but at least a few, so
  // that one long kernel does not hold up every other stream.
  static constexpr uint32_t kMinStreamThreads = 4;
  ThreadPool pool_;                 // destroyed after the devices
  ExecutorThreads stream_threads_;  // likewise
  std::vector<std::unique_ptr<HostDevice>> devices_;
  std::string reason_;
};

absl::StatusOr<std::unique_ptr<hal::plugin::BackendImpl>> CreateHostBackend(
    const hal::plugin::BackendOptions& options) {
  absl::StatusOr<uint32_t> devices =
      ParseCount(Setting(options, "devices", "ACCEL_HOST_DEVICES"), "device count", 2, kMaxDevices);
  if (!devices.ok()) return devices.status();
  uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  absl::StatusOr<uint32_t> threads =
      ParseCount(Setting(options, "threads", "ACCEL_HOST_THREADS"), "thread count", cores, 1024);
  if (!threads.ok()) return threads.status();
  uint64_t memory = uint64_t{1} << 30;
  if (std::string text = Setting(options, "device_memory", "ACCEL_HOST_DEVICE_MEMORY");
      !text.empty()) {
    absl::StatusOr<uint64_t> parsed = hal::ParseByteSize(text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("host backend: device memory: ", parsed.status().message()));
    }
    memory = *parsed;
  }
  // The calling stream thread works on its launch too, so one fewer helper.
  return std::make_unique<HostBackend>(*devices, memory, *threads > 0 ? *threads - 1 : 0);
}

}  // namespace
}  // namespace accel::host

ACCEL_DEFINE_BACKEND("host", accel::host::CreateHostBackend)
