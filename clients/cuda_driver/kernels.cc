#include "clients/cuda_driver/kernels.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "clients/cuda_driver/cuda_result.h"
#include "clients/cuda_driver/driver.h"

#define ACCEL_EXPORT extern "C" __attribute__((visibility("default")))

namespace accel::cuda_driver {
namespace {

// The runtime's wrapper around an embedded fatbin.
struct FatbinWrapper {
  uint32_t magic;  // kFatbinWrapperMagic
  uint32_t version;
  const void* fatbin;
  const void* unused;
};
constexpr uint32_t kFatbinWrapperMagic = 0x466243b1;

struct ModuleObject {
  const void* image;
};
struct FunctionObject {
  ModuleObject* module;
  std::string name;
};

struct Modules {
  absl::Mutex mu;
  std::map<CUmodule, std::unique_ptr<ModuleObject>> modules ABSL_GUARDED_BY(mu);
  std::map<CUfunction, std::unique_ptr<FunctionObject>> functions ABSL_GUARDED_BY(mu);
};
Modules& AllModules() {
  static Modules* const modules = new Modules();
  return *modules;
}

CUresult AddModule(CUmodule* module, const void* image) {
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto made = std::make_unique<ModuleObject>(ModuleObject{image});
  *module = reinterpret_cast<CUmodule>(made.get());
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  m.modules[*module] = std::move(made);
  return CUDA_SUCCESS;
}

}  // namespace

CUresult LoadFatbinModule(CUmodule* module, const void* image, bool is_wrapper) {
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (is_wrapper) {
    FatbinWrapper wrapper;
    std::memcpy(&wrapper, image, sizeof(wrapper));
    if (wrapper.magic != kFatbinWrapperMagic || wrapper.fatbin == nullptr) {
      return CUDA_ERROR_INVALID_IMAGE;
    }
    image = wrapper.fatbin;
  }
  return AddModule(module, image);
}

}  // namespace accel::cuda_driver

using namespace accel::cuda_driver;  // NOLINT: C entry points

ACCEL_EXPORT CUresult CUDAAPI cuModuleLoadData(CUmodule* module, const void* image) {
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  return AddModule(module, image);
}

ACCEL_EXPORT CUresult CUDAAPI cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int,
                                                 CUjit_option*, void**) {
  return cuModuleLoadData(module, image);
}

ACCEL_EXPORT CUresult CUDAAPI cuModuleLoadFatBinary(CUmodule* module, const void* fatbin) {
  return cuModuleLoadData(module, fatbin);
}

ACCEL_EXPORT CUresult CUDAAPI cuModuleUnload(CUmodule module) {
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  if (m.modules.erase(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
  for (auto it = m.functions.begin(); it != m.functions.end();) {
    it = reinterpret_cast<CUmodule>(it->second->module) == module ? m.functions.erase(it)
                                                                  : std::next(it);
  }
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuModuleGetFunction(CUfunction* function, CUmodule module,
                                                  const char* name) {
  if (function == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  auto it = m.modules.find(module);
  if (it == m.modules.end()) return CUDA_ERROR_INVALID_HANDLE;
  auto made = std::make_unique<FunctionObject>(FunctionObject{it->second.get(), name});
  *function = reinterpret_cast<CUfunction>(made.get());
  m.functions[*function] = std::move(made);
  return CUDA_SUCCESS;
}

// Libraries (CUDA 12's context-independent modules) are modules here, and
// their kernels functions.
ACCEL_EXPORT CUresult CUDAAPI cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*,
                                                void**, unsigned int, CUlibraryOption*, void**,
                                                unsigned int) {
  if (library == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  CUmodule module = nullptr;
  const CUresult loaded = AddModule(&module, code);
  *library = reinterpret_cast<CUlibrary>(module);
  return loaded;
}

ACCEL_EXPORT CUresult CUDAAPI cuLibraryUnload(CUlibrary library) {
  return cuModuleUnload(reinterpret_cast<CUmodule>(library));
}

ACCEL_EXPORT CUresult CUDAAPI cuLibraryGetModule(CUmodule* module, CUlibrary library) {
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  if (m.modules.count(reinterpret_cast<CUmodule>(library)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  *module = reinterpret_cast<CUmodule>(library);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuLibraryGetKernel(CUkernel* kernel, CUlibrary library,
                                                 const char* name) {
  if (kernel == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUfunction function = nullptr;
  const CUresult found = cuModuleGetFunction(&function, reinterpret_cast<CUmodule>(library), name);
  *kernel = reinterpret_cast<CUkernel>(function);
  return found;
}

ACCEL_EXPORT CUresult CUDAAPI cuKernelGetFunction(CUfunction* function, CUkernel kernel) {
  if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  if (m.functions.count(reinterpret_cast<CUfunction>(kernel)) == 0) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  *function = reinterpret_cast<CUfunction>(kernel);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned int, unsigned int,
                                             unsigned int, unsigned int, unsigned int, unsigned int,
                                             unsigned int, CUstream stream, void**, void**) {
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  {
    Modules& m = AllModules();
    absl::MutexLock lock(&m.mu);
    if (m.functions.count(function) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  CUcontext context = nullptr;
  cuCtxGetCurrent(&context);
  if (context == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  const int device = reinterpret_cast<Context*>(context)->device;
  if (Driver::Get().device(device)->properties().backend != "cuda") {
    return CUDA_ERROR_NO_BINARY_FOR_GPU;  // a host device runs no CUDA image
  }
  (void)stream;
  return NotSupported("cuLaunchKernel on a pooled CUDA device");
}
