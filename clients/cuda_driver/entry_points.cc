// The CUDA driver API entry points of accelpool's libcuda.so.1: each checks
// its arguments and handles, then does its work on the leased devices
// through the HAL's remote backend (driver.h). cuda.h's macros give each
// definition its versioned name (cuMemAlloc is cuMemAlloc_v2 here), which
// is the symbol programs built against CUDA 12 and 13 look for.
//
// Streams follow CUDA's order within a stream. Synchronous copies run on
// the device's default stream and wait for it; the legacy default stream's
// implicit ordering with the program's other streams is not kept (work on
// different streams is unordered, as with per-thread default streams).
#include <cuda.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "accel/hal/device_address.h"
#include "backends/cuda/cuda_results.h"
#include "clients/cuda_driver/cuda_result.h"
#include "clients/cuda_driver/device_attributes.h"
#include "clients/cuda_driver/driver.h"
#include "clients/cuda_driver/proc_address.h"

#define ACCEL_EXPORT extern "C" __attribute__((visibility("default")))

namespace accel::cuda_driver {
namespace {

Driver& D() { return Driver::Get(); }

// The calling thread's current context, and those pushed under it.
thread_local Context* current = nullptr;
thread_local std::vector<Context*> pushed;

#define ACCEL_REQUIRE_INIT()                                               \
  do {                                                                     \
    if (CUresult ready = D().Ready(); ready != CUDA_SUCCESS) return ready; \
  } while (0)
#define ACCEL_REQUIRE_CONTEXT()                                \
  do {                                                         \
    ACCEL_REQUIRE_INIT();                                      \
    if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT; \
  } while (0)

absl::Span<const std::byte> HostBytes(const void* p, size_t n) {
  return {static_cast<const std::byte*>(p), n};
}
absl::Span<std::byte> HostBytes(void* p, size_t n) { return {static_cast<std::byte*>(p), n}; }

StreamObject* StreamOf(CUstream stream) { return D().FindStream(stream, CurrentDevice()); }

// After queueing work on `on`: waits for the stream when the call is
// synchronous.
CUresult Finish(StreamObject& on, absl::Status queued, bool wait, const char* call) {
  if (queued.ok()) on.pending = true;
  if (queued.ok() && wait) {
    queued = on.stream.Synchronize();
    if (queued.ok()) on.pending = false;
  }
  return ToResult(queued, call);
}

// Copies; `stream` nullptr: on the default stream, waiting for it.
CUresult CopyToDevice(CUdeviceptr dst, const void* src, size_t n, CUstream stream, bool wait,
                      const char* call) {
  if (n == 0) return CUDA_SUCCESS;
  if (src == nullptr) return CUDA_ERROR_INVALID_VALUE;
  absl::StatusOr<DeviceMemory::Range> to = D().memory().Find(dst, n);
  if (!to.ok()) return ToResult(to.status(), call);
  StreamObject* on = D().FindStream(stream, stream == nullptr ? to->device : CurrentDevice());
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  // A synchronous copy behind nothing queued: the device's own synchronous
  // copy, one round trip instead of a queued copy and a wait.
  if (wait && stream == nullptr && !on->pending) {
    return ToResult(D().device(to->device)->CopyToDevice(HostBytes(src, n), to->view), call);
  }
  return Finish(*on, on->stream.CopyToDevice(HostBytes(src, n), to->view), wait, call);
}

CUresult CopyToHost(void* dst, CUdeviceptr src, size_t n, CUstream stream, bool wait,
                    const char* call) {
  if (n == 0) return CUDA_SUCCESS;
  if (dst == nullptr) return CUDA_ERROR_INVALID_VALUE;
  absl::StatusOr<DeviceMemory::Range> from = D().memory().Find(src, n);
  if (!from.ok()) return ToResult(from.status(), call);
  StreamObject* on = D().FindStream(stream, stream == nullptr ? from->device : CurrentDevice());
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (wait && stream == nullptr && !on->pending) {  // as in CopyToDevice
    return ToResult(D().device(from->device)->CopyToHost(from->view, HostBytes(dst, n)), call);
  }
  return Finish(*on, on->stream.CopyToHost(from->view, HostBytes(dst, n)), wait, call);
}

CUresult CopyOnDevice(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream stream, bool wait,
                      const char* call) {
  if (n == 0) return CUDA_SUCCESS;
  absl::StatusOr<DeviceMemory::Range> from = D().memory().Find(src, n);
  if (!from.ok()) return ToResult(from.status(), call);
  absl::StatusOr<DeviceMemory::Range> to = D().memory().Find(dst, n);
  if (!to.ok()) return ToResult(to.status(), call);
  if (from->device != to->device) {  // between two leased devices: through this host
    std::vector<std::byte> staged(n);
    if (CUresult r = CopyToHost(staged.data(), src, n, stream, /*wait=*/true, call);
        r != CUDA_SUCCESS) {
      return r;
    }
    return CopyToDevice(dst, staged.data(), n, stream, wait, call);
  }
  StreamObject* on = D().FindStream(stream, stream == nullptr ? to->device : CurrentDevice());
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return Finish(*on, on->stream.Copy(from->view, to->view), wait, call);
}

// cuMemcpy with unified addressing: each side is a device address or host
// memory.
CUresult CopyAny(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream stream, bool wait,
                 const char* call) {
  const bool dst_device = D().memory().IsDeviceAddress(dst);
  const bool src_device = D().memory().IsDeviceAddress(src);
  if (dst_device && src_device) return CopyOnDevice(dst, src, n, stream, wait, call);
  if (dst_device)
    return CopyToDevice(dst, reinterpret_cast<const void*>(src), n, stream, wait, call);
  if (src_device) return CopyToHost(reinterpret_cast<void*>(dst), src, n, stream, wait, call);
  if (n != 0) std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  return CUDA_SUCCESS;
}

CUresult Fill(CUdeviceptr dst, const void* pattern, size_t pattern_size, size_t count,
              CUstream stream, const char* call) {
  if (count == 0) return CUDA_SUCCESS;
  if ((dst % pattern_size) != 0) return CUDA_ERROR_INVALID_VALUE;
  absl::StatusOr<DeviceMemory::Range> to = D().memory().Find(dst, count * pattern_size);
  if (!to.ok()) return ToResult(to.status(), call);
  StreamObject* on = D().FindStream(stream, stream == nullptr ? to->device : CurrentDevice());
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return Finish(*on, on->stream.Fill(to->view, pattern, pattern_size), /*wait=*/false, call);
}

// A 2D fill or copy, row by row.
CUresult Fill2D(CUdeviceptr dst, size_t pitch, const void* pattern, size_t pattern_size,
                size_t width, size_t height, CUstream stream, const char* call) {
  for (size_t row = 0; row < height; ++row) {
    if (CUresult r = Fill(dst + row * pitch, pattern, pattern_size, width, stream, call);
        r != CUDA_SUCCESS) {
      return r;
    }
  }
  return CUDA_SUCCESS;
}

CUresult Copy2D(const CUDA_MEMCPY2D* copy, CUstream stream, bool wait, const char* call) {
  if (copy == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto address = [](CUmemorytype type, const void* host, CUdeviceptr device, size_t x, size_t y,
                    size_t pitch) -> std::optional<CUdeviceptr> {
    switch (type) {
      case CU_MEMORYTYPE_HOST:
        return reinterpret_cast<CUdeviceptr>(host) + y * pitch + x;
      case CU_MEMORYTYPE_DEVICE:
      case CU_MEMORYTYPE_UNIFIED:
        return device + y * pitch + x;
      default:
        return std::nullopt;  // CUDA arrays are not served
    }
  };
  for (size_t row = 0; row < copy->Height; ++row) {
    std::optional<CUdeviceptr> src = address(copy->srcMemoryType, copy->srcHost, copy->srcDevice,
                                             copy->srcXInBytes, copy->srcY + row, copy->srcPitch);
    std::optional<CUdeviceptr> dst = address(copy->dstMemoryType, copy->dstHost, copy->dstDevice,
                                             copy->dstXInBytes, copy->dstY + row, copy->dstPitch);
    if (!src.has_value() || !dst.has_value()) return NotSupported("cuMemcpy2D with CUDA arrays");
    if (CUresult r =
            CopyAny(*dst, *src, copy->WidthInBytes, stream, wait && row + 1 == copy->Height, call);
        r != CUDA_SUCCESS) {
      return r;
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace

int CurrentDevice() { return current != nullptr ? current->device : -1; }

}  // namespace accel::cuda_driver

using namespace accel::cuda_driver;  // NOLINT: the entry points below are C

// --- Initialisation and versions --------------------------------------------

ACCEL_EXPORT CUresult CUDAAPI cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return D().Init();
}

ACCEL_EXPORT CUresult CUDAAPI cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuGetErrorName(CUresult error, const char** name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const accel::cuda::CudaResultInfo* info = accel::cuda::FindCudaResult(error);
  *name = info != nullptr ? info->name : nullptr;
  return info != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

ACCEL_EXPORT CUresult CUDAAPI cuGetErrorString(CUresult error, const char** text) {
  if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const accel::cuda::CudaResultInfo* info = accel::cuda::FindCudaResult(error);
  *text = info != nullptr ? info->text : nullptr;
  return info != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

ACCEL_EXPORT CUresult CUDAAPI cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_EAGER_LOADING;
  return CUDA_SUCCESS;
}

// --- Devices ----------------------------------------------------------------

ACCEL_EXPORT CUresult CUDAAPI cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ACCEL_REQUIRE_INIT();
  *count = D().device_count();
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ACCEL_REQUIRE_INIT();
  if (D().device(ordinal) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceGetName(char* name, int length, CUdevice device) {
  ACCEL_REQUIRE_INIT();
  const accel::hal::Device* d = D().device(device);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  const std::string& text = d->properties().name;
  const size_t n = std::min(text.size(), static_cast<size_t>(length) - 1);
  std::memcpy(name, text.data(), n);
  name[n] = '\0';
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceGetUuid(CUuuid* uuid, CUdevice device) {
  ACCEL_REQUIRE_INIT();
  const accel::hal::Device* d = D().device(device);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::memset(uuid->bytes, 0, sizeof(uuid->bytes));
  std::string hex;
  for (char c : d->properties().uuid) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += c;
  }
  for (size_t i = 0; i + 1 < hex.size() && i / 2 < sizeof(uuid->bytes); i += 2) {
    uuid->bytes[i / 2] = static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceTotalMem(size_t* bytes, CUdevice device) {
  ACCEL_REQUIRE_INIT();
  const accel::hal::Device* d = D().device(device);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // The lease's share of the device, which is all of it for a whole lease.
  absl::StatusOr<accel::hal::MemoryInfo> info = d->GetMemoryInfo();
  if (!info.ok()) return ToResult(info.status(), "cuDeviceTotalMem");
  *bytes = info->total_bytes;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceGetAttribute(int* value, CUdevice_attribute attribute,
                                                   CUdevice device) {
  ACCEL_REQUIRE_INIT();
  const accel::hal::Device* d = D().device(device);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::optional<int> found = DeviceAttribute(d->properties(), attribute);
  if (!found.has_value()) return CUDA_ERROR_INVALID_VALUE;
  *value = *found;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceComputeCapability(int* major, int* minor, CUdevice device) {
  ACCEL_REQUIRE_INIT();
  const accel::hal::Device* d = D().device(device);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ComputeCapability cc = CapabilityOf(d->properties());
  *major = cc.major;
  *minor = cc.minor;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceGetPCIBusId(char* id, int length, CUdevice device) {
  ACCEL_REQUIRE_INIT();
  const accel::hal::Device* d = D().device(device);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (id == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
  const std::string text =
      d->properties().pci_bus_id.empty() ? "0000:00:00.0" : d->properties().pci_bus_id;
  const size_t n = std::min(text.size(), static_cast<size_t>(length) - 1);
  std::memcpy(id, text.data(), n);
  id[n] = '\0';
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDeviceCanAccessPeer(int* can, CUdevice device, CUdevice peer) {
  ACCEL_REQUIRE_INIT();
  if (D().device(device) == nullptr || D().device(peer) == nullptr) {
    return CUDA_ERROR_INVALID_DEVICE;
  }
  if (can == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *can = 0;  // leased devices reach each other only through this host
  return CUDA_SUCCESS;
}

// --- Contexts ---------------------------------------------------------------

ACCEL_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  ACCEL_REQUIRE_INIT();
  Context* primary = D().primary_context(device);
  if (primary == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *context = reinterpret_cast<CUcontext>(primary);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice device) {
  ACCEL_REQUIRE_INIT();
  return D().primary_context(device) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

ACCEL_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxReset(CUdevice device) {
  return cuDevicePrimaryCtxRelease(device);
}

ACCEL_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxSetFlags(CUdevice device, unsigned int flags) {
  ACCEL_REQUIRE_INIT();
  Context* primary = D().primary_context(device);
  if (primary == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  primary->flags = flags;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice device, unsigned int* flags,
                                                         int* active) {
  ACCEL_REQUIRE_INIT();
  Context* primary = D().primary_context(device);
  if (primary == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = primary->flags;
  *active = 1;  // the lease's session is open from cuInit on
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetCurrent(CUcontext* context) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ACCEL_REQUIRE_INIT();
  *context = reinterpret_cast<CUcontext>(current);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxSetCurrent(CUcontext context) {
  ACCEL_REQUIRE_INIT();
  if (context != nullptr && !D().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  current = reinterpret_cast<Context*>(context);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxPushCurrent(CUcontext context) {
  ACCEL_REQUIRE_INIT();
  if (context == nullptr || !D().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  pushed.push_back(current);
  current = reinterpret_cast<Context*>(context);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxPopCurrent(CUcontext* context) {
  ACCEL_REQUIRE_INIT();
  if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (context != nullptr) *context = reinterpret_cast<CUcontext>(current);
  current = pushed.empty() ? nullptr : pushed.back();
  if (!pushed.empty()) pushed.pop_back();
  return CUDA_SUCCESS;
}

// Contexts the program creates are the device's primary context: the
// lease has one session per node, which serves them all.
ACCEL_EXPORT CUresult CUDAAPI cuCtxCreate(CUcontext* context, CUctxCreateParams* /*params*/,
                                          unsigned int flags, CUdevice device) {
  if (CUresult r = cuDevicePrimaryCtxRetain(context, device); r != CUDA_SUCCESS) return r;
  reinterpret_cast<Context*>(*context)->flags = flags;
  return cuCtxPushCurrent(*context);
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxCreate_v2(CUcontext* context, unsigned int flags,
                                             CUdevice device) {
  return cuCtxCreate(context, nullptr, flags, device);
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxDestroy(CUcontext context) {
  ACCEL_REQUIRE_INIT();
  if (!D().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  if (current == reinterpret_cast<Context*>(context)) current = nullptr;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ACCEL_REQUIRE_CONTEXT();
  *device = current->device;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetDevice_v2(CUdevice* device, CUcontext context) {
  if (context == nullptr) return cuCtxGetDevice(device);
  ACCEL_REQUIRE_INIT();
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!D().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  *device = reinterpret_cast<Context*>(context)->device;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ACCEL_REQUIRE_CONTEXT();
  *flags = current->flags;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetApiVersion(CUcontext context, unsigned int* version) {
  ACCEL_REQUIRE_INIT();
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (context != nullptr && !D().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;  // the context API of CUDA 3.2 on, as every driver reports
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxSynchronize() {
  ACCEL_REQUIRE_CONTEXT();
  return ToResult(D().Synchronize(current->device), "cuCtxSynchronize");
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxSynchronize_v2(CUcontext context) {
  if (context == nullptr) return cuCtxSynchronize();
  ACCEL_REQUIRE_INIT();
  if (!D().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  return ToResult(D().Synchronize(reinterpret_cast<Context*>(context)->device), "cuCtxSynchronize");
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetLimit(size_t* value, CUlimit limit) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ACCEL_REQUIRE_CONTEXT();
  switch (limit) {
    case CU_LIMIT_STACK_SIZE:
      *value = 1024;
      return CUDA_SUCCESS;
    case CU_LIMIT_PRINTF_FIFO_SIZE:
      *value = 1 << 20;
      return CUDA_SUCCESS;
    case CU_LIMIT_MALLOC_HEAP_SIZE:
      *value = 8 << 20;
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_UNSUPPORTED_LIMIT;
  }
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxSetLimit(CUlimit limit, size_t /*value*/) {
  ACCEL_REQUIRE_CONTEXT();
  return limit == CU_LIMIT_STACK_SIZE || limit == CU_LIMIT_PRINTF_FIFO_SIZE ||
                 limit == CU_LIMIT_MALLOC_HEAP_SIZE
             ? NotSupported("cuCtxSetLimit")
             : CUDA_ERROR_UNSUPPORTED_LIMIT;
}

ACCEL_EXPORT CUresult CUDAAPI cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  ACCEL_REQUIRE_CONTEXT();
  if (least != nullptr) *least = 0;  // priorities are accepted and not used
  if (greatest != nullptr) *greatest = 0;
  return CUDA_SUCCESS;
}

// --- Memory -----------------------------------------------------------------

ACCEL_EXPORT CUresult CUDAAPI cuMemGetInfo(size_t* free, size_t* total) {
  ACCEL_REQUIRE_CONTEXT();
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  absl::StatusOr<accel::hal::MemoryInfo> info = D().device(current->device)->GetMemoryInfo();
  if (!info.ok()) return ToResult(info.status(), "cuMemGetInfo");
  *free = info->free_bytes;
  *total = info->total_bytes;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuMemAlloc(CUdeviceptr* dptr, size_t bytes) {
  ACCEL_REQUIRE_CONTEXT();
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  // An allocation whose node address cannot be the program's here is held
  // until one that can comes, so that the node does not hand the same
  // address back; then they are freed.
  constexpr int kAttempts = 8;
  std::vector<accel::hal::Buffer> unusable;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    absl::StatusOr<accel::hal::Buffer> buffer = D().device(current->device)->Allocate(bytes);
    if (!buffer.ok()) return ToResult(buffer.status(), "cuMemAlloc");
    absl::StatusOr<uint64_t> address = accel::hal::DeviceAddressOf(*buffer);
    if (!address.ok()) return ToResult(address.status(), "cuMemAlloc");
    const absl::Status added = D().memory().Add(*buffer, *address, current->device);
    if (added.ok()) {
      *dptr = *address;
      return CUDA_SUCCESS;
    }
    if (added.code() != absl::StatusCode::kAlreadyExists) return ToResult(added, "cuMemAlloc");
    unusable.push_back(*std::move(buffer));
  }
  return ToResult(absl::ResourceExhaustedError(absl::StrCat(
                      "no usable device address in ", kAttempts, " allocations of ", bytes,
                      " bytes: the node's addresses are this process's memory")),
                  "cuMemAlloc");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemAllocPitch(CUdeviceptr* dptr, size_t* pitch, size_t width,
                                              size_t height, unsigned int element_size) {
  if (pitch == nullptr || width == 0 || height == 0 ||
      (element_size != 4 && element_size != 8 && element_size != 16)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *pitch = (width + 511) / 512 * 512;
  return cuMemAlloc(dptr, *pitch * height);
}

ACCEL_EXPORT CUresult CUDAAPI cuMemFree(CUdeviceptr dptr) {
  ACCEL_REQUIRE_INIT();
  if (dptr == 0) return CUDA_SUCCESS;
  absl::StatusOr<accel::hal::Buffer> buffer = D().memory().Remove(dptr);
  if (!buffer.ok()) return ToResult(buffer.status(), "cuMemFree");
  return ToResult(buffer->Free(), "cuMemFree");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemGetAddressRange(CUdeviceptr* base, size_t* size,
                                                   CUdeviceptr dptr) {
  ACCEL_REQUIRE_INIT();
  std::optional<DeviceMemory::Allocation> found = D().memory().Containing(dptr);
  if (!found.has_value()) return CUDA_ERROR_NOT_FOUND;
  if (base != nullptr) *base = found->base;
  if (size != nullptr) *size = found->size;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuMemAllocHost(void** pointer, size_t bytes) {
  ACCEL_REQUIRE_CONTEXT();
  if (pointer == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pointer = D().AllocateHost(bytes);
  return *pointer != nullptr ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

ACCEL_EXPORT CUresult CUDAAPI cuMemHostAlloc(void** pointer, size_t bytes, unsigned int flags) {
  if (flags & CU_MEMHOSTALLOC_DEVICEMAP) return NotSupported("cuMemHostAlloc(DEVICEMAP)");
  return cuMemAllocHost(pointer, bytes);
}

ACCEL_EXPORT CUresult CUDAAPI cuMemFreeHost(void* pointer) {
  ACCEL_REQUIRE_INIT();
  return D().FreeHost(pointer) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

ACCEL_EXPORT CUresult CUDAAPI cuMemHostGetFlags(unsigned int* flags, void* pointer) {
  ACCEL_REQUIRE_INIT();
  if (flags == nullptr || !D().IsHostAllocation(pointer)) return CUDA_ERROR_INVALID_VALUE;
  *flags = 0;
  return CUDA_SUCCESS;
}

namespace {

// One pointer attribute, written to `data` as cuPointerGetAttribute does.
CUresult PointerAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr pointer) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::optional<DeviceMemory::Allocation> device = D().memory().Containing(pointer);
  const bool host =
      !device.has_value() && D().IsHostAllocation(reinterpret_cast<const void*>(pointer));
  if (!device.has_value() && !host) return CUDA_ERROR_INVALID_VALUE;
  auto put = [data](auto value) {
    std::memcpy(data, &value, sizeof(value));
    return CUDA_SUCCESS;
  };
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
      return put(reinterpret_cast<CUcontext>(D().primary_context(device ? device->device : 0)));
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      return put(static_cast<unsigned int>(host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE));
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      if (host) return CUDA_ERROR_INVALID_VALUE;  // not mapped into the device
      return put(pointer);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (!host) return CUDA_ERROR_INVALID_VALUE;
      return put(reinterpret_cast<void*>(pointer));
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
      return put(0u);
    case CU_POINTER_ATTRIBUTE_MAPPED:
      return put(1u);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
      return put(device ? device->device : 0);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      if (!device) return CUDA_ERROR_INVALID_VALUE;
      return put(static_cast<CUdeviceptr>(device->base));
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
      if (!device) return CUDA_ERROR_INVALID_VALUE;
      return put(static_cast<size_t>(device->size));
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
      return put(static_cast<unsigned long long>(device ? device->base : pointer));
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
      return put(0u);
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

// The size of what an attribute query writes: pointers, addresses, sizes
// and 64-bit ids are 8 bytes, flags and enums 4.
size_t AttributeBytes(CUpointer_attribute attribute) {
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
      return 8;
    default:
      return 4;
  }
}

}  // namespace

ACCEL_EXPORT CUresult CUDAAPI cuPointerGetAttribute(void* data, CUpointer_attribute attribute,
                                                    CUdeviceptr pointer) {
  ACCEL_REQUIRE_INIT();
  return PointerAttribute(data, attribute, pointer);
}

ACCEL_EXPORT CUresult CUDAAPI cuPointerGetAttributes(unsigned int count,
                                                     CUpointer_attribute* attributes, void** data,
                                                     CUdeviceptr pointer) {
  ACCEL_REQUIRE_INIT();
  if (attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Unlike the single query, an unknown pointer is not an error here: its
  // attributes read as those of unregistered host memory.
  const bool known = D().memory().Containing(pointer).has_value() ||
                     D().IsHostAllocation(reinterpret_cast<const void*>(pointer));
  for (unsigned int i = 0; i < count; ++i) {
    if (data[i] == nullptr) continue;
    if (!known) {
      if (attributes[i] == CU_POINTER_ATTRIBUTE_MEMORY_TYPE) {
        *static_cast<unsigned int*>(data[i]) = 0;
      } else if (attributes[i] == CU_POINTER_ATTRIBUTE_CONTEXT) {
        *static_cast<CUcontext*>(data[i]) = nullptr;
      } else if (attributes[i] == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) {
        *static_cast<int*>(data[i]) = -2;
      } else {
        std::memset(data[i], 0, AttributeBytes(attributes[i]));
      }
      continue;
    }
    if (PointerAttribute(data[i], attributes[i], pointer) != CUDA_SUCCESS) {
      std::memset(data[i], 0, AttributeBytes(attributes[i]));
    }
  }
  return CUDA_SUCCESS;
}

// --- Copies and fills -------------------------------------------------------

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void* src, size_t n) {
  ACCEL_REQUIRE_INIT();
  return CopyToDevice(dst, src, n, nullptr, /*wait=*/true, "cuMemcpyHtoD");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyDtoH(void* dst, CUdeviceptr src, size_t n) {
  ACCEL_REQUIRE_INIT();
  return CopyToHost(dst, src, n, nullptr, /*wait=*/true, "cuMemcpyDtoH");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  ACCEL_REQUIRE_INIT();
  return CopyOnDevice(dst, src, n, nullptr, /*wait=*/true, "cuMemcpyDtoD");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  ACCEL_REQUIRE_INIT();
  return CopyAny(dst, src, n, nullptr, /*wait=*/true, "cuMemcpy");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t n,
                                                CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return CopyToDevice(dst, src, n, stream, /*wait=*/false, "cuMemcpyHtoDAsync");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t n,
                                                CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return CopyToHost(dst, src, n, stream, /*wait=*/false, "cuMemcpyDtoHAsync");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n,
                                                CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return CopyOnDevice(dst, src, n, stream, /*wait=*/false, "cuMemcpyDtoDAsync");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n,
                                            CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return CopyAny(dst, src, n, stream, /*wait=*/false, "cuMemcpyAsync");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpy2D(const CUDA_MEMCPY2D* copy) {
  ACCEL_REQUIRE_INIT();
  return Copy2D(copy, nullptr, /*wait=*/true, "cuMemcpy2D");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpy2DUnaligned(const CUDA_MEMCPY2D* copy) {
  ACCEL_REQUIRE_INIT();
  return Copy2D(copy, nullptr, /*wait=*/true, "cuMemcpy2DUnaligned");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemcpy2DAsync(const CUDA_MEMCPY2D* copy, CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return Copy2D(copy, stream, /*wait=*/false, "cuMemcpy2DAsync");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD8(CUdeviceptr dst, unsigned char value, size_t count) {
  ACCEL_REQUIRE_INIT();
  return Fill(dst, &value, 1, count, nullptr, "cuMemsetD8");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD16(CUdeviceptr dst, unsigned short value, size_t count) {
  ACCEL_REQUIRE_INIT();
  return Fill(dst, &value, 2, count, nullptr, "cuMemsetD16");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD32(CUdeviceptr dst, unsigned int value, size_t count) {
  ACCEL_REQUIRE_INIT();
  return Fill(dst, &value, 4, count, nullptr, "cuMemsetD32");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count,
                                              CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return Fill(dst, &value, 1, count, stream, "cuMemsetD8Async");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count,
                                               CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return Fill(dst, &value, 2, count, stream, "cuMemsetD16Async");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count,
                                               CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return Fill(dst, &value, 4, count, stream, "cuMemsetD32Async");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD2D8(CUdeviceptr dst, size_t pitch, unsigned char value,
                                           size_t width, size_t height) {
  ACCEL_REQUIRE_INIT();
  return Fill2D(dst, pitch, &value, 1, width, height, nullptr, "cuMemsetD2D8");
}

ACCEL_EXPORT CUresult CUDAAPI cuMemsetD2D8Async(CUdeviceptr dst, size_t pitch, unsigned char value,
                                                size_t width, size_t height, CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return Fill2D(dst, pitch, &value, 1, width, height, stream, "cuMemsetD2D8Async");
}

// --- Streams and events -----------------------------------------------------

ACCEL_EXPORT CUresult CUDAAPI cuStreamCreate(CUstream* stream, unsigned int flags) {
  ACCEL_REQUIRE_CONTEXT();
  if (stream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  absl::StatusOr<accel::hal::Stream> made = D().device(current->device)->CreateStream();
  if (!made.ok()) return ToResult(made.status(), "cuStreamCreate");
  *stream = D().AddStream(std::make_unique<StreamObject>(current->device, flags, *std::move(made)));
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamCreateWithPriority(CUstream* stream, unsigned int flags,
                                                         int /*priority*/) {
  return cuStreamCreate(stream, flags);
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamDestroy(CUstream stream) {
  ACCEL_REQUIRE_INIT();
  return ToResult(D().RemoveStream(stream), "cuStreamDestroy");
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamSynchronize(CUstream stream) {
  ACCEL_REQUIRE_INIT();
  StreamObject* on = StreamOf(stream);
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const absl::Status synchronized = on->stream.Synchronize();
  if (synchronized.ok()) on->pending = false;
  return ToResult(synchronized, "cuStreamSynchronize");
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamQuery(CUstream stream) {
  ACCEL_REQUIRE_INIT();
  StreamObject* on = StreamOf(stream);
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  absl::StatusOr<bool> done = D().StreamIdle(*on);
  if (!done.ok()) return ToResult(done.status(), "cuStreamQuery");
  return *done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamGetFlags(CUstream stream, unsigned int* flags) {
  ACCEL_REQUIRE_INIT();
  StreamObject* on = StreamOf(stream);
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = on->flags;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamGetPriority(CUstream stream, int* priority) {
  ACCEL_REQUIRE_INIT();
  if (StreamOf(stream) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *priority = 0;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamGetCtx(CUstream stream, CUcontext* context) {
  ACCEL_REQUIRE_INIT();
  StreamObject* on = StreamOf(stream);
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *context = reinterpret_cast<CUcontext>(D().primary_context(on->device));
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuStreamWaitEvent(CUstream stream, CUevent event,
                                                unsigned int /*flags*/) {
  ACCEL_REQUIRE_INIT();
  StreamObject* on = StreamOf(stream);
  EventObject* what = D().FindEvent(event);
  if (on == nullptr || what == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return Finish(*on, on->stream.Wait(what->event), /*wait=*/false, "cuStreamWaitEvent");
}

ACCEL_EXPORT CUresult CUDAAPI cuEventCreate(CUevent* event, unsigned int flags) {
  ACCEL_REQUIRE_CONTEXT();
  if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
  absl::StatusOr<accel::hal::Event> made = D().device(current->device)->CreateEvent();
  if (!made.ok()) return ToResult(made.status(), "cuEventCreate");
  *event = D().AddEvent(
      std::make_unique<EventObject>(EventObject{current->device, flags, *std::move(made)}));
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuEventDestroy(CUevent event) {
  ACCEL_REQUIRE_INIT();
  return ToResult(D().RemoveEvent(event), "cuEventDestroy");
}

ACCEL_EXPORT CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream) {
  ACCEL_REQUIRE_INIT();
  EventObject* what = D().FindEvent(event);
  if (what == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  StreamObject* on = D().FindStream(stream, stream == nullptr ? what->device : CurrentDevice());
  if (on == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return Finish(*on, on->stream.Record(what->event), /*wait=*/false, "cuEventRecord");
}

ACCEL_EXPORT CUresult CUDAAPI cuEventRecordWithFlags(CUevent event, CUstream stream,
                                                     unsigned int /*flags*/) {
  return cuEventRecord(event, stream);
}

ACCEL_EXPORT CUresult CUDAAPI cuEventQuery(CUevent event) {
  ACCEL_REQUIRE_INIT();
  EventObject* what = D().FindEvent(event);
  if (what == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  absl::StatusOr<bool> done = what->event.IsComplete();
  if (!done.ok()) return ToResult(done.status(), "cuEventQuery");
  return *done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

ACCEL_EXPORT CUresult CUDAAPI cuEventSynchronize(CUevent event) {
  ACCEL_REQUIRE_INIT();
  EventObject* what = D().FindEvent(event);
  if (what == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return ToResult(what->event.Synchronize(), "cuEventSynchronize");
}

ACCEL_EXPORT CUresult CUDAAPI cuEventElapsedTime(float* milliseconds, CUevent start, CUevent end) {
  ACCEL_REQUIRE_INIT();
  EventObject* from = D().FindEvent(start);
  EventObject* to = D().FindEvent(end);
  if (from == nullptr || to == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (milliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((from->flags | to->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  absl::StatusOr<float> elapsed = accel::hal::Event::ElapsedMilliseconds(from->event, to->event);
  if (!elapsed.ok()) return ToResult(elapsed.status(), "cuEventElapsedTime");
  *milliseconds = *elapsed;
  return CUDA_SUCCESS;
}
