#include "host_module.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::host {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
constexpr const char* kArch = "aarch64";
#else
#error "host backend: unsupported host architecture"
#endif

// Checks the ELF header before the image is mapped, so a wrong image gets a
// clear error.
absl::Status CheckElf(absl::string_view image) {
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError("host-elf image is not an ELF file");
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_type != ET_DYN) {
    return absl::InvalidArgumentError("host-elf image is not a 64-bit shared object");
  }
  if (header.e_machine != kMachine) {
    return absl::InvalidArgumentError(
        absl::StrCat("host-elf image is for ELF machine ", header.e_machine, ", not ", kArch));
  }
  // Every table and loaded segment must lie inside the image: the loader maps
  // a truncated file without complaint and the process dies of SIGBUS later.
  auto inside = [&](uint64_t offset, uint64_t size) {
    return offset <= image.size() && size <= image.size() - offset;
  };
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      !inside(header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr)) ||
      !inside(header.e_shoff, uint64_t{header.e_shnum} * header.e_shentsize)) {
    return absl::InvalidArgumentError("host-elf image is truncated (header tables)");
  }
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, image.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(segment));
    if (segment.p_type == PT_LOAD && !inside(segment.p_offset, segment.p_filesz)) {
      return absl::InvalidArgumentError(absl::StrCat("host-elf image is truncated (segment ", i,
                                                     " ends past ", image.size(), " bytes)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* HostArch() { return kArch; }

absl::StatusOr<std::unique_ptr<HostModule>> HostModule::Load(absl::string_view image) {
  if (absl::Status s = CheckElf(image); !s.ok()) return s;
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

}  // namespace accel::host
