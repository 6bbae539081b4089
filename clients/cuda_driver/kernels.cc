#include "clients/cuda_driver/kernels.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "clients/cuda_driver/cuda_result.h"
#include "clients/cuda_driver/driver.h"
#include "clients/cuda_driver/kernel_params.h"

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
  // The parameter layouts its image declares; empty when it declares none
  // this library can read (entries compressed, say).
  ParamLayouts layouts;
};
struct FunctionObject {
  ModuleObject* module;
  std::string name;
  const ParamLayout* layout;  // nullptr: unknown
};

// How far into the program's memory an image without a stated size is
// looked for: no kernel image is larger.
constexpr size_t kMaxImageBytes = size_t{1} << 30;

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
  // The runtime hands over its fatbins in their wrapper, here as through
  // the export table.
  FatbinWrapper wrapper;
  std::memcpy(&wrapper, image, sizeof(wrapper.magic));
  if (wrapper.magic == kFatbinWrapperMagic) {
    std::memcpy(&wrapper, image, sizeof(wrapper));
    if (wrapper.fatbin == nullptr) return CUDA_ERROR_INVALID_IMAGE;
    image = wrapper.fatbin;
  }
  auto made = std::make_unique<ModuleObject>(ModuleObject{image, {}});
  absl::StatusOr<absl::string_view> extent = ImageExtent(image, kMaxImageBytes);
  if (!extent.ok()) return ToResult(extent.status(), "cuModuleLoadData");
  absl::StatusOr<ParamLayouts> layouts = ParamLayoutsOf(*extent);
  if (!layouts.ok()) return ToResult(layouts.status(), "cuModuleLoadData");
  made->layouts = *std::move(layouts);
  *module = reinterpret_cast<CUmodule>(made.get());
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  m.modules[*module] = std::move(made);
  return CUDA_SUCCESS;
}

}  // namespace

CUresult LoadFatbinModule(CUmodule* module, const void* image, bool is_wrapper) {
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint32_t magic = 0;
  std::memcpy(&magic, image, sizeof(magic));
  if (is_wrapper && magic != kFatbinWrapperMagic) return CUDA_ERROR_INVALID_IMAGE;
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
  auto layout = it->second->layouts.find(name);
  auto made = std::make_unique<FunctionObject>(FunctionObject{
      it->second.get(), name, layout != it->second->layouts.end() ? &layout->second : nullptr});
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

ACCEL_EXPORT CUresult CUDAAPI cuFuncGetParamInfo(CUfunction function, size_t index, size_t* offset,
                                                 size_t* size) {
  if (offset == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  auto it = m.functions.find(function);
  if (it == m.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
  const ParamLayout* layout = it->second->layout;
  if (layout == nullptr) return NotSupported("cuFuncGetParamInfo without a readable layout");
  if (index >= layout->params.size()) return CUDA_ERROR_INVALID_VALUE;
  *offset = layout->params[index].offset;
  *size = layout->params[index].size;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuKernelGetParamInfo(CUkernel kernel, size_t index, size_t* offset,
                                                   size_t* size) {
  return cuFuncGetParamInfo(reinterpret_cast<CUfunction>(kernel), index, offset, size);
}

ACCEL_EXPORT CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned int, unsigned int,
                                             unsigned int, unsigned int, unsigned int, unsigned int,
                                             unsigned int, CUstream /*stream*/, void** params,
                                             void** extra) {
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  CUcontext context = nullptr;
  cuCtxGetCurrent(&context);
  if (context == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  const int device = reinterpret_cast<Context*>(context)->device;
  const bool runs_cuda = Driver::Get().device(device)->properties().backend == "cuda";
  std::string packed;
  {
    Modules& m = AllModules();
    absl::MutexLock lock(&m.mu);
    auto it = m.functions.find(function);
    if (it == m.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
    if (!runs_cuda) return CUDA_ERROR_NO_BINARY_FOR_GPU;  // a host device runs no CUDA image
    // The arguments become the kernel's parameter buffer here, whatever
    // device runs it; with `extra` the program gave the buffer itself.
    if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (extra == nullptr) {
      if (it->second->layout == nullptr) {
        return NotSupported("cuLaunchKernel of a kernel without a readable parameter layout");
      }
      absl::StatusOr<std::string> buffer = PackParams(*it->second->layout, params);
      if (!buffer.ok()) return ToResult(buffer.status(), "cuLaunchKernel");
      packed = *std::move(buffer);
    }
  }
  return NotSupported("cuLaunchKernel on a pooled CUDA device");
}
