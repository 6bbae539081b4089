// The state behind the public handle classes. Each holds what keeps its
// parents alive (device -> backend -> plugin library), never the reverse, so
// there are no reference cycles.
#ifndef ACCEL_HAL_SRC_OBJECTS_H_
#define ACCEL_HAL_SRC_OBJECTS_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/backend.h"
#include "accel/hal/device.h"
#include "plugin_library.h"

namespace accel::hal::internal {

// The opened plugin backend; closed when the last device or backend goes.
struct BackendCore {
  std::shared_ptr<PluginLibrary> library;
  AccelBackend* handle = nullptr;
  const AccelBackendApi& api() const { return library->api(); }
  ~BackendCore() {
    if (handle != nullptr) api().backend_close(handle);
  }
};

struct BackendState {
  std::shared_ptr<BackendCore> core;
  std::string name;
  std::string unavailable_reason;
  std::vector<Device> devices;
};

struct DeviceState {
  std::shared_ptr<BackendCore> core;
  AccelDevice* handle = nullptr;
  DeviceProperties properties;

  // The stream behind the synchronous Device calls, made on first use.
  absl::Mutex sync_mu;
  AccelStream* sync_stream ABSL_GUARDED_BY(sync_mu) = nullptr;

  const AccelBackendApi& api() const { return core->api(); }
  absl::Status TakeError(AccelError* error) const { return core->library->TakeError(error); }
  ~DeviceState();
};

struct ModuleState;

struct BufferState {
  std::shared_ptr<DeviceState> device;
  uint64_t size = 0;
  // A module's global: the module stays loaded while its buffer lives.
  std::shared_ptr<ModuleState> module;
  // Readers: operations that pass the handle to the plugin. Writer: Free().
  absl::Mutex mu;
  AccelBuffer* handle ABSL_GUARDED_BY(mu) = nullptr;  // null once freed
  ~BufferState();
};

// The one home of a stream's sticky error: backends report failures of a
// stream, the stream keeps the first and fails every later call with it.
struct StreamState {
  std::shared_ptr<DeviceState> device;
  AccelStream* handle = nullptr;

  // The stream's failure so far (OK: none).
  absl::Status failure() {
    // Every queued call asks: the healthy case must not take the lock.
    if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
    absl::MutexLock lock(&mu);
    return failure_;
  }
  // Passes a call's outcome through: a failure of the stream becomes sticky.
  // `synchronize`: the outcome of stream_synchronize, whose errors are all
  // stream failures for a plugin older than ABI 1.1.
  absl::Status Keep(absl::Status status, bool synchronize = false);

  ~StreamState() { device->api().stream_destroy(handle); }

 private:
  absl::Mutex mu;
  absl::Status failure_ ABSL_GUARDED_BY(mu);
  std::atomic<bool> failed_{false};  // failure_ is set
};

struct EventState {
  std::shared_ptr<DeviceState> device;
  AccelEvent* handle = nullptr;
  ~EventState() { device->api().event_destroy(handle); }
};

struct ModuleState {
  std::shared_ptr<DeviceState> device;
  AccelModule* handle = nullptr;
  ImageFormat format = ImageFormat::kHostElf;
  // Signatures declared by the bundle the module came from, if any.
  std::map<std::string, std::vector<ArgKind>> bundle_signatures;
  ~ModuleState() { device->api().module_destroy(handle); }
};

struct KernelState {
  std::shared_ptr<ModuleState> module;
  AccelKernel* handle = nullptr;
  std::string name;
  std::optional<std::vector<ArgKind>> signature;
};

}  // namespace accel::hal::internal

#endif  // ACCEL_HAL_SRC_OBJECTS_H_
