// The C++ side of the plugin boundary for backend authors: implement these
// interfaces and ACCEL_DEFINE_BACKEND turns them into the C function table of
// plugin_abi.h, converting absl::Status to AccelError and back.
//
// The HAL validates handles, ranges, shapes and argument kinds before it
// calls a backend, so implementations may assume well-formed requests (same
// device, in-range offsets, known formats, matching argument counts).
#ifndef ACCEL_HAL_PLUGIN_BACKEND_INTERFACE_H_
#define ACCEL_HAL_PLUGIN_BACKEND_INTERFACE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "accel/hal/plugin_abi.h"

namespace accel::hal::plugin {

class BufferImpl {
 public:
  virtual ~BufferImpl() = default;
  // The host address of the buffer's memory, where the host can address it
  // (see buffer_map_host in plugin_abi.h).
  virtual absl::StatusOr<void*> MapHost() {
    return absl::UnimplementedError("the host cannot address this device's memory");
  }
  // The device's own address of the buffer (see buffer_device_address in
  // plugin_abi.h).
  virtual absl::StatusOr<uint64_t> DeviceAddress() {
    return absl::UnimplementedError("this device's memory has no device addresses");
  }
};

class EventImpl {
 public:
  virtual ~EventImpl() = default;
  virtual absl::Status Synchronize() = 0;
  virtual absl::StatusOr<bool> IsComplete() = 0;
  virtual absl::StatusOr<float> ElapsedMillisecondsSince(EventImpl& start) = 0;
};

class KernelImpl {
 public:
  virtual ~KernelImpl() = default;
  // Argument kinds if the image declares them ("buffer,f32"), else "".
  virtual const std::string& signature() const = 0;
  // See kernel_parameters in plugin_abi.h.
  virtual absl::StatusOr<std::vector<AccelKernelParameter>> Parameters() const {
    return absl::UnimplementedError("this backend cannot tell a kernel's parameter layout");
  }
  // See kernel_query in plugin_abi.h; `query` is whole (struct_size checked).
  virtual absl::StatusOr<int64_t> Query(const AccelKernelQuery& /*query*/) {
    return absl::UnimplementedError("this backend cannot answer questions about a kernel");
  }
};

// A module's global variable: a buffer over the module's memory for it.
struct ModuleGlobal {
  std::unique_ptr<BufferImpl> buffer;  // frees nothing when destroyed
  uint64_t size = 0;
};

class ModuleImpl {
 public:
  virtual ~ModuleImpl() = default;
  // The kernel is owned by the module. NOT_FOUND when absent.
  virtual absl::StatusOr<KernelImpl*> GetKernel(absl::string_view name) = 0;
  // See module_get_global in plugin_abi.h. NOT_FOUND when absent.
  virtual absl::StatusOr<ModuleGlobal> GetGlobal(absl::string_view name) {
    return absl::UnimplementedError(
        absl::StrCat("this backend's modules have no globals ('", name, "')"));
  }
};

// One launch argument, with buffers resolved to the backend's objects.
struct LaunchArg {
  AccelArgKind kind;
  BufferImpl* buffer = nullptr;  // kind == ACCEL_ARG_BUFFER
  uint64_t offset = 0;           // buffer range
  uint64_t size = 0;             // buffer range size, scalar width or bytes size
  const void* data = nullptr;    // scalar value or raw bytes (valid during Launch only)
};

// A failure of the stream itself: its queued work failed, or its device or
// context is lost. The HAL keeps the first one as the stream's sticky error
// and fails every later call on the stream with it, so a backend reports a
// failure (at the call that finds it) and keeps no sticky state of its own.
// Any other error, such as a refused argument, fails only its own call.
absl::Status StreamFailure(absl::Status status);
bool IsStreamFailure(const absl::Status& status);

class StreamImpl {
 public:
  virtual ~StreamImpl() = default;  // waits for queued work
  virtual absl::Status CopyHostToDevice(const void* src, BufferImpl& dst, uint64_t dst_offset,
                                        uint64_t size) = 0;
  virtual absl::Status CopyDeviceToHost(BufferImpl& src, uint64_t src_offset, void* dst,
                                        uint64_t size) = 0;
  virtual absl::Status CopyDeviceToDevice(BufferImpl& src, uint64_t src_offset, BufferImpl& dst,
                                          uint64_t dst_offset, uint64_t size) = 0;
  virtual absl::Status Fill(BufferImpl& dst, uint64_t offset, uint64_t size, uint32_t pattern,
                            uint32_t pattern_size) = 0;
  virtual absl::Status Launch(KernelImpl& kernel, const AccelLaunchConfig& config,
                              absl::Span<const LaunchArg> args) = 0;
  virtual absl::Status RecordEvent(EventImpl& event) = 0;
  virtual absl::Status WaitEvent(EventImpl& event) = 0;
  virtual absl::Status Synchronize() = 0;
};

class DeviceImpl {
 public:
  virtual ~DeviceImpl() = default;
  virtual AccelDeviceProperties Properties() = 0;
  // The vendor's numbered attributes, in any order (see
  // device_native_attributes in plugin_abi.h); the span stays valid as long
  // as the device. None by default.
  virtual absl::Span<const AccelNativeAttribute> NativeAttributes() { return {}; }
  // {free, total}
  virtual absl::StatusOr<std::pair<uint64_t, uint64_t>> MemoryInfo() = 0;
  virtual int32_t ImageScore(AccelImageFormat format, absl::string_view arch) = 0;
  virtual absl::StatusOr<std::unique_ptr<BufferImpl>> Allocate(uint64_t size) = 0;
  virtual absl::StatusOr<std::unique_ptr<StreamImpl>> CreateStream() = 0;
  virtual absl::StatusOr<std::unique_ptr<EventImpl>> CreateEvent() = 0;
  virtual absl::StatusOr<std::unique_ptr<ModuleImpl>> LoadModule(AccelImageFormat format,
                                                                 absl::string_view image) = 0;
};

class BackendImpl {
 public:
  virtual ~BackendImpl() = default;
  // "" when usable.
  virtual const std::string& unavailable_reason() const = 0;
  virtual uint32_t device_count() const = 0;
  virtual DeviceImpl& device(uint32_t index) = 0;
};

using BackendOptions = std::map<std::string, std::string>;
using BackendFactory = absl::StatusOr<std::unique_ptr<BackendImpl>> (*)(const BackendOptions&);

// The table for a backend named `name` made by `factory`; NULL when the HAL's
// major ABI version differs from ours.
const AccelBackendApi* ExportBackend(const char* name, BackendFactory factory,
                                     uint32_t hal_abi_major);

// Copies a string into a fixed-size property field, truncating safely.
void CopyProperty(absl::string_view value, char* field, size_t field_size);
template <size_t N>
void CopyProperty(absl::string_view value, char (&field)[N]) {
  CopyProperty(value, field, N);
}

}  // namespace accel::hal::plugin

// Defines the plugin's exported entry point.
#define ACCEL_DEFINE_BACKEND(name, factory)                                                       \
  extern "C" __attribute__((visibility("default"))) const AccelBackendApi* accel_backend_get_api( \
      uint32_t hal_abi_major, uint32_t /*hal_abi_minor*/) {                                       \
    return ::accel::hal::plugin::ExportBackend(name, factory, hal_abi_major);                     \
  }

#endif  // ACCEL_HAL_PLUGIN_BACKEND_INTERFACE_H_
