// Modules (loaded kernel images) and the kernels they contain.
#ifndef ACCEL_HAL_MODULE_H_
#define ACCEL_HAL_MODULE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "accel/hal/buffer.h"
#include "accel/hal/types.h"

namespace accel::hal {

namespace internal {
struct ModuleState;
struct KernelState;
}  // namespace internal

class Device;

// Where one parameter lies in a kernel's parameter buffer.
struct KernelParameter {
  uint64_t offset = 0;
  uint64_t size = 0;
  bool operator==(const KernelParameter& o) const { return offset == o.offset && size == o.size; }
};

// A question about a kernel for its device's driver, in the driver's own
// terms, for a library that presents the vendor's API to unmodified
// programs (accelpool's libcuda.so.1): such programs ask the driver what a
// kernel uses and how many of its blocks fit, and only the device's driver
// knows.
struct KernelQuery {
  enum class Kind : uint32_t {
    // The driver's attribute `attribute` of the kernel (CUDA: a
    // CUfunction_attribute for cuFuncGetAttribute).
    kAttribute = 0,
    // How many blocks of block[0] threads and dynamic_shared_bytes fit on
    // one multiprocessor at once (cuOccupancyMaxActiveBlocksPerMultiprocessor
    // WithFlags, with `flags`).
    kMaxActiveBlocksPerMultiprocessor = 1,
    // The dynamic shared memory each of `blocks` blocks of block[0] threads
    // may have on one multiprocessor (cuOccupancyAvailableDynamicSMemPerBlock).
    kAvailableDynamicSharedMemoryPerBlock = 2,
    // How many clusters of `cluster` blocks of `block` threads fit at once
    // for a launch of `grid` with dynamic_shared_bytes
    // (cuOccupancyMaxActiveClusters).
    kMaxActiveClusters = 3,
  };
  Kind kind = Kind::kAttribute;
  int32_t attribute = 0;
  uint32_t flags = 0;
  uint32_t blocks = 0;
  Dim3 grid;
  Dim3 block;
  Dim3 cluster;
  uint64_t dynamic_shared_bytes = 0;
};

// An entry point of a loaded module. Holds its module alive.
class Kernel {
 public:
  Kernel() = default;

  bool valid() const { return state_ != nullptr; }
  const std::string& name() const;
  // The argument kinds, when the image or its bundle declares them. Launches
  // of a kernel with a signature are checked against it.
  const std::optional<std::vector<ArgKind>>& signature() const;
  Device device() const;
  // Each parameter's offset and size in the kernel's parameter buffer, as
  // the device's driver lays them out (CUDA: cuFuncGetParamInfo), for a
  // library that presents the vendor's API to unmodified programs and must
  // pack their untyped arguments. UNIMPLEMENTED where the backend or its
  // driver cannot tell.
  absl::StatusOr<std::vector<KernelParameter>> Parameters() const;
  // The device's driver's answer to `query` (see KernelQuery); UNIMPLEMENTED
  // where the backend or its driver cannot answer, INVALID_ARGUMENT for a
  // question the driver refuses.
  absl::StatusOr<int64_t> Query(const KernelQuery& query) const;

  const std::shared_ptr<internal::KernelState>& state() const { return state_; }
  explicit Kernel(std::shared_ptr<internal::KernelState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::KernelState> state_;
};

// A kernel image loaded on one device. Unloaded when the last handle (module
// or kernel) goes away.
class Module {
 public:
  Module() = default;

  bool valid() const { return state_ != nullptr; }
  ImageFormat format() const;
  Device device() const;

  // NOT_FOUND when the image has no kernel of that name.
  absl::StatusOr<Kernel> GetKernel(absl::string_view name) const;
  // The module's global variable `name` (a CUDA __device__ variable, a
  // host-elf image's exported writable object), as a buffer over the
  // module's memory for it: the buffer keeps the module loaded, its Free()
  // lets go of the handle only, and its bytes are no allocation of the
  // device's. NOT_FOUND when the image has no such global; UNIMPLEMENTED
  // where the backend's modules have none.
  absl::StatusOr<Buffer> GetGlobal(absl::string_view name) const;

  const std::shared_ptr<internal::ModuleState>& state() const { return state_; }
  explicit Module(std::shared_ptr<internal::ModuleState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::ModuleState> state_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_MODULE_H_
