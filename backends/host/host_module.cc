#include "host_module.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "host_memory.h"

namespace accel::host {

absl::StatusOr<std::unique_ptr<HostModule>> HostModule::Load(absl::string_view image) {
  absl::StatusOr<std::unique_ptr<ElfImage>> mapped = ElfImage::Map(image);
  if (!mapped.ok()) return mapped.status();
  std::shared_ptr<LoadedLibrary> library = *std::move(mapped);
  auto version =
      reinterpret_cast<uint32_t (*)()>(library->Symbol(ACCEL_HOST_MODULE_ABI_VERSION_SYMBOL));
  auto kernels = reinterpret_cast<const AccelHostKernelDesc* (*)(size_t*)>(
      library->Symbol(ACCEL_HOST_MODULE_KERNELS_SYMBOL));
  if (version == nullptr || kernels == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("host-elf image does not export ",
                                                   ACCEL_HOST_MODULE_ABI_VERSION_SYMBOL, " and ",
                                                   ACCEL_HOST_MODULE_KERNELS_SYMBOL));
  }
  if (version() != ACCEL_HOST_KERNEL_ABI_VERSION) {
    return absl::InvalidArgumentError(absl::StrCat("host-elf image speaks kernel ABI ", version(),
                                                   "; this backend speaks ",
                                                   ACCEL_HOST_KERNEL_ABI_VERSION));
  }
  auto module = std::unique_ptr<HostModule>(new HostModule());
  module->library_ = library;
  size_t count = 0;
  const AccelHostKernelDesc* descs = kernels(&count);
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].name == nullptr || descs[i].fn == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("host-elf kernel table entry ", i, " has no name or function"));
    }
    module->kernels_[descs[i].name] = std::make_unique<HostKernel>(library, &descs[i]);
  }
  return module;
}

absl::StatusOr<hal::plugin::KernelImpl*> HostModule::GetKernel(absl::string_view name) {
  auto it = kernels_.find(name);
  if (it == kernels_.end()) {
    return absl::NotFoundError(absl::StrCat("module has no kernel named '", name, "'"));
  }
  return it->second.get();
}

absl::StatusOr<hal::plugin::ModuleGlobal> HostModule::GetGlobal(absl::string_view name) {
  absl::Span<std::byte> bytes = library_->Global(name);
  if (bytes.empty()) {
    return absl::NotFoundError(absl::StrCat("module has no writable global named '", name, "'"));
  }
  // Queued work on the global holds the image, as launches do.
  return hal::plugin::ModuleGlobal{
      std::make_unique<HostBuffer>(HostMemory::Borrow(library_, bytes)), bytes.size()};
}

}  // namespace accel::host
