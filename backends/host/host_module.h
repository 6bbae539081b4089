// host-elf modules: a shared object mapped from memory (elf_image.h, without
// the dynamic loader) that exports kernels under the host kernel ABI
// (accel/hal/host_kernel_abi.h).
#ifndef ACCEL_BACKENDS_HOST_HOST_MODULE_H_
#define ACCEL_BACKENDS_HOST_HOST_MODULE_H_

#include <map>
#include <memory>
#include <string>

#include "accel/hal/host_kernel_abi.h"
#include "accel/hal/plugin/backend_interface.h"
#include "elf_image.h"

namespace accel::host {

class HostKernel;

// The mapped image; queued launches hold it so it stays mapped while they run.
using LoadedLibrary = ElfImage;

class HostKernel : public hal::plugin::KernelImpl {
 public:
  HostKernel(std::shared_ptr<LoadedLibrary> library, const AccelHostKernelDesc* desc)
      : library_(std::move(library)),
        desc_(desc),
        signature_(desc->signature ? desc->signature : "") {}
  const std::string& signature() const override { return signature_; }
  const std::shared_ptr<LoadedLibrary>& module() const { return library_; }
  const AccelHostKernelDesc* desc() const { return desc_; }

 private:
  std::shared_ptr<LoadedLibrary> library_;
  const AccelHostKernelDesc* desc_;
  std::string signature_;
};

class HostModule : public hal::plugin::ModuleImpl {
 public:
  // INVALID_ARGUMENT for an image that is not a loadable host-elf module.
  static absl::StatusOr<std::unique_ptr<HostModule>> Load(absl::string_view image);
  absl::StatusOr<hal::plugin::KernelImpl*> GetKernel(absl::string_view name) override;
  // An object the image exports in writable memory.
  absl::StatusOr<hal::plugin::ModuleGlobal> GetGlobal(absl::string_view name) override;

 private:
  std::shared_ptr<LoadedLibrary> library_;
  std::map<std::string, std::unique_ptr<HostKernel>, std::less<>> kernels_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_HOST_MODULE_H_
