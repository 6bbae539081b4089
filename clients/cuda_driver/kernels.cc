// Modules and kernels in accelpool's libcuda.so.1. A module keeps the
// program's image (a fatbin, cubin or PTX; the runtime's fatbin wrapper is
// unwrapped) and the parameter layouts it declares; it is loaded on a
// leased device at the first launch there, and functions are looked up by
// name. A device that is no CUDA device (a pool of host devices) has no
// kernel image to run: CUDA_ERROR_NO_BINARY_FOR_GPU at launch, which the
// runtime reports as cudaErrorNoKernelImageForDevice.
#include <cuda.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/device_address.h"
#include "accel/hal/hal.h"
#include "clients/cuda_driver/cuda_result.h"
#include "clients/cuda_driver/device_attributes.h"
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
  absl::string_view bytes;  // the whole image, in the program's memory
  hal::ImageFormat format;
  // The parameter layouts its image declares; empty when it declares none
  // this library can read (entries compressed, or a format it does not
  // know).
  ParamLayouts layouts;
  // Loaded on a leased device at its first launch (or global lookup) there.
  std::map<int, hal::Module> loaded;
  // Its globals looked up so far, by device and name: their addresses.
  struct Global {
    CUdeviceptr address;
    size_t size;
  };
  std::map<std::pair<int, std::string>, Global> globals;
};
struct FunctionObject {
  ModuleObject* module;
  std::string name;
  // From the module's image, or else from the node's driver at the first
  // launch (then in `from_node`); nullptr until known.
  const ParamLayout* layout;
  std::optional<ParamLayout> from_node;
  std::map<int, hal::Kernel> kernels;  // by device
  // What the program set with cuFuncSetAttribute, by attribute.
  std::map<int, int> set_attributes;
  // The node's answers so far (AskNode), by device and question.
  std::map<std::string, int64_t> answers;
};

hal::ImageFormat FormatOf(absl::string_view image) {
  uint32_t magic = 0;
  if (image.size() >= 4) std::memcpy(&magic, image.data(), 4);
  if (magic == 0xBA55ED50) return hal::ImageFormat::kFatbin;
  if (image.substr(0, 4) ==
      "\x7f"
      "ELF")
    return hal::ImageFormat::kCubin;
  return hal::ImageFormat::kPtx;
}

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

// `module` loaded on leased device `device` (once), or why not. A device
// that is no CUDA device runs no CUDA image: CUDA_ERROR_NO_BINARY_FOR_GPU.
CUresult LoadOn(ModuleObject& module, int device, const hal::Module** loaded, const char* call) {
  const hal::Device& on = *Driver::Get().device(device);
  // By the architecture, as a leased device's backend is "remote".
  if (CapabilityOf(on.properties()).major == 0) return CUDA_ERROR_NO_BINARY_FOR_GPU;
  auto it = module.loaded.find(device);
  if (it == module.loaded.end()) {
    absl::StatusOr<hal::Module> made = on.LoadModule(module.format, module.bytes);
    if (!made.ok()) {
      return made.status().code() == absl::StatusCode::kUnimplemented
                 ? CUDA_ERROR_NO_BINARY_FOR_GPU
                 : ToResult(made.status(), absl::StrCat(call, " (loading the module)").c_str());
    }
    it = module.loaded.emplace(device, *std::move(made)).first;
  }
  *loaded = &it->second;
  return CUDA_SUCCESS;
}

// `f` on leased device `device` (its module loaded there at the first
// call), or why not.
CUresult KernelOn(FunctionObject& f, int device, hal::Kernel* out, const char* call) {
  auto it = f.kernels.find(device);
  if (it == f.kernels.end()) {
    const hal::Module* loaded = nullptr;
    if (CUresult r = LoadOn(*f.module, device, &loaded, call); r != CUDA_SUCCESS) return r;
    absl::StatusOr<hal::Kernel> found = loaded->GetKernel(f.name);
    if (!found.ok()) return ToResult(found.status(), call);
    it = f.kernels.emplace(device, *std::move(found)).first;
  }
  *out = it->second;
  return CUDA_SUCCESS;
}

// Makes `f.layout` known: the image's, or else the one the node's driver
// reports for the kernel on `device` (asked once; a round trip).
CUresult EnsureLayout(FunctionObject& f, int device, const char* call) {
  if (f.layout != nullptr) return CUDA_SUCCESS;
  hal::Kernel kernel;
  if (CUresult r = KernelOn(f, device, &kernel, call); r != CUDA_SUCCESS) return r;
  absl::StatusOr<std::vector<hal::KernelParameter>> reported = kernel.Parameters();
  if (!reported.ok()) {
    return reported.status().code() == absl::StatusCode::kUnimplemented
               ? NotSupported(absl::StrCat(call,
                                           " of a kernel whose parameter layout neither "
                                           "its image nor the node's driver tells")
                                  .c_str())
               : ToResult(reported.status(), call);
  }
  absl::StatusOr<ParamLayout> layout = ParamLayoutFromDriver(*reported);
  if (!layout.ok()) return ToResult(layout.status(), call);
  f.from_node = *std::move(layout);
  f.layout = &*f.from_node;
  return CUDA_SUCCESS;
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
  absl::StatusOr<absl::string_view> extent = ImageExtent(image, kMaxImageBytes);
  if (!extent.ok()) return ToResult(extent.status(), "cuModuleLoadData");
  auto made =
      std::make_unique<ModuleObject>(ModuleObject{image, *extent, FormatOf(*extent), {}, {}, {}});
  // The image's own metadata saves a round trip per kernel, but its format
  // is NVIDIA's and changes with the toolkit: what this library cannot read
  // is asked of the node's driver instead (EnsureLayout), which loads the
  // image and is the authority on it.
  absl::StatusOr<ParamLayouts> layouts = ParamLayoutsOf(*extent);
  if (layouts.ok()) {
    made->layouts = *std::move(layouts);
  } else {
    LogOnce(absl::StrCat("cuModuleLoadData: ", layouts.status().message(),
                         "; its kernels' parameter layouts come from the node's driver"));
  }
  *module = reinterpret_cast<CUmodule>(made.get());
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  m.modules[*module] = std::move(made);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace accel::cuda_driver

using namespace accel::cuda_driver;  // NOLINT: C entry points
namespace hal = ::accel::hal;

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
  auto found = m.modules.find(module);
  if (found == m.modules.end()) return CUDA_ERROR_INVALID_HANDLE;
  for (const auto& [key, global] : found->second->globals) {
    Driver::Get().memory().Remove(global.address, DeviceMemory::Kind::kModuleGlobal).IgnoreError();
  }
  m.modules.erase(found);
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
  auto made = std::make_unique<FunctionObject>(
      FunctionObject{it->second.get(),
                     name,
                     layout != it->second->layouts.end() ? &layout->second : nullptr,
                     {},
                     {},
                     {},
                     {}});
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

// A module's __device__ or __constant__ variable, on the current device: the
// module is loaded there, and the global's memory gets the node's address
// like an allocation, so copies, memsets and kernels reach it (cuMemFree
// does not: it goes with the module).
ACCEL_EXPORT CUresult CUDAAPI cuModuleGetGlobal(CUdeviceptr* dptr, size_t* bytes, CUmodule module,
                                                const char* name) {
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const int device = CurrentDevice();
  if (device < 0) return CUDA_ERROR_INVALID_CONTEXT;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  auto it = m.modules.find(module);
  if (it == m.modules.end()) return CUDA_ERROR_INVALID_HANDLE;
  ModuleObject& object = *it->second;
  auto known = object.globals.find({device, name});
  if (known == object.globals.end()) {
    const hal::Module* loaded = nullptr;
    if (CUresult r = LoadOn(object, device, &loaded, "cuModuleGetGlobal"); r != CUDA_SUCCESS) {
      return r;
    }
    absl::StatusOr<hal::Buffer> global = loaded->GetGlobal(name);
    if (!global.ok()) return ToResult(global.status(), "cuModuleGetGlobal");
    absl::StatusOr<uint64_t> address = hal::DeviceAddressOf(*global);
    if (!address.ok()) return ToResult(address.status(), "cuModuleGetGlobal");
    // The module's address cannot change: one that is this process's
    // memory leaves the global unreachable.
    absl::Status added =
        Driver::Get().memory().Add(*global, *address, device, DeviceMemory::Kind::kModuleGlobal);
    if (!added.ok()) return ToResult(added, "cuModuleGetGlobal");
    known = object.globals
                .emplace(std::make_pair(device, std::string(name)),
                         ModuleObject::Global{*address, global->size()})
                .first;
  }
  if (dptr != nullptr) *dptr = known->second.address;
  if (bytes != nullptr) *bytes = known->second.size;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuLibraryGetGlobal(CUdeviceptr* dptr, size_t* bytes,
                                                 CUlibrary library, const char* name) {
  return cuModuleGetGlobal(dptr, bytes, reinterpret_cast<CUmodule>(library), name);
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
  if (it->second->layout == nullptr) {
    // Only the node's driver can tell: on the current context's device.
    if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
    if (CurrentDevice() < 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (CUresult r = EnsureLayout(*it->second, CurrentDevice(), "cuFuncGetParamInfo");
        r != CUDA_SUCCESS) {
      return r;
    }
  }
  const ParamLayout* layout = it->second->layout;
  if (index >= layout->params.size()) return CUDA_ERROR_INVALID_VALUE;
  *offset = layout->params[index].offset;
  *size = layout->params[index].size;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuKernelGetParamInfo(CUkernel kernel, size_t index, size_t* offset,
                                                   size_t* size) {
  return cuFuncGetParamInfo(reinterpret_cast<CUfunction>(kernel), index, offset, size);
}

namespace {

// The launch's arguments as the HAL takes them: a parameter of pointer size
// whose value is inside a live allocation becomes that buffer, so that the
// node checks it is one of the session's and alive (a freed one is refused
// here); every other parameter goes as its bytes. A pointer stored inside a
// struct argument goes as bytes too: it is the node's own address of the
// memory, so the kernel follows it.
absl::StatusOr<std::vector<hal::KernelArg>> LaunchArgs(const ParamLayout& layout,
                                                       const std::string& packed) {
  std::vector<hal::KernelArg> args;
  for (const KernelParam& p : layout.params) {
    const char* value = packed.data() + p.offset;
    if (p.size == sizeof(CUdeviceptr)) {
      CUdeviceptr address = 0;
      std::memcpy(&address, value, sizeof(address));
      if (Driver::Get().memory().IsDeviceAddress(address)) {
        std::optional<DeviceMemory::Allocation> in = Driver::Get().memory().Containing(address);
        if (!in.has_value()) {
          return absl::InvalidArgumentError(absl::StrCat("a kernel argument points at 0x",
                                                         absl::Hex(address),
                                                         ", which is no live allocation"));
        }
        absl::StatusOr<DeviceMemory::Range> range =
            Driver::Get().memory().Find(address, in->base + in->size - address);
        if (!range.ok()) return range.status();
        args.emplace_back(range->view);
        continue;
      }
    }
    args.push_back(hal::KernelArg::Bytes(value, p.size));
  }
  return args;
}

// The packed parameter buffer of a launch with `extra`
// (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE).
absl::StatusOr<std::string> ExtraBuffer(const ParamLayout& layout, void** extra) {
  const void* buffer = nullptr;
  size_t size = 0;
  for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
    if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
      buffer = extra[i + 1];
    } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
      std::memcpy(&size, extra[i + 1], sizeof(size));
    } else {
      return absl::InvalidArgumentError("an unknown cuLaunchKernel extra option");
    }
  }
  if (buffer == nullptr || size < layout.total_size) {
    return absl::InvalidArgumentError("a cuLaunchKernel extra buffer smaller than the kernel's");
  }
  return std::string(static_cast<const char*>(buffer), layout.total_size);
}

}  // namespace

ACCEL_EXPORT CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned int grid_x,
                                             unsigned int grid_y, unsigned int grid_z,
                                             unsigned int block_x, unsigned int block_y,
                                             unsigned int block_z, unsigned int shared_bytes,
                                             CUstream stream, void** params, void** extra) {
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  const int device = CurrentDevice();
  if (device < 0) return CUDA_ERROR_INVALID_CONTEXT;
  hal::Kernel kernel;
  std::vector<hal::KernelArg> args;
  {
    Modules& m = AllModules();
    absl::MutexLock lock(&m.mu);
    auto it = m.functions.find(function);
    if (it == m.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
    FunctionObject& f = *it->second;
    // The kernel first: a device that runs no CUDA image says so before the
    // arguments are judged.
    if (CUresult r = KernelOn(f, device, &kernel, "cuLaunchKernel"); r != CUDA_SUCCESS) return r;
    if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = EnsureLayout(f, device, "cuLaunchKernel"); r != CUDA_SUCCESS) return r;
    // The arguments become the kernel's parameter buffer here, then the
    // HAL's arguments; the node checks every buffer against the session's.
    absl::StatusOr<std::string> packed =
        extra != nullptr ? ExtraBuffer(*f.layout, extra) : PackParams(*f.layout, params);
    if (!packed.ok()) return ToResult(packed.status(), "cuLaunchKernel");
    absl::StatusOr<std::vector<hal::KernelArg>> converted = LaunchArgs(*f.layout, *packed);
    if (!converted.ok()) return ToResult(converted.status(), "cuLaunchKernel");
    args = *std::move(converted);
  }
  StreamObject* queue = Driver::Get().FindStream(stream, device);
  if (queue == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const hal::LaunchConfig config{
      {grid_x, grid_y, grid_z}, {block_x, block_y, block_z}, shared_bytes};
  absl::Status launched = queue->stream.Launch(kernel, config, args);
  if (launched.ok()) queue->pending = true;
  return ToResult(launched, "cuLaunchKernel");
}

ACCEL_EXPORT CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction function,
                                               void** params, void** extra) {
  if (config == nullptr || (config->numAttrs != 0 && config->attrs == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  for (unsigned int i = 0; i < config->numAttrs; ++i) {
    const CUlaunchAttribute& a = config->attrs[i];
    if (a.id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION &&
        a.value.clusterDim.x * a.value.clusterDim.y * a.value.clusterDim.z > 1) {
      return NotSupported("cuLaunchKernelEx with thread block clusters");
    }
    if (a.id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE && a.value.cooperative != 0) {
      return NotSupported("cuLaunchKernelEx of a cooperative kernel");
    }
    // Every other attribute is a scheduling hint: results do not depend on it.
  }
  return cuLaunchKernel(function, config->gridDimX, config->gridDimY, config->gridDimZ,
                        config->blockDimX, config->blockDimY, config->blockDimZ,
                        config->sharedMemBytes, config->hStream, params, extra);
}

namespace {

// The attributes a program sets (cuFuncSetAttribute) and reads back as set;
// the node's backend raises the dynamic shared memory limit itself when a
// launch asks for more, and the rest are hints.
bool Settable(CUfunction_attribute attribute) {
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      return true;
    default:
      return false;
  }
}

// The node's driver's answer to `query` about `function` on `device`, kept:
// a loaded kernel's answers do not change.
CUresult AskNode(CUfunction function, int device, const hal::KernelQuery& query, int64_t* answer,
                 const char* call) {
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  if (Driver::Get().device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  auto it = m.functions.find(function);
  if (it == m.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
  FunctionObject& f = *it->second;
  const std::string key =
      absl::StrCat(device, " ", query.kind, " ", query.attribute, " ", query.flags, " ",
                   query.blocks, " ", query.block.x, "x", query.block.y, "x", query.block.z, " ",
                   query.grid.x, "x", query.grid.y, "x", query.grid.z, " ", query.cluster.x, "x",
                   query.cluster.y, "x", query.cluster.z, " ", query.dynamic_shared_bytes);
  if (auto known = f.answers.find(key); known != f.answers.end()) {
    *answer = known->second;
    return CUDA_SUCCESS;
  }
  hal::Kernel kernel;
  if (CUresult r = KernelOn(f, device, &kernel, call); r != CUDA_SUCCESS) return r;
  absl::StatusOr<int64_t> asked = kernel.Query(query);
  if (!asked.ok()) return ToResult(asked.status(), call);
  // The node's figures go into the program's ints and size_ts: none that
  // no device has.
  if (*asked < 0 || *asked > std::numeric_limits<int>::max()) {
    return ToResult(absl::InternalError(absl::StrCat("the node answers ", *asked)), call);
  }
  f.answers.emplace(key, *asked);
  *answer = *asked;
  return CUDA_SUCCESS;
}

// A kernel's attribute: what the program set, else the node's driver's
// answer for the compiled kernel. A device that is no CUDA device (a host
// device) has no compiled kernel; its limits stand in and what only a
// driver would know reads 0.
CUresult FuncAttribute(int* value, CUfunction_attribute attribute, CUfunction function,
                       int device) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult ready = Driver::Get().Ready(); ready != CUDA_SUCCESS) return ready;
  if (Driver::Get().device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (static_cast<int>(attribute) < 0 || attribute >= CU_FUNC_ATTRIBUTE_MAX) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  {
    Modules& m = AllModules();
    absl::MutexLock lock(&m.mu);
    auto it = m.functions.find(function);
    if (it == m.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
    if (auto set = it->second->set_attributes.find(attribute);
        set != it->second->set_attributes.end()) {
      *value = set->second;
      return CUDA_SUCCESS;
    }
  }
  const hal::DeviceProperties& p = Driver::Get().device(device)->properties();
  if (CapabilityOf(p).major != 0) {
    hal::KernelQuery query;
    query.attribute = static_cast<int32_t>(attribute);
    int64_t answer = 0;
    if (CUresult r = AskNode(function, device, query, &answer, "cuFuncGetAttribute");
        r != CUDA_SUCCESS) {
      return r;
    }
    *value = static_cast<int>(answer);
    return CUDA_SUCCESS;
  }
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
      *value = static_cast<int>(p.max_threads_per_block);
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      *value = static_cast<int>(p.max_shared_memory_per_block);
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: {
      const ComputeCapability cc = CapabilityOf(p);
      *value = cc.major * 10 + cc.minor;
      return CUDA_SUCCESS;
    }
    default:
      *value = 0;
      return CUDA_SUCCESS;
  }
}

// How many blocks fit on a multiprocessor, asked of the node.
CUresult MaxActiveBlocks(int* blocks, CUfunction function, int block_size, size_t dynamic_shared,
                         unsigned int flags, const char* call) {
  if (blocks == nullptr || block_size <= 0) return CUDA_ERROR_INVALID_VALUE;
  hal::KernelQuery query;
  query.kind = hal::KernelQuery::Kind::kMaxActiveBlocksPerMultiprocessor;
  query.block.x = static_cast<uint32_t>(block_size);
  query.dynamic_shared_bytes = dynamic_shared;
  query.flags = flags;
  int64_t answer = 0;
  const int device = std::max(CurrentDevice(), 0);
  if (CUresult r = AskNode(function, device, query, &answer, call); r != CUDA_SUCCESS) return r;
  *blocks = static_cast<int>(answer);
  return CUDA_SUCCESS;
}

// The block size that keeps the most threads resident, as the CUDA
// occupancy calculator picks it: every multiple of the warp up to the
// kernel's limit, each asked of the node once (answers are kept).
CUresult MaxPotentialBlockSize(int* min_grid_size, int* block_size, CUfunction function,
                               CUoccupancyB2DSize dynamic_shared_of, size_t dynamic_shared,
                               int block_size_limit, unsigned int flags, const char* call) {
  if (min_grid_size == nullptr || block_size == nullptr || block_size_limit < 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const int device = std::max(CurrentDevice(), 0);
  int limit = 0, multiprocessors = 0;
  if (CUresult r = FuncAttribute(&limit, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, function, device);
      r != CUDA_SUCCESS) {
    return r;
  }
  if (CUresult r =
          cuDeviceGetAttribute(&multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
      r != CUDA_SUCCESS) {
    return r;
  }
  if (block_size_limit > 0) limit = std::min(limit, block_size_limit);
  constexpr int kWarp = 32;
  int best_threads = 0, best_size = 0, best_blocks = 0;
  for (int size = (limit / kWarp) * kWarp; size > 0; size -= kWarp) {
    const size_t shared = dynamic_shared_of != nullptr ? dynamic_shared_of(size) : dynamic_shared;
    int blocks = 0;
    if (CUresult r = MaxActiveBlocks(&blocks, function, size, shared, flags, call);
        r != CUDA_SUCCESS) {
      return r;
    }
    if (blocks * size > best_threads) {
      best_threads = blocks * size;
      best_size = size;
      best_blocks = blocks;
    }
  }
  *block_size = best_size;
  *min_grid_size = best_blocks * multiprocessors;
  return CUDA_SUCCESS;
}

}  // namespace

ACCEL_EXPORT CUresult CUDAAPI cuFuncGetAttribute(int* value, CUfunction_attribute attribute,
                                                 CUfunction function) {
  return FuncAttribute(value, attribute, function, std::max(CurrentDevice(), 0));
}

ACCEL_EXPORT CUresult CUDAAPI cuKernelGetAttribute(int* value, CUfunction_attribute attribute,
                                                   CUkernel kernel, CUdevice device) {
  return FuncAttribute(value, attribute, reinterpret_cast<CUfunction>(kernel), device);
}

// What the program sets it reads back (FuncAttribute); the node's backend
// raises a kernel's dynamic shared memory limit itself when a launch or an
// occupancy question needs more, and the rest are hints.
ACCEL_EXPORT CUresult CUDAAPI cuFuncSetAttribute(CUfunction function,
                                                 CUfunction_attribute attribute, int value) {
  if (!Settable(attribute) || value < 0) return CUDA_ERROR_INVALID_VALUE;
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  auto it = m.functions.find(function);
  if (it == m.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
  it->second->set_attributes[attribute] = value;
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks,
                                                                          CUfunction function,
                                                                          int block_size,
                                                                          size_t dynamic_shared) {
  return MaxActiveBlocks(blocks, function, block_size, dynamic_shared, 0,
                         "cuOccupancyMaxActiveBlocksPerMultiprocessor");
}

ACCEL_EXPORT CUresult CUDAAPI cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    int* blocks, CUfunction function, int block_size, size_t dynamic_shared, unsigned int flags) {
  return MaxActiveBlocks(blocks, function, block_size, dynamic_shared, flags,
                         "cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags");
}

ACCEL_EXPORT CUresult CUDAAPI cuOccupancyAvailableDynamicSMemPerBlock(size_t* bytes,
                                                                      CUfunction function,
                                                                      int blocks, int block_size) {
  if (bytes == nullptr || blocks <= 0 || block_size <= 0) return CUDA_ERROR_INVALID_VALUE;
  hal::KernelQuery query;
  query.kind = hal::KernelQuery::Kind::kAvailableDynamicSharedMemoryPerBlock;
  query.blocks = static_cast<uint32_t>(blocks);
  query.block.x = static_cast<uint32_t>(block_size);
  int64_t answer = 0;
  if (CUresult r = AskNode(function, std::max(CurrentDevice(), 0), query, &answer,
                           "cuOccupancyAvailableDynamicSMemPerBlock");
      r != CUDA_SUCCESS) {
    return r;
  }
  *bytes = static_cast<size_t>(answer);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuOccupancyMaxActiveClusters(int* clusters, CUfunction function,
                                                           const CUlaunchConfig* config) {
  if (clusters == nullptr || config == nullptr ||
      (config->numAttrs != 0 && config->attrs == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  hal::KernelQuery query;
  query.kind = hal::KernelQuery::Kind::kMaxActiveClusters;
  query.grid = {config->gridDimX, config->gridDimY, config->gridDimZ};
  query.block = {config->blockDimX, config->blockDimY, config->blockDimZ};
  query.dynamic_shared_bytes = config->sharedMemBytes;
  // Only the cluster's shape travels: without one, the kernel's own.
  query.cluster = {0, 0, 0};
  for (unsigned int i = 0; i < config->numAttrs; ++i) {
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      const auto& c = config->attrs[i].value.clusterDim;
      query.cluster = {c.x, c.y, c.z};
    }
  }
  int64_t answer = 0;
  if (CUresult r = AskNode(function, std::max(CurrentDevice(), 0), query, &answer,
                           "cuOccupancyMaxActiveClusters");
      r != CUDA_SUCCESS) {
    return r;
  }
  *clusters = static_cast<int>(answer);
  return CUDA_SUCCESS;
}

ACCEL_EXPORT CUresult CUDAAPI cuOccupancyMaxPotentialBlockSize(int* min_grid_size, int* block_size,
                                                               CUfunction function,
                                                               CUoccupancyB2DSize dynamic_shared_of,
                                                               size_t dynamic_shared,
                                                               int block_size_limit) {
  return MaxPotentialBlockSize(min_grid_size, block_size, function, dynamic_shared_of,
                               dynamic_shared, block_size_limit, 0,
                               "cuOccupancyMaxPotentialBlockSize");
}

ACCEL_EXPORT CUresult CUDAAPI cuOccupancyMaxPotentialBlockSizeWithFlags(
    int* min_grid_size, int* block_size, CUfunction function, CUoccupancyB2DSize dynamic_shared_of,
    size_t dynamic_shared, int block_size_limit, unsigned int flags) {
  return MaxPotentialBlockSize(min_grid_size, block_size, function, dynamic_shared_of,
                               dynamic_shared, block_size_limit, flags,
                               "cuOccupancyMaxPotentialBlockSizeWithFlags");
}

// A hint: taken, for a kernel this library knows.
ACCEL_EXPORT CUresult CUDAAPI cuFuncSetCacheConfig(CUfunction function, CUfunc_cache) {
  Modules& m = AllModules();
  absl::MutexLock lock(&m.mu);
  return m.functions.count(function) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// A library's kernel is its function here (cuKernelGetFunction), on every
// device alike.
ACCEL_EXPORT CUresult CUDAAPI cuKernelSetAttribute(CUfunction_attribute attribute, int value,
                                                   CUkernel kernel, CUdevice) {
  return cuFuncSetAttribute(reinterpret_cast<CUfunction>(kernel), attribute, value);
}

ACCEL_EXPORT CUresult CUDAAPI cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config,
                                                     CUdevice) {
  return cuFuncSetCacheConfig(reinterpret_cast<CUfunction>(kernel), config);
}
