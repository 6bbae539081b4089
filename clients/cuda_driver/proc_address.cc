// cuGetProcAddress: how the CUDA runtime (and any program that asks) finds
// every driver entry point, by its base name and the CUDA version whose
// signature it expects. Each name maps to the variants this library
// implements, by the version that introduced them; the newest variant not
// newer than the version asked for answers. A name this library does not
// implement still gets a function, which logs the name once and returns
// CUDA_ERROR_NOT_SUPPORTED, so that a program calling it goes on.
#include <cuda.h>

#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "clients/cuda_driver/cuda_result.h"
#include "clients/cuda_driver/proc_address.h"

namespace accel::cuda_driver {
namespace {

struct Variant {
  const char* name;
  int version;  // the CUDA version that introduced this signature
  void* function;
};

#define ACCEL_ENTRY(name, version) \
  { #name, version, reinterpret_cast < void*>(&name) }
#define ACCEL_ENTRY_AS(name, version, function) \
  { #name, version, reinterpret_cast < void*>(&function) }

// Deprecated entry points are here too: programs and runtimes still ask.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const Variant kVariants[] = {
    ACCEL_ENTRY(cuInit, 2000),
    ACCEL_ENTRY(cuDriverGetVersion, 2020),
    ACCEL_ENTRY(cuGetErrorName, 6000),
    ACCEL_ENTRY(cuGetErrorString, 6000),
    ACCEL_ENTRY_AS(cuGetProcAddress, 11030, GetProcAddressV1),
    ACCEL_ENTRY_AS(cuGetProcAddress, 12000, cuGetProcAddress_v2),
    ACCEL_ENTRY(cuGetExportTable, 3000),
    ACCEL_ENTRY(cuModuleGetLoadingMode, 11070),
    ACCEL_ENTRY(cuModuleLoadData, 2000),
    ACCEL_ENTRY(cuModuleLoadDataEx, 2010),
    ACCEL_ENTRY(cuModuleLoadFatBinary, 2000),
    ACCEL_ENTRY(cuModuleUnload, 2000),
    ACCEL_ENTRY(cuModuleGetFunction, 2000),
    ACCEL_ENTRY(cuModuleGetGlobal, 3020),
    ACCEL_ENTRY(cuLaunchKernel, 4000),
    ACCEL_ENTRY(cuLibraryLoadData, 12000),
    ACCEL_ENTRY(cuLibraryUnload, 12000),
    ACCEL_ENTRY(cuLibraryGetModule, 12000),
    ACCEL_ENTRY(cuLibraryGetKernel, 12000),
    ACCEL_ENTRY(cuLibraryGetGlobal, 12000),
    ACCEL_ENTRY(cuKernelGetFunction, 12000),
    ACCEL_ENTRY(cuFuncGetParamInfo, 12040),
    ACCEL_ENTRY(cuKernelGetParamInfo, 12040),
    ACCEL_ENTRY(cuLaunchKernelEx, 11060),
    ACCEL_ENTRY(cuFuncGetAttribute, 2020),
    ACCEL_ENTRY(cuKernelGetAttribute, 12000),
    ACCEL_ENTRY(cuFuncSetAttribute, 9000),
    ACCEL_ENTRY(cuFuncSetCacheConfig, 3000),
    ACCEL_ENTRY(cuKernelSetAttribute, 12000),
    ACCEL_ENTRY(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050),
    ACCEL_ENTRY(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, 7000),
    ACCEL_ENTRY(cuOccupancyAvailableDynamicSMemPerBlock, 10020),
    ACCEL_ENTRY(cuOccupancyMaxActiveClusters, 11070),
    ACCEL_ENTRY(cuOccupancyMaxPotentialBlockSize, 6050),
    ACCEL_ENTRY(cuOccupancyMaxPotentialBlockSizeWithFlags, 7000),
    ACCEL_ENTRY(cuKernelSetCacheConfig, 12000),
    ACCEL_ENTRY(cuDeviceGetCount, 2000),
    ACCEL_ENTRY(cuDeviceGet, 2000),
    ACCEL_ENTRY(cuDeviceGetName, 2000),
    ACCEL_ENTRY(cuDeviceGetUuid, 9020),
    ACCEL_ENTRY(cuDeviceTotalMem, 3020),
    ACCEL_ENTRY(cuDeviceGetAttribute, 2000),
    ACCEL_ENTRY(cuDeviceComputeCapability, 2000),
    ACCEL_ENTRY(cuDeviceGetPCIBusId, 4010),
    ACCEL_ENTRY(cuDeviceCanAccessPeer, 4000),
    ACCEL_ENTRY(cuDevicePrimaryCtxRetain, 7000),
    ACCEL_ENTRY(cuDevicePrimaryCtxRelease, 7000),
    ACCEL_ENTRY(cuDevicePrimaryCtxReset, 7000),
    ACCEL_ENTRY(cuDevicePrimaryCtxSetFlags, 7000),
    ACCEL_ENTRY(cuDevicePrimaryCtxGetState, 7000),
    ACCEL_ENTRY(cuCtxGetCurrent, 4000),
    ACCEL_ENTRY(cuCtxSetCurrent, 4000),
    ACCEL_ENTRY(cuCtxPushCurrent, 4000),
    ACCEL_ENTRY(cuCtxPopCurrent, 4000),
    ACCEL_ENTRY_AS(cuCtxCreate, 3020, cuCtxCreate_v2),
    ACCEL_ENTRY(cuCtxCreate, 12050),
    ACCEL_ENTRY(cuCtxDestroy, 4000),
    ACCEL_ENTRY(cuCtxGetDevice, 2000),
    ACCEL_ENTRY_AS(cuCtxGetDevice, 13000, cuCtxGetDevice_v2),
    ACCEL_ENTRY(cuCtxGetFlags, 7000),
    ACCEL_ENTRY(cuCtxGetApiVersion, 3020),
    ACCEL_ENTRY(cuCtxSynchronize, 2000),
    ACCEL_ENTRY_AS(cuCtxSynchronize, 13000, cuCtxSynchronize_v2),
    ACCEL_ENTRY(cuCtxGetLimit, 3010),
    ACCEL_ENTRY(cuCtxSetLimit, 3010),
    ACCEL_ENTRY(cuCtxGetStreamPriorityRange, 5050),
    ACCEL_ENTRY(cuMemGetInfo, 3020),
    ACCEL_ENTRY(cuMemAlloc, 3020),
    ACCEL_ENTRY(cuMemAllocPitch, 3020),
    ACCEL_ENTRY(cuMemFree, 3020),
    ACCEL_ENTRY(cuMemGetAddressRange, 3020),
    ACCEL_ENTRY(cuMemAllocHost, 3020),
    ACCEL_ENTRY(cuMemHostAlloc, 2020),
    ACCEL_ENTRY(cuMemFreeHost, 2000),
    ACCEL_ENTRY(cuMemHostGetFlags, 2030),
    ACCEL_ENTRY(cuPointerGetAttribute, 4000),
    ACCEL_ENTRY(cuPointerGetAttributes, 7000),
    ACCEL_ENTRY(cuMemcpyHtoD, 3020),
    ACCEL_ENTRY(cuMemcpyDtoH, 3020),
    ACCEL_ENTRY(cuMemcpyDtoD, 3020),
    ACCEL_ENTRY(cuMemcpy, 4000),
    ACCEL_ENTRY(cuMemcpyHtoDAsync, 3020),
    ACCEL_ENTRY(cuMemcpyDtoHAsync, 3020),
    ACCEL_ENTRY(cuMemcpyDtoDAsync, 3020),
    ACCEL_ENTRY(cuMemcpyAsync, 4000),
    ACCEL_ENTRY(cuMemcpy2D, 3020),
    ACCEL_ENTRY(cuMemcpy2DUnaligned, 3020),
    ACCEL_ENTRY(cuMemcpy2DAsync, 3020),
    ACCEL_ENTRY(cuMemsetD8, 3020),
    ACCEL_ENTRY(cuMemsetD16, 3020),
    ACCEL_ENTRY(cuMemsetD32, 3020),
    ACCEL_ENTRY(cuMemsetD8Async, 3020),
    ACCEL_ENTRY(cuMemsetD16Async, 3020),
    ACCEL_ENTRY(cuMemsetD32Async, 3020),
    ACCEL_ENTRY(cuMemsetD2D8, 3020),
    ACCEL_ENTRY(cuMemsetD2D8Async, 3020),
    ACCEL_ENTRY(cuStreamCreate, 2000),
    ACCEL_ENTRY(cuStreamCreateWithPriority, 5050),
    ACCEL_ENTRY(cuStreamDestroy, 4000),
    ACCEL_ENTRY(cuStreamSynchronize, 2000),
    ACCEL_ENTRY(cuStreamQuery, 2000),
    ACCEL_ENTRY(cuStreamGetFlags, 5050),
    ACCEL_ENTRY(cuStreamGetPriority, 5050),
    ACCEL_ENTRY(cuStreamGetCtx, 9020),
    ACCEL_ENTRY(cuStreamWaitEvent, 3020),
    ACCEL_ENTRY(cuEventCreate, 2000),
    ACCEL_ENTRY(cuEventDestroy, 4000),
    ACCEL_ENTRY(cuEventRecord, 2000),
    ACCEL_ENTRY(cuEventRecordWithFlags, 11010),
    ACCEL_ENTRY(cuEventQuery, 2000),
    ACCEL_ENTRY(cuEventSynchronize, 2000),
    ACCEL_ENTRY(cuEventElapsedTime, 2000),
};
#pragma GCC diagnostic pop

// Functions for names this library does not implement: slot I logs the
// name given to it and answers CUDA_ERROR_NOT_SUPPORTED. (Every driver
// entry point returns CUresult, and a caller's arguments are the caller's
// to clean up, so one signature serves them all.)
constexpr size_t kUnsupportedSlots = 1024;

struct UnsupportedNames {
  absl::Mutex mu;
  std::map<std::string, size_t> slot_of ABSL_GUARDED_BY(mu);
  std::deque<std::string> names ABSL_GUARDED_BY(mu);  // by slot; stable storage
};
UnsupportedNames& Unsupported() {
  static UnsupportedNames* const names = new UnsupportedNames();
  return *names;
}

template <size_t I>
CUresult UnsupportedEntry() {
  UnsupportedNames& u = Unsupported();
  const char* name;
  {
    absl::MutexLock lock(&u.mu);
    name = u.names[I].c_str();
  }
  return NotSupported(name);
}

template <size_t... I>
std::array<void*, sizeof...(I)> MakeUnsupportedEntries(std::index_sequence<I...>) {
  return {reinterpret_cast<void*>(&UnsupportedEntry<I>)...};
}

// nullptr once every slot is taken.
void* UnsupportedEntryFor(const std::string& name) {
  static const std::array<void*, kUnsupportedSlots> entries =
      MakeUnsupportedEntries(std::make_index_sequence<kUnsupportedSlots>());
  UnsupportedNames& u = Unsupported();
  absl::MutexLock lock(&u.mu);
  auto [it, added] = u.slot_of.emplace(name, u.names.size());
  if (added) {
    if (u.names.size() == kUnsupportedSlots) {
      u.slot_of.erase(it);
      return nullptr;
    }
    u.names.push_back(name);
  }
  return entries[it->second];
}

}  // namespace

CUresult GetProcAddress(const char* symbol, void** function, int version,
                        CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *function = nullptr;
  auto answer = [&](CUdriverProcAddressQueryResult result) {
    if (status != nullptr) *status = result;
    return result == CU_GET_PROC_ADDRESS_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
  };
  if (*symbol == '\0') return answer(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  const Variant* best = nullptr;
  bool named = false;
  // Per-thread default stream variants (flags) share the implementations.
  for (const Variant& v : kVariants) {
    if (std::strcmp(v.name, symbol) != 0) continue;
    named = true;
    if (v.version <= version && (best == nullptr || v.version > best->version)) best = &v;
  }
  if (best != nullptr) {
    *function = best->function;
    return answer(CU_GET_PROC_ADDRESS_SUCCESS);
  }
  if (named) return answer(CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  *function = UnsupportedEntryFor(symbol);
  return answer(*function != nullptr ? CU_GET_PROC_ADDRESS_SUCCESS
                                     : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
}

std::vector<std::string> ImplementedEntryPoints() {
  std::vector<std::string> names;
  for (const Variant& v : kVariants) {
    if (names.empty() || names.back() != v.name) names.push_back(v.name);
  }
  return names;
}

}  // namespace accel::cuda_driver

using accel::cuda_driver::GetProcAddress;

extern "C" __attribute__((visibility("default"))) CUresult CUDAAPI
cuGetProcAddress(const char* symbol, void** function, int version, cuuint64_t /*flags*/,
                 CUdriverProcAddressQueryResult* status) {
  return GetProcAddress(symbol, function, version, status);
}

// CUDA 11.3's signature, under its unversioned name.
extern "C" __attribute__((visibility("default"))) CUresult CUDAAPI
GetProcAddressV1(const char* symbol, void** function, int version, cuuint64_t /*flags*/) {
  return GetProcAddress(symbol, function, version, nullptr);
}
