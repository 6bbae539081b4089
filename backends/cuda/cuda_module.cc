#include "cuda_module.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "cuda_context.h"
#include "cuda_device.h"
#include "cuda_errors.h"
#include "cuda_image.h"
#include "cuda_memory.h"

namespace accel::cuda {
namespace {

// The parameter layout of `function`, when the driver can tell it.
std::optional<std::vector<AccelKernelParameter>> QueryLayout(const Driver& driver,
                                                             CUfunction function) {
#if CUDA_VERSION >= 12040
  if (driver.cuFuncGetParamInfo == nullptr) return std::nullopt;
  constexpr size_t kMaxParams = 4096;  // kernel parameters are at most 32 KiB
  std::vector<AccelKernelParameter> params;
  for (size_t i = 0; i < kMaxParams; ++i) {
    size_t offset = 0, size = 0;
    CUresult r = driver.cuFuncGetParamInfo(function, i, &offset, &size);
    if (r == CUDA_ERROR_INVALID_VALUE) return params;  // past the last parameter
    if (r != CUDA_SUCCESS) return std::nullopt;        // not supported by this driver
    params.push_back({offset, size});
  }
  return std::nullopt;
#else
  (void)driver;
  (void)function;
  return std::nullopt;
#endif
}

}  // namespace

const std::string CudaKernel::kNoSignature;

absl::StatusOr<std::vector<AccelKernelParameter>> CudaKernel::Parameters() const {
  if (!params_.has_value()) {
    return absl::UnimplementedError(
        absl::StrCat("the CUDA driver does not tell the parameters of '", name_,
                     "' (cuFuncGetParamInfo needs CUDA 12.4)"));
  }
  return *params_;
}

absl::StatusOr<int64_t> CudaKernel::Query(const AccelKernelQuery& query) {
  const Driver& driver = device_.driver();
  auto missing = [&](const char* name) {
    return absl::UnimplementedError(absl::StrCat(driver.library, " does not export ", name));
  };
  // The driver takes these as int; a client's larger value is no question.
  constexpr uint32_t kMostInt = static_cast<uint32_t>(std::numeric_limits<int>::max());
  if (query.block[0] > kMostInt || query.blocks > kMostInt) {
    return absl::InvalidArgumentError(
        "a kernel query with more blocks or threads than any device has");
  }
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  // Occupancy beyond 48 KiB of dynamic shared memory counts only once the
  // kernel has opted in to it, as a launch of it would.
  if (query.kind != ACCEL_KERNEL_QUERY_ATTRIBUTE && query.dynamic_shared_bytes > 48 * 1024 &&
      query.dynamic_shared_bytes <= kMostInt) {
    if (absl::Status s = EnsureSharedMemory(driver, query.dynamic_shared_bytes); !s.ok()) return s;
  }
  switch (query.kind) {
    case ACCEL_KERNEL_QUERY_ATTRIBUTE: {
      if (driver.cuFuncGetAttribute == nullptr) return missing("cuFuncGetAttribute");
      int value = 0;
      CUresult r = driver.cuFuncGetAttribute(
          &value, static_cast<CUfunction_attribute>(query.attribute), function_);
      if (r != CUDA_SUCCESS) return ToStatus(driver, r, "cuFuncGetAttribute");
      return value;
    }
    case ACCEL_KERNEL_QUERY_MAX_ACTIVE_BLOCKS: {
      if (driver.cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags == nullptr) {
        return missing("cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags");
      }
      int blocks = 0;
      CUresult r = driver.cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
          &blocks, function_, static_cast<int>(query.block[0]), query.dynamic_shared_bytes,
          query.flags);
      if (r != CUDA_SUCCESS) {
        return ToStatus(driver, r, "cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags");
      }
      return blocks;
    }
    case ACCEL_KERNEL_QUERY_AVAILABLE_DYNAMIC_SHARED_MEMORY: {
      if (driver.cuOccupancyAvailableDynamicSMemPerBlock == nullptr) {
        return missing("cuOccupancyAvailableDynamicSMemPerBlock");
      }
      size_t bytes = 0;
      CUresult r = driver.cuOccupancyAvailableDynamicSMemPerBlock(
          &bytes, function_, static_cast<int>(query.blocks), static_cast<int>(query.block[0]));
      if (r != CUDA_SUCCESS) return ToStatus(driver, r, "cuOccupancyAvailableDynamicSMemPerBlock");
      return static_cast<int64_t>(bytes);
    }
    case ACCEL_KERNEL_QUERY_MAX_ACTIVE_CLUSTERS: {
#if CUDA_VERSION >= 11080
      if (driver.cuOccupancyMaxActiveClusters == nullptr) {
        return missing("cuOccupancyMaxActiveClusters");
      }
      CUlaunchAttribute cluster{};
      cluster.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
      cluster.value.clusterDim.x = query.cluster[0];
      cluster.value.clusterDim.y = query.cluster[1];
      cluster.value.clusterDim.z = query.cluster[2];
      CUlaunchConfig config{};
      config.gridDimX = query.grid[0];
      config.gridDimY = query.grid[1];
      config.gridDimZ = query.grid[2];
      config.blockDimX = query.block[0];
      config.blockDimY = query.block[1];
      config.blockDimZ = query.block[2];
      config.sharedMemBytes = static_cast<unsigned int>(
          std::min<uint64_t>(query.dynamic_shared_bytes, std::numeric_limits<unsigned int>::max()));
      config.attrs = &cluster;
      config.numAttrs = 1;
      int clusters = 0;
      CUresult r = driver.cuOccupancyMaxActiveClusters(&clusters, function_, &config);
      if (r != CUDA_SUCCESS) return ToStatus(driver, r, "cuOccupancyMaxActiveClusters");
      return clusters;
#else
      return missing("cuOccupancyMaxActiveClusters");
#endif
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("a kernel query of kind ", query.kind, ", which no backend knows"));
  }
}

absl::Status CudaKernel::EnsureSharedMemory(const Driver& driver, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  if (bytes <= shared_limit_) return absl::OkStatus();
  absl::Status s =
      ToStatus(driver,
               driver.cuFuncSetAttribute(function_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                         static_cast<int>(bytes)),
               "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
  if (s.ok()) shared_limit_ = bytes;
  return s;
}

absl::StatusOr<std::unique_ptr<CudaModule>> CudaModule::Load(CudaDevice& device,
                                                             AccelImageFormat format,
                                                             absl::string_view image) {
  absl::Status checked;
  switch (format) {
    case ACCEL_IMAGE_PTX:
      checked = CheckPtx(image);
      break;
    case ACCEL_IMAGE_CUBIN:
      checked = CheckCubin(image);
      break;
    case ACCEL_IMAGE_FATBIN:
      checked = CheckFatbin(image);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("the cuda backend runs ptx, cubin and fatbin images, not format ", format));
  }
  if (image.empty()) return absl::InvalidArgumentError("empty kernel image");
  if (!checked.ok()) return checked;

  // A private copy: NUL-terminated for PTX, 8-byte aligned for ELF and
  // fatbin headers, whatever the caller's buffer was.
  std::vector<uint64_t> copy(image.size() / sizeof(uint64_t) + 1, 0);
  std::memcpy(copy.data(), image.data(), image.size());

  const Driver& driver = device.driver();
  ContextGuard guard(driver, device.context());
  if (!guard.ok()) return guard.status();
  CUmodule module = nullptr;
  if (absl::Status s =
          ToStatus(driver, driver.cuModuleLoadData(&module, copy.data()), "cuModuleLoadData");
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<CudaModule>(new CudaModule(device, module));
}

CudaModule::~CudaModule() {
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  // module_destroy cannot report errors; a context that cannot be made
  // current is lost, and the module with it.
  if (!guard.ok()) return;
  CUmodule module = module_;
  device_.releases().Release([&driver, module] { driver.cuModuleUnload(module); });
}

absl::StatusOr<hal::plugin::KernelImpl*> CudaModule::GetKernel(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (auto it = kernels_.find(name); it != kernels_.end()) return it->second.get();
  if (name.empty()) return absl::NotFoundError("no kernel has an empty name");
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  std::string key(name);
  CUfunction function = nullptr;
  CUresult r = driver.cuModuleGetFunction(&function, module_, key.c_str());
  if (r != CUDA_SUCCESS) {
    absl::Status s = ToStatus(driver, r, "cuModuleGetFunction");
    return absl::Status(s.code(), absl::StrCat("kernel '", key, "': ", s.message()));
  }
  auto kernel = std::make_unique<CudaKernel>(device_, key, function, QueryLayout(driver, function));
  CudaKernel* raw = kernel.get();
  kernels_.emplace(std::move(key), std::move(kernel));
  return raw;
}

absl::StatusOr<hal::plugin::ModuleGlobal> CudaModule::GetGlobal(absl::string_view name) {
  const Driver& driver = device_.driver();
  if (driver.cuModuleGetGlobal == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat(driver.library, " does not export cuModuleGetGlobal"));
  }
  if (name.empty()) return absl::NotFoundError("no global has an empty name");
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  const std::string key(name);
  CUdeviceptr ptr = 0;
  size_t bytes = 0;
  CUresult r = driver.cuModuleGetGlobal(&ptr, &bytes, module_, key.c_str());
  if (r != CUDA_SUCCESS) {
    absl::Status s = ToStatus(driver, r, "cuModuleGetGlobal");
    return absl::Status(s.code(), absl::StrCat("global '", key, "': ", s.message()));
  }
  return hal::plugin::ModuleGlobal{
      std::make_unique<CudaBuffer>(device_, ptr, bytes, CudaBuffer::Ownership::kModuleGlobal),
      bytes};
}

}  // namespace accel::cuda
