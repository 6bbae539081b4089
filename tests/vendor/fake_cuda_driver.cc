// A stand-in libcuda for machines without an NVIDIA GPU, which tests point
// the cuda backend at with ACCEL_CUDA_LIBRARY. Its cuInit answers what
// ACCEL_FAKE_CUDA_INIT_RESULT says and it has ACCEL_FAKE_CUDA_DEVICES
// devices (none by default), so the backend's no-device reasons can be
// tested. Its device is described by FakeAttribute
// (fake_cuda_attributes.h) and works like a GPU whose memory is the host's:
// allocations, fills and copies are real, streams run each operation when
// it is queued, and the kernels of fake_cuda_kernels.h run on the host with
// the launch's parameters, so that a node serving it runs a CUDA program's
// launches end to end. A kernel following a bad pointer faults the process,
// as a GPU fault ends its context.
//
// Only cuda.h's types' sizes matter here, so it is written without cuda.h
// (CUresult is int, handles are pointers, CUdeviceptr is 64 bits) and
// builds on machines without the toolkit.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "tests/vendor/fake_cuda_attributes.h"
#include "tests/vendor/fake_cuda_kernels.h"

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using DevicePointer = uint64_t;
using accel::fake_cuda::Dim3;
using accel::fake_cuda::FakeKernel;
using accel::fake_cuda::FindFakeKernel;

constexpr int kSuccess = 0;
constexpr int kInvalidValue = 1;
constexpr int kOutOfMemory = 2;
constexpr int kInvalidHandle = 400;
constexpr int kNotFound = 500;
constexpr int kIllegalAddress = 700;
constexpr int kNotSupported = 801;

// The device's live allocations, so that copies and fills outside them are
// refused (CUDA_ERROR_ILLEGAL_ADDRESS) rather than corrupting the process.
struct Memory {
  std::mutex mu;
  std::map<DevicePointer, size_t> live;  // by base

  bool Contains(DevicePointer address, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = live.upper_bound(address);
    if (it == live.begin()) return false;
    --it;
    return address - it->first <= it->second && bytes <= it->second - (address - it->first);
  }
};
Memory& DeviceMemory() {
  static Memory* const memory = new Memory();
  return *memory;
}

void* At(DevicePointer address) { return reinterpret_cast<void*>(address); }

struct Event {
  std::chrono::steady_clock::time_point recorded;
};
// A module's globals: every module has kernel_program.cu's
// `__device__ float table[1000]`, initially zero, in device memory.
struct Module {
  alignas(256) float table[1000] = {};
};

}  // namespace

FAKE_EXPORT int cuInit(unsigned int /*flags*/) {
  const char* result = std::getenv("ACCEL_FAKE_CUDA_INIT_RESULT");
  return result != nullptr ? static_cast<int>(std::strtol(result, nullptr, 0)) : 0;
}
FAKE_EXPORT int cuDriverGetVersion(int* version) {
  *version = 12040;
  return kSuccess;
}
FAKE_EXPORT int cuDeviceGetCount(int* count) {
  const char* devices = std::getenv("ACCEL_FAKE_CUDA_DEVICES");
  *count = devices != nullptr ? static_cast<int>(std::strtol(devices, nullptr, 10)) : 0;
  return kSuccess;
}

// ---------------------------------------------------------------- device --

FAKE_EXPORT int cuDeviceGet(int* device, int ordinal) {
  *device = ordinal;
  return kSuccess;
}
FAKE_EXPORT int cuDeviceGetName(char* name, int length, int /*device*/) {
  std::snprintf(name, static_cast<size_t>(length), "Fake CUDA Device");
  return kSuccess;
}
FAKE_EXPORT int cuDeviceGetAttribute(int* value, int attribute, int /*device*/) {
  const int answer = FakeAttribute(attribute);
  if (answer < 0) return kInvalidValue;
  *value = answer;
  return kSuccess;
}
FAKE_EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int /*device*/) {
  *bytes = size_t{80} << 30;
  return kSuccess;
}
FAKE_EXPORT int cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  *free_bytes = *total = size_t{80} << 30;
  return kSuccess;
}
FAKE_EXPORT int cuDeviceGetPCIBusId(char* id, int length, int /*device*/) {
  std::snprintf(id, static_cast<size_t>(length), "0000:3B:00.0");
  return kSuccess;
}

// -------------------------------------------------------------- contexts --

static int fake_context;  // the primary context's handle points here
static thread_local void* current_context = nullptr;
FAKE_EXPORT int cuDevicePrimaryCtxRetain(void** context, int /*device*/) {
  *context = &fake_context;
  return kSuccess;
}
FAKE_EXPORT int cuDevicePrimaryCtxRelease_v2(int /*device*/) { return kSuccess; }
FAKE_EXPORT int cuCtxGetCurrent(void** context) {
  *context = current_context;
  return kSuccess;
}
FAKE_EXPORT int cuCtxSetCurrent(void* context) {
  current_context = context;
  return kSuccess;
}
FAKE_EXPORT int cuCtxSynchronize() { return kSuccess; }

// ---------------------------------------------------------------- memory --

FAKE_EXPORT int cuMemAlloc_v2(DevicePointer* pointer, size_t bytes) {
  if (bytes == 0) return kInvalidValue;
  // Aligned as cuMemAlloc's are; the size rounded up to the alignment, as
  // aligned_alloc requires.
  void* memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (memory == nullptr) return kOutOfMemory;
  *pointer = reinterpret_cast<DevicePointer>(memory);
  std::lock_guard<std::mutex> lock(DeviceMemory().mu);
  DeviceMemory().live[*pointer] = bytes;
  return kSuccess;
}
FAKE_EXPORT int cuMemFree_v2(DevicePointer pointer) {
  {
    std::lock_guard<std::mutex> lock(DeviceMemory().mu);
    if (DeviceMemory().live.erase(pointer) == 0) return kInvalidValue;
  }
  std::free(At(pointer));
  return kSuccess;
}

template <typename T>
int Fill(DevicePointer dst, T value, size_t count) {
  if (!DeviceMemory().Contains(dst, count * sizeof(T))) return kIllegalAddress;
  T* out = static_cast<T*>(At(dst));
  for (size_t i = 0; i < count; ++i) out[i] = value;
  return kSuccess;
}
FAKE_EXPORT int cuMemsetD8Async(DevicePointer dst, unsigned char value, size_t count, void*) {
  return Fill(dst, value, count);
}
FAKE_EXPORT int cuMemsetD16Async(DevicePointer dst, unsigned short value, size_t count, void*) {
  return Fill(dst, value, count);
}
FAKE_EXPORT int cuMemsetD32Async(DevicePointer dst, unsigned int value, size_t count, void*) {
  return Fill(dst, value, count);
}
FAKE_EXPORT int cuMemcpyHtoDAsync_v2(DevicePointer dst, const void* src, size_t bytes, void*) {
  if (!DeviceMemory().Contains(dst, bytes)) return kIllegalAddress;
  std::memcpy(At(dst), src, bytes);
  return kSuccess;
}
FAKE_EXPORT int cuMemcpyDtoHAsync_v2(void* dst, DevicePointer src, size_t bytes, void*) {
  if (!DeviceMemory().Contains(src, bytes)) return kIllegalAddress;
  std::memcpy(dst, At(src), bytes);
  return kSuccess;
}
FAKE_EXPORT int cuMemcpyDtoDAsync_v2(DevicePointer dst, DevicePointer src, size_t bytes, void*) {
  if (!DeviceMemory().Contains(dst, bytes) || !DeviceMemory().Contains(src, bytes)) {
    return kIllegalAddress;
  }
  std::memmove(At(dst), At(src), bytes);
  return kSuccess;
}

// ------------------------------------------------------ streams and events --
// Every operation ran when it was queued: a stream is always idle.

static int fake_stream;
FAKE_EXPORT int cuStreamCreate(void** stream, unsigned int /*flags*/) {
  *stream = &fake_stream;
  return kSuccess;
}
FAKE_EXPORT int cuStreamDestroy_v2(void* /*stream*/) { return kSuccess; }
FAKE_EXPORT int cuStreamSynchronize(void* /*stream*/) { return kSuccess; }
FAKE_EXPORT int cuStreamQuery(void* /*stream*/) { return kSuccess; }
FAKE_EXPORT int cuStreamWaitEvent(void* /*stream*/, void* /*event*/, unsigned int) {
  return kSuccess;
}
FAKE_EXPORT int cuEventCreate(void** event, unsigned int /*flags*/) {
  *event = new Event{std::chrono::steady_clock::now()};
  return kSuccess;
}
FAKE_EXPORT int cuEventDestroy_v2(void* event) {
  delete static_cast<Event*>(event);
  return kSuccess;
}
FAKE_EXPORT int cuEventRecord(void* event, void* /*stream*/) {
  static_cast<Event*>(event)->recorded = std::chrono::steady_clock::now();
  return kSuccess;
}
FAKE_EXPORT int cuEventSynchronize(void* /*event*/) { return kSuccess; }
FAKE_EXPORT int cuEventQuery(void* /*event*/) { return kSuccess; }
// Only the pre-12.8 name: the backend must fall back to it.
FAKE_EXPORT int cuEventElapsedTime(float* milliseconds, void* start, void* end) {
  *milliseconds = std::chrono::duration<float, std::milli>(static_cast<Event*>(end)->recorded -
                                                           static_cast<Event*>(start)->recorded)
                      .count();
  return kSuccess;
}

// ---------------------------------------------------- modules and kernels --
// Any image loads; its functions are the fake's kernels, by name.

FAKE_EXPORT int cuModuleLoadData(void** module, const void* image) {
  if (image == nullptr) return kInvalidValue;
  auto* made = new Module();
  *module = made;
  std::lock_guard<std::mutex> lock(DeviceMemory().mu);
  DeviceMemory().live[reinterpret_cast<DevicePointer>(made->table)] = sizeof(made->table);
  return kSuccess;
}
FAKE_EXPORT int cuModuleUnload(void* module) {
  auto* gone = static_cast<Module*>(module);
  {
    std::lock_guard<std::mutex> lock(DeviceMemory().mu);
    DeviceMemory().live.erase(reinterpret_cast<DevicePointer>(gone->table));
  }
  delete gone;
  return kSuccess;
}
FAKE_EXPORT int cuModuleGetGlobal_v2(DevicePointer* pointer, size_t* bytes, void* module,
                                     const char* name) {
  if (module == nullptr) return kInvalidHandle;
  if (std::strcmp(name, "table") != 0) return kNotFound;
  auto* m = static_cast<Module*>(module);
  *pointer = reinterpret_cast<DevicePointer>(m->table);
  *bytes = sizeof(m->table);
  return kSuccess;
}
FAKE_EXPORT int cuModuleGetFunction(void** function, void* module, const char* name) {
  if (module == nullptr) return kInvalidHandle;
  const FakeKernel* kernel = FindFakeKernel(name);
  if (kernel == nullptr) return kNotFound;
  *function = const_cast<FakeKernel*>(kernel);
  return kSuccess;
}
FAKE_EXPORT int cuFuncGetParamInfo(void* function, size_t index, size_t* offset, size_t* size) {
  const auto* kernel = static_cast<const FakeKernel*>(function);
  if (index >= kernel->params.size()) return kInvalidValue;
  *offset = kernel->params[index].offset;
  *size = kernel->params[index].size;
  return kSuccess;
}
FAKE_EXPORT int cuFuncSetAttribute(void* /*function*/, int /*attribute*/, int /*value*/) {
  return kSuccess;
}
FAKE_EXPORT int cuFuncGetAttribute(int* value, int attribute, void* function) {
  if (value == nullptr || function == nullptr) return kInvalidValue;
  const int answer = FakeFunctionAttribute(attribute);
  if (answer < 0) return kInvalidValue;
  *value = answer;
  return kSuccess;
}
FAKE_EXPORT int cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, void* function,
                                                                     int threads,
                                                                     size_t dynamic_shared,
                                                                     unsigned int /*flags*/) {
  if (blocks == nullptr || function == nullptr || threads <= 0 || threads > 1024) {
    return kInvalidValue;
  }
  *blocks = FakeMaxActiveBlocks(threads, dynamic_shared);
  return kSuccess;
}
FAKE_EXPORT int cuOccupancyAvailableDynamicSMemPerBlock(size_t* bytes, void* function, int blocks,
                                                        int threads) {
  if (bytes == nullptr || function == nullptr || blocks <= 0 || threads <= 0) return kInvalidValue;
  *bytes = FakeAvailableDynamicSharedMemory(blocks);
  return kSuccess;
}
// CUlaunchConfig as far as this fake reads it: the grid and block, then a
// pointer to the attributes, of which the first is the cluster's shape.
struct FakeLaunchAttribute {
  int id;
  char pad[4];
  unsigned int x, y, z;
  char rest[52];
};
struct FakeLaunchConfig {
  unsigned int grid[3], block[3], shared, pad;
  void* stream;
  FakeLaunchAttribute* attrs;
  unsigned int count;
};
FAKE_EXPORT int cuOccupancyMaxActiveClusters(int* clusters, void* function,
                                             const FakeLaunchConfig* config) {
  if (clusters == nullptr || function == nullptr || config == nullptr || config->count != 1 ||
      config->attrs == nullptr || config->attrs[0].id != 4 /* CLUSTER_DIMENSION */) {
    return kInvalidValue;
  }
  const FakeLaunchAttribute& c = config->attrs[0];
  *clusters = FakeMaxActiveClusters(1ull * c.x * c.y * c.z);
  return kSuccess;
}
FAKE_EXPORT int cuLaunchKernel(void* function, unsigned int grid_x, unsigned int grid_y,
                               unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                               unsigned int block_z, unsigned int /*shared_bytes*/,
                               void* /*stream*/, void** params, void** extra) {
  const auto* kernel = static_cast<const FakeKernel*>(function);
  if (extra != nullptr || (params == nullptr && !kernel->params.empty())) return kNotSupported;
  kernel->run(params, Dim3{grid_x, grid_y, grid_z}, Dim3{block_x, block_y, block_z});
  return kSuccess;
}

// What the backend finds but this fake does not answer: it reports errors
// by its own table of names.
#define FAKE_STUB(name) \
  FAKE_EXPORT int name() { return kNotSupported; }
FAKE_STUB(cuGetErrorName)
FAKE_STUB(cuGetErrorString)
