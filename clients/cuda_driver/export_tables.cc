// cuGetExportTable: the CUDA runtime's private interface to the driver.
// NVIDIA documents neither its tables nor their UUIDs; the layouts here
// were learnt from open-source drivers that serve the runtime (ZLUDA's
// dark_api notes) and checked against what CUDA 13.0's static runtime asks
// for. A table this library does not know answers CUDA_ERROR_NOT_SUPPORTED
// and is logged once by its UUID; a slot of a known table that is not
// implemented logs its table and index and returns CUDA_ERROR_NOT_SUPPORTED.
#include <cuda.h>
#include <pthread.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clients/cuda_driver/cuda_result.h"
#include "clients/cuda_driver/driver.h"
#include "clients/cuda_driver/runtime_integrity.h"

namespace accel::cuda_driver {
namespace {

using Uuid = std::array<unsigned char, 16>;

constexpr Uuid kCudartInterface = {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a,
                                   0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9};
constexpr Uuid kToolsTls = {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47,
                            0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc};
constexpr Uuid kToolsRuntimeCallbackHooks = {0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74,
                                             0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66};
constexpr Uuid kContextChecks = {0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43,
                                 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e};
constexpr Uuid kIntegrityCheck = {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b,
                                  0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2};
constexpr Uuid kContextLocalStorage = {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11,
                                       0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93};

// A slot without an implementation: names itself, does nothing.
template <int kTable, int kSlot>
CUresult Unimplemented() {
  static const char* const tables[] = {
      "CUDART_INTERFACE",      "TOOLS_TLS",      "TOOLS_RUNTIME_CALLBACK_HOOKS",
      "CONTEXT_LOCAL_STORAGE", "CONTEXT_CHECKS", "INTEGRITY_CHECK"};
  static const std::string name =
      absl::StrCat("cuGetExportTable ", tables[kTable], "[", kSlot, "]");
  return NotSupported(name.c_str());
}

template <int kTable, size_t... kSlot>
std::array<const void*, sizeof...(kSlot)> UnimplementedSlots(std::index_sequence<kSlot...>) {
  return {reinterpret_cast<const void*>(&Unimplemented<kTable, static_cast<int>(kSlot)>)...};
}

// A table's first slot holds its size in bytes.
template <int kTable, size_t kSlots>
std::array<const void*, kSlots> Table() {
  std::array<const void*, kSlots> table =
      UnimplementedSlots<kTable>(std::make_index_sequence<kSlots>());
  table[0] = reinterpret_cast<const void*>(kSlots * sizeof(void*));
  return table;
}

// --- CUDART_INTERFACE --------------------------------------------------------

CUresult CUDAAPI ModuleFromFatbinWrapper(CUmodule* module, const void* wrapper) {
  return cuModuleLoadData(module, wrapper);  // unwraps it
}

CUresult CUDAAPI PrimaryContext(CUcontext* context, CUdevice device) {
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  Context* primary = Driver::Get().primary_context(device);
  if (primary == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *context = reinterpret_cast<CUcontext>(primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI ModuleFromFatbinWrapperExt(CUmodule* module, const void* wrapper, void* a, void* b,
                                            unsigned int c) {
  if (a != nullptr || b != nullptr || c != 0) return NotSupported("CUDART_INTERFACE[6] options");
  return cuModuleLoadData(module, wrapper);  // unwraps it
}

void CUDAAPI CudartInterface7(size_t) {}

CUresult CUDAAPI ModuleFromFatbinExt(const void* fatbin, CUmodule* module, void* a, void* b,
                                     unsigned int c) {
  if (a != nullptr || b != nullptr || c != 0) return NotSupported("CUDART_INTERFACE[8] options");
  return cuModuleLoadData(module, fatbin);
}

// The runtime asks the driver to load its compilers (PTX, NVVM): the node's
// driver compiles, so there is nothing to load here.
CUresult CUDAAPI LoadCompilers() { return CUDA_SUCCESS; }

// --- TOOLS_RUNTIME_CALLBACK_HOOKS ---------------------------------------------

// Two buffers the runtime reads and writes for tools; their sizes are what
// the runtime is known to accept.
unsigned char hook_buffer1[1024];
unsigned char hook_buffer2[14];

void CUDAAPI HookBuffer1(void** pointer, size_t* size) {
  *pointer = hook_buffer1;
  *size = sizeof(hook_buffer1);
}
void CUDAAPI HookBuffer2(void** pointer, size_t* size) {
  *pointer = hook_buffer2;
  *size = sizeof(hook_buffer2);
}

// --- CONTEXT_LOCAL_STORAGE ----------------------------------------------------

using StorageDestructor = void (*)(CUcontext, void*, void*);
struct Storage {
  absl::Mutex mu;
  std::map<std::pair<CUcontext, void*>, std::pair<void*, StorageDestructor>> values
      ABSL_GUARDED_BY(mu);
};
Storage& ContextStorage() {
  static Storage* const storage = new Storage();
  return *storage;
}

CUcontext ContextOrCurrent(CUcontext context) {
  if (context == nullptr) cuCtxGetCurrent(&context);
  return context;
}

CUresult CUDAAPI StoragePut(CUcontext context, void* key, void* value,
                            StorageDestructor destructor) {
  context = ContextOrCurrent(context);
  if (context == nullptr || !Driver::Get().IsContext(context)) return CUDA_ERROR_INVALID_CONTEXT;
  Storage& s = ContextStorage();
  absl::MutexLock lock(&s.mu);
  s.values[{context, key}] = {value, destructor};
  return CUDA_SUCCESS;
}

CUresult CUDAAPI StorageDelete(CUcontext context, void* key) {
  context = ContextOrCurrent(context);
  Storage& s = ContextStorage();
  absl::MutexLock lock(&s.mu);
  return s.values.erase({context, key}) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI StorageGet(void** value, CUcontext context, void* key) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  context = ContextOrCurrent(context);
  Storage& s = ContextStorage();
  absl::MutexLock lock(&s.mu);
  auto it = s.values.find({context, key});
  if (it == s.values.end()) return CUDA_ERROR_INVALID_HANDLE;
  *value = it->second.first;
  return CUDA_SUCCESS;
}

// --- CONTEXT_CHECKS ------------------------------------------------------------

// The runtime asks whether a context is in some state no driver is seen to
// report: never.
CUresult CUDAAPI ContextCheck(CUcontext, unsigned int* result, const void**) {
  if (result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *result = 0;
  return CUDA_SUCCESS;
}
unsigned int CUDAAPI ContextCheck3() { return 0; }

// --- INTEGRITY_CHECK (runtime_integrity.h) -----------------------------------

CUresult CUDAAPI IntegrityCheck(unsigned int version, unsigned long long seconds,
                                unsigned long long result[2]);

struct Tables {
  std::array<const void*, 13> cudart_interface = Table<0, 13>();
  std::array<const void*, 4> tools_tls = Table<1, 4>();
  std::array<const void*, 7> callback_hooks = Table<2, 7>();
  std::array<const void*, 4> context_storage = UnimplementedSlots<3>(std::make_index_sequence<4>());
  std::array<const void*, 4> context_checks = Table<4, 4>();
  std::array<const void*, 3> integrity_check = Table<5, 3>();

  Tables() {
    cudart_interface[1] = reinterpret_cast<const void*>(&ModuleFromFatbinWrapper);
    cudart_interface[2] = reinterpret_cast<const void*>(&PrimaryContext);
    cudart_interface[6] = reinterpret_cast<const void*>(&ModuleFromFatbinWrapperExt);
    cudart_interface[7] = reinterpret_cast<const void*>(&CudartInterface7);
    cudart_interface[8] = reinterpret_cast<const void*>(&ModuleFromFatbinExt);
    cudart_interface[12] = reinterpret_cast<const void*>(&LoadCompilers);
    callback_hooks[2] = reinterpret_cast<const void*>(&HookBuffer1);
    callback_hooks[6] = reinterpret_cast<const void*>(&HookBuffer2);
    context_storage[0] = reinterpret_cast<const void*>(&StoragePut);
    context_storage[1] = reinterpret_cast<const void*>(&StorageDelete);
    context_storage[2] = reinterpret_cast<const void*>(&StorageGet);
    context_checks[2] = reinterpret_cast<const void*>(&ContextCheck);
    context_checks[3] = reinterpret_cast<const void*>(&ContextCheck3);
    integrity_check[1] = reinterpret_cast<const void*>(&IntegrityCheck);
  }
};

const Tables& AllTables() {
  static const Tables* const tables = new Tables();
  return *tables;
}

CUresult CUDAAPI IntegrityCheck(unsigned int version, unsigned long long seconds,
                                unsigned long long result[2]) {
  if (result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const Tables& tables = AllTables();
  IntegrityInput input;
  input.driver_version = CUDA_VERSION;
  input.version = version;
  input.process = static_cast<uint32_t>(getpid());
  input.thread = static_cast<uint32_t>(pthread_self());
  input.cudart_table = tables.cudart_interface.data();
  input.integrity_table = tables.integrity_check.data();
  input.check_function = tables.integrity_check[1];
  input.seconds = seconds;
  int count = 0;
  if (cuDeviceGetCount(&count) == CUDA_SUCCESS) {
    for (int d = 0; d < count; ++d) {
      IntegrityInput::Device device;
      CUuuid uuid;
      if (cuDeviceGetUuid(&uuid, d) == CUDA_SUCCESS)
        std::memcpy(device.uuid.data(), uuid.bytes, 16);
      cuDeviceGetAttribute(&device.pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d);
      cuDeviceGetAttribute(&device.pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d);
      cuDeviceGetAttribute(&device.pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d);
      input.devices.push_back(device);
    }
  }
  const std::array<uint64_t, 2> answer = IntegrityAnswer(input);
  result[0] = answer[0];
  result[1] = answer[1];
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace accel::cuda_driver

extern "C" __attribute__((visibility("default"))) CUresult CUDAAPI
cuGetExportTable(const void** table, const CUuuid* id) {
  using namespace accel::cuda_driver;  // NOLINT
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const Tables* const tables = &AllTables();
  Uuid uuid;
  std::memcpy(uuid.data(), id->bytes, uuid.size());
  *table = nullptr;
  if (uuid == kCudartInterface) {
    *table = tables->cudart_interface.data();
  } else if (uuid == kToolsTls) {
    *table = tables->tools_tls.data();
  } else if (uuid == kToolsRuntimeCallbackHooks) {
    *table = tables->callback_hooks.data();
  } else if (uuid == kContextLocalStorage) {
    *table = tables->context_storage.data();
  } else if (uuid == kIntegrityCheck) {
    *table = tables->integrity_check.data();
  } else if (uuid == kContextChecks) {
    *table = tables->context_checks.data();
  } else {
    std::string hex;
    for (unsigned char b : uuid) absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
    return NotSupported(absl::StrCat("cuGetExportTable ", hex).c_str());
  }
  return CUDA_SUCCESS;
}
